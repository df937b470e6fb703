/**
 * The training pipeline in one place: which step runs in which state, and what happens when a
 * step fails. Each queue job advances one run by one step; the step enqueues the next one in the
 * same transaction as its state change. While a run trains, its worker's tracker
 * (training-tracker.ts) polls it with every other run it holds and wakes its poll step on news;
 * the step's own next poll is only a watchdog.
 *
 *   queued (held while the daily GPU budget is used up) -> preparing -> submitting -> training (tracked; poll on news) -> finalizing -> ready
 *                               ^             |
 *                               +-- preempted +      any step: fault -> retry / new attempt / failed
 *                                                    cancel requested -> cancelled
 */
import { eq } from 'drizzle-orm';
import { trainingRuns } from '../db/schema.js';
import type { TrainingRunRow } from '../db/training-runs.repo.js';
import { getRun, patchRun, transitionRun } from '../db/training-runs.repo.js';
import { inTransaction } from '../db/transaction.js';
import { ProviderError } from '../domain/errors.js';
import { decideRetry, DEFAULT_RETRY_LIMITS } from '../domain/retry-policy.js';
import { isTerminal, type RunState } from '../domain/run-states.js';
import type { JobContext } from '../queue/job-queue.js';
import type { ServiceContext } from '../services/context.js';
import type { TrainingStepData } from './queues.js';
import { cancelFlaggedRun, continueRun, failRun, releaseProvider } from './step-context.js';
import { queuedStep } from './queued.step.js';
import { prepareStep } from './prepare.step.js';
import { submitStep } from './submit.step.js';
import { pollStep } from './poll.step.js';
import { finalizeStep } from './finalize.step.js';

const STEPS: Record<Exclude<RunState, 'ready' | 'failed' | 'cancelled'>, (ctx: ServiceContext, run: TrainingRunRow) => Promise<unknown>> = {
  queued: queuedStep,
  preparing: prepareStep,
  submitting: submitStep,
  training: pollStep,
  finalizing: finalizeStep,
};

export async function runTrainingStep(ctx: ServiceContext, job: JobContext<TrainingStepData>, workerId?: string): Promise<void> {
  const run = await getRun(ctx.db, job.data.runId);
  if (!run || isTerminal(run.status as RunState)) return;
  // Claim the step for this worker (no version bump: it is bookkeeping, not a state change); a
  // run this worker already holds, as on every poll, costs no write.
  if (workerId && run.workerId !== workerId) await ctx.db.update(trainingRuns).set({ workerId }).where(eq(trainingRuns.id, run.id));
  if (run.cancelRequested) {
    await cancelFlaggedRun(ctx, run);
    return;
  }
  const step = STEPS[run.status as keyof typeof STEPS];
  try {
    await step(ctx, run);
  } catch (err) {
    if (err instanceof ProviderError) {
      await handleProviderFault(ctx, run, err);
      return;
    }
    if (job.retryCount >= job.retryLimit) {
      ctx.log(`[run ${run.id}] ${run.status} failed for good: ${(err as Error).stack ?? err}`);
      await failRun(ctx, run, { code: 'internal_error', message: 'An internal error stopped the training.', fault: 'platform' });
      return;
    }
    ctx.log(`[run ${run.id}] ${run.status} failed (attempt ${job.retryCount + 1}/${job.retryLimit + 1}), will retry: ${(err as Error).message}`);
    throw err;
  }
}

async function handleProviderFault(ctx: ServiceContext, run: TrainingRunRow, err: ProviderError): Promise<void> {
  const limits = { ...DEFAULT_RETRY_LIMITS, maxAttempts: ctx.config.worker.maxAttempts };
  const decision = decideRetry(limits, err, { transientRetries: run.transientRetries, attempts: Math.max(1, run.attempt) }, Math.random());
  ctx.log(`[run ${run.id}] ${err.provider} ${err.kind} fault in ${run.status}: ${err.message} -> ${decision.action}`);
  switch (decision.action) {
    case 'retry':
      await inTransaction(ctx.db, async (tx) => {
        const patched = await patchRun(tx, run.id, run.status as RunState, { transientRetries: run.transientRetries + 1 });
        if (patched) await continueRun(ctx, run.id, run.status as RunState, { executor: tx, delaySeconds: decision.delayMs / 1000 });
      });
      return;
    case 'new_attempt': {
      // The machine is gone: free whatever is left of it, then start over from submitting.
      await releaseProvider(ctx, run);
      await inTransaction(ctx.db, async (tx) => {
        const again = await transitionRun(
          tx,
          run.id,
          'submitting',
          { providerHandle: null, transientRetries: 0, step: 0, progressMessage: 'Restarting after the GPU machine was lost' },
          { expectVersion: run.version, from: [run.status as RunState], detail: `preempted: ${err.message}` },
        );
        if (again) await continueRun(ctx, run.id, 'submitting', { executor: tx, delaySeconds: decision.delayMs / 1000 });
      });
      return;
    }
    case 'fail':
      await failRun(ctx, run, { code: 'provider_failed', message: decision.reason, fault: 'provider' });
  }
}
