/**
 * Training with an AI Toolkit checkout on this machine: `python run.py <config>` as a child
 * process, the way its own UI starts jobs (contracts/README.md §3.4), minus the UI.
 *
 * Files, under `workDir` (all absolute paths are kept in the handle, so a restarted Likeness
 * finds them even if the configuration moved workDir since):
 *   datasets/<jobName>/          the dataset, downloaded from its signed URLs (removed by release)
 *   runs/<jobName>/config.json   the job config (buildAitkJobConfig; AI Toolkit reads JSON or YAML)
 *   runs/<jobName>/log.txt       the trainer's stdout and stderr, merged, appended to
 *   runs/<jobName>/launch.json   the handle, written once the process runs: what makes submit
 *                                idempotent by job name
 *   runs/<jobName>/exit.json     exit status, when the Likeness process that spawned it saw it end
 *   runs/<jobName>/cancel-requested, released   markers
 *   output/<jobName>/            AI Toolkit's outputs (training_folder = workDir/output)
 *
 * - submit downloads the dataset, writes the config and spawns the trainer detached (its own
 *   process group, surviving a restart of Likeness), and returns at once.
 * - status: is the recorded process still the same process (pid + start time + boot id, see
 *   local/trainer-process.ts)? Alive -> running, with progress parsed from the log's tail
 *   (aitoolkit-log.parser.ts). Gone -> local/local-run.verdict.ts decides from the files. A
 *   reboot since the launch throws ProviderError('preempted'), as a lost pod does.
 * - The trainer runs in AI Toolkit's CLI mode: AITK_JOB_ID and IS_AI_TOOLKIT_UI are removed
 *   from its environment, so `diffusion_trainer` never writes to a UI database that may exist in
 *   the checkout, and prints its timing blocks.
 * - cancel sends SIGINT (what the UI's stop button and Ctrl+C send; AI Toolkit then stops
 *   cleanly), and SIGKILL to the whole process group after `stopGraceMs`.
 * - release kills whatever is left, removes the dataset copy and keeps the outputs unless
 *   `removeOutputsOnRelease` (they are small next to the base model, and useful to inspect).
 *
 * Not handled here: more than one training at a time on one GPU runs out of memory; the caller's
 * per-provider concurrency limit must be 1 per GPU set. POSIX only (process groups, signals).
 * Under systemd, the default KillMode=control-group kills the trainer with Likeness on a restart
 * (the run then fails with its last log line); KillMode=mixed or process lets it run on.
 *
 * Pid gone without the final file: see local/local-run.verdict.ts. In short, an exception in the
 * log -> failed with its line; a reboot since the launch -> preempted (a new attempt); else failed
 * with the last log line.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { closeSync, createReadStream, createWriteStream, openSync } from 'node:fs';
import { access, mkdir, open, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { once } from 'node:events';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';
import { LORA_PARTS, type BaseModel } from '../domain/base-models.js';
import { ProviderError } from '../domain/errors.js';
import { buildAitkJobConfig } from './aitoolkit-config.builder.js';
import { artifactsFromListings } from './aitoolkit/aitoolkit-artifacts.js';
import { readAitkLog } from './aitoolkit/aitoolkit-log.parser.js';
import type { AitkFile } from './aitoolkit/aitoolkit-ui.client.js';
import { judgeEndedRun } from './local/local-run.verdict.js';
import { currentBootId, identify, isAlive, signalIfAlive, waitForExit, type ProcessIdentity } from './local/trainer-process.js';
import { datasetFetchError, providerFetch } from './provider-http.js';
import type {
  DatasetFile,
  ReleaseReport,
  TrainingArtifact,
  TrainingBackend,
  TrainingHandle,
  TrainingJobSpec,
  TrainingProgress,
  TrainingStatus,
} from './training-backend.js';

export const LOCAL_AITK_PROVIDER = 'local-aitoolkit';

export interface LocalAitoolkitBackendOptions {
  /** The AI Toolkit checkout (the folder holding run.py); the trainer's working directory. */
  toolkitDir: string;
  /** Its Python (a venv's bin/python, typically). Default `python3`. */
  python?: string;
  /** Where datasets, configs, logs and outputs go. */
  workDir: string;
  /** CUDA_VISIBLE_DEVICES for the trainer ("0", "0,1"); unset: inherited. */
  gpuIds?: string;
  /** Added to the trainer's environment (HF_TOKEN for gated models, HF_HOME for the weights cache). */
  env?: Record<string, string>;
  /** SIGINT -> SIGKILL delay on cancel. AI Toolkit may be mid-save; default 60 s. */
  stopGraceMs?: number;
  /** Per-file limit when downloading the dataset, default 120 s. */
  datasetFetchTimeoutMs?: number;
  /** Also delete output/<jobName>/ on release. Default false. */
  removeOutputsOnRelease?: boolean;
  /** How much of the log's end status reads, default 256 KiB (a few hundred bar redraws and the traceback). */
  logTailBytes?: number;
  fetch?: typeof fetch;
}

export interface LocalAitoolkitHandle extends TrainingHandle {
  backend: 'local';
  runId: string;
  baseModel: BaseModel;
  totalSteps: number;
  pid: number;
  /** Process start time in clock ticks since boot (Linux /proc); null where unknown. */
  pidStartTicks: string | null;
  bootId: string;
  startedAt: string;
  runDir: string;
  logFile: string;
  configFile: string;
  outputDir: string;
  datasetDir: string;
}

const JOB_NAME = /^[A-Za-z0-9_]+$/;
const DATASET_FILE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

const fatal = (message: string) => new ProviderError('fatal', message, LOCAL_AITK_PROVIDER);

async function exists(file: string): Promise<boolean> {
  try {
    await access(file);
    return true;
  } catch {
    return false;
  }
}

async function readJson<T>(file: string): Promise<T | null> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as T;
  } catch {
    return null;
  }
}

/** Write-then-rename: a reader never sees half a file, even if this process dies mid-write. */
async function writeJsonAtomic(file: string, value: unknown): Promise<void> {
  const tmp = `${file}.${randomUUID()}.tmp`;
  await writeFile(tmp, JSON.stringify(value, null, 2));
  await rename(tmp, file);
}

async function readTail(file: string, bytes: number): Promise<string> {
  let fh;
  try {
    fh = await open(file, 'r');
  } catch {
    return '';
  }
  try {
    const { size } = await fh.stat();
    const length = Math.min(size, bytes);
    const buf = Buffer.alloc(length);
    await fh.read(buf, 0, length, size - length);
    return buf.toString('utf8');
  } finally {
    await fh.close();
  }
}

export class LocalAitoolkitBackend implements TrainingBackend {
  readonly id = 'local';
  private readonly submitting = new Map<string, Promise<LocalAitoolkitHandle>>();

  constructor(private readonly opts: LocalAitoolkitBackendOptions) {
    if (!opts.toolkitDir) throw new RangeError('LocalAitoolkitBackend needs toolkitDir.');
    if (!opts.workDir) throw new RangeError('LocalAitoolkitBackend needs workDir.');
  }

  private pathsFor(jobName: string) {
    const workDir = path.resolve(this.opts.workDir);
    const runDir = path.join(workDir, 'runs', jobName);
    const outputRoot = path.join(workDir, 'output');
    return {
      runDir,
      outputRoot,
      outputDir: path.join(outputRoot, jobName),
      datasetDir: path.join(workDir, 'datasets', jobName),
      configFile: path.join(runDir, 'config.json'),
      logFile: path.join(runDir, 'log.txt'),
      launchFile: path.join(runDir, 'launch.json'),
    };
  }

  async submit(spec: TrainingJobSpec, signal?: AbortSignal): Promise<LocalAitoolkitHandle> {
    if (!JOB_NAME.test(spec.jobName)) throw fatal(`Job name "${spec.jobName}" must be letters, digits and underscores.`);
    // Two submits of one job in this process share one launch; across processes the caller's
    // guarded state transition lets only one worker submit a run attempt.
    const pending = this.submitting.get(spec.jobName);
    if (pending) return pending;
    const launch = this.launch(spec, signal).finally(() => this.submitting.delete(spec.jobName));
    this.submitting.set(spec.jobName, launch);
    return launch;
  }

  private async launch(spec: TrainingJobSpec, signal?: AbortSignal): Promise<LocalAitoolkitHandle> {
    const p = this.pathsFor(spec.jobName);
    const launched = await readJson<LocalAitoolkitHandle>(p.launchFile);
    if (launched) return launched;

    const toolkitDir = path.resolve(this.opts.toolkitDir);
    if (!(await exists(path.join(toolkitDir, 'run.py')))) {
      throw fatal(`No AI Toolkit checkout at ${toolkitDir}: run.py is missing (LIKENESS_LOCAL_AITOOLKIT_DIR).`);
    }
    await mkdir(p.runDir, { recursive: true });
    await this.downloadDataset(spec.dataset.files, p.datasetDir, signal);

    const config = buildAitkJobConfig(spec.recipe, { jobName: spec.jobName, datasetFolder: p.datasetDir, trainingFolder: p.outputRoot });
    const text = JSON.stringify(config, null, 2);
    // AI Toolkit's config loader replaces ${NAME} with environment variables and fails on unset ones.
    if (text.includes('${')) throw fatal('The training config contains "${", which AI Toolkit would read as an environment variable.');
    await writeFile(p.configFile, text);
    signal?.throwIfAborted();

    const env: NodeJS.ProcessEnv = { ...process.env, ...this.opts.env, PYTHONUNBUFFERED: '1', CUDA_DEVICE_ORDER: 'PCI_BUS_ID' };
    delete env.AITK_JOB_ID;
    delete env.IS_AI_TOOLKIT_UI;
    if (this.opts.gpuIds) env.CUDA_VISIBLE_DEVICES = this.opts.gpuIds;
    const python = this.opts.python ?? 'python3';
    const fd = openSync(p.logFile, 'a');
    let child;
    try {
      child = spawn(python, ['run.py', p.configFile], { cwd: toolkitDir, detached: true, stdio: ['ignore', fd, fd], env });
    } finally {
      closeSync(fd); // the child holds its own copy
    }
    if (child.pid === undefined) {
      const [err] = (await once(child, 'error')) as [Error];
      throw fatal(`Cannot start AI Toolkit with "${python}": ${err.message}.`);
    }
    const pid = child.pid;
    const exitFile = path.join(p.runDir, 'exit.json');
    child.once('exit', (code, sig) => {
      writeJsonAtomic(exitFile, { code, signal: sig, at: new Date().toISOString() }).catch(() => undefined);
    });
    child.on('error', () => undefined);
    child.unref();

    const id = await identify(pid);
    const handle: LocalAitoolkitHandle = {
      backend: 'local',
      jobName: spec.jobName,
      runId: spec.runId,
      baseModel: spec.recipe.baseModel,
      totalSteps: spec.recipe.steps,
      pid,
      pidStartTicks: id.startTicks,
      bootId: id.bootId,
      startedAt: new Date().toISOString(),
      runDir: p.runDir,
      logFile: p.logFile,
      configFile: p.configFile,
      outputDir: p.outputDir,
      datasetDir: p.datasetDir,
    };
    await writeJsonAtomic(p.launchFile, handle);
    return handle;
  }

  async status(handle: TrainingHandle): Promise<TrainingStatus> {
    const h = asLocalHandle(handle);
    const [alive, text, artifacts] = await Promise.all([
      isAlive(identityOf(h)),
      readTail(h.logFile, this.opts.logTailBytes ?? 256 * 1024),
      this.listArtifacts(h),
    ]);
    const log = readAitkLog(text, h.jobName);
    const progress: TrainingProgress = {
      step: log.progress?.step ?? 0,
      totalSteps: log.progress?.totalSteps || h.totalSteps,
      secondsPerStep: log.progress?.secondsPerStep,
      loss: log.progress?.loss,
      message: log.message,
    };
    const base = { progress, emulated: false, ...(artifacts.length ? { artifacts } : {}) };
    if (alive) return { ...base, state: 'running' };

    const verdict = judgeEndedRun({
      cancelRequested: await exists(path.join(h.runDir, 'cancel-requested')),
      finalFilesPresent: LORA_PARTS[h.baseModel].every((part) =>
        artifacts.some((a) => a.kind === 'checkpoint' && a.step === null && (a.part ?? 'main') === part),
      ),
      sameBoot: h.bootId === (await currentBootId()),
      exit: await readJson<{ code: number | null; signal: string | null }>(path.join(h.runDir, 'exit.json')),
      log,
    });
    switch (verdict.state) {
      case 'completed':
        return { ...base, artifacts, state: 'completed', progress: { ...progress, step: progress.totalSteps, message: 'Training completed' } };
      case 'cancelled':
        return { ...base, state: 'cancelled' };
      case 'failed':
        return { ...base, state: 'failed', error: verdict.error };
      case 'preempted':
        throw new ProviderError('preempted', verdict.reason, LOCAL_AITK_PROVIDER);
    }
  }

  async download(handle: TrainingHandle, artifact: TrainingArtifact): Promise<Readable> {
    const h = asLocalHandle(handle);
    const file = path.resolve(artifact.ref);
    const rel = path.relative(h.outputDir, file);
    if (!rel || rel.startsWith('..') || path.isAbsolute(rel)) {
      throw fatal(`Artifact ${artifact.name} is not in the job's output folder.`);
    }
    const stream = createReadStream(file);
    try {
      await once(stream, 'open');
    } catch (err) {
      throw fatal(`Artifact ${artifact.name} can no longer be read: ${(err as Error).message}.`);
    }
    return stream;
  }

  async cancel(handle: TrainingHandle): Promise<void> {
    const h = asLocalHandle(handle);
    // The marker first: a trainer that exits on this SIGINT must read as cancelled, not failed.
    await mkdir(h.runDir, { recursive: true });
    await writeFile(path.join(h.runDir, 'cancel-requested'), new Date().toISOString());
    const id = identityOf(h);
    if (!(await signalIfAlive(id, 'SIGINT', false))) return;
    if (await waitForExit(id, this.opts.stopGraceMs ?? 60_000)) return;
    await signalIfAlive(id, 'SIGKILL', true);
    await waitForExit(id, 5_000);
  }

  /** Kills what is left (the whole process group), removes the dataset; reports the trainer's wall time once. */
  async release(handle: TrainingHandle): Promise<ReleaseReport> {
    const h = asLocalHandle(handle);
    const releasedFile = path.join(h.runDir, 'released');
    if (await exists(releasedFile)) return {};
    const id = identityOf(h);
    let end: number | null = null;
    if (await signalIfAlive(id, 'SIGKILL', true)) {
      await waitForExit(id, 5_000);
      end = Date.now();
    }
    await rm(h.datasetDir, { recursive: true, force: true });
    if (this.opts.removeOutputsOnRelease) await rm(h.outputDir, { recursive: true, force: true });
    if (end === null) {
      const exit = await readJson<{ at?: string }>(path.join(h.runDir, 'exit.json'));
      // Without an exit record (it ended while Likeness was down), the log's last write is the end.
      end = exit?.at ? Date.parse(exit.at) : ((await stat(h.logFile).catch(() => null))?.mtimeMs ?? Date.now());
    }
    const seconds = Math.max(0, (end - Date.parse(h.startedAt)) / 1000);
    const report: ReleaseReport = Number.isFinite(seconds) ? { gpuSeconds: Math.round(seconds) } : {};
    await mkdir(h.runDir, { recursive: true });
    await writeFile(releasedFile, JSON.stringify(report));
    return report;
  }

  private async listArtifacts(h: LocalAitoolkitHandle): Promise<TrainingArtifact[]> {
    const files: AitkFile[] = [];
    for (const entry of await readdir(h.outputDir, { withFileTypes: true }).catch(() => [])) {
      if (!entry.isFile()) continue;
      const full = path.join(h.outputDir, entry.name);
      const s = await stat(full).catch(() => null);
      if (s) files.push({ path: full, size: s.size });
    }
    const samplesDir = path.join(h.outputDir, 'samples');
    const samples = (await readdir(samplesDir).catch(() => [] as string[])).map((name) => path.join(samplesDir, name));
    return artifactsFromListings(h.jobName, files, samples);
  }

  /**
   * Each file through a temporary name, so a crash never leaves a short file that a later submit
   * would take for complete; files already there with the right size are kept (a resumed submit).
   * A refused signed URL (401/403/404/410) has most likely expired: 'preempted' asks the caller
   * for a new attempt with fresh URLs, as the AI Toolkit driver does.
   */
  private async downloadDataset(files: DatasetFile[], dir: string, signal?: AbortSignal): Promise<void> {
    if (files.length === 0) throw fatal('The training dataset has no files.');
    await mkdir(dir, { recursive: true });
    const provider = 'dataset-storage';
    for (const file of files) {
      if (!DATASET_FILE_NAME.test(file.name)) throw fatal(`Dataset file name ${JSON.stringify(file.name)} is not a plain file name.`);
      const target = path.join(dir, file.name);
      const present = await stat(target).catch(() => null);
      if (present?.isFile() && file.size > 0 && present.size === file.size) continue;
      const res = await providerFetch(file.url, { method: 'GET' }, {
        provider,
        timeoutMs: this.opts.datasetFetchTimeoutMs ?? 120_000,
        signal,
        fetch: this.opts.fetch,
      });
      if (!res.ok || !res.body) {
        await res.body?.cancel().catch(() => undefined);
        throw datasetFetchError(res.status, file.name, file.url, provider);
      }
      const tmp = `${target}.${randomUUID()}.part`;
      try {
        await pipeline(Readable.fromWeb(res.body as unknown as NodeReadableStream<Uint8Array>), createWriteStream(tmp));
        const got = (await stat(tmp)).size;
        if (file.size > 0 && got !== file.size) {
          throw new ProviderError('transient', `Dataset file ${file.name} has ${got} bytes, expected ${file.size}.`, provider);
        }
        await rename(tmp, target);
      } catch (err) {
        await rm(tmp, { force: true });
        if (signal?.aborted) throw signal.reason ?? err;
        if (err instanceof ProviderError) throw err;
        throw new ProviderError('transient', `Reading dataset file ${file.name} was interrupted: ${(err as Error).message}.`, provider);
      }
    }
  }
}

function identityOf(h: LocalAitoolkitHandle): ProcessIdentity {
  return { pid: h.pid, startTicks: h.pidStartTicks, bootId: h.bootId };
}

function asLocalHandle(handle: TrainingHandle): LocalAitoolkitHandle {
  const h = handle as Partial<LocalAitoolkitHandle>;
  if (
    h.backend !== 'local' ||
    typeof h.jobName !== 'string' ||
    typeof h.pid !== 'number' ||
    typeof h.bootId !== 'string' ||
    typeof h.runDir !== 'string' ||
    typeof h.logFile !== 'string' ||
    typeof h.outputDir !== 'string' ||
    typeof h.datasetDir !== 'string' ||
    typeof h.startedAt !== 'string' ||
    !h.baseModel ||
    !(h.baseModel in LORA_PARTS)
  ) {
    throw fatal(`Not a local AI Toolkit handle (backend ${String(h.backend)}).`);
  }
  return h as LocalAitoolkitHandle;
}
