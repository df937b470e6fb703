/**
 * Training on an AI Toolkit UI that is already running (a workstation, a long-lived pod, the
 * machine `likeness` runs on): the same job flow as the RunPod pod backend, without a pod.
 *
 * - submit: checks the UI answers and returns a handle at once; the handle is computed from the
 *   spec alone, so a repeated submit with the same job name returns the same handle and creates
 *   nothing twice (the job itself is created by the first status call, found by name after).
 * - status: the shared driver (aitoolkit-job.driver.ts); a UI that does not answer is a
 *   transient fault here (it is supposed to be up), not 'starting'.
 * - release: deletes the job (row and outputs) and its dataset from the UI, stopping the job first
 *   if it still runs, unless `keepOnRelease`; nothing bills by the hour here.
 *
 * The handle stores the recipe and the dataset's signed URLs (status uploads them on its first
 * call, normally seconds after submit).
 */
import type { Readable } from 'node:stream';
import { ProviderError } from '../domain/errors.js';
import { AitkJobDriver, type AitkRunData } from './aitoolkit/aitoolkit-job.driver.js';
import { AITK_PROVIDER, AitkUiClient } from './aitoolkit/aitoolkit-ui.client.js';
import type {
  ReleaseReport,
  TrainingArtifact,
  TrainingBackend,
  TrainingHandle,
  TrainingJobSpec,
  TrainingStatus,
} from './training-backend.js';

export interface AitoolkitBackendOptions {
  /** The UI's base URL, e.g. http://gpu-box:8675. */
  baseUrl: string;
  /** Its AI_TOOLKIT_AUTH, if it was started with one. */
  token?: string;
  /** gpu_ids for new jobs ("0", "0,1"): CUDA_VISIBLE_DEVICES and the queue key. Default "0". */
  gpuIds?: string;
  /** Keep the job and dataset on the UI after release (to inspect them there). Default false. */
  keepOnRelease?: boolean;
  /** When set, release reports a cost for the job's wall-clock time at this hourly rate. */
  costPerGpuHourUsd?: number;
  requestTimeoutMs?: number;
  uploadTimeoutMs?: number;
  datasetFetchTimeoutMs?: number;
  downloadIdleTimeoutMs?: number;
  emulated?: boolean;
  fetch?: typeof fetch;
}

export interface AitoolkitHandle extends TrainingHandle, AitkRunData {
  backend: 'aitoolkit';
  runId: string;
}

export class AitoolkitBackend implements TrainingBackend {
  readonly id = 'aitoolkit';
  private readonly ui: AitkUiClient;
  private readonly driver: AitkJobDriver;

  constructor(private readonly opts: AitoolkitBackendOptions) {
    this.ui = new AitkUiClient({
      baseUrl: opts.baseUrl,
      token: opts.token,
      timeoutMs: opts.requestTimeoutMs,
      uploadTimeoutMs: opts.uploadTimeoutMs,
      downloadIdleTimeoutMs: opts.downloadIdleTimeoutMs,
      fetch: opts.fetch,
    });
    this.driver = new AitkJobDriver({
      gpuIds: opts.gpuIds ?? '0',
      emulated: opts.emulated ?? false,
      datasetFetchTimeoutMs: opts.datasetFetchTimeoutMs,
      fetch: opts.fetch,
    });
  }

  async submit(spec: TrainingJobSpec, signal?: AbortSignal): Promise<AitoolkitHandle> {
    await this.ensureUp(signal);
    return {
      backend: 'aitoolkit',
      jobName: spec.jobName,
      runId: spec.runId,
      recipe: spec.recipe,
      dataset: spec.dataset,
    };
  }

  async status(handle: TrainingHandle, signal?: AbortSignal): Promise<TrainingStatus> {
    const h = asHandle(handle);
    await this.ensureUp(signal);
    return this.driver.advance(this.ui, h, signal);
  }

  download(handle: TrainingHandle, artifact: TrainingArtifact, signal?: AbortSignal): Promise<Readable> {
    asHandle(handle);
    return this.driver.download(this.ui, artifact, signal);
  }

  async cancel(handle: TrainingHandle): Promise<void> {
    await this.driver.cancel(this.ui, asHandle(handle).jobName);
  }

  /**
   * GPU time is estimated from the job row's created_at..updated_at (the UI records no start
   * time), an upper bound that includes time spent queued behind other jobs.
   */
  async release(handle: TrainingHandle): Promise<ReleaseReport> {
    const h = asHandle(handle);
    const job = this.opts.keepOnRelease
      ? await this.ui.findJobByName(h.jobName)
      : await this.driver.remove(this.ui, h.jobName);
    if (!job) return {};
    const seconds = Math.max(0, (Date.parse(job.updated_at) - Date.parse(job.created_at)) / 1000);
    if (!Number.isFinite(seconds)) return {};
    const report: ReleaseReport = { gpuSeconds: Math.round(seconds) };
    if (this.opts.costPerGpuHourUsd !== undefined) {
      report.costUsd = Math.round(((this.opts.costPerGpuHourUsd * seconds) / 3600) * 10_000) / 10_000;
    }
    return report;
  }

  /** /health: the UI answers GET /api/auth with our token. */
  async probe(signal?: AbortSignal): Promise<{ ok: boolean; detail: string }> {
    const r = await this.ui.readiness(signal ?? AbortSignal.timeout(5_000)).catch((err: Error) => ({ ready: false as const, reason: err.message }));
    return r.ready ? { ok: true, detail: 'AI Toolkit UI answers' } : { ok: false, detail: r.reason };
  }

  private async ensureUp(signal?: AbortSignal): Promise<void> {
    const state = await this.ui.readiness(signal);
    if (!state.ready) {
      throw new ProviderError('transient', `AI Toolkit UI at ${this.ui.baseUrl} is not answering: ${state.reason}`, AITK_PROVIDER);
    }
  }
}

function asHandle(handle: TrainingHandle): AitoolkitHandle {
  const h = handle as Partial<AitoolkitHandle>;
  if (h.backend !== 'aitoolkit' || typeof h.jobName !== 'string' || !h.recipe || !h.dataset) {
    throw new ProviderError('fatal', `Not an AI Toolkit handle (backend ${String(h.backend)}).`, AITK_PROVIDER);
  }
  return h as AitoolkitHandle;
}
