/**
 * Sample images for emulated trainings: small, real, decodable images (a colour field that changes
 * with the step and the prompt, with a disc in the middle), so clients can list, download, thumbnail
 * and decode them. They contain no face: identity scoring of emulated runs finds nothing, which is
 * right, because emulated runs are kept out of the consistency metrics.
 */
import { mkdir, rename } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';

const MAX_SIDE = 128;

function hsvToRgb(h: number, s: number, v: number): [number, number, number] {
  const i = Math.floor(h * 6);
  const f = h * 6 - i;
  const p = v * (1 - s);
  const q = v * (1 - f * s);
  const t = v * (1 - (1 - f) * s);
  const table: Array<[number, number, number]> = [
    [v, t, p],
    [q, v, p],
    [p, v, t],
    [p, q, v],
    [t, p, v],
    [v, p, q],
  ];
  const [r, g, b] = table[((i % 6) + 6) % 6]!;
  return [Math.round(r * 255), Math.round(g * 255), Math.round(b * 255)];
}

/** Pixels of one sample, scaled down from the configured sample size to at most 128 px a side. */
function pixels(width: number, height: number, step: number, index: number): { data: Buffer; w: number; h: number } {
  const scale = Math.min(1, MAX_SIDE / Math.max(width, height, 1));
  const w = Math.max(8, Math.round(width * scale));
  const h = Math.max(8, Math.round(height * scale));
  const hue = ((step * 0.013 + index * 0.27) % 1 + 1) % 1;
  const [br, bg, bb] = hsvToRgb(hue, 0.45, 0.85);
  const [fr, fg, fb] = hsvToRgb((hue + 0.5) % 1, 0.35, 0.95);
  const data = Buffer.alloc(w * h * 3);
  const cx = w / 2;
  const cy = h / 2;
  const r2 = (Math.min(w, h) * 0.3) ** 2;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const inside = (x - cx) ** 2 + (y - cy) ** 2 < r2;
      const shade = 0.75 + 0.25 * (y / h);
      const o = (y * w + x) * 3;
      data[o] = inside ? fr : Math.round(br * shade);
      data[o + 1] = inside ? fg : Math.round(bg * shade);
      data[o + 2] = inside ? fb : Math.round(bb * shade);
    }
  }
  return { data, w, h };
}

/**
 * Writes one sample the way AITK does: into `samples/.tmp` first, then renamed into place, so a
 * client listing `samples/` never sees a half-written file.
 */
export async function writeSampleImage(
  samplesDir: string,
  fileName: string,
  opts: { width: number; height: number; step: number; index: number; ext: string },
): Promise<void> {
  const { data, w, h } = pixels(opts.width, opts.height, opts.step, opts.index);
  const tmpDir = path.join(samplesDir, '.tmp');
  await mkdir(tmpDir, { recursive: true });
  const tmp = path.join(tmpDir, fileName);
  let img = sharp(data, { raw: { width: w, height: h, channels: 3 } });
  switch (opts.ext) {
    case 'png':
      img = img.png();
      break;
    case 'webp':
      img = img.webp({ quality: 80 });
      break;
    default:
      img = img.jpeg({ quality: 85 });
  }
  await img.toFile(tmp);
  await rename(tmp, path.join(samplesDir, fileName));
}

/** The 300x300 thumbnail the file server makes for `/api/img/...?thumb=1`. */
export async function writeThumbnail(source: string, target: string): Promise<void> {
  await mkdir(path.dirname(target), { recursive: true });
  const tmp = `${target}.${process.pid}.tmp.jpg`;
  await sharp(source).resize(300, 300, { fit: 'cover' }).jpeg({ quality: 90 }).toFile(tmp);
  await rename(tmp, target);
}
