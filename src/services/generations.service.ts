/**
 * Generations: plan (what the character's LoRA state allows), create (the row, its plan and first
 * workflow, and the queue job, in one transaction), and the view the API returns. Running them is
 * jobs/generation-pipeline.ts.
 */
import { randomInt, randomUUID } from 'node:crypto';
import { and, eq, gte, inArray, isNull, sql } from 'drizzle-orm';
import type { Executor } from '../db/database.js';
import { attemptsOf, deliveredImages, getGeneration, type GenerationRow } from '../db/generations.repo.js';
import { generations, images, loraModels, trainingRuns, users } from '../db/schema.js';
import { inTransaction } from '../db/transaction.js';
import { isBaseModel, type BaseModel } from '../domain/base-models.js';
import { AppError, notFound } from '../domain/errors.js';
import { planGeneration, type GenerationPlan, type PlannerLora, type PlannerReference } from '../domain/generation-planner.js';
import { ACTIVE_STATES } from '../domain/run-states.js';
import { checkGenerationRate } from '../domain/usage-limits.js';
import { FACE_SWAP_SUPPORT, loraFileNames, type ComfyWorkflow } from '../generation/workflow/index.js';
import { GENERATION_RUN } from '../jobs/queues.js';
import { getCharacter, type CharacterRow } from './characters.service.js';
import type { ServiceContext } from './context.js';
import { adaptPlanToPlatformWorkflow, attemptWorkflow, type WorkflowRequest } from './generation-workflow.js';
import { activeLoraIds } from './lora-models.service.js';

export interface GenerationInput {
  characterId: string;
  prompt: string;
  negativePrompt?: string;
  baseModel?: BaseModel;
  count: number;
  seed?: number;
  width?: number;
  height?: number;
  workflow?: ComfyWorkflow;
}

export interface PlannedGeneration {
  character: CharacterRow;
  request: WorkflowRequest;
  plan: GenerationPlan;
  seed: number;
  /** The first attempt's workflow, as it will be submitted. */
  workflow: ComfyWorkflow;
}

const DEFAULT_SIDE = 1024;

/** The planner's view of a character: active LoRAs, training in progress, reference faces. */
export async function plannerFacts(db: Executor, character: CharacterRow, baseModel: BaseModel) {
  const active = await activeLoraIds(db, character.id);
  const ids = [...active.values()];
  const models = ids.length ? await db.select().from(loraModels).where(and(inArray(loraModels.id, ids), isNull(loraModels.deletedAt))) : [];
  const activeLoras: Partial<Record<BaseModel, PlannerLora>> = {};
  for (const m of models) {
    if (isBaseModel(m.baseModel)) activeLoras[m.baseModel] = { id: m.id, baseModel: m.baseModel, version: m.version, triggerWord: m.triggerWord };
  }
  const training = await db
    .select({ id: trainingRuns.id })
    .from(trainingRuns)
    .where(and(eq(trainingRuns.characterId, character.id), eq(trainingRuns.baseModel, baseModel), inArray(trainingRuns.status, [...ACTIVE_STATES])))
    .limit(1);
  const refs = await db
    .select()
    .from(images)
    .where(and(eq(images.characterId, character.id), eq(images.source, 'sheet'), eq(images.checkStatus, 'accepted')));
  const references: PlannerReference[] = refs.map((r) => ({
    imageId: r.id,
    liked: r.liked,
    faceArea: r.faceBox ? r.faceBox.width * r.faceBox.height : null,
    createdAt: r.createdAt,
  }));
  return { activeLoras, trainingInProgress: training.length > 0, references };
}

export async function planForRequest(db: Executor, userId: string, input: GenerationInput): Promise<PlannedGeneration> {
  const character = await getCharacter(db, userId, input.characterId);
  const baseModel = input.baseModel ?? (character.baseModel as BaseModel);
  const facts = await plannerFacts(db, character, baseModel);
  let plan = planGeneration(
    { baseModel, character: { loraEnabled: character.loraEnabled, loraStrength: character.loraStrength, triggerWord: character.triggerWord }, ...facts },
    { faceSwapSupport: FACE_SWAP_SUPPORT, loraFileNames },
  );
  if (input.workflow) plan = adaptPlanToPlatformWorkflow(plan, input.workflow);
  const request: WorkflowRequest = {
    baseModel,
    prompt: input.prompt,
    negativePrompt: input.negativePrompt ?? '',
    width: input.width ?? DEFAULT_SIDE,
    height: input.height ?? DEFAULT_SIDE,
    sourceWorkflow: input.workflow ?? null,
  };
  const seed = input.seed ?? randomInt(0, 2 ** 31);
  const first = attemptWorkflow(request, plan, { method: plan.method, seed, strength: plan.lora?.strength ?? null });
  if (!first.ok) throw new AppError('validation_failed', `The workflow cannot be built: ${first.message}.`);
  return { character, request, plan, seed, workflow: first.workflow };
}

/** The generation row, its plan and the queue job commit together. */
export async function createGeneration(ctx: ServiceContext, userId: string, input: GenerationInput): Promise<GenerationRow> {
  const runtime = ctx.generation;
  if (!runtime) throw new AppError('unavailable', 'No generation backend is configured in this process.');
  return inTransaction(ctx.db, async (tx) => {
    // Rate limit first, under the user's row lock, so a refusal writes nothing.
    await tx.select({ id: users.id }).from(users).where(eq(users.id, userId)).for('update');
    const [recent] = await tx
      .select({ n: sql<number>`count(*)::int` })
      .from(generations)
      .where(and(eq(generations.ownerId, userId), gte(generations.createdAt, new Date(Date.now() - 60_000))));
    const limited = checkGenerationRate(Number(recent?.n ?? 0), ctx.config.limits);
    if (limited) throw limited;
    const planned = await planForRequest(tx, userId, input);
    const { plan } = planned;
    const id = randomUUID();
    const [row] = await tx
      .insert(generations)
      .values({
        id,
        ownerId: userId,
        characterId: planned.character.id,
        baseModel: planned.request.baseModel,
        prompt: input.prompt,
        negativePrompt: planned.request.negativePrompt,
        width: planned.request.width,
        height: planned.request.height,
        count: input.count,
        seed: planned.seed,
        status: 'queued',
        method: plan.method,
        planCode: plan.code,
        planReason: plan.reason,
        plan: plan as unknown as Record<string, unknown>,
        loraModelId: plan.lora?.loraModelId ?? null,
        triggerWord: plan.lora?.triggerWord ?? null,
        loraStrength: plan.lora?.strength ?? null,
        referenceImageId: plan.faceSwap?.referenceImageId ?? null,
        sourceWorkflow: (input.workflow as Record<string, unknown> | undefined) ?? null,
        workflow: planned.workflow as Record<string, unknown>,
        backend: runtime.backend.id,
        emulated: runtime.emulated,
      })
      .returning();
    await ctx.queue.send(GENERATION_RUN, { generationId: id }, { key: id, executor: tx });
    return row!;
  });
}

export async function getOwnedGeneration(db: Executor, ownerId: string, id: string): Promise<GenerationRow> {
  const row = await getGeneration(db, id);
  if (!row || row.ownerId !== ownerId) throw notFound('Generation');
  return row;
}

export async function generationView(ctx: ServiceContext, row: GenerationRow) {
  const delivered = await deliveredImages(ctx.db, row.id);
  const attemptLog = (await attemptsOf(ctx.db, row.id)).map((a) => ({
    image: a.slot + 1,
    attempt: a.attempt,
    method: a.method,
    seed: a.seed,
    loraStrength: a.loraStrength,
    outcome: a.outcome,
    similarity: a.similarity,
    match: a.match,
    faceCount: a.faceCount,
    gpuSeconds: a.gpuSeconds,
    error: a.error,
  }));
  return {
    id: row.id,
    characterId: row.characterId,
    status: row.status,
    baseModel: row.baseModel,
    prompt: row.prompt,
    count: row.count,
    seed: row.seed,
    width: row.width,
    height: row.height,
    method: row.method,
    planReason: row.planReason,
    plan: row.plan as unknown as GenerationPlan,
    loraModelId: row.loraModelId,
    triggerWord: row.triggerWord,
    loraStrength: row.loraStrength,
    workflow: row.workflow,
    platformWorkflow: row.sourceWorkflow !== null,
    fallbacks: row.fallbacks,
    attempts: row.attempts,
    attemptLog,
    gpuSeconds: row.gpuSeconds,
    costUsd: row.costUsd,
    backend: row.backend,
    emulated: row.emulated,
    error: row.errorCode ? { code: row.errorCode, message: row.errorMessage } : null,
    images: await Promise.all(
      delivered.map(async (img) => ({
        id: img.id,
        slot: img.generationSlot,
        url: await ctx.store.presign(img.storageKey, 'GET', 3600),
        width: img.width,
        height: img.height,
        mime: img.mime,
        method: img.method,
        attempts: img.attempts,
        seed: img.seed,
        liked: img.liked,
        looksLikeCharacter: img.looksLikeCharacter,
        emulated: img.emulated,
        identity: {
          scored: img.recognizerId !== null,
          similarity: img.identitySimilarity,
          match: img.identityMatch,
          faceCount: img.faceCount,
          copyPaste: img.copyPaste,
          flagged: img.identityFlagged,
          recognizerId: img.recognizerId,
        },
      })),
    ),
    createdAt: row.createdAt.toISOString(),
    startedAt: row.startedAt?.toISOString() ?? null,
    finishedAt: row.finishedAt?.toISOString() ?? null,
  };
}
