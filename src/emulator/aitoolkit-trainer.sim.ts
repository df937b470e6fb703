/**
 * One simulated `python run.py <config>` process of AI Toolkit's DiffusionTrainer: it walks the
 * timeline of aitoolkit-training.plan.ts on timers, writes Job status/info/step/speed_string the way
 * the trainer's raw SQL does (leaving updated_at alone), and writes its outputs where the trainer
 * would: `<training_folder>/<config.name>/` (checkpoints, samples, optimizer.pt, loss_log.db) while
 * its stdout goes to the log the worker opened (`TRAINING_FOLDER/<job.name>/log.txt`). When those
 * two folders differ, the outputs are invisible to the API, exactly as on a real install.
 *
 * It checks the Job's `stop` / `return_to_queue` / `save_now` / `sample_now` flags where the real
 * trainer does (each hook and each step end). Ending paths:
 * - completed: "Training completed";
 * - interrupt() (SIGINT from the stop route): "Job stopped", step reset to the last save;
 * - `stop` / `return_to_queue` flag: "Job stopped" / "Job queued", step reset, exit code 1;
 * - an exception (dataset missing, injected trainer error): status error, info str(e), step reset;
 * - kill() (machine gone, or SIGKILL): nothing more is written by the trainer.
 */
import { appendFile, mkdir, readdir, stat, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { AitkDb, JobPatch } from './aitoolkit-db.js';
import type { TrainPlan } from './aitoolkit-job-config.js';
import type { VirtualFs } from './aitoolkit-paths.js';
import { buildTrainingTimeline, speedString, type TrainEvent } from './aitoolkit-training.plan.js';
import type { JobFate } from './faults.js';
import { descriptorForSave, writeLoraDescriptor } from './lora-artifact.js';
import type { LoraFilePart } from './lora-layouts.js';
import { writeSampleImage } from './sample-image.writer.js';
import type { TimerSet } from './timer-set.js';

const STEP_TICK_MS = 100;
const IMAGE_EXTS = ['.jpg', '.jpeg', '.png', '.webp'];

export interface TrainerProcessOptions {
  pid: number;
  jobId: string;
  plan: TrainPlan;
  fate: JobFate;
  wallMs: number;
  /** Real path of the log.txt the worker opened as this process's stdout. */
  logPath: string;
  db: AitkDb;
  vfs: VirtualFs;
  /** Owned by this process; cleared when it exits. */
  timers: TimerSet;
  /** Fault injection: take the pod's machine away (absent for a standalone install). */
  preemptMachine?: () => void;
  /** The worker's exit listener (code null + signal when killed). */
  onExit: (code: number | null, signal: string | null) => void;
  log: (msg: string) => void;
}

/** Thrown inside the simulation to take the trainer's exception path (run.py's `except Exception`). */
class TrainerException extends Error {}

function pad9(n: number): string {
  return String(n).padStart(9, '0');
}

export class TrainerProcess {
  alive = true;
  private readonly events: TrainEvent[];
  private idx = 0;
  private startedAt = 0;
  private busy = false;
  private step = 0;
  private lastSaveStep = 0;
  private isStopping = false;
  private datasetSize = 1;
  private lastSpeedAt = 0;
  private logChain: Promise<void> = Promise.resolve();
  private readonly saveRoot: string;
  private readonly saveRootVirtual: string;
  private readonly stepMs: number;

  constructor(private readonly o: TrainerProcessOptions) {
    this.events = buildTrainingTimeline(o.plan, o.wallMs, o.fate);
    this.saveRootVirtual = path.posix.join(o.vfs.resolveForTrainer(o.plan.trainingFolder), o.plan.name);
    this.saveRoot = o.vfs.toReal(this.saveRootVirtual);
    const seg = this.events.find((e): e is Extract<TrainEvent, { kind: 'steps' }> => e.kind === 'steps' && e.to > e.from);
    this.stepMs = seg ? (seg.until - seg.at) / (seg.to - seg.from) : 0;
  }

  get pid(): number {
    return this.o.pid;
  }

  /** True from model loading until the process ends (the GPU is busy). */
  get busyGpu(): boolean {
    return this.alive && this.idx >= 2;
  }

  start(): void {
    this.startedAt = Date.now();
    this.stdout([
      '[likeness-emulator] simulated AI Toolkit trainer: no GPU work is done, outputs are placeholders',
      'Running 1 job',
      ...(this.o.plan.reportsToUi ? ['Using SQLite database at /app/ai-toolkit/aitk_db.db', `Job ID: "${this.o.jobId}"`] : []),
      '',
      '#############################################',
      `# Running job: ${this.o.plan.name}`,
      '#############################################',
      '',
      '',
      'Running  1 process',
    ]);
    this.wake();
  }

  /** SIGINT (the stop route on Linux): KeyboardInterrupt -> on_error -> "Job stopped", step reset. */
  interrupt(): void {
    if (!this.alive) return;
    this.stdout(['', 'KeyboardInterrupt']);
    if (this.o.plan.reportsToUi) this.write({ status: 'stopped', info: 'Job stopped', step: this.lastSaveStep });
    this.exit(0, null);
  }

  /**
   * SIGKILL: the process stops and the worker's exit listener sees the signal. `null`: the whole
   * machine went away with the worker, so nobody records anything.
   */
  kill(signal: 'SIGKILL' | null): void {
    if (!this.alive) return;
    this.exit(null, signal, signal !== null);
  }

  private exit(code: number | null, signal: string | null, notify = true): void {
    if (!this.alive) return;
    this.alive = false;
    this.o.timers.close();
    if (notify) this.o.onExit(code, signal);
  }

  private write(patch: JobPatch): void {
    if (this.alive && this.o.plan.reportsToUi) this.o.db.trainerUpdate(this.o.jobId, patch);
  }

  private stdout(lines: string[]): void {
    if (!this.alive) return;
    const text = lines.map((l) => `${l}\n`).join('');
    this.logChain = this.logChain.then(() => appendFile(this.o.logPath, text).catch(() => undefined));
  }

  /** Timer entry point; the running loop reschedules itself, so wakes never overlap. */
  private wake(): void {
    if (this.busy || !this.alive) return;
    this.busy = true;
    this.run()
      .catch((err: unknown) => this.o.log(`trainer ${this.o.jobId}: ${(err as Error).stack ?? String(err)}`))
      .finally(() => {
        this.busy = false;
      });
  }

  private async run(): Promise<void> {
    try {
      while (this.alive && this.idx < this.events.length) {
        const ev = this.events[this.idx]!;
        const now = Date.now() - this.startedAt;
        if (now < ev.at) {
          this.o.timers.after(ev.at - now, () => this.wake());
          return;
        }
        if (ev.kind === 'steps') {
          const done = await this.advanceSteps(ev, now);
          if (!done) return;
        } else {
          await this.handle(ev);
        }
        this.idx++;
      }
    } catch (err) {
      if (!(err instanceof TrainerException) || !this.alive) throw err;
      await this.fail(err.message);
    }
  }

  /** Moves Job.step through a segment; returns false when it scheduled its next tick. */
  private async advanceSteps(ev: Extract<TrainEvent, { kind: 'steps' }>, now: number): Promise<boolean> {
    const span = ev.until - ev.at;
    const target = span <= 0 || now >= ev.until ? ev.to : ev.from + Math.floor(((now - ev.at) / span) * (ev.to - ev.from));
    if (target > this.step) {
      const before = this.step;
      this.step = target;
      this.write({ step: target });
      this.recordProgress(before, target);
    }
    if (this.checkFlags()) return false;
    await this.honourSaveAndSampleNow();
    if (this.step >= ev.to) return true;
    this.o.timers.after(Math.min(STEP_TICK_MS, ev.until - now), () => this.wake());
    return false;
  }

  private recordProgress(from: number, to: number): void {
    const plan = this.o.plan;
    const rate = this.stepMs > 0 ? 1000 / this.stepMs : 1000;
    // speed_string is refreshed by the timer print hook every performance_log_every steps.
    if (plan.performanceLogEvery > 0 && Math.floor(to / plan.performanceLogEvery) > Math.floor(this.lastSpeedAt / plan.performanceLogEvery)) {
      this.lastSpeedAt = to;
      this.write({ speed_string: speedString(rate) });
    }
    const pct = plan.steps > 0 ? Math.floor((to / plan.steps) * 100) : 100;
    const bar = '█'.repeat(Math.floor(pct / 10)).padEnd(10, ' ');
    const elapsed = (to * this.stepMs) / 1000;
    const left = ((plan.steps - to) * this.stepMs) / 1000;
    const mmss = (s: number) => `${String(Math.floor(s / 60)).padStart(2, '0')}:${String(Math.floor(s % 60)).padStart(2, '0')}`;
    this.stdout([
      `${plan.name}: ${String(pct).padStart(3, ' ')}%|${bar}| ${to}/${plan.steps} [${mmss(elapsed)}<${mmss(left)}, ${rate.toFixed(2)}it/s, lr: 1.0e-04 loss: ${pyExp(lossAt(to, plan.steps))}]`,
    ]);
    if (plan.useUiLogger && plan.logEvery > 0) {
      const lines: string[] = [];
      for (let s = from + 1; s <= to; s++) {
        if (s % plan.logEvery !== 0) continue;
        const wall = (this.startedAt + s * this.stepMs) / 1000;
        lines.push(JSON.stringify({ step: s, wall_time: wall, key: 'loss/loss', value: lossAt(s, plan.steps) }));
        lines.push(JSON.stringify({ step: s, wall_time: wall, key: 'learning_rate', value: 0.0001 }));
      }
      if (lines.length > 0) {
        const file = path.join(this.saveRoot, 'loss_log.db');
        this.logChain = this.logChain.then(() =>
          mkdir(this.saveRoot, { recursive: true })
            .then(() => appendFile(file, lines.map((l) => `${l}\n`).join('')))
            .catch(() => undefined),
        );
      }
    }
  }

  /** maybe_stop(): the flags the UI sets, read at each hook and step end. Returns true if it ended. */
  private checkFlags(): boolean {
    if (!this.o.plan.reportsToUi) return false;
    const row = this.o.db.peekJob(this.o.jobId);
    if (!row) return false;
    if (row.stop) {
      this.isStopping = true;
      this.write({ status: 'stopped', info: 'Job stopped' });
      this.endWithException('Job stopped');
      return true;
    }
    if (row.return_to_queue) {
      this.isStopping = true;
      this.write({ status: 'queued', info: 'Job queued' });
      this.endWithException('Job returning to queue');
      return true;
    }
    return false;
  }

  private async honourSaveAndSampleNow(): Promise<void> {
    if (!this.o.plan.reportsToUi) return;
    const row = this.o.db.peekJob(this.o.jobId);
    if (row?.save_now) {
      this.write({ save_now: false });
      this.stdout(['', `Saving at step ${this.step}`]);
      await this.save(this.step);
    }
    if (row?.sample_now) {
      this.write({ sample_now: false });
      this.stdout(['', `Sampling at step ${this.step}`]);
      for (let i = 0; i < this.o.plan.prompts.length; i++) await this.sampleImage(this.step, i);
    }
  }

  /** maybe_stop() at a hook; also ends the handler when the process died during an await. */
  private guard(): void {
    if (!this.alive || this.checkFlags()) throw new TrainerAborted();
  }

  private async handle(ev: Exclude<TrainEvent, { kind: 'steps' }>): Promise<void> {
    const plan = this.o.plan;
    try {
      switch (ev.kind) {
        case 'info':
          if (ev.info === 'Loading model') {
            this.guard();
            this.write({ status: 'running', info: 'Loading model' });
            this.stdout(['Loading model...', `Loading ${plan.modelName || 'model'}`]);
            if (!plan.arch.ok) throw new TrainerException(plan.arch.message);
            if (plan.networkType !== 'lora') throw new TrainerException(`Emulator: network type '${plan.networkType}' is not emulated (only 'lora')`);
          } else {
            this.write({ status: 'running', info: 'Starting' });
          }
          return;
        case 'load-dataset':
          this.guard();
          this.write({ status: 'running', info: 'Loading dataset' });
          this.stdout(['Preparing Model', 'Loading dataset']);
          await this.loadDatasets();
          return;
        case 'train-start':
          this.guard();
          this.lastSaveStep = 0;
          this.write({ step: 0 });
          this.write({ status: 'running', info: 'Training' });
          return;
        case 'sample-begin':
          this.guard();
          this.write({ status: 'running', info: `Generating images - 0/${ev.total}` });
          this.stdout([ev.step === 0 ? 'Generating baseline samples before training' : '', 'Generating Images']);
          return;
        case 'sample-image':
          this.guard();
          await this.sampleImage(ev.step, ev.index);
          this.guard();
          this.write({ status: 'running', info: `Generating images - ${ev.index + 1}/${ev.total}` });
          return;
        case 'sample-end':
          this.guard();
          this.write({ status: 'running', info: 'Training' });
          return;
        case 'save-begin':
          this.guard();
          this.write({ status: 'running', info: 'Saving model' });
          return;
        case 'save':
          this.guard();
          if (ev.step !== null) this.stdout(['', `Saving at step ${ev.step}`]);
          await this.save(ev.step);
          this.guard();
          this.write({ status: 'running', info: 'Training' });
          return;
        case 'fault':
          if (ev.fate.kind === 'error') throw new TrainerException(ev.fate.message);
          this.stdout(['']);
          if (this.o.preemptMachine) this.o.preemptMachine();
          else this.kill('SIGKILL');
          return;
        case 'complete':
          this.write({ status: 'completed', info: 'Training completed' });
          this.stdout(['', '========================================', 'Result:', ' - 1 completed jobs', '========================================']);
          await this.logChain;
          this.exit(0, null);
          return;
      }
    } catch (err) {
      if (err instanceof TrainerAborted) return;
      throw err;
    }
  }

  /**
   * run.py's `except Exception`: print, on_error (error status unless stopping, step reset), exit 1.
   * Python's output is unbuffered, so the message is in log.txt before the status changes.
   */
  private async fail(message: string): Promise<void> {
    this.stdout([`Error running job: ${message}`, '', '========================================', 'Result:', ' - 0 completed jobs', ' - 1 failure', '========================================']);
    await this.logChain;
    if (!this.isStopping) this.write({ status: 'error', info: message });
    this.write({ step: this.lastSaveStep });
    this.exit(1, null);
  }

  private endWithException(message: string): void {
    this.stdout([`Error running job: ${message}`]);
    this.write({ step: this.lastSaveStep });
    this.exit(1, null);
  }

  private async loadDatasets(): Promise<void> {
    const plan = this.o.plan;
    if (plan.datasetFolders.length === 0) throw new TrainerException('Emulator: the job config has no datasets (config.process[0].datasets is empty)');
    let total = 0;
    for (const ds of plan.datasetFolders) {
      const virtual = ds.folderPath === '' ? '' : this.o.vfs.resolveForTrainer(ds.folderPath);
      const real = virtual === '' ? '' : this.o.vfs.toReal(virtual);
      const isDir = real !== '' && (await stat(real).then((s) => s.isDirectory(), () => false));
      // A path that is not a folder is opened as a JSON caption file, which fails like this.
      if (!isDir) throw new TrainerException(`[Errno 2] No such file or directory: '${ds.folderPath}'`);
      const images = await countImages(real);
      this.stdout([`Dataset: ${ds.folderPath}`, `  -  Preprocessing image dimensions`, `  -  Found ${images} images`]);
      if (images === 0) throw new TrainerException(`no images found in ${ds.folderPath}`);
      total += images * ds.numRepeats;
    }
    this.datasetSize = Math.max(1, total);
  }

  private epochAt(step: number): number {
    return Math.floor((step * this.o.plan.batchSize) / this.datasetSize);
  }

  private async sampleImage(step: number, index: number): Promise<void> {
    const plan = this.o.plan;
    const dir = path.join(this.saveRoot, 'samples');
    const file = `${Date.now()}__${pad9(step)}_${index}.${plan.sampleExt}`;
    await writeSampleImage(dir, file, { width: plan.sampleWidth, height: plan.sampleHeight, step, index, ext: plan.sampleExt });
  }

  /** BaseSDTrainProcess.save(): the LoRA file(s), optimizer.pt, then clean_up_saves. */
  private async save(step: number | null): Promise<void> {
    const plan = this.o.plan;
    if (!plan.arch.ok) return;
    if (typeof plan.saveDtype !== 'string') {
      throw new TrainerException(`to() received an invalid combination of arguments - got (dtype=str), but expected one of: (torch.dtype dtype)`);
    }
    if (step !== null) this.lastSaveStep = step;
    const suffix = step === null ? '' : `_${pad9(step)}`;
    const trainedStep = step ?? plan.steps;
    await mkdir(this.saveRoot, { recursive: true });
    for (const part of plan.parts) {
      const fileName = part === 'main' ? `${plan.name}${suffix}.safetensors` : `${plan.name}${suffix}_${part}.safetensors`;
      const desc = descriptorForSave({ ...plan, arch: plan.arch }, plan.saveDtype, part as LoraFilePart, {
        step: trainedStep,
        epoch: this.epochAt(trainedStep),
        final: step === null,
      });
      await writeLoraDescriptor(path.join(this.saveRoot, fileName), desc);
    }
    // The real optimizer state is a torch pickle about as large as the LoRA; a placeholder is
    // enough for clients, which only see it listed in /files.
    await writeFile(path.join(this.saveRoot, 'optimizer.pt'), `emulated optimizer state for ${plan.name} at step ${trainedStep}\n`);
    // AITK logs the un-suffixed path even for Wan 2.2's split files.
    this.stdout([`Saved checkpoint to ${path.posix.join(this.saveRootVirtual, `${plan.name}${suffix}.safetensors`)}`, `Saved optimizer to ${this.saveRootVirtual}/optimizer.pt`]);
    await this.cleanUpSaves();
  }

  /** Keeps the newest max_step_saves_to_keep (x2 for split Wan 2.2) files matching `<name>_*`. */
  private async cleanUpSaves(): Promise<void> {
    const plan = this.o.plan;
    const multiplier = plan.arch.ok && plan.arch.arch === 'wan22_14b' && plan.parts[0] !== 'main' ? 2 : 1;
    const keep = plan.maxStepSavesToKeep * multiplier;
    // Python's files[:-0] is an empty slice: a keep count of 0 removes nothing.
    if (keep <= 0) return;
    const names = (await readdir(this.saveRoot)).filter((n) => n.startsWith(`${plan.name}_`) && n.endsWith('.safetensors'));
    const withTimes = await Promise.all(names.map(async (n) => ({ n, t: (await stat(path.join(this.saveRoot, n))).ctimeMs })));
    withTimes.sort((a, b) => a.t - b.t || (a.n < b.n ? -1 : a.n > b.n ? 1 : 0));
    for (const { n } of withTimes.slice(0, Math.max(0, withTimes.length - keep))) {
      this.stdout([`Removing old save: ${path.posix.join(this.saveRootVirtual, n)}`]);
      await unlink(path.join(this.saveRoot, n)).catch(() => undefined);
    }
  }
}

/** Raised by guard() after the trainer already ended itself through checkFlags(). */
class TrainerAborted extends Error {}

/** Python's `f"{x:.3e}"` (two-digit exponent). */
function pyExp(x: number): string {
  return x.toExponential(3).replace(/e([+-])(\d)$/, 'e$10$2');
}

/** A plausible loss curve: starts near 0.8 and settles around 0.3 with noise. */
export function lossAt(step: number, steps: number): number {
  const x = steps > 0 ? step / steps : 1;
  const noise = Math.sin(step * 12.9898) * 43758.5453;
  return 0.3 + 0.5 * Math.exp(-4 * x) + 0.06 * (noise - Math.floor(noise) - 0.5);
}

async function countImages(dir: string): Promise<number> {
  let n = 0;
  const entries = await readdir(dir, { withFileTypes: true });
  for (const e of entries) {
    if (e.name.startsWith('.')) continue;
    const full = path.join(dir, e.name);
    if (e.isDirectory()) {
      if (e.name !== '_controls') n += await countImages(full);
    } else if (IMAGE_EXTS.includes(path.extname(e.name).toLowerCase())) {
      n++;
    }
  }
  return n;
}
