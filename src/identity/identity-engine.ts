/**
 * The identity engine: face detection, alignment and embedding in a pool of worker threads.
 * Options come in as a plain object (no environment, no database); the caller owns its lifetime.
 */
import os from 'node:os';
import type { FaceAnalysis } from './identity.types.js';
import type { DetectionOptions } from './face-detection.js';
import { DEFAULT_DETECTION_OPTIONS } from './face-detection.js';
import type { RecognizerConfig } from './recognizer.config.js';
import { resolveRecognizer } from './recognizer.config.js';
import { FaceWorkerPool } from './face-worker-pool.js';

export interface IdentityEngineOptions {
  /** Worker threads; default: the machine's cores, at most 4 (each holds ~150 MB of models). */
  workers?: number;
  /** The shipped default, or an operator's ONNX model (see recognizer.config.ts). */
  recognizer?: RecognizerConfig;
  detection?: Partial<DetectionOptions>;
  /** Longer side at which images are analysed; default 1280. */
  maxAnalysisSide?: number;
  /** Average the embeddings of the face and its mirror image (see face-pipeline.ts); default true. */
  flipAverage?: boolean;
}

export interface IdentityEngine {
  /** Stamped on every analysis; embeddings and scores of other recognisers are refused. */
  readonly recognizerId: string;
  readonly workers: number;
  analyze(image: Uint8Array): Promise<FaceAnalysis>;
  close(): Promise<void>;
}

export function defaultWorkerCount(): number {
  return Math.max(1, Math.min(os.availableParallelism(), 4));
}

export async function createIdentityEngine(opts: IdentityEngineOptions = {}): Promise<IdentityEngine> {
  const recognizer = await resolveRecognizer(opts.recognizer);
  const pool = await FaceWorkerPool.start(opts.workers ?? defaultWorkerCount(), {
    recognizer,
    pipeline: {
      detection: { ...DEFAULT_DETECTION_OPTIONS, ...opts.detection },
      maxAnalysisSide: opts.maxAnalysisSide ?? 1280,
      flipAverage: opts.flipAverage ?? true,
    },
  });
  return {
    recognizerId: recognizer.id,
    workers: pool.size,
    analyze: (image) => pool.analyze(image),
    close: () => pool.close(),
  };
}
