/**
 * Operator routes (admin token): the outgoing-webhook delivery log with "send again", and the
 * platform's daily GPU budget (read; set for every process at once).
 */
import { z } from 'zod';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { inTransaction } from '../../db/transaction.js';
import { notFound } from '../../domain/errors.js';
import { gpuBudgetView, setDailyGpuBudget } from '../../services/gpu-budget.service.js';
import { listDeliveries, requeueDelivery, type WebhookDeliveryRow } from '../../webhooks/webhook-outbox.repo.js';
import type { RouteDeps } from '../server.js';

function deliveryView(d: WebhookDeliveryRow) {
  return {
    id: d.id,
    type: d.type,
    userId: d.userId,
    url: d.url,
    status: d.status,
    attempts: d.attempts,
    lastStatus: d.lastStatus,
    lastError: d.lastError,
    lastAttemptAt: d.lastAttemptAt?.toISOString() ?? null,
    nextAttemptAt: d.nextAttemptAt?.toISOString() ?? null,
    deliveredAt: d.deliveredAt?.toISOString() ?? null,
    createdAt: d.createdAt.toISOString(),
    payload: d.payload,
  };
}

export const adminRoutes: FastifyPluginAsyncZod<RouteDeps> = async (app, { ctx }) => {
  app.get(
    '/v1/admin/webhook-deliveries',
    {
      config: { auth: 'admin' },
      schema: {
        tags: ['admin'],
        querystring: z.object({
          status: z.enum(['pending', 'delivered', 'failed']).optional(),
          limit: z.coerce.number().int().min(1).max(500).default(50),
        }),
      },
    },
    async (req) => ({
      configured: Boolean(ctx.webhooks),
      url: ctx.webhooks?.url ?? null,
      items: (await listDeliveries(ctx.db, { status: req.query.status, limit: req.query.limit })).map(deliveryView),
    }),
  );

  app.post(
    '/v1/admin/webhook-deliveries/:id/redeliver',
    { config: { auth: 'admin' }, schema: { tags: ['admin'], params: z.object({ id: z.string().min(1).max(100) }) } },
    async (req, reply) => {
      const row = await inTransaction(ctx.db, (tx) => requeueDelivery(tx, ctx.queue, req.params.id));
      if (!row) throw notFound('Webhook delivery');
      return reply.status(202).send(deliveryView(row));
    },
  );

  app.get('/v1/admin/gpu-budget', { config: { auth: 'admin' }, schema: { tags: ['admin'] } }, async () => gpuBudgetView(ctx));

  app.put(
    '/v1/admin/gpu-budget',
    {
      config: { auth: 'admin' },
      schema: {
        tags: ['admin'],
        body: z.object({ dailyUsd: z.number().min(0).max(1_000_000).describe('Dollars per UTC day; 0 = no cap') }),
      },
    },
    async (req) => setDailyGpuBudget(ctx, req.body.dailyUsd),
  );
};
