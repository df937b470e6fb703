/** Helpers shared by the pipeline's steps: continue a run, end it, and classify what went wrong. */
import type { Executor } from '../db/database.js';
import { getRun, transitionRun, type TrainingRunRow, type TrainingRunPatch } from '../db/training-runs.repo.js';
import { inTransaction } from '../db/transaction.js';
import { closeReservation } from '../credits/ledger.repo.js';
import { createNotification } from '../notifications/notifications.repo.js';
import { characters, trainingRuns } from '../db/schema.js';
import { eq } from 'drizzle-orm';
import type { ServiceContext } from '../services/context.js';
import { STEP_EXPIRY_SECONDS, TRAINING_STEP } from './queues.js';
import type { RunState } from '../domain/run-states.js';
import type { TrainingHandle } from '../training/training-backend.js';

/** Enqueue the next step of a run (inside the caller's transaction when given). */
export async function continueRun(
  ctx: ServiceContext,
  runId: string,
  nextState: RunState,
  opts: { executor?: Executor; delaySeconds?: number } = {},
): Promise<void> {
  await ctx.queue.send(
    TRAINING_STEP,
    { runId },
    { key: runId, executor: opts.executor, startAfterSeconds: opts.delaySeconds, expireInSeconds: STEP_EXPIRY_SECONDS[nextState] ?? 300 },
  );
}

/** Move a run forward and enqueue its next step in one transaction. Null if the guard failed. */
export async function advance(
  ctx: ServiceContext,
  run: TrainingRunRow,
  to: RunState,
  patch: TrainingRunPatch = {},
  opts: { delaySeconds?: number; detail?: string } = {},
): Promise<TrainingRunRow | null> {
  return inTransaction(ctx.db, async (tx) => {
    const next = await transitionRun(tx, run.id, to, patch, { expectVersion: run.version, from: [run.status as RunState], detail: opts.detail });
    if (next) await continueRun(ctx, run.id, to, { executor: tx, delaySeconds: opts.delaySeconds });
    return next;
  });
}

async function characterName(tx: Executor, characterId: string): Promise<string> {
  const rows = await tx.select({ name: characters.name }).from(characters).where(eq(characters.id, characterId)).limit(1);
  return rows[0]?.name ?? 'your character';
}

/** Frees whatever the provider still holds for the run (pods, jobs). Idempotent; never throws. */
export async function releaseProvider(ctx: ServiceContext, run: TrainingRunRow): Promise<{ gpuSeconds?: number; costUsd?: number }> {
  if (!run.providerHandle) return {};
  try {
    return await ctx.backend.release(run.providerHandle as TrainingHandle);
  } catch (err) {
    ctx.log(`[run ${run.id}] release failed, the reaper will retry: ${(err as Error).message}`);
    return {};
  }
}

/** Records what the provider billed for a run once its machine is released (bookkeeping only). */
export async function recordUsage(ctx: ServiceContext, runId: string, usage: { gpuSeconds?: number; costUsd?: number }): Promise<void> {
  if (usage.gpuSeconds === undefined && usage.costUsd === undefined) return;
  await ctx.db
    .update(trainingRuns)
    .set({ gpuSeconds: usage.gpuSeconds ?? null, costUsd: usage.costUsd ?? null })
    .where(eq(trainingRuns.id, runId));
}

/**
 * Ends a run as failed: in one transaction the state change, the release of the reserved
 * credits and the notification; then the provider's machine is freed. Freeing comes after the
 * commit so a crash in between can never make a retried step see a terminated pod and start a
 * new attempt of a run that already failed; a machine left by such a crash is freed by the reaper.
 */
export async function failRun(
  ctx: ServiceContext,
  run: TrainingRunRow,
  error: { code: string; message: string; fault: 'provider' | 'platform' | 'user' },
): Promise<TrainingRunRow | null> {
  const failed = await inTransaction(ctx.db, async (tx, afterCommit) => {
    const done = await transitionRun(
      tx,
      run.id,
      'failed',
      { errorCode: error.code, errorMessage: error.message, errorFault: error.fault, finishedAt: new Date(), creditsRefunded: run.priceTotal },
      { detail: error.message },
    );
    if (!done) return null;
    if (run.reservationId) await closeReservation(tx, run.ownerId, 'release', run.reservationId, run.id);
    await createNotification(tx, afterCommit, ctx, {
      userId: run.ownerId,
      type: 'lora.training.failed',
      dedupeKey: `run:${run.id}:failed`,
      context: { characterId: run.characterId, characterName: await characterName(tx, run.characterId), reason: error.message },
      data: { runId: run.id, characterId: run.characterId, freeRetry: error.fault !== 'user' },
    });
    return done;
  });
  await recordUsage(ctx, run.id, await releaseProvider(ctx, run));
  return failed;
}

/** Cancels a run the user asked to stop: provider job stopped, credits released, machine freed. */
export async function cancelFlaggedRun(ctx: ServiceContext, run: TrainingRunRow): Promise<TrainingRunRow | null> {
  if (run.providerHandle) {
    try {
      await ctx.backend.cancel(run.providerHandle as TrainingHandle);
    } catch (err) {
      ctx.log(`[run ${run.id}] provider cancel failed (releasing anyway): ${(err as Error).message}`);
    }
  }
  const done = await inTransaction(ctx.db, async (tx) => {
    const cancelled = await transitionRun(tx, run.id, 'cancelled', { finishedAt: new Date(), creditsRefunded: run.priceTotal }, { detail: 'cancelled by the user' });
    if (cancelled && run.reservationId) await closeReservation(tx, run.ownerId, 'release', run.reservationId, run.id);
    return cancelled;
  });
  await recordUsage(ctx, run.id, await releaseProvider(ctx, run));
  return done;
}

export { getRun, characterName };
