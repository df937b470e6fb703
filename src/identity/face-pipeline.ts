/**
 * The per-image pipeline that runs inside a face worker: decode (sharp) -> detect with the retry
 * chain -> align each face with a 5-point similarity transform to the recogniser's template ->
 * embed. Coordinates in the result are in the decoded image's pixels (after EXIF rotation).
 */
import sharp from 'sharp';
import type { FaceApi } from './faceapi-runtime.js';
import type { FaceAnalysis, Landmarks5, Point } from './identity.types.js';
import type { Embedder } from './face-embedder.js';
import { l2normalize } from './face-embedder.js';
import type { DetectionOptions, RgbImage } from './face-detection.js';
import { detectFaces } from './face-detection.js';
import { alignFace } from './face-alignment.js';
import type { ResolvedRecognizer } from './recognizer.config.js';
import { recognizerInput } from './recognizer.config.js';

export interface PipelineOptions {
  detection: DetectionOptions;
  /**
   * Larger images are analysed at this longer side: detectors work at <= 608 px anyway and the
   * recogniser's input is ~112-150 px, so more pixels only cost time.
   */
  maxAnalysisSide: number;
  /**
   * Embed the aligned face and its mirror image and average the two: halves the effect of which
   * side of the face the camera saw, at twice the recogniser's cost.
   */
  flipAverage: boolean;
}

/** Mirrors an interleaved RGB chip left-right. */
export function mirrorChip(chip: Float32Array, width: number, height: number): Float32Array {
  const out = new Float32Array(chip.length);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const from = (y * width + x) * 3;
      const to = (y * width + (width - 1 - x)) * 3;
      out[to] = chip[from]!;
      out[to + 1] = chip[from + 1]!;
      out[to + 2] = chip[from + 2]!;
    }
  }
  return out;
}

export interface Pipeline {
  analyze(bytes: Uint8Array): Promise<FaceAnalysis>;
}

export async function decodeRgb(bytes: Uint8Array, maxSide: number): Promise<{ image: RgbImage; scale: number; width: number; height: number }> {
  const base = sharp(bytes, { failOn: 'error' }).rotate();
  const meta = await base.metadata();
  // metadata() reports pre-rotation size; orientations 5-8 swap the sides.
  const swap = (meta.orientation ?? 1) >= 5;
  const width = (swap ? meta.height : meta.width) ?? 0;
  const height = (swap ? meta.width : meta.height) ?? 0;
  if (!width || !height) throw new Error('image has no size');
  const scale = Math.min(1, maxSide / Math.max(width, height));
  let pipeline = base.removeAlpha().toColourspace('srgb');
  if (scale < 1) pipeline = pipeline.resize(Math.round(width * scale), Math.round(height * scale), { fit: 'fill' });
  const { data, info } = await pipeline.raw().toBuffer({ resolveWithObject: true });
  if (info.channels !== 3) throw new Error(`expected 3 channels after decode, got ${info.channels}`);
  return {
    image: { data: new Uint8Array(data.buffer, data.byteOffset, data.length), width: info.width, height: info.height },
    scale: info.width / width,
    width,
    height,
  };
}

export function createPipeline(faceapi: FaceApi, recognizer: ResolvedRecognizer, embed: Embedder, opts: PipelineOptions): Pipeline {
  const input = recognizerInput(recognizer);
  return {
    async analyze(bytes) {
      const { image, scale, width, height } = await decodeRgb(bytes, opts.maxAnalysisSide);
      const { faces, attempts } = await detectFaces(faceapi, image, opts.detection);
      const analyzed = [];
      for (const face of faces) {
        const chip = alignFace(image.data, image.width, image.height, face.landmarks, input.template, input.width, input.height);
        // The chip and its mirror go to the recogniser as one batch of two.
        const vectors = await embed(opts.flipAverage ? [chip, mirrorChip(chip, input.width, input.height)] : [chip]);
        const [own, mirrored] = vectors as [Float32Array, Float32Array | undefined];
        const embedding = mirrored ? l2normalize(own.map((v, i) => v + mirrored[i]!)) : own;
        const unscale = (p: Point): Point => [p[0] / scale, p[1] / scale];
        analyzed.push({
          box: {
            x: face.box.x / scale,
            y: face.box.y / scale,
            width: face.box.width / scale,
            height: face.box.height / scale,
          },
          landmarks: face.landmarks.map(unscale) as Landmarks5,
          score: face.score,
          embedding: Array.from(embedding),
        });
      }
      return { width, height, faces: analyzed, attempts, recognizerId: recognizer.id };
    },
  };
}
