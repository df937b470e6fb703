/**
 * The generation backend: one ComfyUI run of an API-format workflow, behind four verbs
 * (submit, status, fetch images, cancel), chosen once at start-up (src/app/). Implementations:
 * a ComfyUI server (comfyui.backend.ts), a RunPod serverless worker-comfyui endpoint
 * (runpod-comfyui.backend.ts); the GPU emulator speaks both protocols.
 *
 * A handle is plain JSON, so a worker that restarts can ask about a run another process started.
 * Faults are ProviderErrors (transient: retry; fatal: this run cannot work). A LoRA the ComfyUI
 * host cannot load is its own error class, because the caller falls back to face swap instead of
 * failing the generation.
 */
import type { Readable } from 'node:stream';
import { ProviderError } from '../domain/errors.js';
import type { ComfyWorkflow } from './workflow/comfy-workflow.types.js';

/** An image the workflow reads with LoadImage by `name` (uploaded to ComfyUI's input folder). */
export interface GenerationInputImage {
  name: string;
  bytes: Buffer;
}

/**
 * A LoRA file the workflow's loader names (`<loraId>.safetensors`). How it reaches the ComfyUI host
 * is the backend's business (docs/generation.md): copied into a shared loras folder, or fetched
 * by the worker from `url()`, a signed URL of Likeness's object store.
 */
export interface LoraFileSource {
  name: string;
  sha256: string;
  size: number;
  url(): Promise<string>;
  open(): Promise<Readable>;
}

export interface GenerationSubmission {
  workflow: ComfyWorkflow;
  images: GenerationInputImage[];
  loras: LoraFileSource[];
}

export interface GenerationHandle {
  backend: string;
  /** ComfyUI prompt id or RunPod job id. */
  id: string;
  [key: string]: unknown;
}

export type GenerationState = 'queued' | 'running' | 'completed' | 'failed' | 'cancelled';

export interface GenerationStatus {
  state: GenerationState;
  /** Sampler steps, when the backend reports them. */
  progress?: { value: number; max: number };
  /** Why it failed; `lora` when the LoRA file was the problem (the caller falls back). */
  error?: { message: string; cause: 'lora' | 'workflow' | 'execution' | 'lost' };
  /** GPU time the run took, when known (ComfyUI timestamps, RunPod executionTime). */
  executionSeconds?: number;
}

export interface GeneratedImage {
  fileName: string;
  bytes: Buffer;
  mime: string;
  /** Made by the GPU emulator (its PNG text chunk or response header said so). */
  emulated: boolean;
}

export interface GenerationBackend {
  readonly id: string;
  submit(job: GenerationSubmission): Promise<GenerationHandle>;
  status(handle: GenerationHandle): Promise<GenerationStatus>;
  fetchImages(handle: GenerationHandle): Promise<GeneratedImage[]>;
  cancel(handle: GenerationHandle): Promise<void>;
  close(): Promise<void>;
}

/** The LoRA could not be put where ComfyUI loads it, or ComfyUI does not list it: fall back. */
export class LoraUnavailableError extends ProviderError {
  constructor(message: string, provider: string) {
    super('fatal', message, provider);
    this.name = 'LoraUnavailableError';
  }
}

/** What the composition root builds: the backend plus what the pipeline needs to know about it. */
export interface GenerationRuntime {
  backend: GenerationBackend;
  emulated: boolean;
  describe: string;
  /**
   * Emulator only: tells the emulated ComfyUI which face a LoRA file renders (a real ComfyUI renders
   * what the LoRA learned; the emulator has no model, so it is given the character's photo).
   */
  emulatorHints: { bindLoraFace(fileNames: string[], face: Buffer): Promise<void> } | null;
  close(): Promise<void>;
}
