/**
 * Detection that does not give up at the first miss. Detectors are tuned for faces that fill a
 * modest part of the frame, so a tight face crop (a character sheet, a 100 px thumbnail) is often
 * missed as it is. The chain tries, in order and stopping at the first hit: the image as it is,
 * the image padded (the face then fills less of the frame), the padded image at a lower confidence,
 * and a second detector on a more padded image. Every attempt is recorded with its result.
 *
 * Cheap steps come first; the second detector (SSD, ~6x the tiny detector's cost) only runs on
 * what the tiny one missed. On the faces-bbt calibration set (47 photos x 12 augmentations, see
 * docs/identity.md) the first four steps left 13 of 564 images without a face; the later steps were
 * added because each found some of those 13.
 */
import sharp from 'sharp';
import type { FaceApi, FaceApiDetection, FaceApiFaceDetection } from './faceapi-runtime.js';
import type { DetectionAttempt, FaceBox, Landmarks5 } from './identity.types.js';
import { landmarks5From68 } from './face-alignment.js';

export interface DetectionStep {
  step: DetectionAttempt['step'];
  detector: DetectionAttempt['detector'];
  /** Padding on each side, as a fraction of the longer side. */
  padding: number;
  /** 'edge' repeats the border pixels (keeps the image statistics); 'black' is a plain frame. */
  padMode: 'edge' | 'black';
  minConfidence: number;
}

export const DEFAULT_DETECTION_CHAIN: readonly DetectionStep[] = [
  { step: 'plain', detector: 'tiny-face-detector', padding: 0, padMode: 'edge', minConfidence: 0.5 },
  { step: 'padded', detector: 'tiny-face-detector', padding: 0.3, padMode: 'edge', minConfidence: 0.5 },
  { step: 'low-confidence', detector: 'tiny-face-detector', padding: 0.3, padMode: 'edge', minConfidence: 0.3 },
  { step: 'padded', detector: 'tiny-face-detector', padding: 0.6, padMode: 'edge', minConfidence: 0.3 },
  { step: 'padded', detector: 'tiny-face-detector', padding: 0.6, padMode: 'black', minConfidence: 0.2 },
  { step: 'second-detector', detector: 'ssd-mobilenet-v1', padding: 0.6, padMode: 'black', minConfidence: 0.3 },
  { step: 'second-detector', detector: 'ssd-mobilenet-v1', padding: 1, padMode: 'black', minConfidence: 0.15 },
  { step: 'low-confidence', detector: 'tiny-face-detector', padding: 0.6, padMode: 'edge', minConfidence: 0.15 },
];

export interface DetectionOptions {
  chain: readonly DetectionStep[];
  /**
   * A face scoring below this share of the best face's score in the same attempt is dropped: a
   * lowered threshold otherwise turns background texture into a "second face".
   */
  relativeScoreFloor: number;
  /** At most this many faces are kept (largest first). */
  maxFaces: number;
}

export const DEFAULT_DETECTION_OPTIONS: DetectionOptions = {
  chain: DEFAULT_DETECTION_CHAIN,
  relativeScoreFloor: 0.5,
  maxFaces: 12,
};

export interface RgbImage {
  data: Uint8Array;
  width: number;
  height: number;
}

export interface DetectedFace {
  box: FaceBox;
  landmarks: Landmarks5;
  score: number;
}

export interface DetectionResult {
  faces: DetectedFace[];
  attempts: DetectionAttempt[];
}

export async function padImage(img: RgbImage, padding: number, mode: DetectionStep['padMode']): Promise<{ image: RgbImage; offset: number }> {
  const offset = Math.round(Math.max(img.width, img.height) * padding);
  if (offset === 0) return { image: img, offset };
  const { data, info } = await sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } })
    .extend({
      top: offset,
      bottom: offset,
      left: offset,
      right: offset,
      ...(mode === 'edge' ? { extendWith: 'copy' as const } : { background: { r: 0, g: 0, b: 0 } }),
    })
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { image: { data: new Uint8Array(data.buffer, data.byteOffset, data.length), width: info.width, height: info.height }, offset };
}

/** Tiny detector input: the image's own scale (multiple of 32), within the model's useful range. */
function tinyInputSize(img: RgbImage): number {
  const side = Math.ceil(Math.max(img.width, img.height) / 32) * 32;
  return Math.min(608, Math.max(160, side));
}

/**
 * Tiny-detector steps on the same frame differ only in their threshold: the network sees the same
 * pixels at the same input size, so it runs once per frame, at the lowest threshold of the chain's
 * steps on that frame, and each step keeps the detections above its own threshold. This is exactly
 * what a run at the higher threshold returns: face-api keeps a box when its score is above the
 * threshold, then applies greedy non-maximum suppression, where a box is only ever dropped for a
 * higher-scoring one. Landmarks are computed for the kept detections only. SSD steps are not
 * shared: the chain's two SSD steps use different frames.
 */
type TinyRuns = Map<string, FaceApiFaceDetection[]>;

function frameKey(step: DetectionStep): string {
  return `${step.padding}/${step.padMode}`;
}

/** Lowest tiny-detector threshold per frame over the whole chain. */
function tinyThresholds(chain: readonly DetectionStep[]): Map<string, number> {
  const floors = new Map<string, number>();
  for (const step of chain) {
    if (step.detector !== 'tiny-face-detector') continue;
    const key = frameKey(step);
    floors.set(key, Math.min(floors.get(key) ?? Infinity, step.minConfidence));
  }
  return floors;
}

async function runStep(
  faceapi: FaceApi,
  img: RgbImage,
  step: DetectionStep,
  tinyRuns: TinyRuns,
  tinyFloors: Map<string, number>,
): Promise<FaceApiDetection[]> {
  const input = faceapi.tf.tensor3d(img.data, [img.height, img.width, 3], 'int32');
  try {
    let found: FaceApiFaceDetection[];
    if (step.detector === 'tiny-face-detector') {
      const key = frameKey(step);
      let all = tinyRuns.get(key);
      if (!all) {
        const scoreThreshold = tinyFloors.get(key) ?? step.minConfidence;
        all = await faceapi.detectAllFaces(input, new faceapi.TinyFaceDetectorOptions({ inputSize: tinyInputSize(img), scoreThreshold }));
        tinyRuns.set(key, all);
      }
      found = all.filter((d) => d.score > step.minConfidence);
    } else {
      found = await faceapi.detectAllFaces(input, new faceapi.SsdMobilenetv1Options({ minConfidence: step.minConfidence, maxResults: 50 }));
    }
    if (found.length === 0) return [];
    return await new faceapi.DetectAllFaceLandmarksTask(Promise.resolve(found.map((detection) => ({ detection }))), input, false);
  } finally {
    input.dispose();
  }
}

export async function detectFaces(faceapi: FaceApi, img: RgbImage, opts: DetectionOptions = DEFAULT_DETECTION_OPTIONS): Promise<DetectionResult> {
  const attempts: DetectionAttempt[] = [];
  const padded = new Map<string, { image: RgbImage; offset: number }>();
  const tinyRuns: TinyRuns = new Map();
  const tinyFloors = tinyThresholds(opts.chain);
  for (const step of opts.chain) {
    const started = performance.now();
    const key = frameKey(step);
    let frame = padded.get(key);
    if (!frame) {
      frame = await padImage(img, step.padding, step.padMode);
      padded.set(key, frame);
    }
    const raw = await runStep(faceapi, frame.image, step, tinyRuns, tinyFloors);
    const faces = keepFaces(raw, frame.offset, img, opts);
    attempts.push({
      step: step.step,
      detector: step.detector,
      padding: step.padding,
      minConfidence: step.minConfidence,
      facesFound: faces.length,
      ms: Math.round(performance.now() - started),
    });
    if (faces.length > 0) return { faces, attempts };
  }
  return { faces: [], attempts };
}

/** Maps detections back to the unpadded image, drops weak and off-image ones, largest first. */
function keepFaces(raw: FaceApiDetection[], offset: number, img: RgbImage, opts: DetectionOptions): DetectedFace[] {
  const best = Math.max(0, ...raw.map((d) => d.detection.score));
  const faces: DetectedFace[] = [];
  for (const d of raw) {
    if (d.detection.score < best * opts.relativeScoreFloor) continue;
    const b = d.detection.box;
    const box = { x: b.x - offset, y: b.y - offset, width: b.width, height: b.height };
    // A face whose centre lies in the padding is a reflection of the border, not a face.
    const cx = box.x + box.width / 2;
    const cy = box.y + box.height / 2;
    if (cx < 0 || cy < 0 || cx > img.width || cy > img.height) continue;
    const five = landmarks5From68(d.landmarks.positions);
    const landmarks = five.map(([x, y]) => [x - offset, y - offset]) as Landmarks5;
    faces.push({ box, landmarks, score: d.detection.score });
  }
  faces.sort((a, b) => b.box.width * b.box.height - a.box.width * a.box.height);
  return faces.slice(0, opts.maxFaces);
}
