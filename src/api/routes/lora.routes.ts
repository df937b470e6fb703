/** A character's LoRA: status, settings, quote, training, versions, download, delete. */
import { z } from 'zod';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { AppError } from '../../domain/errors.js';
import type { BaseModel } from '../../domain/base-models.js';
import { getCharacter, updateCharacter } from '../../services/characters.service.js';
import { listImages } from '../../services/images.service.js';
import {
  deleteLora,
  getOwnedLora,
  activeLoraIds,
  listVersions,
  loraSummary,
  loraView,
  setActiveVersion,
} from '../../services/lora-models.service.js';
import { listRuns, quoteTraining, runView, startTraining } from '../../services/training-runs.service.js';
import { inTransaction } from '../../db/transaction.js';
import { userIdOf } from '../auth.js';
import { withIdempotency } from '../idempotency.js';
import { baseModelSchema, idParams } from '../schemas.js';
import type { RouteDeps } from '../server.js';

export const loraRoutes: FastifyPluginAsyncZod<RouteDeps> = async (app, { ctx }) => {
  app.get('/v1/characters/:id/lora', { config: { auth: 'user' }, schema: { tags: ['lora'], params: idParams } }, async (req) => {
    const c = await getCharacter(ctx.db, userIdOf(req.principal), req.params.id);
    return loraSummary(ctx.db, c);
  });

  app.patch(
    '/v1/characters/:id/lora',
    {
      config: { auth: 'user' },
      schema: {
        tags: ['lora'],
        params: idParams,
        body: z
          .object({
            enabled: z.boolean().optional(),
            strength: z.number().min(0).max(2).optional(),
            activeVersionId: z.string().uuid().optional(),
          })
          .refine((b) => Object.keys(b).length > 0, 'give at least one of enabled, strength, activeVersionId'),
      },
    },
    async (req) => {
      const userId = userIdOf(req.principal);
      await inTransaction(ctx.db, async (tx) => {
        await getCharacter(tx, userId, req.params.id);
        if (req.body.activeVersionId) await setActiveVersion(tx, userId, req.params.id, req.body.activeVersionId);
        const patch: { loraEnabled?: boolean; loraStrength?: number } = {};
        if (req.body.enabled !== undefined) patch.loraEnabled = req.body.enabled;
        if (req.body.strength !== undefined) patch.loraStrength = req.body.strength;
        if (Object.keys(patch).length) await updateCharacter(tx, userId, req.params.id, patch);
      });
      return loraSummary(ctx.db, await getCharacter(ctx.db, userId, req.params.id));
    },
  );

  app.get(
    '/v1/characters/:id/lora/quote',
    {
      config: { auth: 'user' },
      schema: {
        tags: ['lora'],
        params: idParams,
        querystring: z.object({ baseModel: baseModelSchema.optional(), imageCount: z.coerce.number().int().min(0).max(1000).optional() }),
      },
    },
    async (req) => {
      const userId = userIdOf(req.principal);
      const c = await getCharacter(ctx.db, userId, req.params.id);
      const accepted = (await listImages(ctx.db, userId, c.id)).filter((i) => i.checkStatus === 'accepted').length;
      const imageCount = req.query.imageCount ?? Math.min(accepted, ctx.config.images.max);
      const q = await quoteTraining(ctx, c, (req.query.baseModel ?? c.baseModel) as BaseModel, imageCount);
      return { ...q, minImages: ctx.config.images.min, maxImages: ctx.config.images.max, usableImages: accepted };
    },
  );

  app.post(
    '/v1/characters/:id/lora/train',
    {
      config: { auth: 'user' },
      schema: {
        tags: ['lora'],
        params: idParams,
        body: z.object({ baseModel: baseModelSchema.optional(), imageIds: z.array(z.string().uuid()).max(100).optional() }).optional(),
      },
    },
    async (req, reply) => {
      const userId = userIdOf(req.principal);
      return withIdempotency(ctx.db, req, reply, userId, async () => {
        const run = await startTraining(ctx, {
          userId,
          characterId: req.params.id,
          baseModel: req.body?.baseModel,
          imageIds: req.body?.imageIds,
          trigger: 'manual',
        });
        return { status: 202, body: runView(run) };
      });
    },
  );

  app.get('/v1/characters/:id/lora/versions', { config: { auth: 'user' }, schema: { tags: ['lora'], params: idParams } }, async (req) => {
    const c = await getCharacter(ctx.db, userIdOf(req.principal), req.params.id);
    const active = await activeLoraIds(ctx.db, c.id);
    const versions = await listVersions(ctx.db, c.id);
    return { items: versions.map((v) => loraView(v, active.get(v.baseModel) ?? null)) };
  });

  app.get('/v1/characters/:id/training-runs', { config: { auth: 'user' }, schema: { tags: ['training'], params: idParams } }, async (req) => {
    const userId = userIdOf(req.principal);
    await getCharacter(ctx.db, userId, req.params.id);
    return { items: (await listRuns(ctx.db, userId, req.params.id)).map((r) => runView(r)) };
  });

  app.get(
    '/v1/lora-models/:id/download',
    {
      config: { auth: 'user' },
      schema: { tags: ['lora'], params: idParams, querystring: z.object({ part: z.enum(['main', 'high_noise', 'low_noise']).optional() }) },
    },
    async (req, reply) => {
      const m = await getOwnedLora(ctx.db, userIdOf(req.principal), req.params.id);
      const part = req.query.part ?? m.files[0]?.part;
      const file = m.files.find((f) => f.part === part);
      if (!file) throw new AppError('not_found', `This LoRA has no ${part} file; it has ${m.files.map((f) => f.part).join(', ')}.`);
      return reply.redirect(await ctx.store.presign(file.storageKey, 'GET', 600), 302);
    },
  );

  app.delete('/v1/lora-models/:id', { config: { auth: 'user' }, schema: { tags: ['lora'], params: idParams } }, async (req, reply) => {
    await deleteLora(ctx.db, ctx.store, userIdOf(req.principal), req.params.id);
    return reply.status(204).send();
  });
};
