/**
 * The platform's success metrics (admin): GET /v1/metrics/summary, the six numbers over a window;
 * and GET /metrics, Prometheus text for a scraper holding the admin token or the metrics token.
 */
import { z } from 'zod';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { AppError } from '../../domain/errors.js';
import { createMetricsRegistry } from '../../metrics/prometheus.registry.js';
import { successMetrics } from '../../services/success-metrics.service.js';
import { applyRetention, planRetention } from '../../services/retention.service.js';
import { bearerToken, sameSecret } from '../auth.js';
import type { RouteDeps } from '../server.js';

export interface MetricsRouteDeps extends RouteDeps {
  adminToken: string;
}

const windowQuery = z
  .object({
    from: z.string().datetime({ offset: true }).optional().describe('ISO 8601 start (inclusive)'),
    to: z.string().datetime({ offset: true }).optional().describe('ISO 8601 end (exclusive)'),
  })
  .refine((q) => !q.from || !q.to || new Date(q.from) < new Date(q.to), 'from must be before to');

export const metricsRoutes: FastifyPluginAsyncZod<MetricsRouteDeps> = async (app, { ctx, adminToken }) => {
  app.get('/v1/metrics/summary', { config: { auth: 'admin' }, schema: { tags: ['metrics'], querystring: windowQuery } }, async (req) =>
    successMetrics(
      ctx.db,
      { from: req.query.from ? new Date(req.query.from) : undefined, to: req.query.to ? new Date(req.query.to) : undefined },
      ctx.identity?.recognizerId ?? null,
    ),
  );

  // Storage retention: GET is the dry run (what would go, bytes); POST removes exactly that now
  // (the worker also runs it daily).
  app.get('/v1/admin/retention', { config: { auth: 'admin' }, schema: { tags: ['admin'] } }, async () => planRetention(ctx, ctx.config.retention));
  app.post('/v1/admin/retention', { config: { auth: 'admin' }, schema: { tags: ['admin'] } }, async () =>
    applyRetention(ctx, await planRetention(ctx, ctx.config.retention)),
  );

  // One registry per process, built on first scrape; every value is read from the database then.
  let registry: ReturnType<typeof createMetricsRegistry> | null = null;
  app.get('/metrics', { config: { auth: 'public' }, schema: { hide: true } }, async (req, reply) => {
    const token = bearerToken(req, false);
    const allowed = token !== null && (sameSecret(token, adminToken) || (ctx.config.metrics.token !== undefined && sameSecret(token, ctx.config.metrics.token)));
    if (!token) throw new AppError('unauthorized', 'Send the admin token or LIKENESS_METRICS_TOKEN as a bearer token.');
    if (!allowed) throw new AppError('forbidden', 'GET /metrics needs the admin token or LIKENESS_METRICS_TOKEN.');
    registry ??= createMetricsRegistry(ctx.db);
    const text = await registry.metrics();
    return reply.header('content-type', registry.contentType).send(text);
  });
};
