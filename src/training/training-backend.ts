/**
 * The one interface every training provider sits behind (AI Toolkit on a RunPod pod, AI Toolkit
 * UI already running, RunPod serverless, local AI Toolkit, the GPU emulator through the RunPod
 * adapter). Nothing outside a backend builds a provider's HTTP requests.
 *
 * Contract for implementers:
 * - `submit` is idempotent by `spec.jobName`: called again after a crash with the same name, it
 *   finds the pod/job it already created instead of creating a second one.
 * - Every method throws `ProviderError` (domain/errors.ts) for provider faults, classified as
 *   transient / preempted / fatal; the caller decides retries (domain/retry-policy.ts).
 * - `release` is idempotent and must leave nothing billing (pods terminated), whatever state the
 *   job is in. The caller invokes it on success, failure and cancel.
 * - Handles are plain JSON: they are stored with the run and survive restarts.
 */
import type { Readable } from 'node:stream';
import type { BaseModel, LoraPart } from '../domain/base-models.js';

/** What to train: the product's choice of hyper-parameters, independent of any provider's paths. */
export interface TrainingRecipe {
  baseModel: BaseModel;
  triggerWord: string;
  steps: number;
  rank: number;
  alpha: number;
  learningRate: number;
  /** Training resolutions (square bucket sides, px). */
  resolutions: number[];
  saveEvery: number;
  sampleEvery: number;
  /** Sample prompts; each contains the trigger word. */
  samplePrompts: string[];
}

export interface DatasetFile {
  /** File name inside the dataset folder, e.g. `img_001.jpg` or `img_001.txt` (caption). */
  name: string;
  /** Signed, expiring GET URL the backend (or the provider) reads the bytes from. */
  url: string;
  size: number;
}

export interface TrainingJobSpec {
  runId: string;
  /** Provider-side name: unique per run attempt, letters/digits/underscore only. */
  jobName: string;
  recipe: TrainingRecipe;
  dataset: { name: string; files: DatasetFile[] };
}

/** Opaque to the caller, JSON-serialisable, stored with the run. */
export interface TrainingHandle {
  backend: string;
  jobName: string;
  [key: string]: unknown;
}

export type ProviderJobState =
  | 'starting' // machine booting / job not yet started
  | 'queued'
  | 'running'
  | 'completed'
  | 'failed'
  | 'cancelled';

export interface TrainingProgress {
  step: number;
  totalSteps: number;
  /** Seconds per step as measured by the trainer, when it reports one. */
  secondsPerStep?: number;
  loss?: number;
  /** The trainer's own status text ("Loading model", "Training", ...). */
  message?: string;
}

export interface TrainingArtifact {
  kind: 'checkpoint' | 'sample';
  /** File name as the trainer wrote it. */
  name: string;
  /** Training step, or null for the final save. */
  step: number | null;
  /** For checkpoints: which LoRA part (Wan 2.2 writes high- and low-noise files). */
  part?: LoraPart;
  size?: number;
  /** Backend-specific locator passed back to `download`. */
  ref: string;
}

export interface TrainingStatus {
  state: ProviderJobState;
  progress: TrainingProgress;
  /** Present once the job has produced files (always when completed). */
  artifacts?: TrainingArtifact[];
  /** For `failed`: the trainer's or provider's reason. */
  error?: string;
  emulated: boolean;
}

export interface ReleaseReport {
  gpuSeconds?: number;
  costUsd?: number;
}

export interface TrainingBackend {
  readonly id: string;
  submit(spec: TrainingJobSpec, signal?: AbortSignal): Promise<TrainingHandle>;
  status(handle: TrainingHandle, signal?: AbortSignal): Promise<TrainingStatus>;
  /**
   * Optional: the statuses of many runs at once, in the order given, each settled as `status`
   * would have settled alone. For the worker's tracker, which asks about every run it holds each
   * poll interval: a provider with a list call answers with one request where `status` makes one
   * per run. At most `concurrency` requests are in flight.
   */
  statusMany?(handles: readonly TrainingHandle[], opts: { concurrency: number }): Promise<PromiseSettledResult<TrainingStatus>[]>;
  download(handle: TrainingHandle, artifact: TrainingArtifact, signal?: AbortSignal): Promise<Readable>;
  cancel(handle: TrainingHandle): Promise<void>;
  release(handle: TrainingHandle): Promise<ReleaseReport>;
  /**
   * Optional reaper: frees provider resources this product created (pods named by it) whose job
   * name `keep` does not claim, so nothing bills after a crash between creating a pod and
   * recording it. Returns how many were freed.
   */
  reap?(keep: (jobName: string) => boolean): Promise<number>;
  /** Optional health check for /health: does the provider answer and accept our credentials? */
  probe?(signal?: AbortSignal): Promise<{ ok: boolean; detail: string }>;
}
