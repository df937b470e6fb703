/**
 * One run of a workflow on a generation backend, start to images: submit, poll status until it
 * ends, fetch the images. Transient faults of a single call are retried with backoff (bounded);
 * the run's own outcome is turned into typed errors for the pipeline to decide on:
 *   LoraUnavailableError  the LoRA could not be loaded       -> fall back to face swap
 *   ProviderError fatal   the workflow is refused / cancelled -> this method cannot work
 *   ProviderError transient  execution error, lost, timed out -> worth another attempt
 */
import { ProviderError } from '../domain/errors.js';
import {
  LoraUnavailableError,
  type GeneratedImage,
  type GenerationBackend,
  type GenerationHandle,
  type GenerationSubmission,
} from './generation-backend.js';

export interface RunWorkflowOptions {
  pollMs: number;
  timeoutMs: number;
  /** Retries of one transient call failure (network, 5xx). */
  callRetries?: number;
  onProgress?: (p: { value: number; max: number }) => void;
  sleep?: (ms: number) => Promise<void>;
}

export interface WorkflowRun {
  handle: GenerationHandle;
  images: GeneratedImage[];
  executionSeconds: number | null;
}

const defaultSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function runWorkflow(backend: GenerationBackend, submission: GenerationSubmission, opts: RunWorkflowOptions): Promise<WorkflowRun> {
  const sleep = opts.sleep ?? defaultSleep;
  const retrying = <T>(fn: () => Promise<T>) => withRetries(fn, opts.callRetries ?? 3, sleep);
  const handle = await retrying(() => backend.submit(submission));
  const deadline = Date.now() + opts.timeoutMs;
  for (;;) {
    const status = await retrying(() => backend.status(handle));
    if (status.progress) opts.onProgress?.(status.progress);
    switch (status.state) {
      case 'completed': {
        const images = await retrying(() => backend.fetchImages(handle));
        return { handle, images, executionSeconds: status.executionSeconds ?? null };
      }
      case 'failed': {
        const message = status.error?.message ?? 'the run failed';
        if (status.error?.cause === 'lora') throw new LoraUnavailableError(message, backend.id);
        throw new ProviderError(status.error?.cause === 'workflow' ? 'fatal' : 'transient', message, backend.id);
      }
      case 'cancelled':
        throw new ProviderError('fatal', 'The run was cancelled on the provider.', backend.id);
      default:
        break;
    }
    if (Date.now() > deadline) {
      await backend.cancel(handle).catch(() => undefined);
      throw new ProviderError('transient', `The run did not finish within ${Math.round(opts.timeoutMs / 1000)} s and was cancelled.`, backend.id);
    }
    await sleep(opts.pollMs);
  }
}

async function withRetries<T>(fn: () => Promise<T>, retries: number, sleep: (ms: number) => Promise<void>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (!(err instanceof ProviderError) || !err.retryable || err instanceof LoraUnavailableError || attempt >= retries) throw err;
      await sleep(Math.min(8000, 250 * 2 ** attempt));
    }
  }
}
