/**
 * Training preparation: a square crop around the face, resized to a training resolution. The
 * face fills a fixed share of the frame so every image of a LoRA dataset shows the face at the
 * same scale, with some hair and shoulders for context. Where the square runs past the photo it is
 * filled by repeating the edge pixels (a black frame would be learned as part of the character).
 */
import sharp from 'sharp';
import type { FaceBox } from './identity.types.js';

export interface TrainingCropOptions {
  /** Longer side of the face box as a share of the crop's side; default 0.45. */
  faceFraction?: number;
  format?: 'png' | 'jpeg';
}

export async function cropForTraining(image: Uint8Array, faceBox: FaceBox, side: number, opts: TrainingCropOptions = {}): Promise<Buffer> {
  if (!(side >= 16)) throw new Error('training side must be at least 16 px');
  const faceFraction = opts.faceFraction ?? 0.45;
  const { data, info } = await sharp(image).rotate().removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const width = info.width;
  const height = info.height;
  const face = Math.max(faceBox.width, faceBox.height);
  // Never ask for more context than the photo has along its longer side.
  const crop = Math.max(8, Math.round(Math.min(face / faceFraction, Math.max(width, height))));
  const cx = faceBox.x + faceBox.width / 2;
  const cy = faceBox.y + faceBox.height / 2;
  // Slide the square to stay inside the photo where it fits; centre it on the face otherwise.
  const place = (centre: number, extent: number) =>
    crop <= extent ? Math.min(extent - crop, Math.max(0, Math.round(centre - crop / 2))) : Math.round(centre - crop / 2);
  const left = place(cx, width);
  const top = place(cy, height);
  const pad = {
    left: Math.max(0, -left),
    top: Math.max(0, -top),
    right: Math.max(0, left + crop - width),
    bottom: Math.max(0, top + crop - height),
  };
  const raw = { raw: { width, height, channels: info.channels } } as const;
  const padded = await sharp(data, raw)
    .extend({ ...pad, extendWith: 'copy' })
    .raw()
    .toBuffer({ resolveWithObject: true });
  const out = sharp(padded.data, { raw: { width: padded.info.width, height: padded.info.height, channels: padded.info.channels } })
    .extract({ left: left + pad.left, top: top + pad.top, width: crop, height: crop })
    .resize(side, side, { kernel: 'lanczos3' });
  return opts.format === 'jpeg' ? out.jpeg({ quality: 95 }).toBuffer() : out.png().toBuffer();
}
