/** Training runs: status with progress (every state, not only ready ones), history, cancel. */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { runEventsOf } from '../../db/training-runs.repo.js';
import { cancelRun, getOwnedRun, runView } from '../../services/training-runs.service.js';
import { userIdOf } from '../auth.js';
import { idParams } from '../schemas.js';
import type { RouteDeps } from '../server.js';

export const trainingRunsRoutes: FastifyPluginAsyncZod<RouteDeps> = async (app, { ctx }) => {
  app.get('/v1/training-runs/:id', { config: { auth: 'user' }, schema: { tags: ['training'], params: idParams } }, async (req) => {
    const run = await getOwnedRun(ctx.db, userIdOf(req.principal), req.params.id);
    const samples = await Promise.all(run.sampleKeys.map((k) => ctx.store.presign(k, 'GET', 600)));
    return { ...runView(run), samples };
  });

  app.get('/v1/training-runs/:id/events', { config: { auth: 'user' }, schema: { tags: ['training'], params: idParams } }, async (req) => {
    const run = await getOwnedRun(ctx.db, userIdOf(req.principal), req.params.id);
    const events = await runEventsOf(ctx.db, run.id);
    return { items: events.map((e) => ({ from: e.fromStatus, to: e.toStatus, detail: e.detail, at: e.at.toISOString() })) };
  });

  app.post('/v1/training-runs/:id/cancel', { config: { auth: 'user' }, schema: { tags: ['training'], params: idParams } }, async (req, reply) => {
    const run = await cancelRun(ctx, userIdOf(req.principal), req.params.id);
    return reply.status(202).send(runView(run));
  });
};
