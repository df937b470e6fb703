/**
 * Training on a RunPod serverless endpoint running Likeness's AI Toolkit worker
 * (workers/aitoolkit-serverless/, contracts/README.md §2). One job per run attempt:
 *
 *   POST /run {input: {job_name, config, dataset: {files: [{name, url, size}]},
 *                      upload: {files: {<lora file name>: PUT url}, samples: [PUT url, ...]},
 *                      claim_url},
 *              webhook?, policy: {executionTimeout, ttl}}
 *
 * The worker downloads the dataset, runs `python run.py` on the config, reports
 * `{step, total_steps, seconds_per_step?, loss?, message}` with progress_update (seen on /status as
 * IN_PROGRESS `output`), PUTs the final LoRA file(s) and the last samples straight into our object
 * store through the signed URLs, and returns `{files: [{name, size, sha256}], samples: [{name, index}]}`
 * or `{error: "<the trainer's last line>"}`. `download` then reads the uploaded object.
 *
 * Idempotency by job name (RunPod cannot look a job up by name): the handle is written to the store
 * as `<prefix>/job.json` right after /run answers, and a repeated submit returns it. What is left is
 * the window between /run's answer and that write (or a /run whose answer was lost to a time-out):
 * a retried submit then queues a second job. Both jobs write the same keys with the same training,
 * so the result is the same; the cost is the orphan's GPU time. The orphan is cut short when it can
 * be detected: the worker reads `claim_url` (a signed GET of job.json) when it starts and quits when
 * the marker names another job id. An orphan that started before the marker existed runs to its
 * end, bounded by `policy.executionTimeout`.
 *
 * Statuses: IN_QUEUE -> queued; IN_PROGRESS -> running with the worker's progress; COMPLETED with
 * every expected file in the store -> completed; FAILED -> failed with the worker's error string;
 * TIMED_OUT -> failed; CANCELLED -> cancelled. 404 (results kept 30 min after the end, or the job
 * removed at its `ttl`): completed if the files are all in the store, else ProviderError('preempted'),
 * so the caller starts a new attempt.
 */
import { LORA_PARTS, type BaseModel, type LoraPart } from '../domain/base-models.js';
import { ProviderError } from '../domain/errors.js';
import type { ObjectStore } from '../storage/object-store.js';
import { buildAitkJobConfig } from './aitoolkit-config.builder.js';
import { parseCheckpointName, parseSampleName } from './aitoolkit/aitoolkit-artifacts.js';
import {
  FINAL_SERVERLESS_STATUSES,
  RunpodServerlessClient,
  serverlessErrorText,
  serverlessPolicy,
  type ServerlessPolicy,
  type ServerlessStatusBody,
} from './runpod/runpod-serverless.client.js';
import type {
  ReleaseReport,
  TrainingArtifact,
  TrainingBackend,
  TrainingHandle,
  TrainingJobSpec,
  TrainingProgress,
  TrainingStatus,
} from './training-backend.js';
import type { Readable } from 'node:stream';

export const RUNPOD_SERVERLESS_TRAINING_PROVIDER = 'runpod-serverless';
/** Placeholders the worker replaces with its own folders (workers/aitoolkit-serverless/README.md). */
export const WORKER_DATASET_FOLDER = '/likeness/dataset';
export const WORKER_TRAINING_FOLDER = '/likeness/output';
const MAX_SAMPLES = 8;
const JOB_NAME = /^[A-Za-z0-9_]+$/;

export interface RunpodServerlessBackendOptions {
  apiKey: string;
  endpointId: string;
  /** Default https://api.runpod.ai/v2. */
  baseUrl?: string;
  /** Where the worker uploads the LoRA (signed PUT URLs) and where `download` reads it. */
  store: ObjectStore;
  /** Our signed webhook URL for a run, valid for `validForSeconds`; omitted: polling only. */
  webhookUrl?: (runId: string, validForSeconds: number) => string;
  /** policy.executionTimeout: the longest one training may run. Default 4 h. */
  executionTimeoutMs?: number;
  /** How long a job may wait in the queue on top of that (policy.ttl = both). Default 2 h. */
  queueTimeoutMs?: number;
  /** Per-call limit for RunPod calls, default 30 s. */
  requestTimeoutMs?: number;
  /** When set, release reports a cost for the job's execution time at this hourly rate. */
  costPerGpuHourUsd?: number;
  emulated?: boolean;
  fetch?: typeof fetch;
}

export interface RunpodServerlessHandle extends TrainingHandle {
  backend: 'runpod-serverless';
  runId: string;
  jobId: string;
  endpointId: string;
  baseModel: BaseModel;
  totalSteps: number;
  /** Store prefix of this attempt's uploads. */
  prefix: string;
  files: Array<{ name: string; part: LoraPart; key: string }>;
  sampleKeys: string[];
  policy: ServerlessPolicy;
  submittedAt: string;
}

interface WorkerOutput {
  files?: Array<{ name?: unknown; size?: unknown }>;
  samples?: Array<{ name?: unknown; index?: unknown }>;
}

interface WorkerProgress {
  step?: unknown;
  total_steps?: unknown;
  seconds_per_step?: unknown;
  loss?: unknown;
  message?: unknown;
}

const fatal = (message: string) => new ProviderError('fatal', message, RUNPOD_SERVERLESS_TRAINING_PROVIDER);

/** `<job>.safetensors`, or AI Toolkit's split Wan 2.2 names (contracts §3.6, lora-formats §2.4). */
export function finalLoraFileName(jobName: string, part: LoraPart): string {
  return part === 'main' ? `${jobName}.safetensors` : `${jobName}_${part}.safetensors`;
}

export class RunpodServerlessBackend implements TrainingBackend {
  readonly id = 'runpod-serverless';
  private readonly client: RunpodServerlessClient;
  private readonly submitting = new Map<string, Promise<RunpodServerlessHandle>>();

  constructor(private readonly opts: RunpodServerlessBackendOptions) {
    this.client = new RunpodServerlessClient({
      apiKey: opts.apiKey,
      endpointId: opts.endpointId,
      baseUrl: opts.baseUrl,
      provider: RUNPOD_SERVERLESS_TRAINING_PROVIDER,
      timeoutMs: opts.requestTimeoutMs,
      fetch: opts.fetch,
    });
  }

  async submit(spec: TrainingJobSpec, signal?: AbortSignal): Promise<RunpodServerlessHandle> {
    if (!JOB_NAME.test(spec.jobName)) throw fatal(`Job name "${spec.jobName}" must be letters, digits and underscores.`);
    if (spec.dataset.files.length === 0) throw fatal('The training dataset has no files.');
    // Two submits of one job in this process share one /run; across processes the marker does.
    const pending = this.submitting.get(spec.jobName);
    if (pending) return pending;
    const queued = this.queue(spec, signal).finally(() => this.submitting.delete(spec.jobName));
    this.submitting.set(spec.jobName, queued);
    return queued;
  }

  private async queue(spec: TrainingJobSpec, signal?: AbortSignal): Promise<RunpodServerlessHandle> {
    const prefix = `runs/${spec.runId}/provider/${spec.jobName}`;
    const markerKey = `${prefix}/job.json`;
    const known = await this.readMarker(markerKey);
    if (known) return known;

    const policy = serverlessPolicy(this.opts.executionTimeoutMs ?? 4 * 3600_000, (this.opts.executionTimeoutMs ?? 4 * 3600_000) + (this.opts.queueTimeoutMs ?? 2 * 3600_000));
    // Signed URLs outlive the job by an hour: a worker may upload in its last minute.
    const urlSeconds = Math.ceil(policy.ttl / 1000) + 3600;
    const files = LORA_PARTS[spec.recipe.baseModel].map((part) => {
      const name = finalLoraFileName(spec.jobName, part);
      return { name, part, key: `${prefix}/${name}` };
    });
    const sampleKeys = spec.recipe.samplePrompts.slice(0, MAX_SAMPLES).map((_, i) => `${prefix}/sample_${i + 1}`);
    const config = buildAitkJobConfig(spec.recipe, {
      jobName: spec.jobName,
      datasetFolder: WORKER_DATASET_FOLDER,
      trainingFolder: WORKER_TRAINING_FOLDER,
    });
    const upload = {
      files: Object.fromEntries(await Promise.all(files.map(async (f) => [f.name, await this.opts.store.presign(f.key, 'PUT', urlSeconds)] as const))),
      samples: await Promise.all(sampleKeys.map((k) => this.opts.store.presign(k, 'PUT', urlSeconds))),
    };
    const input = {
      job_name: spec.jobName,
      config,
      dataset: { files: spec.dataset.files.map((f) => ({ name: f.name, url: f.url, size: f.size })) },
      upload,
      claim_url: await this.opts.store.presign(markerKey, 'GET', urlSeconds),
    };
    const webhook = this.opts.webhookUrl?.(spec.runId, urlSeconds);
    const job = await this.client.run({ input, policy, ...(webhook ? { webhook } : {}) }, signal);
    const handle: RunpodServerlessHandle = {
      backend: 'runpod-serverless',
      jobName: spec.jobName,
      runId: spec.runId,
      jobId: job.id,
      endpointId: this.client.endpointId,
      baseModel: spec.recipe.baseModel,
      totalSteps: spec.recipe.steps,
      prefix,
      files,
      sampleKeys,
      policy,
      submittedAt: new Date().toISOString(),
    };
    await this.opts.store.put(markerKey, Buffer.from(JSON.stringify(handle)), 'application/json');
    return handle;
  }

  private async readMarker(key: string): Promise<RunpodServerlessHandle | null> {
    if (!(await this.opts.store.head(key))) return null;
    const chunks: Buffer[] = [];
    for await (const chunk of await this.opts.store.get(key)) chunks.push(chunk as Buffer);
    try {
      return asHandle(JSON.parse(Buffer.concat(chunks).toString('utf8')));
    } catch {
      return null; // unreadable marker: queue afresh, as if it were not there
    }
  }

  async status(handle: TrainingHandle, signal?: AbortSignal): Promise<TrainingStatus> {
    const h = asHandle(handle);
    const body = await this.client.status(h.jobId, signal);
    const emulated = this.opts.emulated ?? false;
    const progress = progressOf(body, h);
    if (!body) {
      // Results are kept 30 min after the end: files in place mean it completed before that.
      const artifacts = await this.storedArtifacts(h, undefined);
      if (artifacts) return { state: 'completed', progress: { ...progress, step: h.totalSteps, message: 'Training completed' }, artifacts, emulated };
      throw new ProviderError('preempted', `RunPod no longer knows job ${h.jobId} (removed at its ttl, or lost) and its LoRA was not uploaded.`, RUNPOD_SERVERLESS_TRAINING_PROVIDER, 404);
    }
    switch (body.status) {
      case 'IN_QUEUE':
        return { state: 'queued', progress: { ...progress, message: progress.message ?? 'Waiting for a serverless worker' }, emulated };
      case 'IN_PROGRESS':
      case 'RUNNING':
        return { state: 'running', progress, emulated };
      case 'COMPLETED': {
        const artifacts = await this.storedArtifacts(h, body.output as WorkerOutput | undefined);
        if (!artifacts) return { state: 'failed', progress, error: 'The worker reported the job completed but its LoRA file is not in storage.', emulated };
        return { state: 'completed', progress: { ...progress, step: h.totalSteps, message: 'Training completed' }, artifacts, emulated };
      }
      case 'FAILED':
        return { state: 'failed', progress, error: serverlessErrorText(body.error), emulated };
      case 'TIMED_OUT':
        return { state: 'failed', progress, error: `The training ran past its execution limit of ${Math.round(h.policy.executionTimeout / 60_000)} min.`, emulated };
      case 'CANCELLED':
        return { state: 'cancelled', progress, emulated };
      default:
        throw new ProviderError('transient', `RunPod reported an unknown job status ${String(body.status)}.`, RUNPOD_SERVERLESS_TRAINING_PROVIDER);
    }
  }

  /** The uploaded files as artifacts, or null while any expected LoRA file is missing. */
  private async storedArtifacts(h: RunpodServerlessHandle, output: WorkerOutput | undefined): Promise<TrainingArtifact[] | null> {
    const artifacts: TrainingArtifact[] = [];
    for (const f of h.files) {
      const head = await this.opts.store.head(f.key);
      if (!head) return null;
      const parsed = parseCheckpointName(f.name, h.jobName);
      artifacts.push({ kind: 'checkpoint', name: f.name, step: parsed?.step ?? null, part: f.part, size: head.size, ref: f.key });
    }
    for (const s of Array.isArray(output?.samples) ? output.samples : []) {
      const index = typeof s.index === 'number' ? s.index : -1;
      const key = h.sampleKeys[index];
      if (!key || typeof s.name !== 'string' || !(await this.opts.store.head(key))) continue;
      artifacts.push({ kind: 'sample', name: s.name, step: parseSampleName(s.name)?.step ?? null, ref: key });
    }
    return artifacts;
  }

  async download(handle: TrainingHandle, artifact: TrainingArtifact): Promise<Readable> {
    const h = asHandle(handle);
    if (!artifact.ref.startsWith(`${h.prefix}/`)) throw fatal(`Artifact ${artifact.name} is not one of this job's uploads.`);
    try {
      return await this.opts.store.get(artifact.ref);
    } catch (err) {
      throw new ProviderError('transient', `Reading the uploaded ${artifact.name} failed: ${(err as Error).message}.`, RUNPOD_SERVERLESS_TRAINING_PROVIDER);
    }
  }

  async cancel(handle: TrainingHandle): Promise<void> {
    await this.client.cancel(asHandle(handle).jobId);
  }

  /**
   * Cancels the job if it still runs (nothing bills after), removes this attempt's uploads (the
   * LoRA was copied to its own key by then) and reports the job's execution time.
   */
  async release(handle: TrainingHandle): Promise<ReleaseReport> {
    const h = asHandle(handle);
    const body = await this.client.status(h.jobId);
    if (body && !FINAL_SERVERLESS_STATUSES.includes(String(body.status))) await this.client.cancel(h.jobId);
    for (const key of [...h.files.map((f) => f.key), ...h.sampleKeys, `${h.prefix}/job.json`]) await this.opts.store.delete(key);
    const ms = body?.executionTime;
    if (typeof ms !== 'number' || !Number.isFinite(ms)) return {};
    const report: ReleaseReport = { gpuSeconds: Math.round(ms / 1000) };
    if (this.opts.costPerGpuHourUsd !== undefined) report.costUsd = Math.round(((this.opts.costPerGpuHourUsd * ms) / 3_600_000) * 10_000) / 10_000;
    return report;
  }

  /** /health: the endpoint answers GET /health with our key. */
  async probe(signal?: AbortSignal): Promise<{ ok: boolean; detail: string }> {
    try {
      await this.client.health(signal ?? AbortSignal.timeout(5_000));
      return { ok: true, detail: `RunPod serverless endpoint ${this.client.endpointId} answers` };
    } catch (err) {
      return { ok: false, detail: (err as Error).message };
    }
  }
}

/** The worker's progress_update object, when the status carries one. */
function progressOf(body: ServerlessStatusBody | null, h: RunpodServerlessHandle): TrainingProgress {
  const p = (body?.status === 'IN_PROGRESS' || body?.status === 'RUNNING') && body.output && typeof body.output === 'object' ? (body.output as WorkerProgress) : {};
  const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
  const progress: TrainingProgress = { step: num(p.step) ?? 0, totalSteps: num(p.total_steps) || h.totalSteps };
  const sps = num(p.seconds_per_step);
  if (sps !== undefined && sps > 0) progress.secondsPerStep = sps;
  const loss = num(p.loss);
  if (loss !== undefined) progress.loss = loss;
  if (typeof p.message === 'string' && p.message) progress.message = p.message.slice(0, 300);
  return progress;
}

function asHandle(handle: unknown): RunpodServerlessHandle {
  const h = handle as Partial<RunpodServerlessHandle> | null;
  if (
    !h ||
    h.backend !== 'runpod-serverless' ||
    typeof h.jobName !== 'string' ||
    typeof h.jobId !== 'string' ||
    typeof h.prefix !== 'string' ||
    !Array.isArray(h.files) ||
    !Array.isArray(h.sampleKeys) ||
    !h.policy ||
    !h.baseModel ||
    !(h.baseModel in LORA_PARTS)
  ) {
    throw fatal(`Not a RunPod serverless training handle (backend ${String(h?.backend)}).`);
  }
  return h as RunpodServerlessHandle;
}
