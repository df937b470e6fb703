/**
 * One emulated AI Toolkit install (what runs in an `ostris/aitoolkit` container): its database,
 * its folder, its cron worker, its trainer processes and its HTTP front (file server + UI routes).
 * A pod's install and the standalone one at /aitk are the same class with separate state.
 *
 * Lifecycle: create() -> answering; halt() = the container's processes die (restart); resume()
 * after a restart brings the worker and the UI back with the same database and files; dispose()
 * = the container is gone (stop, preemption, termination), optionally with its disk.
 */
import { mkdir, rm } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';
import { AitkDb } from './aitoolkit-db.js';
import { isFileServerRequest, serveFile, type FileRoots } from './aitoolkit-file.server.js';
import {
  DEFAULT_DATA_ROOT,
  DEFAULT_DATASETS_FOLDER,
  DEFAULT_MODELS_FOLDER,
  DEFAULT_TRAINING_FOLDER,
  VirtualFs,
} from './aitoolkit-paths.js';
import { processQueue, QUEUE_TICK_MS, type AitkRuntime } from './aitoolkit-queue.worker.js';
import type { TrainerProcess } from './aitoolkit-trainer.sim.js';
import { buildAitkApp } from './aitoolkit-ui.routes.js';
import type { FaultInjector } from './faults.js';
import type { LoraRenderer } from './lora-artifact.js';
import type { TimerSet } from './timer-set.js';

export interface AitkInstanceOptions {
  /** Real folder holding this install's /app/ai-toolkit. */
  installRoot: string;
  /** AI_TOOLKIT_AUTH; null means no auth. */
  token: string | null;
  trainSeconds: number;
  faults: FaultInjector;
  /** Parent timer set; the install owns a child of it. */
  timers: TimerSet;
  renderer: LoraRenderer;
  gpu: { name: string; memoryGb: number; count: number };
  /** Pod installs: take the pod's machine away (fault injection). */
  preemptMachine?: () => void;
  log: (msg: string) => void;
}

export class AitkInstance implements AitkRuntime {
  readonly db = new AitkDb();
  readonly vfs: VirtualFs;
  readonly timers: TimerSet;
  readonly trainers = new Map<string, TrainerProcess>();
  readonly faults: FaultInjector;
  readonly trainSeconds: number;
  readonly preemptMachine?: () => void;
  private pidCounter = 4000 + Math.floor(Math.random() * 1000);
  private app: FastifyInstance | null = null;
  private answering = false;

  private constructor(private readonly opts: AitkInstanceOptions) {
    this.vfs = new VirtualFs(opts.installRoot);
    this.timers = opts.timers.child();
    this.faults = opts.faults;
    this.trainSeconds = opts.trainSeconds;
    if (opts.preemptMachine) this.preemptMachine = opts.preemptMachine;
  }

  static async create(opts: AitkInstanceOptions): Promise<AitkInstance> {
    const inst = new AitkInstance(opts);
    await mkdir(opts.installRoot, { recursive: true });
    inst.app = await buildAitkApp({
      token: opts.token,
      db: inst.db,
      vfs: inst.vfs,
      roots: () => inst.roots(),
      modelsPath: () => DEFAULT_MODELS_FOLDER,
      trainers: inst.trainers,
      renderer: opts.renderer,
      timers: inst.timers,
      gpus: { name: opts.gpu.name, memoryMiB: opts.gpu.memoryGb * 1024, count: opts.gpu.count, busy: () => inst.busyGpu() },
    });
    inst.resume();
    return inst;
  }

  log(msg: string): void {
    this.opts.log(msg);
  }

  nextPid(): number {
    return ++this.pidCounter;
  }

  /** The UI's view of the roots: settings (path.resolve'd) or the defaults. */
  roots(): FileRoots {
    const pick = (key: string, dflt: string) => {
      const v = this.db.getSetting(key);
      return this.vfs.resolve(v !== undefined && v !== '' ? v : dflt);
    };
    return {
      training: pick('TRAINING_FOLDER', DEFAULT_TRAINING_FOLDER),
      datasets: pick('DATASETS_FOLDER', DEFAULT_DATASETS_FOLDER),
      data: pick('DATA_ROOT', DEFAULT_DATA_ROOT),
    };
  }

  trainingFolder(): string {
    return this.roots().training;
  }

  busyGpu(): boolean {
    for (const t of this.trainers.values()) if (t.busyGpu) return true;
    return false;
  }

  get isAnswering(): boolean {
    return this.answering;
  }

  /** Serves one request already stripped of its /proxy/... or /aitk prefix. */
  handle(req: IncomingMessage, res: ServerResponse): void {
    const prefix = isFileServerRequest(req);
    if (prefix) {
      void serveFile(req, res, prefix, { vfs: this.vfs, roots: () => this.roots(), renderer: this.opts.renderer });
      return;
    }
    this.app!.routing(req, res);
  }

  /** Worker and UI come up (at creation, and after a container restart). */
  resume(): void {
    if (this.answering) return;
    this.answering = true;
    const tick = () => {
      try {
        processQueue(this);
      } catch (err) {
        this.log(`aitk: processQueue failed: ${(err as Error).message}`);
      }
      this.timers.after(QUEUE_TICK_MS, tick);
    };
    this.timers.after(QUEUE_TICK_MS, tick);
  }

  /** Every process in the container dies at once; nothing more is written to the database. */
  halt(): void {
    this.answering = false;
    for (const t of this.trainers.values()) t.kill(null);
    this.trainers.clear();
    this.timers.clear();
  }

  async dispose(removeFiles: boolean): Promise<void> {
    this.halt();
    this.timers.close();
    await this.app?.close();
    this.app = null;
    if (removeFiles) await rm(this.opts.installRoot, { recursive: true, force: true });
  }

  jobsSnapshot(): Array<{ id: string; name: string; status: string; step: number }> {
    return this.db.allJobs().map((j) => ({ id: j.id, name: j.name, status: j.status, step: j.step }));
  }
}
