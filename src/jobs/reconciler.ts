/**
 * A maintenance tick: every active run must have a queued or active step job. A run whose job
 * was lost (a crash between commit and send cannot happen — they share a transaction — but an
 * operator purging the queue, or a job that exhausted its retries, can) gets one again. Sends are
 * deduplicated by the queue's per-run key, so running this often is harmless.
 */
import { inArray } from 'drizzle-orm';
import { trainingRuns } from '../db/schema.js';
import { ACTIVE_STATES, type RunState } from '../domain/run-states.js';
import type { ServiceContext } from '../services/context.js';
import { TRAINING_STEP } from './queues.js';
import { continueRun } from './step-context.js';

export async function reconcileRuns(ctx: ServiceContext): Promise<number> {
  const active = await ctx.db
    .select({ id: trainingRuns.id, status: trainingRuns.status })
    .from(trainingRuns)
    .where(inArray(trainingRuns.status, [...ACTIVE_STATES]));
  let revived = 0;
  for (const run of active) {
    if ((await ctx.queue.pendingCount(TRAINING_STEP, run.id)) === 0) {
      await continueRun(ctx, run.id, run.status as RunState);
      revived++;
    }
  }
  return revived;
}
