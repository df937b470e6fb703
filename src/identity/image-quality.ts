/**
 * Image-quality measures for dataset checks, computed on sharp-decoded pixels:
 * - sharpness: variance of the Laplacian of the greyscale image, measured at a fixed scale (the
 *   shorter side resampled to SHARPNESS_SIDE) so the figure does not depend on the upload's size;
 *   a face region can be measured instead of the whole frame.
 * - perceptual hash (pHash): 64 bits from the low frequencies of a 32x32 DCT; a resized or
 *   re-encoded copy keeps its hash within a few bits, a different photo differs in ~half of them.
 */
import sharp from 'sharp';
import type { FaceBox } from './identity.types.js';

export const SHARPNESS_SIDE = 256;

async function greyAt(bytes: Uint8Array, width: number, height: number, region?: FaceBox): Promise<{ px: Uint8Array; w: number; h: number }> {
  let img = sharp(bytes).rotate();
  if (region) {
    const meta = await sharp(bytes).rotate().toBuffer({ resolveWithObject: true });
    const left = Math.max(0, Math.floor(region.x));
    const top = Math.max(0, Math.floor(region.y));
    const w = Math.min(meta.info.width - left, Math.ceil(region.width));
    const h = Math.min(meta.info.height - top, Math.ceil(region.height));
    if (w < 8 || h < 8) throw new Error('region too small to measure');
    img = sharp(meta.data).extract({ left, top, width: w, height: h });
  }
  const { data, info } = await img.greyscale().resize(width, height, { fit: 'fill' }).raw().toBuffer({ resolveWithObject: true });
  return { px: new Uint8Array(data.buffer, data.byteOffset, data.length), w: info.width, h: info.height };
}

/** Variance of the 4-neighbour Laplacian at the fixed scale; blurrier = lower. */
export async function sharpness(bytes: Uint8Array, region?: FaceBox): Promise<number> {
  const meta = await sharp(bytes).rotate().metadata();
  const swap = (meta.orientation ?? 1) >= 5;
  const srcW = (region?.width ?? (swap ? meta.height : meta.width)) ?? 1;
  const srcH = (region?.height ?? (swap ? meta.width : meta.height)) ?? 1;
  const scale = SHARPNESS_SIDE / Math.min(srcW, srcH);
  const { px, w, h } = await greyAt(bytes, Math.max(8, Math.round(srcW * scale)), Math.max(8, Math.round(srcH * scale)), region);
  let sum = 0, sumSq = 0, n = 0;
  for (let y = 1; y < h - 1; y++) {
    for (let x = 1; x < w - 1; x++) {
      const i = y * w + x;
      const lap = px[i - 1]! + px[i + 1]! + px[i - w]! + px[i + w]! - 4 * px[i]!;
      sum += lap;
      sumSq += lap * lap;
      n++;
    }
  }
  const mean = sum / n;
  return sumSq / n - mean * mean;
}

const DCT_SIZE = 32;
const HASH_SIZE = 8;

let cosTable: Float64Array | undefined;
function cosines(): Float64Array {
  if (cosTable) return cosTable;
  cosTable = new Float64Array(HASH_SIZE * DCT_SIZE);
  for (let u = 0; u < HASH_SIZE; u++) {
    for (let x = 0; x < DCT_SIZE; x++) cosTable[u * DCT_SIZE + x] = Math.cos(((2 * x + 1) * u * Math.PI) / (2 * DCT_SIZE));
  }
  return cosTable;
}

/** 64-bit perceptual hash as 16 hex characters. */
export async function perceptualHash(bytes: Uint8Array): Promise<string> {
  const { px } = await greyAt(bytes, DCT_SIZE, DCT_SIZE);
  const c = cosines();
  // Only the 8x8 lowest frequencies are needed: separable DCT, rows first.
  const rows = new Float64Array(DCT_SIZE * HASH_SIZE);
  for (let y = 0; y < DCT_SIZE; y++) {
    for (let u = 0; u < HASH_SIZE; u++) {
      let s = 0;
      for (let x = 0; x < DCT_SIZE; x++) s += px[y * DCT_SIZE + x]! * c[u * DCT_SIZE + x]!;
      rows[y * HASH_SIZE + u] = s;
    }
  }
  const coeffs: number[] = [];
  for (let v = 0; v < HASH_SIZE; v++) {
    for (let u = 0; u < HASH_SIZE; u++) {
      let s = 0;
      for (let y = 0; y < DCT_SIZE; y++) s += rows[y * HASH_SIZE + u]! * c[v * DCT_SIZE + y]!;
      coeffs.push(s);
    }
  }
  // The DC term is the mean brightness: it is left out of the median so lighting does not flip bits.
  const median = [...coeffs.slice(1)].sort((a, b) => a - b)[Math.floor((coeffs.length - 1) / 2)]!;
  let hex = '';
  for (let i = 0; i < coeffs.length; i += 4) {
    let nibble = 0;
    for (let b = 0; b < 4; b++) nibble = (nibble << 1) | (coeffs[i + b]! > median ? 1 : 0);
    hex += nibble.toString(16);
  }
  return hex;
}

export function hammingDistance(a: string, b: string): number {
  if (a.length !== b.length) throw new Error('hashes differ in length');
  let d = 0;
  for (let i = 0; i < a.length; i++) {
    let x = parseInt(a[i]!, 16) ^ parseInt(b[i]!, 16);
    while (x) {
      d += x & 1;
      x >>= 1;
    }
  }
  return d;
}
