/**
 * Images the emulated ComfyUI "generates". The emulator has no diffusion model, so an output is
 * derived from a real face photo it was given (the LoRA's bound reference photo, or a LoadImage
 * input such as the face-swap reference), varied slightly and deterministically by the seed
 * (crop, small rotation, light, colour), so the identity engine still finds the same person in it
 * while each seed gives a different file. With no face to start from it draws a faceless picture,
 * which is what an identity check of a failed generation sees.
 *
 * Every PNG carries tEXt chunks: `prompt` (the graph, as ComfyUI writes it unless started with
 * --disable-metadata) and `likeness_emulated` = "true", so nothing downstream can mistake it for a
 * real generation.
 */
import { crc32 } from 'node:zlib';
import sharp from 'sharp';

export const EMULATED_TEXT_KEY = 'likeness_emulated';
const MAX_SIDE = 320;

export interface RenderRequest {
  /** The face photo to derive from, or null for a faceless picture. */
  face: Buffer | null;
  seed: number;
  /** Index within the batch: each gets its own variation. */
  index: number;
  width: number;
  height: number;
  /** The API-format graph, stored as ComfyUI stores it. */
  prompt: unknown;
}

/** mulberry32: a small deterministic generator, so a seed always renders the same image. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function outputSize(width: number, height: number): { w: number; h: number } {
  const scale = Math.min(1, MAX_SIDE / Math.max(width, height, 1));
  return { w: Math.max(64, Math.round(width * scale)), h: Math.max(64, Math.round(height * scale)) };
}

export async function renderOutput(req: RenderRequest): Promise<Buffer> {
  const random = rng(Math.floor(req.seed % 4294967296) ^ Math.imul(req.index + 1, 0x9e3779b1));
  const { w, h } = outputSize(req.width, req.height);
  const png = req.face ? await varyFace(req.face, random, w, h) : await faceless(random, w, h);
  return withTextChunks(png, {
    prompt: asciiJson(req.prompt),
    [EMULATED_TEXT_KEY]: 'true',
  });
}

async function varyFace(face: Buffer, random: () => number, w: number, h: number): Promise<Buffer> {
  const upright = await sharp(face).rotate().removeAlpha().toColourspace('srgb').png().toBuffer({ resolveWithObject: true });
  const { width: fw, height: fh } = upright.info;
  // Up to 3% off each side: a different framing, never cutting into the face of a tight crop.
  const cut = (n: number) => Math.floor(n * 0.03 * random());
  const left = cut(fw);
  const top = cut(fh);
  const cw = fw - left - cut(fw);
  const ch = fh - top - cut(fh);
  const { dominant } = await sharp(upright.data).stats();
  const angle = (random() - 0.5) * 6;
  let img = sharp(upright.data)
    .extract({ left, top, width: cw, height: ch })
    .rotate(angle, { background: { r: dominant.r, g: dominant.g, b: dominant.b } })
    .modulate({ brightness: 0.94 + random() * 0.12, saturation: 0.9 + random() * 0.2, hue: Math.round((random() - 0.5) * 8) });
  const rotated = await img.png().toBuffer({ resolveWithObject: true });
  // Extend (edge pixels repeated) to the requested aspect, then scale to the output size.
  const targetAspect = w / h;
  const { width: rw, height: rh } = rotated.info;
  let padX = 0;
  let padY = 0;
  if (rw / rh < targetAspect) padX = Math.round((rh * targetAspect - rw) / 2);
  else padY = Math.round((rw / targetAspect - rh) / 2);
  img = sharp(rotated.data)
    .extend({ left: padX, right: padX, top: padY, bottom: padY, extendWith: 'copy' })
    .resize(w, h, { fit: 'fill', kernel: 'lanczos3' });
  return img.png().toBuffer();
}

/** A picture with no face: colour fields and soft shapes that change with the seed. */
async function faceless(random: () => number, w: number, h: number): Promise<Buffer> {
  const data = Buffer.alloc(w * h * 3);
  const base = [random() * 255, random() * 255, random() * 255];
  const accent = [random() * 255, random() * 255, random() * 255];
  const cx = w * (0.3 + 0.4 * random());
  const cy = h * (0.3 + 0.4 * random());
  const r = Math.min(w, h) * (0.15 + 0.2 * random());
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const d = Math.hypot(x - cx, y - cy);
      const mix = Math.max(0, Math.min(1, (r - d) / (r * 0.5) + 0.5));
      const shade = 0.7 + 0.3 * (y / h);
      const o = (y * w + x) * 3;
      for (let c = 0; c < 3; c++) data[o + c] = Math.round((base[c]! * shade) * (1 - mix) + accent[c]! * mix);
    }
  }
  return sharp(data, { raw: { width: w, height: h, channels: 3 } }).blur(2).png().toBuffer();
}

/** JSON with every non-ASCII character escaped, so it fits a Latin-1 tEXt chunk unchanged. */
function asciiJson(value: unknown): string {
  return JSON.stringify(value ?? null).replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Inserts tEXt chunks right after IHDR (the PNG signature is 8 bytes, IHDR 25). */
export function withTextChunks(png: Buffer, texts: Record<string, string>): Buffer {
  const chunks = Object.entries(texts).map(([key, text]) => {
    const body = Buffer.concat([Buffer.from('tEXt', 'latin1'), Buffer.from(key, 'latin1'), Buffer.from([0]), Buffer.from(text, 'latin1')]);
    const len = Buffer.alloc(4);
    len.writeUInt32BE(body.length - 4);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body) >>> 0);
    return Buffer.concat([len, body, crc]);
  });
  const ihdrEnd = 8 + 8 + png.readUInt32BE(8) + 4;
  return Buffer.concat([png.subarray(0, ihdrEnd), ...chunks, png.subarray(ihdrEnd)]);
}
