/**
 * Consistency metrics (the face-match rate a LoRA claims): per character for its owner, and
 * across characters for the platform (admin). Emulated output is excluded, so an emulated
 * deployment reports n = 0 and null rates.
 */
import { z } from 'zod';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { getCharacter } from '../../services/characters.service.js';
import { consistencyReport } from '../../services/consistency.service.js';
import { userIdOf } from '../auth.js';
import { idParams } from '../schemas.js';
import type { RouteDeps } from '../server.js';

export const consistencyRoutes: FastifyPluginAsyncZod<RouteDeps> = async (app, { ctx }) => {
  app.get('/v1/characters/:id/consistency', { config: { auth: 'user' }, schema: { tags: ['consistency'], params: idParams } }, async (req) => {
    const character = await getCharacter(ctx.db, userIdOf(req.principal), req.params.id);
    return { characterId: character.id, ...(await consistencyReport(ctx.db, { characterId: character.id }, ctx.identity?.recognizerId ?? null)) };
  });

  app.get(
    '/v1/metrics/consistency',
    { config: { auth: 'admin' }, schema: { tags: ['consistency'], querystring: z.object({ characterId: z.string().uuid().optional() }) } },
    async (req) => consistencyReport(ctx.db, { characterId: req.query.characterId, perCharacter: true }, ctx.identity?.recognizerId ?? null),
  );
};
