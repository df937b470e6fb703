/**
 * The generation pipeline in one place. One `generation-run` job per generation:
 *
 *   queued -> running: load the plan (stored when the generation was created), the character's
 *     identity (accepted sheet faces), the face-swap reference and the LoRA file sources
 *   -> every image without a delivered file, two at a time:  generation-slot.step.ts
 *        run -> score -> gate: accept | retry (new seed, LoRA stronger) | face swap | flag
 *        LoRA cannot load -> the plan's fallback for the rest of the generation
 *   -> completed (every image, or some with the others' errors recorded) | failed (none)
 *
 * A retried job (crash, expiry) finds the images already delivered and runs only the missing ones;
 * attempt numbers continue where they stopped. Unexpected errors are retried by the queue, and the
 * generation is failed on the last try.
 */
import { buffer as readAll } from 'node:stream/consumers';
import { and, eq, inArray } from 'drizzle-orm';
import sharp from 'sharp';
import { attemptsOf, deliveredImages, FINISHED_GENERATION, getGeneration, transitionGeneration, type GenerationRow } from '../db/generations.repo.js';
import { images, loraModels } from '../db/schema.js';
import { isBaseModel } from '../domain/base-models.js';
import type { GenerationPlan } from '../domain/generation-planner.js';
import type { GenerationInputImage, LoraFileSource } from '../generation/generation-backend.js';
import type { ComfyWorkflow } from '../generation/workflow/index.js';
import type { JobContext } from '../queue/job-queue.js';
import type { ServiceContext } from '../services/context.js';
import { referenceInputName, type WorkflowRequest } from '../services/generation-workflow.js';
import { IdentityScorer } from '../services/identity-scorer.js';
import type { GenerationRunData } from './queues.js';
import { runSlot, type SlotContext } from './generation-slot.step.js';

const PARALLEL_IMAGES = 2;
const scorers = new WeakMap<ServiceContext, IdentityScorer>();

function scorerFor(ctx: ServiceContext): IdentityScorer {
  let s = scorers.get(ctx);
  if (!s) {
    s = new IdentityScorer(ctx.identity ?? null, ctx.store);
    scorers.set(ctx, s);
  }
  return s;
}

export async function runGeneration(ctx: ServiceContext, job: JobContext<GenerationRunData>): Promise<void> {
  let generation = await getGeneration(ctx.db, job.data.generationId);
  if (!generation || FINISHED_GENERATION.includes(generation.status as never)) return;
  try {
    if (generation.status === 'queued') {
      generation = (await transitionGeneration(ctx.db, generation.id, ['queued'], 'running', { startedAt: new Date() })) ?? (await getGeneration(ctx.db, generation.id))!;
    }
    await generate(ctx, generation);
  } catch (err) {
    if (job.retryCount >= job.retryLimit) {
      ctx.log(`[generation ${generation.id}] failed for good: ${(err as Error).stack ?? err}`);
      await transitionGeneration(ctx.db, generation.id, ['queued', 'running'], 'failed', {
        errorCode: 'internal_error',
        errorMessage: 'An internal error stopped the generation.',
        finishedAt: new Date(),
      });
      return;
    }
    ctx.log(`[generation ${generation.id}] failed (try ${job.retryCount + 1}/${job.retryLimit + 1}), will retry: ${(err as Error).message}`);
    throw err;
  }
}

async function generate(ctx: ServiceContext, generation: GenerationRow): Promise<void> {
  const runtime = ctx.generation;
  if (!runtime) throw new Error('this worker has no generation backend');
  const plan = generation.plan as unknown as GenerationPlan;
  if (!isBaseModel(generation.baseModel)) throw new Error(`unknown base model ${generation.baseModel}`);
  const request: WorkflowRequest = {
    baseModel: generation.baseModel,
    prompt: generation.prompt,
    negativePrompt: generation.negativePrompt,
    width: generation.width,
    height: generation.height,
    sourceWorkflow: (generation.sourceWorkflow as ComfyWorkflow | null) ?? null,
  };
  const scorer = scorerFor(ctx);
  const identity = await scorer.forCharacter(ctx.db, generation.characterId);
  const referenceImage = plan.faceSwap ? await referenceInput(ctx, plan.faceSwap.referenceImageId) : null;
  const loras = plan.lora ? await loraSources(ctx, plan) : [];
  const shared = { loraUnavailable: plan.lora && loras.length === 0 ? 'the LoRA record or its files are gone' : null };
  if (plan.lora && loras.length && runtime.emulatorHints) {
    // The emulator renders a LoRA's face from a photo (it has no model); give it the reference.
    const face = referenceImage?.bytes ?? (await anySheetFace(ctx, generation.characterId));
    if (face) await runtime.emulatorHints.bindLoraFace(loras.map((l) => l.name), face).catch((e) => ctx.log(`[generation ${generation.id}] ${(e as Error).message}`));
  }
  const sc: SlotContext = { ctx, runtime, generation, plan, request, scorer, identity, referenceImage, loras, shared };

  const done = new Set((await deliveredImages(ctx.db, generation.id)).map((i) => i.generationSlot));
  const tried = new Map<number, number>();
  for (const a of await attemptsOf(ctx.db, generation.id)) tried.set(a.slot, Math.max(tried.get(a.slot) ?? 0, a.attempt));
  const pending = Array.from({ length: generation.count }, (_, i) => i).filter((slot) => !done.has(slot));
  const errors: string[] = [];
  const queue = [...pending];
  const worker = async () => {
    for (let slot = queue.shift(); slot !== undefined; slot = queue.shift()) {
      const r = await runSlot(sc, slot, (tried.get(slot) ?? 0) + 1);
      if (!r.delivered) errors.push(`image ${slot + 1}: ${r.error}`);
    }
  };
  await Promise.all(Array.from({ length: Math.min(PARALLEL_IMAGES, pending.length) }, worker));

  const delivered = (await deliveredImages(ctx.db, generation.id)).length;
  const finishedAt = new Date();
  if (delivered === 0) {
    await transitionGeneration(ctx.db, generation.id, ['running'], 'failed', { errorCode: 'generation_failed', errorMessage: errors.join('; ').slice(0, 2000) || 'no image was produced', finishedAt });
  } else {
    await transitionGeneration(ctx.db, generation.id, ['running'], 'completed', {
      errorCode: errors.length ? 'partial' : null,
      errorMessage: errors.length ? `${delivered} of ${generation.count} images: ${errors.join('; ')}`.slice(0, 2000) : null,
      finishedAt,
    });
  }
}

/** The reference face as a PNG upright, under the name the face-swap workflow's LoadImage reads. */
async function referenceInput(ctx: ServiceContext, imageId: string): Promise<GenerationInputImage | null> {
  const [row] = await ctx.db.select().from(images).where(eq(images.id, imageId)).limit(1);
  if (!row) return null;
  const bytes = await readAll(await ctx.store.get(row.storageKey));
  return { name: referenceInputName(imageId), bytes: await sharp(bytes).rotate().png().toBuffer() };
}

async function anySheetFace(ctx: ServiceContext, characterId: string): Promise<Buffer | null> {
  const [row] = await ctx.db
    .select()
    .from(images)
    .where(and(eq(images.characterId, characterId), eq(images.source, 'sheet'), eq(images.checkStatus, 'accepted')))
    .limit(1);
  return row ? readAll(await ctx.store.get(row.storageKey)) : null;
}

/** The LoRA's files as the backend needs them: named as the workflow names them, read from storage. */
async function loraSources(ctx: ServiceContext, plan: GenerationPlan): Promise<LoraFileSource[]> {
  const lora = plan.lora!;
  const [model] = await ctx.db.select().from(loraModels).where(inArray(loraModels.id, [lora.loraModelId])).limit(1);
  if (!model || model.deletedAt) return [];
  const sources: LoraFileSource[] = [];
  for (const [part, name] of Object.entries(lora.fileNames)) {
    const file = model.files.find((f) => f.part === part);
    if (!file || !name) return [];
    sources.push({
      name,
      sha256: file.sha256,
      size: file.size,
      url: () => ctx.store.presign(file.storageKey, 'GET', 3600),
      open: () => ctx.store.get(file.storageKey),
    });
  }
  return sources;
}
