/** Characters, their images, and the character-sheet-complete event that starts training. */
import { z } from 'zod';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { AppError } from '../../domain/errors.js';
import { createCharacter, getCharacter, listCharacters, updateCharacter, type CharacterRow } from '../../services/characters.service.js';
import { getImage, listImages, setFeedback, uploadImages, type ImageRow, type UploadedFile } from '../../services/images.service.js';
import { startTraining, runView } from '../../services/training-runs.service.js';
import { getBalance } from '../../credits/ledger.repo.js';
import { quoteTraining } from '../../services/training-runs.service.js';
import type { BaseModel } from '../../domain/base-models.js';
import { loraSummary } from '../../services/lora-models.service.js';
import { userIdOf } from '../auth.js';
import { suggestRetrainIfDue } from '../../services/retrain-suggestion.service.js';
import { baseModelSchema, idParams } from '../schemas.js';
import type { RouteDeps } from '../server.js';

export function characterView(c: CharacterRow) {
  return {
    id: c.id,
    name: c.name,
    baseModel: c.baseModel,
    autoTrain: c.autoTrain,
    triggerWord: c.triggerWord,
    sheetCompletedAt: c.sheetCompletedAt?.toISOString() ?? null,
    lora: { enabled: c.loraEnabled, strength: c.loraStrength },
    createdAt: c.createdAt.toISOString(),
  };
}

export function imageView(i: ImageRow) {
  return {
    id: i.id,
    characterId: i.characterId,
    source: i.source,
    originalName: i.originalName,
    width: i.width,
    height: i.height,
    bytes: i.bytes,
    liked: i.liked,
    likedAt: i.likedAt?.toISOString() ?? null,
    looksLikeCharacter: i.looksLikeCharacter,
    check: { status: i.checkStatus, reasons: i.checkReasons, faceBox: i.faceBox },
    url: `/v1/images/${i.id}/file`,
    createdAt: i.createdAt.toISOString(),
  };
}

export const charactersRoutes: FastifyPluginAsyncZod<RouteDeps> = async (app, { ctx }) => {
  app.post(
    '/v1/characters',
    {
      config: { auth: 'user' },
      schema: {
        tags: ['characters'],
        body: z.object({ name: z.string().trim().min(1).max(100), baseModel: baseModelSchema.optional(), autoTrain: z.boolean().optional() }),
      },
    },
    async (req, reply) => reply.status(201).send(characterView(await createCharacter(ctx.db, userIdOf(req.principal), req.body))),
  );

  app.get('/v1/characters', { config: { auth: 'user' }, schema: { tags: ['characters'] } }, async (req) => ({
    items: (await listCharacters(ctx.db, userIdOf(req.principal))).map(characterView),
  }));

  app.get('/v1/characters/:id', { config: { auth: 'user' }, schema: { tags: ['characters'], params: idParams } }, async (req) => {
    const userId = userIdOf(req.principal);
    const c = await getCharacter(ctx.db, userId, req.params.id);
    const imgs = await listImages(ctx.db, userId, c.id);
    return {
      ...characterView(c),
      images: {
        total: imgs.length,
        accepted: imgs.filter((i) => i.checkStatus === 'accepted').length,
        liked: imgs.filter((i) => i.liked).length,
      },
      loraStatus: await loraSummary(ctx.db, c),
    };
  });

  app.patch(
    '/v1/characters/:id',
    {
      config: { auth: 'user' },
      schema: {
        tags: ['characters'],
        params: idParams,
        body: z
          .object({ name: z.string().trim().min(1).max(100).optional(), baseModel: baseModelSchema.optional(), autoTrain: z.boolean().optional() })
          .refine((b) => Object.keys(b).length > 0, 'give at least one field to change'),
      },
    },
    async (req) => characterView(await updateCharacter(ctx.db, userIdOf(req.principal), req.params.id, req.body)),
  );

  app.post(
    '/v1/characters/:id/images',
    { config: { auth: 'user' }, schema: { tags: ['images'], params: idParams, consumes: ['multipart/form-data'] } },
    async (req, reply) => {
      const userId = userIdOf(req.principal);
      const character = await getCharacter(ctx.db, userId, req.params.id);
      if (!req.isMultipart()) throw new AppError('unsupported_media_type', 'Upload images as multipart/form-data in the field "files".');
      const files: UploadedFile[] = [];
      for await (const part of req.files()) {
        if (part.fieldname !== 'files') throw new AppError('validation_failed', `Unexpected field "${part.fieldname}": images go in the field "files".`);
        files.push({ fileName: part.filename, bytes: await part.toBuffer() });
      }
      if (files.length === 0) throw new AppError('validation_failed', 'No images were sent: use the multipart field "files".');
      const rows = await uploadImages(ctx.db, ctx.store, ctx.imageChecker, { userId, characterId: character.id }, files);
      return reply.status(201).send({ items: rows.map(imageView) });
    },
  );

  app.get('/v1/characters/:id/images', { config: { auth: 'user' }, schema: { tags: ['images'], params: idParams } }, async (req) => {
    const userId = userIdOf(req.principal);
    await getCharacter(ctx.db, userId, req.params.id);
    return { items: (await listImages(ctx.db, userId, req.params.id)).map(imageView) };
  });

  /**
   * The owner's feedback on an image: `liked`, and for generated images `looksLikeCharacter`
   * (true / false; null takes the answer back), the thumbs up/down behind the satisfaction metric.
   */
  app.patch(
    '/v1/images/:id',
    {
      config: { auth: 'user' },
      schema: {
        tags: ['images'],
        params: idParams,
        body: z
          .object({ liked: z.boolean().optional(), looksLikeCharacter: z.boolean().nullable().optional() })
          .refine((b) => b.liked !== undefined || b.looksLikeCharacter !== undefined, 'give liked and/or looksLikeCharacter'),
      },
    },
    async (req) => {
      const image = await setFeedback(ctx.db, userIdOf(req.principal), req.params.id, req.body);
      // A like may cross the "new liked images since the last training" threshold.
      if (req.body.liked === true && image.liked) await suggestRetrainIfDue(ctx, image.characterId);
      return imageView(image);
    },
  );

  app.get('/v1/images/:id/file', { config: { auth: 'user' }, schema: { tags: ['images'], params: idParams } }, async (req, reply) => {
    const img = await getImage(ctx.db, userIdOf(req.principal), req.params.id);
    return reply.redirect(await ctx.store.presign(img.storageKey, 'GET', 300), 302);
  });

  /**
   * The wizard's last step. Starts a training when the character has auto-training on and the
   * owner has the credits; otherwise says why not (the sheet is complete either way).
   */
  app.post(
    '/v1/characters/:id/character-sheet/complete',
    { config: { auth: 'user' }, schema: { tags: ['characters'], params: idParams } },
    async (req) => {
      const userId = userIdOf(req.principal);
      let character = await getCharacter(ctx.db, userId, req.params.id);
      if (!character.sheetCompletedAt) {
        character = await updateCharacter(ctx.db, userId, character.id, { sheetCompletedAt: new Date() });
      }
      if (!character.autoTrain) return { character: characterView(character), run: null, training: { started: false, reason: 'auto_train_off' } };
      const accepted = (await listImages(ctx.db, userId, character.id)).filter((i) => i.checkStatus === 'accepted').length;
      const count = Math.min(accepted, ctx.config.images.max);
      if (count < ctx.config.images.min) {
        return { character: characterView(character), run: null, training: { started: false, reason: 'not_enough_images', usable: accepted, required: ctx.config.images.min } };
      }
      const q = await quoteTraining(ctx, character, character.baseModel as BaseModel, count);
      const balance = await getBalance(ctx.db, userId);
      if (balance.available < q.charge) {
        return { character: characterView(character), run: null, training: { started: false, reason: 'insufficient_credits', price: q.charge, available: balance.available } };
      }
      try {
        const run = await startTraining(ctx, { userId, characterId: character.id, trigger: 'sheet_complete' });
        return { character: characterView(character), run: runView(run), training: { started: true } };
      } catch (err) {
        if (
          err instanceof AppError &&
          (err.code === 'run_already_active' || err.code === 'insufficient_credits' || err.code === 'daily_training_limit' || err.code === 'concurrent_training_limit')
        ) {
          return { character: characterView(character), run: null, training: { started: false, reason: err.code } };
        }
        throw err;
      }
    },
  );
};
