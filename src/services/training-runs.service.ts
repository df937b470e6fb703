/**
 * Starting, reading and cancelling training runs. Starting a run is one transaction: the run row,
 * the credit reservation, the first queue job and the "started" notification commit together or
 * not at all.
 */
import { randomUUID } from 'node:crypto';
import { and, desc, eq, inArray, isNotNull, sql } from 'drizzle-orm';
import type { Executor } from '../db/database.js';
import { trainingRuns, users } from '../db/schema.js';
import { getRun, transitionRun, patchRun, type TrainingRunRow } from '../db/training-runs.repo.js';
import { inTransaction, isUniqueViolation } from '../db/transaction.js';
import type { BaseModel } from '../domain/base-models.js';
import { AppError, notFound } from '../domain/errors.js';
import { checkTrainingLimits, type TrainingUsage } from '../domain/usage-limits.js';
import { quote, estimateMinutes, type Quote } from '../domain/pricing.js';
import { ACTIVE_STATES } from '../domain/run-states.js';
import { OVERHEAD_SECONDS, SECONDS_PER_STEP, etaSeconds } from '../domain/training-estimate.js';
import { closeReservation, reserveCredits } from '../credits/ledger.repo.js';
import { STEP_EXPIRY_SECONDS, TRAINING_STEP } from '../jobs/queues.js';
import { createNotification } from '../notifications/notifications.repo.js';
import { getCharacter, type CharacterRow } from './characters.service.js';
import { selectTrainingImages } from './images.service.js';
import type { ServiceContext } from './context.js';
import { recipeFor } from './recipe.js';

export type RunTrigger = 'sheet_complete' | 'manual' | 'retry';

/** The last finished run for this character and model, if it failed through no fault of the user's. */
export async function freeRetryCandidate(db: Executor, characterId: string, baseModel: BaseModel): Promise<TrainingRunRow | null> {
  const rows = await db
    .select()
    .from(trainingRuns)
    .where(
      and(
        eq(trainingRuns.characterId, characterId),
        eq(trainingRuns.baseModel, baseModel),
        inArray(trainingRuns.status, ['ready', 'failed', 'cancelled']),
        isNotNull(trainingRuns.finishedAt),
      ),
    )
    .orderBy(desc(trainingRuns.finishedAt))
    .limit(1);
  const last = rows[0];
  if (!last || last.status !== 'failed' || last.errorFault === 'user') return null;
  const retried = await db.select({ id: trainingRuns.id }).from(trainingRuns).where(eq(trainingRuns.retryOfRunId, last.id)).limit(1);
  return retried.length ? null : last;
}

export async function quoteTraining(
  ctx: ServiceContext,
  character: CharacterRow,
  baseModel: BaseModel,
  imageCount: number,
): Promise<Quote & { estimatedMinutes: number; retryOfRunId: string | null }> {
  const free = await freeRetryCandidate(ctx.db, character.id, baseModel);
  const q = quote(ctx.config.prices, baseModel, imageCount, free !== null);
  const recipe = recipeFor(ctx, baseModel, character.triggerWord);
  const estimatedMinutes =
    ctx.config.training.backend === 'emulator'
      ? estimateMinutes(0, 0, ctx.config.training.trainSeconds + 15)
      : estimateMinutes(recipe.steps, SECONDS_PER_STEP[baseModel], OVERHEAD_SECONDS);
  return { ...q, estimatedMinutes, retryOfRunId: free?.id ?? null };
}

/** Locks the user's row for this transaction and counts their recent and active runs. */
async function trainingUsage(tx: Executor, userId: string): Promise<TrainingUsage> {
  await tx.select({ id: users.id }).from(users).where(eq(users.id, userId)).for('update');
  const since = new Date(Date.now() - 24 * 3600_000);
  const [row] = await tx
    .select({
      // A run that failed through the platform's or provider's fault does not use up the user's day.
      started: sql<number>`count(*) filter (where ${trainingRuns.createdAt} >= ${since} and not (${trainingRuns.status} = 'failed' and coalesce(${trainingRuns.errorFault}, '') in ('provider', 'platform')))::int`,
      active: sql<number>`count(*) filter (where ${inArray(trainingRuns.status, [...ACTIVE_STATES])})::int`,
    })
    .from(trainingRuns)
    .where(eq(trainingRuns.ownerId, userId));
  return { startedLast24h: Number(row?.started ?? 0), active: Number(row?.active ?? 0) };
}

export async function startTraining(
  ctx: ServiceContext,
  input: { userId: string; characterId: string; baseModel?: BaseModel; imageIds?: string[]; trigger: RunTrigger },
): Promise<TrainingRunRow> {
  const { config } = ctx;
  try {
    return await inTransaction(ctx.db, async (tx, afterCommit) => {
      const character = await getCharacter(tx, input.userId, input.characterId);
      const baseModel = input.baseModel ?? (character.baseModel as BaseModel);
      // Refused before anything is written (no run, no reservation, no job); the user's row lock
      // makes two concurrent starts count each other.
      const limited = checkTrainingLimits(await trainingUsage(tx, input.userId), config.limits);
      if (limited) throw limited;
      const active = await tx
        .select({ id: trainingRuns.id })
        .from(trainingRuns)
        .where(and(eq(trainingRuns.characterId, character.id), inArray(trainingRuns.status, [...ACTIVE_STATES])))
        .limit(1);
      if (active[0]) {
        throw new AppError('run_already_active', 'This character already has a training in progress.', { runId: active[0].id });
      }
      const { chosen, unusable } = await selectTrainingImages(tx, character.id, { imageIds: input.imageIds, max: config.images.max });
      if (unusable.length) {
        throw new AppError('validation_failed', 'Some chosen images are not this character\'s accepted images.', { imageIds: unusable });
      }
      if (input.imageIds && chosen.length > config.images.max) {
        throw new AppError('validation_failed', `At most ${config.images.max} images can be used for one training.`);
      }
      if (chosen.length < config.images.min) {
        throw new AppError(
          'not_enough_images',
          `Training needs at least ${config.images.min} usable images; this character has ${chosen.length}.`,
          { usable: chosen.length, required: config.images.min },
        );
      }
      const q = await quoteTraining({ ...ctx, db: tx as never }, character, baseModel, chosen.length);
      const runId = randomUUID();
      const reservationId = q.charge > 0 ? randomUUID() : null;
      const [run] = await tx
        .insert(trainingRuns)
        .values({
          id: runId,
          ownerId: input.userId,
          characterId: character.id,
          baseModel,
          status: 'queued',
          trigger: input.trigger,
          imageIds: chosen.map((i) => i.id),
          priceTotal: q.charge,
          priceBreakdown: { ...q },
          free: q.free,
          retryOfRunId: q.retryOfRunId,
          reservationId,
          backend: ctx.backend.id,
          emulated: ctx.emulated,
          totalSteps: recipeFor(ctx, baseModel, character.triggerWord).steps,
        })
        .returning();
      if (reservationId) await reserveCredits(tx, input.userId, reservationId, q.charge, runId);
      await ctx.queue.send(TRAINING_STEP, { runId }, { key: runId, executor: tx, expireInSeconds: STEP_EXPIRY_SECONDS.queued });
      await createNotification(tx, afterCommit, ctx, {
        userId: input.userId,
        type: 'lora.training.started',
        dedupeKey: `run:${runId}:started`,
        context: { characterId: character.id, characterName: character.name },
        data: { runId, characterId: character.id },
      });
      return run!;
    });
  } catch (err) {
    // Two starts racing past the check above meet the one-active-run index.
    if (isUniqueViolation(err, 'training_runs_one_active_uq')) {
      throw new AppError('run_already_active', 'This character already has a training in progress.');
    }
    throw err;
  }
}

export async function getOwnedRun(db: Executor, ownerId: string, runId: string): Promise<TrainingRunRow> {
  const run = await getRun(db, runId);
  if (!run || run.ownerId !== ownerId) throw notFound('Training run');
  return run;
}

/**
 * Cancel: a queued run is cancelled at once (credits released in the same transaction); a run
 * that is already with a provider is flagged, and the pipeline stops the provider's job, frees
 * the machine and cancels at its next step.
 */
export async function cancelRun(ctx: ServiceContext, ownerId: string, runId: string): Promise<TrainingRunRow> {
  return inTransaction(ctx.db, async (tx, afterCommit) => {
    const run = await getOwnedRun(tx, ownerId, runId);
    if (run.status === 'ready' || run.status === 'failed' || run.status === 'cancelled') {
      throw new AppError('invalid_transition', `The run is already ${run.status}.`);
    }
    if (run.status === 'queued') {
      const done = await transitionRun(tx, run.id, 'cancelled', { finishedAt: new Date(), creditsRefunded: run.priceTotal }, { from: ['queued'], detail: 'cancelled by the user' });
      if (done) {
        if (run.reservationId) await closeReservation(tx, run.ownerId, 'release', run.reservationId, run.id);
        return done;
      }
    }
    // Flag it in whatever active state it is in now, not the one read above: a worker may have
    // moved it on meanwhile (on PostgreSQL the update waits for that worker's commit, then sees
    // the new state), and a flag guarded by the stale state would silently be lost.
    const flagged = await patchRun(tx, run.id, ACTIVE_STATES, { cancelRequested: true });
    if (!flagged) {
      const now = await getOwnedRun(tx, ownerId, runId);
      throw new AppError('invalid_transition', `The run is already ${now.status}.`);
    }
    await ctx.queue.send(TRAINING_STEP, { runId }, { key: runId, executor: tx });
    // A training run's next step is a watchdog poll minutes out, and the send above is dropped
    // while it waits (one queued job per run): once the flag is committed, bring that poll forward.
    afterCommit(() => {
      ctx.queue.hurry(TRAINING_STEP, runId).catch((err) => ctx.log(`[run ${runId}] could not hurry the cancel: ${(err as Error).message}`));
    });
    return flagged;
  });
}

export interface RunView {
  id: string;
  characterId: string;
  baseModel: string;
  status: string;
  /** Why a queued run is held back ('gpu_budget'), or null. */
  waitReason: string | null;
  trigger: string;
  progress: { step: number; totalSteps: number; etaSeconds: number | null; secondsPerStep: number | null; loss: number | null; message: string | null };
  error: { code: string | null; message: string | null; fault: string | null } | null;
  credits: { price: number; charged: number; refunded: number; reserved: number; free: boolean; breakdown: Record<string, unknown> };
  imageIds: string[];
  attempt: number;
  emulated: boolean;
  loraModelId: string | null;
  cancelRequested: boolean;
  createdAt: string;
  updatedAt: string;
  trainingStartedAt: string | null;
  finishedAt: string | null;
  durationSeconds: number | null;
}

export function runView(run: TrainingRunRow, now = new Date()): RunView {
  const reserved = run.reservationId && run.creditsCharged === 0 && run.creditsRefunded === 0 && !['ready', 'failed', 'cancelled'].includes(run.status) ? run.priceTotal : 0;
  const elapsed = run.trainingStartedAt ? (now.getTime() - run.trainingStartedAt.getTime()) / 1000 : null;
  return {
    id: run.id,
    characterId: run.characterId,
    baseModel: run.baseModel,
    status: run.status,
    waitReason: run.status === 'queued' ? run.waitReason : null,
    trigger: run.trigger,
    progress: {
      step: run.step,
      totalSteps: run.totalSteps,
      etaSeconds:
        run.status === 'ready' ? 0 : run.status === 'training' ? etaSeconds({ step: run.step, totalSteps: run.totalSteps, secondsPerStep: run.secondsPerStep, elapsedSeconds: elapsed }) : run.etaSeconds,
      secondsPerStep: run.secondsPerStep,
      loss: run.loss,
      message: run.progressMessage,
    },
    error: run.errorCode || run.errorMessage ? { code: run.errorCode, message: run.errorMessage, fault: run.errorFault } : null,
    credits: { price: run.priceTotal, charged: run.creditsCharged, refunded: run.creditsRefunded, reserved, free: run.free, breakdown: run.priceBreakdown },
    imageIds: run.imageIds,
    attempt: run.attempt,
    emulated: run.emulated,
    loraModelId: run.loraModelId,
    cancelRequested: run.cancelRequested,
    createdAt: run.createdAt.toISOString(),
    updatedAt: run.updatedAt.toISOString(),
    trainingStartedAt: run.trainingStartedAt?.toISOString() ?? null,
    finishedAt: run.finishedAt?.toISOString() ?? null,
    durationSeconds: run.finishedAt ? Math.round((run.finishedAt.getTime() - run.createdAt.getTime()) / 1000) : null,
  };
}

export async function listRuns(db: Executor, ownerId: string, characterId: string): Promise<TrainingRunRow[]> {
  return db
    .select()
    .from(trainingRuns)
    .where(and(eq(trainingRuns.characterId, characterId), eq(trainingRuns.ownerId, ownerId)))
    .orderBy(desc(trainingRuns.createdAt));
}
