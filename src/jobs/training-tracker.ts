/**
 * The batched tracker: one tick per poll interval reads every run this worker holds that is
 * training, asks the provider how each is doing (a bounded number at once), and writes all their
 * progress in one statement.
 *
 * Why not one queue job per poll: a poll as its own job costs about eight statements (fetch the
 * job, read the run, write it, schedule the next, complete the job), so 1,000 runs polled every
 * 5 s kept the embedded database busy with 1,600 statements a second. Batched, a tick costs two.
 *
 * The tracker only reports progress. Everything that changes a run's state (the job completed or
 * failed, a provider fault, a cancel request) stays with the run's own step job, which holds the
 * run's queue key so no two handlers act on a run at once: the tracker wakes that job (moves its
 * watchdog poll to now) and the step does what it always did. A run in a transient fault's backoff
 * is left to its step job, so the backoff is not cut short.
 *
 * Several workers: each tracks the runs it holds (`worker_id`, claimed by every step), so no run is
 * polled twice. A dead worker's runs are handed on by the reconciler, which makes their watchdog
 * poll due now; the worker that runs it claims the run, and its tracker polls it from then on.
 */
import pLimit from 'p-limit';
import { listTrackedRuns, recordProgress, type ProgressUpdate, type TrackedRun } from '../db/training-runs.repo.js';
import type { ServiceContext } from '../services/context.js';
import type { TrainingHandle, TrainingStatus } from '../training/training-backend.js';
import { TRAINING_STEP } from './queues.js';
import { continueRun } from './step-context.js';
import { isSettled, progressFrom } from './poll.step.js';

export interface TickReport {
  tracked: number;
  written: number;
  /** Runs whose step job was woken: news, a fault, or a cancel request. */
  handedOver: number;
}

export class TrainingTracker {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<unknown> | null = null;
  private stopped = false;

  constructor(
    private readonly ctx: ServiceContext,
    private readonly workerId: string,
    /** Provider status calls in flight at once: a tick over 1,000 runs must not open 1,000 sockets. */
    private readonly concurrency = 32,
  ) {}

  start(): void {
    this.stopped = false;
    this.schedule(this.ctx.config.worker.pollSeconds * 1000);
  }

  /** Stops ticking and waits for a tick in progress. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running;
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      const started = Date.now();
      this.running = this.tick()
        .catch((err) => this.ctx.log(`[tracker] tick failed, the step jobs' own polls cover it: ${(err as Error).message}`))
        .finally(() => {
          this.running = null;
          // Ticks start one interval apart; a tick longer than that is followed at once.
          this.schedule(Math.max(0, this.ctx.config.worker.pollSeconds * 1000 - (Date.now() - started)));
        });
    }, delayMs);
    this.timer.unref();
  }

  /** One pass over the runs this worker holds. Public for tests and benchmarks. */
  async tick(): Promise<TickReport> {
    const runs = await listTrackedRuns(this.ctx.db, this.workerId);
    const updates: ProgressUpdate[] = [];
    const wake: string[] = [];
    const polled = runs.filter((r) => {
      if (r.handOver) wake.push(r.id);
      return !r.handOver;
    });
    const statuses = await this.statuses(polled.map((r) => r.providerHandle as TrainingHandle));
    polled.forEach((run, i) => {
      const settled = statuses[i]!;
      // A failed status call, whatever it was (a blip, a lost pod), is the step job's to classify
      // and retry or fail; so is a job that ended.
      if (settled.status === 'rejected' || isSettled(settled.value)) wake.push(run.id);
      else updates.push(progressUpdate(run, settled.value));
    });
    const written = await recordProgress(this.ctx.db, updates);
    for (const id of wake) await this.wakeStep(id);
    return { tracked: runs.length, written, handedOver: wake.length };
  }

  /** Every run's status, with one batched call when the backend has one. */
  private async statuses(handles: TrainingHandle[]): Promise<PromiseSettledResult<TrainingStatus>[]> {
    const backend = this.ctx.backend;
    if (handles.length === 0) return [];
    if (backend.statusMany) return backend.statusMany(handles, { concurrency: this.concurrency });
    const limit = pLimit(this.concurrency);
    return Promise.allSettled(handles.map((h) => limit(() => backend.status(h))));
  }

  /**
   * Brings the run's watchdog poll forward. When none is waiting because the step is running right
   * now, nothing is sent: that step may be moving the run on (a finalize job needs its own, longer
   * expiry), and if it only rescheduled, the next tick finds that job and brings it forward. Only
   * a run with no job at all gets one (the reconciler would too, later).
   */
  private async wakeStep(runId: string): Promise<void> {
    if ((await this.ctx.queue.hurry(TRAINING_STEP, runId)) > 0) return;
    if ((await this.ctx.queue.pendingCount(TRAINING_STEP, runId)) === 0) await continueRun(this.ctx, runId, 'training');
  }
}

function progressUpdate(run: TrackedRun, status: TrainingStatus): ProgressUpdate {
  return { id: run.id, attempt: run.attempt, ...progressFrom(run, status) };
}
