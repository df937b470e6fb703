/**
 * The AI Toolkit web UI API (ostris/ai-toolkit `ui/`, contracts §3) as one Fastify app per install:
 * the auth middleware, settings, auth probe, GPU stats, and the job, queue and dataset routes of
 * aitoolkit-jobs.routes.ts and aitoolkit-datasets.routes.ts. The public file routes are served in
 * front of it by aitoolkit-file.server.ts, like the real front server does.
 *
 * Auth (`ui/src/middleware.ts`): with AI_TOOLKIT_AUTH set, every path under /api/ except those
 * starting /api/img/ or /api/files/ needs `Authorization: <anything> <token>`; otherwise
 * 401 {"error":"Unauthorized"}. Unknown paths get Next.js's 404 page, after the auth check.
 */
import multipart from '@fastify/multipart';
import Fastify, { type FastifyInstance } from 'fastify';
import { registerDatasetRoutes } from './aitoolkit-datasets.routes.js';
import { registerJobRoutes } from './aitoolkit-jobs.routes.js';
import { INVALID_JSON, jsonBody, nextJson, type AitkUiContext } from './aitoolkit-ui.context.js';

const PUBLIC_PREFIXES = ['/api/img/', '/api/files/'];
const SETTING_KEYS = ['HF_TOKEN', 'TRAINING_FOLDER', 'DATASETS_FOLDER', 'MODELS_PATH'] as const;

const NOT_FOUND_PAGE =
  '<!DOCTYPE html><html><head><meta charset="utf-8"/><title>404: This page could not be found.</title></head>' +
  '<body><div><h1>404</h1><div><h2>This page could not be found.</h2></div></div></body></html>';

export async function buildAitkApp(ctx: AitkUiContext): Promise<FastifyInstance> {
  const app = Fastify({ logger: false, bodyLimit: 64 * 1024 * 1024 });

  // Next route handlers read bodies themselves (request.json() / formData()), whatever the
  // content type; keep JSON and other bodies raw and let each route parse like Next does.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => done(null, body));
  await app.register(multipart, {
    limits: { fileSize: 16 * 1024 * 1024 * 1024, files: Infinity, parts: Infinity, fieldSize: 16 * 1024 * 1024 },
    // Keep the client's file name as sent (undici's formData does); the route sanitises it.
    preservePath: true,
  });

  app.addHook('onRequest', async (request, reply) => {
    if (ctx.token === null) return;
    const pathname = request.url.split('?')[0] ?? '';
    if (!pathname.startsWith('/api/') || PUBLIC_PREFIXES.some((p) => pathname.startsWith(p))) return;
    const token = request.headers.authorization?.split(' ')[1];
    if (!token || token !== ctx.token) {
      return nextJson(reply, { error: 'Unauthorized' }, 401);
    }
  });

  app.setErrorHandler((_error, _request, reply) => reply.code(500).send(''));
  app.setNotFoundHandler((_request, reply) => reply.code(404).type('text/html; charset=utf-8').send(NOT_FOUND_PAGE));

  app.get('/', async (_request, reply) =>
    reply.type('text/html; charset=utf-8').send('<!DOCTYPE html><html><head><title>AI Toolkit</title></head><body>AI Toolkit (emulated)</body></html>'),
  );

  app.get('/api/auth', async (_request, reply) => nextJson(reply, { isAuthenticated: true }));

  app.get('/api/settings', async (_request, reply) => {
    const out: Record<string, string> = {};
    for (const { key, value } of ctx.db.allSettings()) out[key] = value;
    const roots = ctx.roots();
    if (!out.TRAINING_FOLDER) out.TRAINING_FOLDER = roots.training;
    if (!out.DATASETS_FOLDER) out.DATASETS_FOLDER = roots.datasets;
    if (!out.MODELS_PATH) out.MODELS_PATH = ctx.modelsPath();
    return nextJson(reply, out);
  });

  app.post('/api/settings', async (request, reply) => {
    const body = jsonBody(request);
    if (body === INVALID_JSON || body === null || typeof body !== 'object') return nextJson(reply, { error: 'Failed to update settings' }, 500);
    // The real route upserts the four keys concurrently; a missing one fails its own upsert
    // (a 500) while the others may already be written.
    let failed = false;
    for (const key of SETTING_KEYS) {
      try {
        ctx.db.upsertSetting(key, (body as Record<string, unknown>)[key]);
      } catch {
        failed = true;
      }
    }
    if (failed) return nextJson(reply, { error: 'Failed to update settings' }, 500);
    return nextJson(reply, { success: true });
  });

  app.get('/api/gpu', async (_request, reply) => {
    const busy = ctx.gpus.busy();
    const used = busy ? Math.round(ctx.gpus.memoryMiB * 0.83) : 2;
    return nextJson(reply, {
      hasNvidiaSmi: true,
      gpus: Array.from({ length: ctx.gpus.count }, (_, index) => ({
        index,
        name: ctx.gpus.name,
        driverVersion: '580.65.06',
        temperature: busy ? 71 : 34,
        utilization: { gpu: busy ? 98 : 0, memory: busy ? 61 : 0 },
        memory: { total: ctx.gpus.memoryMiB, free: ctx.gpus.memoryMiB - used, used },
        power: { draw: busy ? 402.5 : 21.3, limit: 450 },
        clocks: { graphics: busy ? 2520 : 210, memory: busy ? 10501 : 405 },
        fan: { speed: busy ? 68 : 30 },
      })),
    });
  });

  registerJobRoutes(app, ctx);
  registerDatasetRoutes(app, ctx);

  await app.ready();
  return app;
}
