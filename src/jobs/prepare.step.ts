/**
 * Prepare: turn the run's chosen images into an AI Toolkit dataset in storage — each image upright,
 * cropped around the face when its box is known, resized for the model's largest training bucket,
 * and a caption file that starts with the trigger word.
 */
import sharp from 'sharp';
import { cropForTraining } from '../identity/index.js';
import { buffer as readAll } from 'node:stream/consumers';
import { inArray } from 'drizzle-orm';
import { characters, images } from '../db/schema.js';
import { eq } from 'drizzle-orm';
import type { TrainingRunRow } from '../db/training-runs.repo.js';
import { caption } from '../domain/trigger-word.js';
import type { BaseModel } from '../domain/base-models.js';
import type { ServiceContext } from '../services/context.js';
import { recipeFor } from '../services/recipe.js';
import { advance } from './step-context.js';

export function datasetFileNames(index: number): { image: string; caption: string } {
  const stem = `img_${String(index + 1).padStart(3, '0')}`;
  return { image: `${stem}.jpg`, caption: `${stem}.txt` };
}

export async function prepareStep(ctx: ServiceContext, run: TrainingRunRow): Promise<void> {
  const [character] = await ctx.db.select().from(characters).where(eq(characters.id, run.characterId)).limit(1);
  if (!character) throw new Error(`character ${run.characterId} of run ${run.id} is gone`);
  const recipe = recipeFor(ctx, run.baseModel as BaseModel, character.triggerWord);
  const maxSide = Math.max(...recipe.resolutions);
  const rows = await ctx.db.select().from(images).where(inArray(images.id, run.imageIds));
  const byId = new Map(rows.map((r) => [r.id, r]));
  const prefix = `runs/${run.id}/dataset`;
  for (const [i, imageId] of run.imageIds.entries()) {
    const img = byId.get(imageId);
    if (!img) throw new Error(`image ${imageId} of run ${run.id} is gone`);
    const bytes = await readAll(await ctx.store.get(img.storageKey));
    // Around the face when the check found one (never upscaled past the source), else the whole
    // photo upright, fitted into the largest training bucket.
    const out = img.faceBox
      ? await cropForTraining(bytes, img.faceBox, Math.min(maxSide, Math.max(img.width, img.height)), { format: 'jpeg' })
      : await sharp(bytes).rotate().resize(maxSide, maxSide, { fit: 'inside', withoutEnlargement: true }).jpeg({ quality: 95 }).toBuffer();
    const names = datasetFileNames(i);
    await ctx.store.put(`${prefix}/${names.image}`, out, 'image/jpeg');
    await ctx.store.put(`${prefix}/${names.caption}`, Buffer.from(caption(character.triggerWord)), 'text/plain');
  }
  await advance(ctx, run, 'submitting', { recipe: { ...recipe }, datasetKey: prefix, totalSteps: recipe.steps }, { detail: `dataset of ${run.imageIds.length} images` });
}
