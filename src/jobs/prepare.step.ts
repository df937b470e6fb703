/**
 * Prepare: turn the run's chosen images into an AI Toolkit dataset in storage — each image upright,
 * cropped around the face when its box is known, resized for the model's largest training bucket,
 * and a caption file that starts with the trigger word.
 */
import sharp from 'sharp';
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

/** A square-ish crop around the face with room for hair and shoulders, clamped to the image. */
export function faceCrop(
  box: { x: number; y: number; width: number; height: number },
  image: { width: number; height: number },
): { left: number; top: number; width: number; height: number } {
  const side = Math.min(Math.max(box.width, box.height) * 2.6, image.width, image.height);
  const cx = box.x + box.width / 2;
  const cy = box.y + box.height / 2 + box.height * 0.15;
  const left = Math.round(Math.min(Math.max(0, cx - side / 2), image.width - side));
  const top = Math.round(Math.min(Math.max(0, cy - side / 2), image.height - side));
  return { left, top, width: Math.round(side), height: Math.round(side) };
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
    let pipeline = sharp(bytes).rotate();
    if (img.faceBox) pipeline = pipeline.extract(faceCrop(img.faceBox, img));
    const out = await pipeline.resize(maxSide, maxSide, { fit: 'inside', withoutEnlargement: true }).jpeg({ quality: 95 }).toBuffer();
    const names = datasetFileNames(i);
    await ctx.store.put(`${prefix}/${names.image}`, out, 'image/jpeg');
    await ctx.store.put(`${prefix}/${names.caption}`, Buffer.from(caption(character.triggerWord)), 'text/plain');
  }
  await advance(ctx, run, 'submitting', { recipe: { ...recipe }, datasetKey: prefix, totalSteps: recipe.steps }, { detail: `dataset of ${run.imageIds.length} images` });
}
