/** Messages between the identity engine and its face workers (structured-clone safe). */
import type { FaceAnalysis } from './identity.types.js';
import type { PipelineOptions } from './face-pipeline.js';
import type { ResolvedRecognizer } from './recognizer.config.js';

export interface FaceWorkerInit {
  recognizer: ResolvedRecognizer;
  pipeline: PipelineOptions;
}

export interface FaceWorkerRequest {
  id: number;
  bytes: Uint8Array;
}

export type FaceWorkerReply =
  | { id: number; ok: true; analysis: FaceAnalysis }
  | { id: number; ok: false; error: string };

export type FaceWorkerStartup = { ready: true } | { ready: false; error: string };
