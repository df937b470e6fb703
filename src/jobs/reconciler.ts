/**
 * A maintenance tick: every active run must have a queued or active step job. A run whose job
 * was lost (a crash between commit and send cannot happen — they share a transaction — but an
 * operator purging the queue, or a job that exhausted its retries, can) gets one again. Sends are
 * deduplicated by the queue's per-run key, so running this often is harmless.
 */
import { and, eq, inArray, isNotNull, isNull, sql } from 'drizzle-orm';
import { trainingRuns, workerHeartbeats } from '../db/schema.js';
import { HEARTBEAT_STALE_SECONDS } from './worker-heartbeat.js';
import { ACTIVE_STATES, type RunState } from '../domain/run-states.js';
import type { ServiceContext } from '../services/context.js';
import { TRAINING_STEP } from './queues.js';
import { continueRun } from './step-context.js';
import { providerJobName } from './submit.step.js';

/**
 * Runs whose current step belongs to a worker that stopped beating (killed, machine lost): their
 * active job is failed now, or their waiting one made due, so a live worker takes them at once.
 */
export async function takeOverFromDeadWorkers(ctx: ServiceContext): Promise<number> {
  const orphaned = await ctx.db
    .select({ id: trainingRuns.id, workerId: trainingRuns.workerId })
    .from(trainingRuns)
    .where(
      and(
        inArray(trainingRuns.status, [...ACTIVE_STATES]),
        isNotNull(trainingRuns.workerId),
        sql`not exists (select 1 from ${workerHeartbeats} w where w.id = ${trainingRuns.workerId}
              and w.last_seen > now() - make_interval(secs => ${HEARTBEAT_STALE_SECONDS}))`,
      ),
    );
  // Beats of workers that were killed are never deleted by them; keep the table small.
  await ctx.db.delete(workerHeartbeats).where(sql`${workerHeartbeats.lastSeen} < now() - interval '1 hour'`);
  let taken = 0;
  for (const run of orphaned) {
    // Forget the dead worker first, and only if it is still the one recorded: the retried job may
    // already run on a live worker that has recorded itself.
    await ctx.db
      .update(trainingRuns)
      .set({ workerId: null })
      .where(and(eq(trainingRuns.id, run.id), eq(trainingRuns.workerId, run.workerId!)));
    const failed = await ctx.queue.failActive(TRAINING_STEP, run.id, 'its worker stopped beating');
    // No step was running: a training run's next step is a watchdog poll minutes out, and until
    // a live worker claims the run no tracker polls it. Make that poll due now.
    taken += failed > 0 ? failed : await ctx.queue.hurry(TRAINING_STEP, run.id);
  }
  // A worker killed after the queue handed it a step but before it recorded itself on the run
  // leaves an active job that no worker claims (workerId is null, often because the takeover
  // above just cleared it). Every step claims the run first thing, so a job active this long with
  // no claim has no one working on it: fail it now rather than wait out its expiry (10 min while
  // finalizing).
  const longActive = new Set(await ctx.queue.keysActiveLongerThan(TRAINING_STEP, HEARTBEAT_STALE_SECONDS));
  if (longActive.size) {
    const unclaimed = await ctx.db
      .select({ id: trainingRuns.id })
      .from(trainingRuns)
      .where(and(inArray(trainingRuns.status, [...ACTIVE_STATES]), isNull(trainingRuns.workerId)));
    for (const run of unclaimed) {
      if (longActive.has(run.id)) taken += await ctx.queue.failActive(TRAINING_STEP, run.id, 'no worker claimed its step');
    }
  }
  return taken;
}

/**
 * The pod reaper: provider machines named by this product that no active run claims (its
 * current job name, or the next attempt's while it is being submitted) are freed. Catches the
 * pod created just before a crash, or by a submit whose answer was lost and whose run then failed.
 */
export async function reapProviderResources(ctx: ServiceContext): Promise<number> {
  if (!ctx.backend.reap) return 0;
  const active = await ctx.db
    .select({ id: trainingRuns.id, attempt: trainingRuns.attempt })
    .from(trainingRuns)
    .where(inArray(trainingRuns.status, [...ACTIVE_STATES]));
  const claimed = new Set(active.flatMap((r) => [providerJobName(r.id, Math.max(1, r.attempt)), providerJobName(r.id, r.attempt + 1)]));
  const freed = await ctx.backend.reap((jobName) => claimed.has(jobName));
  if (freed) ctx.log(`[reaper] freed ${freed} provider machine(s) no run claims`);
  return freed;
}

export async function reconcileRuns(ctx: ServiceContext): Promise<number> {
  await takeOverFromDeadWorkers(ctx);
  await reapProviderResources(ctx).catch((err) => ctx.log(`[reaper] ${(err as Error).message}`));
  const active = await ctx.db
    .select({ id: trainingRuns.id, status: trainingRuns.status })
    .from(trainingRuns)
    .where(inArray(trainingRuns.status, [...ACTIVE_STATES]));
  const pending = await ctx.queue.keysWithPendingJobs(TRAINING_STEP, active.map((r) => r.id));
  let revived = 0;
  for (const run of active) {
    if (pending.has(run.id)) continue;
    await continueRun(ctx, run.id, run.status as RunState);
    revived++;
  }
  return revived;
}
