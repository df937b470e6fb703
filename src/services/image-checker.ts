/**
 * Dataset checks of uploaded character images. The basic checker (decode, format by content,
 * pixel limit, minimum side) always runs; the identity engine adds face checks (exactly one
 * face, sharpness, duplicates, identity outliers) when it is available.
 */
import sharp, { type Metadata } from 'sharp';
import { AppError } from '../domain/errors.js';

export interface CheckReason {
  code: string;
  message: string;
}

export interface DecodedImage {
  mime: 'image/jpeg' | 'image/png' | 'image/webp';
  ext: 'jpg' | 'png' | 'webp';
  width: number;
  height: number;
}

export interface ImageVerdict {
  accepted: boolean;
  reasons: CheckReason[];
  faceBox: { x: number; y: number; width: number; height: number } | null;
}

export interface ImageChecker {
  /** Verdicts for new images, judged together with the character's accepted images. */
  check(
    newImages: { id: string; bytes: Buffer; decoded: DecodedImage }[],
    existing: { id: string; bytes: () => Promise<Buffer> }[],
  ): Promise<Map<string, ImageVerdict>>;
}

/** Decompression-bomb guard: refuse anything above this many pixels before decoding it. */
export const MAX_INPUT_PIXELS = 40_000_000;

const FORMATS: Record<string, DecodedImage['ext']> = { jpeg: 'jpg', png: 'png', webp: 'webp' };

/** Sniffs the content (never the file name or declared type) and reads the dimensions. */
export async function decodeImage(bytes: Buffer): Promise<DecodedImage> {
  let meta: Metadata;
  try {
    meta = await sharp(bytes, { limitInputPixels: MAX_INPUT_PIXELS }).metadata();
  } catch {
    throw new AppError('unsupported_media_type', 'The file is not a JPEG, PNG or WebP image that can be decoded.');
  }
  const ext = meta.format ? FORMATS[meta.format] : undefined;
  if (!ext || !meta.width || !meta.height) {
    throw new AppError('unsupported_media_type', `Images must be JPEG, PNG or WebP; this file is ${meta.format ?? 'unknown'}.`);
  }
  if (meta.width * meta.height > MAX_INPUT_PIXELS) {
    throw new AppError('payload_too_large', `Images may have at most ${MAX_INPUT_PIXELS} pixels.`);
  }
  // EXIF orientations 5-8 swap width and height once the image is rotated upright.
  const swap = (meta.orientation ?? 1) >= 5;
  return {
    mime: ext === 'jpg' ? 'image/jpeg' : ext === 'png' ? 'image/png' : 'image/webp',
    ext,
    width: swap ? meta.height : meta.width,
    height: swap ? meta.width : meta.height,
  };
}

export class BasicImageChecker implements ImageChecker {
  constructor(private readonly minSide: number) {}

  async check(newImages: { id: string; decoded: DecodedImage }[]): Promise<Map<string, ImageVerdict>> {
    const out = new Map<string, ImageVerdict>();
    for (const img of newImages) {
      const reasons: CheckReason[] = [];
      const side = Math.min(img.decoded.width, img.decoded.height);
      if (side < this.minSide) {
        reasons.push({
          code: 'too_small',
          message: `The image is ${img.decoded.width}x${img.decoded.height}; its shorter side must be at least ${this.minSide} px.`,
        });
      }
      out.set(img.id, { accepted: reasons.length === 0, reasons, faceBox: null });
    }
    return out;
  }
}
