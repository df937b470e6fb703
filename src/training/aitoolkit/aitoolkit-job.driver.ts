/**
 * Drives one training job through an AI Toolkit UI that is up (contracts/README.md §3.7), shared by
 * the RunPod pod backend (which adds the pod around it) and the plain AI Toolkit backend.
 *
 * `advance` is called on every status poll and moves the job one step further. It keeps no state of
 * its own: every step is re-derived from the UI's state, so a crashed worker, a repeated poll or a
 * lost response changes nothing twice:
 *   no job named `jobName`  -> (re)upload the dataset (uploads overwrite), then create the job
 *                              (409: someone already did -> look it up);
 *   job `stopped`, stop=false (created, never queued) -> start the job, then start the queue;
 *   job `queued`           -> start the queue again (it stops itself when it finds nothing queued,
 *                              so a crash between the two calls would otherwise strand the job);
 *   job `running|completed|error|stopped(stop=true)` -> report.
 * Invariant: the job is created only after the whole dataset was uploaded, so "job exists" implies
 * "dataset complete" and the upload never has to be re-checked.
 */
import path from 'node:path';
import type { Readable } from 'node:stream';
import { ProviderError } from '../../domain/errors.js';
import { buildAitkJobConfig } from '../aitoolkit-config.builder.js';
import { datasetFetchError, providerFetch } from '../provider-http.js';
import type {
  DatasetFile,
  TrainingArtifact,
  TrainingRecipe,
  TrainingStatus,
} from '../training-backend.js';
import { artifactsFromListings } from './aitoolkit-artifacts.js';
import { AITK_PROVIDER, type AitkJob, type AitkUiClient, type AitkUploadFile } from './aitoolkit-ui.client.js';

/** What the driver needs to know about a run; both backends keep it in their handle. */
export interface AitkRunData {
  jobName: string;
  recipe: TrainingRecipe;
  dataset: { name: string; files: DatasetFile[] };
}

export interface AitkJobDriverOptions {
  /** CUDA_VISIBLE_DEVICES for new jobs, and their queue key. "0" on a one-GPU pod. */
  gpuIds: string;
  /** Marks every status as emulated (set when the provider is the GPU emulator). */
  emulated: boolean;
  /** Per-file limit when reading a dataset file from its signed URL, default 120 s. */
  datasetFetchTimeoutMs?: number;
  /** Upper bound of one upload request's payload, default 24 MiB (stays well under the proxy's 100 s). */
  uploadBatchBytes?: number;
  fetch?: typeof fetch;
}

/** The UI sanitizes dataset names like this on create; one folder per job name keeps runs apart. */
export function aitkDatasetName(jobName: string): string {
  return jobName.toLowerCase().replace(/[^a-z0-9]+/g, '_');
}

/** `"1.42 iter/sec"` -> 0.704, `"3.21 sec/iter"` -> 3.21 (the trainer writes one or the other). */
export function secondsPerStepFrom(speed: string | null | undefined): number | undefined {
  if (!speed) return undefined;
  const perSec = /([\d.]+)\s*iter\/sec/i.exec(speed);
  if (perSec) {
    const rate = Number(perSec[1]);
    return rate > 0 ? 1 / rate : undefined;
  }
  const perIter = /([\d.]+)\s*sec\/iter/i.exec(speed);
  if (perIter) return Number(perIter[1]);
  return undefined;
}

/** `total_steps ?? job_config.config.process[0].train.steps` (ui/src/utils/jobs.ts), else the recipe's. */
export function totalStepsOf(job: AitkJob, fallback: number): number {
  if (typeof job.total_steps === 'number' && job.total_steps > 0) return job.total_steps;
  try {
    const cfg = JSON.parse(job.job_config) as { config?: { process?: Array<{ train?: { steps?: unknown } }> } };
    const steps = cfg.config?.process?.[0]?.train?.steps;
    if (typeof steps === 'number' && steps > 0) return steps;
  } catch {
    // An unparsable job_config is the UI's problem; the recipe knows the planned total.
  }
  return fallback;
}

export class AitkJobDriver {
  private readonly datasetFetchTimeoutMs: number;
  private readonly uploadBatchBytes: number;

  constructor(private readonly opts: AitkJobDriverOptions) {
    this.datasetFetchTimeoutMs = opts.datasetFetchTimeoutMs ?? 120_000;
    this.uploadBatchBytes = opts.uploadBatchBytes ?? 24 * 1024 * 1024;
  }

  async advance(ui: AitkUiClient, run: AitkRunData, signal?: AbortSignal): Promise<TrainingStatus> {
    let job = await ui.findJobByName(run.jobName, signal);
    if (!job) job = await this.createJob(ui, run, signal);

    if (job.status === 'stopped' && !job.stop) {
      // Created but never queued (or a crash between create and start): queue it, then the queue.
      await ui.startJob(job.id, signal);
      await ui.startQueue(job.gpu_ids || this.opts.gpuIds, signal);
      return this.statusOf({ ...job, status: 'queued', info: 'Job queued' }, run);
    }
    if (job.status === 'queued') await ui.startQueue(job.gpu_ids || this.opts.gpuIds, signal);

    if (job.status === 'completed') {
      const [files, samples] = await Promise.all([ui.listJobFiles(job.id, signal), ui.listJobSamples(job.id, signal)]);
      const artifacts = artifactsFromListings(job.name, files ?? [], samples ?? []);
      if (!artifacts.some((a) => a.kind === 'checkpoint')) {
        return {
          ...this.statusOf(job, run),
          state: 'failed',
          error: 'AI Toolkit reported the job completed but wrote no LoRA file.',
          artifacts,
        };
      }
      return { ...this.statusOf(job, run), artifacts };
    }
    return this.statusOf(job, run);
  }

  /** Asks the trainer to stop (SIGINT; it then writes status `stopped`). No job: nothing to stop. */
  async cancel(ui: AitkUiClient, jobName: string, signal?: AbortSignal): Promise<void> {
    const job = await ui.findJobByName(jobName, signal);
    if (!job || job.status === 'completed' || job.status === 'error' || (job.status === 'stopped' && job.stop)) return;
    await ui.stopJob(job.id, signal);
  }

  download(ui: AitkUiClient, artifact: TrainingArtifact, signal?: AbortSignal): Promise<Readable> {
    return ui.downloadFile(artifact.ref, { signal, expectedSize: artifact.size });
  }

  /**
   * Removes the job (row and output folder) and its dataset from the UI. A job still running is
   * stopped first, so the GPU is not left busy with an orphan. Returns the job as last seen.
   */
  async remove(ui: AitkUiClient, jobName: string, signal?: AbortSignal): Promise<AitkJob | null> {
    const job = await ui.findJobByName(jobName, signal);
    if (job) {
      if (job.status === 'running' || job.status === 'queued' || job.status === 'stopping') {
        await ui.stopJob(job.id, signal);
      }
      await ui.deleteJob(job.id, signal);
    }
    const dataset = aitkDatasetName(jobName);
    if ((await ui.listDatasets(signal)).includes(dataset)) await ui.deleteDataset(dataset, signal);
    return job;
  }

  statusOf(job: AitkJob, run: AitkRunData): TrainingStatus {
    const progress = {
      step: job.step ?? 0,
      totalSteps: totalStepsOf(job, run.recipe.steps),
      secondsPerStep: secondsPerStepFrom(job.speed_string),
      message: job.info || undefined,
    };
    const base = { progress, emulated: this.opts.emulated };
    switch (job.status) {
      case 'queued':
        return { ...base, state: 'queued' };
      case 'running':
      case 'stopping':
        return { ...base, state: 'running' };
      case 'completed':
        return { ...base, state: 'completed' };
      case 'error':
        return { ...base, state: 'failed', error: job.info || 'AI Toolkit reported an error without a message.' };
      case 'stopped':
        return job.stop ? { ...base, state: 'cancelled' } : { ...base, state: 'queued' };
      default:
        throw new ProviderError('fatal', `AI Toolkit job ${job.name} has an unknown status "${String(job.status)}".`, AITK_PROVIDER);
    }
  }

  private async createJob(ui: AitkUiClient, run: AitkRunData, signal?: AbortSignal): Promise<AitkJob> {
    const settings = await ui.getSettings(signal);
    // datasets/create makes the folder with a non-recursive mkdir and fails (500) while the datasets
    // root does not exist, as on a fresh install; datasets/list creates the root. List first.
    await ui.listDatasets(signal);
    const dataset = await ui.createDataset(aitkDatasetName(run.jobName), signal);
    await this.uploadDataset(ui, dataset, run.dataset.files, signal);
    const jobConfig = buildAitkJobConfig(run.recipe, {
      jobName: run.jobName,
      // The trainer runs on Linux: POSIX joins, whatever this process runs on.
      datasetFolder: path.posix.join(settings.DATASETS_FOLDER, dataset),
      trainingFolder: settings.TRAINING_FOLDER,
    });
    const created = await ui.createJob({ name: run.jobName, gpuIds: this.opts.gpuIds, jobConfig }, signal);
    if (created) return created;
    // 409: the name exists, i.e. an earlier call created it and its answer was lost.
    const existing = await ui.findJobByName(run.jobName, signal);
    if (!existing) {
      throw new ProviderError('transient', `AI Toolkit said job ${run.jobName} exists but does not list it.`, AITK_PROVIDER);
    }
    return existing;
  }

  /** Reads each file from its signed URL and uploads them in batches of at most `uploadBatchBytes`. */
  private async uploadDataset(ui: AitkUiClient, dataset: string, files: DatasetFile[], signal?: AbortSignal) {
    if (files.length === 0) throw new ProviderError('fatal', 'The training dataset has no files.', AITK_PROVIDER);
    let batch: AitkUploadFile[] = [];
    let batchBytes = 0;
    const flush = async () => {
      if (batch.length === 0) return;
      await ui.uploadDatasetFiles(dataset, batch, signal);
      batch = [];
      batchBytes = 0;
    };
    for (const file of files) {
      const data = await this.readDatasetFile(file, signal);
      if (batch.length > 0 && batchBytes + data.size > this.uploadBatchBytes) await flush();
      batch.push({ name: file.name, data });
      batchBytes += data.size;
    }
    await flush();
  }

  /**
   * A signed URL that is refused (401/403/404/410) has most likely expired: retrying this attempt
   * cannot help, but a new attempt, prepared with fresh URLs, can. That is what `preempted` asks
   * the caller for. Network faults and 5xx stay transient.
   */
  private async readDatasetFile(file: DatasetFile, signal?: AbortSignal): Promise<Blob> {
    const provider = 'dataset-storage';
    const res = await providerFetch(file.url, { method: 'GET' }, {
      provider,
      timeoutMs: this.datasetFetchTimeoutMs,
      signal,
      fetch: this.opts.fetch,
    });
    if (!res.ok) {
      await res.body?.cancel().catch(() => undefined);
      throw datasetFetchError(res.status, file.name, file.url, provider);
    }
    let blob: Blob;
    try {
      blob = await res.blob();
    } catch (err) {
      if (signal?.aborted) throw signal.reason ?? err;
      throw new ProviderError('transient', `Reading dataset file ${file.name} was interrupted.`, provider);
    }
    if (file.size > 0 && blob.size !== file.size) {
      throw new ProviderError('transient', `Dataset file ${file.name} has ${blob.size} bytes, expected ${file.size}.`, provider);
    }
    return blob;
  }
}
