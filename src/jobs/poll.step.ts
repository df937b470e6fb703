/**
 * Poll: read the provider's progress into the run (step, total, ETA, loss, the trainer's own
 * status text) and schedule the next poll; move on when the job completed, fail when it failed.
 */
import type { TrainingRunRow } from '../db/training-runs.repo.js';
import { patchRun } from '../db/training-runs.repo.js';
import { inTransaction } from '../db/transaction.js';
import { etaSeconds } from '../domain/training-estimate.js';
import type { ServiceContext } from '../services/context.js';
import type { TrainingHandle } from '../training/training-backend.js';
import { advance, continueRun, failRun } from './step-context.js';

export async function pollStep(ctx: ServiceContext, run: TrainingRunRow): Promise<void> {
  const status = await ctx.backend.status(run.providerHandle as TrainingHandle);
  const p = status.progress;
  const totalSteps = p.totalSteps || run.totalSteps;
  const elapsed = run.trainingStartedAt ? (Date.now() - run.trainingStartedAt.getTime()) / 1000 : null;
  const progress = {
    step: Math.min(p.step, totalSteps),
    totalSteps,
    secondsPerStep: p.secondsPerStep ?? null,
    loss: p.loss ?? run.loss,
    progressMessage: p.message ?? run.progressMessage,
    etaSeconds: etaSeconds({ step: p.step, totalSteps, secondsPerStep: p.secondsPerStep, elapsedSeconds: elapsed }),
    // A successful status call ends a streak of transient faults.
    transientRetries: 0,
  };
  switch (status.state) {
    case 'completed':
      await advance(ctx, run, 'finalizing', { ...progress, step: totalSteps, etaSeconds: 0 }, { detail: 'provider job completed' });
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
        if (patched) await continueRun(ctx, run.id, 'training', { executor: tx, delaySeconds: ctx.config.worker.pollSeconds });
      });
  }
}
