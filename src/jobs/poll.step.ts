/**
 * Poll: read the provider's progress into the run (step, total, ETA, loss, the trainer's own
 * status text) and schedule the next poll; move on when the job completed, fail when it failed.
 *
 * While the job runs, the worker's tracker (training-tracker.ts) polls every run it holds in one
 * batch and wakes this step when there is news, so this step's own next poll is only a watchdog,
 * due after `watchdogSeconds`: it keeps a run moving when no tracker holds it.
 */
import type { TrainingRunRow } from '../db/training-runs.repo.js';
import { patchRun } from '../db/training-runs.repo.js';
import { inTransaction } from '../db/transaction.js';
import { etaSeconds } from '../domain/training-estimate.js';
import type { ServiceContext } from '../services/context.js';
import type { TrainingHandle, TrainingStatus } from '../training/training-backend.js';
import type { TrackedRun } from '../db/training-runs.repo.js';
import { advance, continueRun, failRun } from './step-context.js';

/** The run's progress columns from a provider status (shared with the batched tracker). */
export function progressFrom(run: Pick<TrackedRun, 'totalSteps' | 'trainingStartedAt' | 'loss' | 'progressMessage'>, status: TrainingStatus, now = Date.now()) {
  const p = status.progress;
  const totalSteps = p.totalSteps || run.totalSteps;
  const elapsed = run.trainingStartedAt ? (now - run.trainingStartedAt.getTime()) / 1000 : null;
  return {
    step: Math.min(p.step, totalSteps),
    totalSteps,
    secondsPerStep: p.secondsPerStep ?? null,
    loss: p.loss ?? run.loss,
    progressMessage: p.message ?? run.progressMessage,
    etaSeconds: etaSeconds({ step: p.step, totalSteps, secondsPerStep: p.secondsPerStep, elapsedSeconds: elapsed }),
  };
}

/** Provider states after which the run has news for its step: anything but still working. */
export function isSettled(status: TrainingStatus): boolean {
  return status.state === 'completed' || status.state === 'failed' || status.state === 'cancelled';
}

export async function pollStep(ctx: ServiceContext, run: TrainingRunRow): Promise<void> {
  const status = await ctx.backend.status(run.providerHandle as TrainingHandle);
  // A successful status call ends a streak of transient faults.
  const progress = { ...progressFrom(run, status), transientRetries: 0 };
  switch (status.state) {
    case 'completed':
      await advance(ctx, run, 'finalizing', { ...progress, step: progress.totalSteps, etaSeconds: 0 }, { detail: 'provider job completed' });
      return;
    case 'failed':
    case 'cancelled':
      await failRun(ctx, run, {
        code: 'trainer_error',
        message: status.error ?? `The training job ended ${status.state} on the provider.`,
        fault: 'provider',
      });
      return;
    default:
      await inTransaction(ctx.db, async (tx) => {
        const patched = await patchRun(tx, run.id, 'training', progress);
        if (patched) await continueRun(ctx, run.id, 'training', { executor: tx, delaySeconds: ctx.config.worker.watchdogSeconds });
      });
  }
}
