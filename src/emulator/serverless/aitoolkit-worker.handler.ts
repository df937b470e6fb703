/**
 * The emulated handler of Likeness's AI Toolkit serverless worker (workers/aitoolkit-serverless/
 * handler.py; its README holds the input and output contract), run on the emulated serverless
 * endpoint. Like the real one it: checks the input; reads `claim_url` and quits when the marker
 * names another job (an orphan of a retried /run); downloads the dataset files; reads the job
 * config as AI Toolkit would (aitoolkit-job-config.ts); walks the training timeline over the
 * configured train seconds (aitoolkit-training.plan.ts), reporting progress_update-style
 * `{step, total_steps, seconds_per_step, loss, message}`; PUTs the final LoRA file(s) (a
 * structurally valid safetensors from lora-artifact.ts) and the final samples to their signed
 * URLs; and returns `{files: [{name, size, sha256}], samples: [{name, index}]}`.
 *
 * Faults (faults.ts `forJob`): a trainer error returns `{error: <the trainer's message>}` (FAILED);
 * a preemption makes the job vanish (404), as a worker whose machine went away.
 */
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { parseJobConfig, type TrainPlan } from '../aitoolkit-job-config.js';
import { buildTrainingTimeline, type TrainEvent } from '../aitoolkit-training.plan.js';
import { lossAt } from '../aitoolkit-trainer.sim.js';
import type { FaultInjector } from '../faults.js';
import { descriptorForSave, type LoraRenderer } from '../lora-artifact.js';
import type { LoraFilePart } from '../lora-layouts.js';
import { safetensorsStream } from '../safetensors.writer.js';
import { writeSampleImage } from '../sample-image.writer.js';
import type { TimerSet } from '../timer-set.js';
import type { HandlerReturn, ServerlessJob } from './runpod-serverless.routes.js';
import { getBytes, pause, putStream } from './worker-transfer.js';

export interface AitkWorkerDeps {
  workDir: string;
  trainSeconds: number;
  faults: FaultInjector;
  renderer: LoraRenderer;
  timers: TimerSet;
  log: (msg: string) => void;
}

interface WorkerInput {
  jobName: string | null;
  config: Record<string, unknown>;
  files: Array<{ name: string; url: string }>;
  uploads: Record<string, string>;
  sampleUploads: string[];
  claimUrl: string | null;
}

const FILE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const IMAGE = /\.(jpe?g|png|webp)$/i;
const TICK_MS = 100;
const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** handler.py `validate_input`: the same checks, the same sentences. */
export function validateWorkerInput(raw: unknown): WorkerInput | { error: string } {
  if (!isObj(raw)) return { error: 'Please provide input' };
  if (!isObj(raw.config)) return { error: "Missing 'config' in input" };
  const files = isObj(raw.dataset) ? raw.dataset.files : undefined;
  if (!Array.isArray(files) || files.length === 0 || !files.every((f) => isObj(f) && typeof f.name === 'string' && typeof f.url === 'string')) {
    return { error: "'dataset.files' must be a non-empty list of objects with 'name' and 'url'" };
  }
  for (const f of files as Array<{ name: string }>) if (!FILE_NAME.test(f.name)) return { error: `Dataset file name '${f.name}' is not a plain file name` };
  const upload = isObj(raw.upload) ? raw.upload : {};
  const uploads = upload.files;
  if (!isObj(uploads) || Object.keys(uploads).length === 0 || !Object.values(uploads).every((u) => typeof u === 'string')) {
    return { error: "'upload.files' must map LoRA file names to signed PUT URLs" };
  }
  const samples = Array.isArray(upload.samples) ? upload.samples.filter((u): u is string => typeof u === 'string') : [];
  return {
    jobName: typeof raw.job_name === 'string' ? raw.job_name : null,
    config: structuredClone(raw.config),
    files: files as WorkerInput['files'],
    uploads: uploads as Record<string, string>,
    sampleUploads: samples,
    claimUrl: typeof raw.claim_url === 'string' ? raw.claim_url : null,
  };
}

export function aitkServerlessHandler(deps: AitkWorkerDeps): (job: ServerlessJob) => Promise<HandlerReturn> {
  return async (job) => {
    const input = validateWorkerInput(job.input);
    if ('error' in input) return input;
    const dir = path.join(deps.workDir, job.id.replace(/[^A-Za-z0-9-]/g, '_'));
    try {
      return await runJob(job, input, dir, deps);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  };
}

async function runJob(job: ServerlessJob, input: WorkerInput, dir: string, deps: AitkWorkerDeps): Promise<HandlerReturn> {
  const { signal } = job;
  if (input.claimUrl) {
    const claim = await getBytes(input.claimUrl, signal).catch(() => null);
    const owner = claim?.status === 200 ? (JSON.parse(claim.body.toString('utf8') || '{}') as { jobId?: unknown }).jobId : undefined;
    if (typeof owner === 'string' && owner !== job.id) return { error: `Superseded: job ${owner} owns ${input.jobName ?? 'this training'}` };
  }
  // The worker's own folders replace the placeholders, as handler.py does.
  const datasetDir = path.join(dir, 'dataset');
  const process0 = ((input.config.config as Record<string, unknown> | undefined)?.process as Array<Record<string, unknown>> | undefined)?.[0];
  if (process0) {
    process0.training_folder = path.join(dir, 'output');
    if (Array.isArray(process0.datasets)) for (const d of process0.datasets) if (isObj(d)) d.folder_path = datasetDir;
  }
  job.progress({ step: 0, total_steps: 0, message: 'Downloading dataset' });
  await mkdir(datasetDir, { recursive: true });
  let images = 0;
  for (const f of input.files) {
    const got = await getBytes(f.url, signal).catch((err: Error) => ({ status: 0, body: Buffer.from(err.message) }));
    if (got.status !== 200) return { error: `Downloading dataset file ${f.name} failed: ${got.status ? `HTTP ${got.status}` : got.body.toString()}` };
    await writeFile(path.join(datasetDir, f.name), got.body);
    if (IMAGE.test(f.name)) images++;
  }
  const parsed = parseJobConfig(JSON.stringify(input.config));
  if (parsed.kind !== 'plan') return { error: parsed.message };
  const plan = parsed.plan;
  if (images === 0) return { error: `no images found in ${datasetDir}` };

  const fate = deps.faults.forJob();
  const events = buildTrainingTimeline(plan, deps.trainSeconds * 1000, fate);
  const startedAt = Date.now();
  for (const ev of events) {
    if (!(await pause(ev.at - (Date.now() - startedAt), signal, deps.timers.after.bind(deps.timers)))) return { error: 'cancelled' };
    const ended = await playEvent(job, ev, plan, startedAt, deps);
    if (ended) return ended;
  }
  return upload(job, plan, input, dir, deps);
}

/** One timeline event; returns the job's end when the event ends it (fault, cancel). */
async function playEvent(job: ServerlessJob, ev: TrainEvent, plan: TrainPlan, startedAt: number, deps: AitkWorkerDeps): Promise<HandlerReturn | null> {
  const report = (step: number, message: string, secondsPerStep?: number) =>
    job.progress({ step, total_steps: plan.steps, ...(secondsPerStep ? { seconds_per_step: secondsPerStep } : {}), ...(step > 0 ? { loss: lossAt(step, plan.steps) } : {}), message });
  switch (ev.kind) {
    case 'info':
      report(0, ev.info);
      if (ev.info === 'Loading model' && !plan.arch.ok) return { error: plan.arch.message };
      if (ev.info === 'Loading model' && plan.networkType !== 'lora') return { error: `Emulator: network type '${plan.networkType}' is not emulated (only 'lora')` };
      return null;
    case 'load-dataset':
      report(0, 'Loading dataset');
      return null;
    case 'steps': {
      const perStep = ev.to > ev.from ? (ev.until - ev.at) / (ev.to - ev.from) / 1000 : undefined;
      for (;;) {
        const now = Date.now() - startedAt;
        const step = now >= ev.until ? ev.to : ev.from + Math.floor(((now - ev.at) / Math.max(1, ev.until - ev.at)) * (ev.to - ev.from));
        report(step, 'Training', perStep);
        if (step >= ev.to) return null;
        if (!(await pause(Math.min(TICK_MS, ev.until - now), job.signal, deps.timers.after.bind(deps.timers)))) return { error: 'cancelled' };
      }
    }
    case 'sample-begin':
      report(ev.step, `Generating images - 0/${ev.total}`);
      return null;
    case 'save-begin':
      return null;
    case 'fault':
      if (ev.fate.kind === 'error') return { error: ev.fate.message };
      deps.log(`serverless: injected preemption of job ${job.id}`);
      job.vanish();
      return { error: 'preempted' };
    default:
      return null;
  }
}

/** The final save: each LoRA part to its signed URL, then the final samples to theirs. */
async function upload(job: ServerlessJob, plan: TrainPlan, input: WorkerInput, dir: string, deps: AitkWorkerDeps): Promise<HandlerReturn> {
  if (!plan.arch.ok) return { error: plan.arch.message };
  if (typeof plan.saveDtype !== 'string') return { error: 'to() received an invalid combination of arguments - got (dtype=str)' };
  job.progress({ step: plan.steps, total_steps: plan.steps, message: 'Uploading LoRA' });
  const files: Array<{ name: string; size: number; sha256: string }> = [];
  for (const part of plan.parts) {
    const name = part === 'main' ? `${plan.name}.safetensors` : `${plan.name}_${part}.safetensors`;
    const url = input.uploads[name];
    if (!url) return { error: `No upload URL for ${name} (upload.files has ${Object.keys(input.uploads).join(', ')})` };
    const desc = descriptorForSave({ ...plan, arch: plan.arch }, plan.saveDtype, part as LoraFilePart, { step: plan.steps, epoch: 0, final: true });
    const rendered = await deps.renderer.render(desc);
    try {
      const sha256 = await putStream(url, safetensorsStream(rendered.head, rendered.data, 0, rendered.totalLength - 1), rendered.totalLength, job.signal);
      files.push({ name, size: rendered.totalLength, sha256 });
    } catch (err) {
      return { error: (err as Error).message };
    }
  }
  const samples: Array<{ name: string; index: number }> = [];
  const count = plan.disableSampling ? 0 : Math.min(plan.prompts.length, input.sampleUploads.length);
  for (let i = 0; i < count; i++) {
    const name = `${Date.now()}__${String(plan.steps).padStart(9, '0')}_${i}.${plan.sampleExt}`;
    const samplesDir = path.join(dir, 'samples');
    await writeSampleImage(samplesDir, name, { width: Math.min(plan.sampleWidth, 256), height: Math.min(plan.sampleHeight, 256), step: plan.steps, index: i, ext: plan.sampleExt });
    const bytes = await readFile(path.join(samplesDir, name));
    try {
      await putStream(input.sampleUploads[i]!, Readable.from([bytes]), bytes.length, job.signal);
      samples.push({ name, index: i });
    } catch (err) {
      deps.log(`serverless: sample upload failed: ${(err as Error).message}`);
    }
  }
  return { files, samples };
}
