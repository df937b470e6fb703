/**
 * The HTTP API: Fastify with zod schemas (which also produce /openapi.json), bearer auth declared
 * per route (`config.auth`), and one error boundary.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import multipart from '@fastify/multipart';
import swagger from '@fastify/swagger';
import { jsonSchemaTransform, serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import type { ServiceContext } from '../services/context.js';
import type { UrlSigner } from '../storage/url-signer.js';
import { authenticate, type Principal, type RouteAuth } from './auth.js';
import { errorBody, handleError } from './error-handler.js';
import { usersRoutes } from './routes/users.routes.js';
import { charactersRoutes } from './routes/characters.routes.js';
import { loraRoutes } from './routes/lora.routes.js';
import { trainingRunsRoutes } from './routes/training-runs.routes.js';
import { notificationsRoutes } from './routes/notifications.routes.js';
import { storageRoutes } from './routes/storage.routes.js';
import { webUiPlugin } from './web-ui.plugin.js';
import { generationsRoutes } from './routes/generations.routes.js';
import { workflowsRoutes } from './routes/workflows.routes.js';
import { consistencyRoutes } from './routes/consistency.routes.js';
import { metricsRoutes } from './routes/metrics.routes.js';
import { providerWebhooksRoutes } from './routes/provider-webhooks.routes.js';
import { adminRoutes } from './routes/admin.routes.js';

export interface RouteDeps {
  ctx: ServiceContext;
}

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | null;
  }
  interface FastifyContextConfig {
    auth?: RouteAuth;
    /** Accept the token as ?access_token= (SSE, where EventSource cannot set headers). */
    queryToken?: boolean;
  }
}

export interface ApiOptions {
  ctx: ServiceContext;
  signer: UrlSigner;
  adminToken: string;
  /** Extra readiness facts for /health (emulator banner, backend). */
  health: () => Promise<Record<string, unknown>>;
  logger?: boolean;
}

export async function buildApi(opts: ApiOptions): Promise<FastifyInstance> {
  const { ctx } = opts;
  const app = Fastify({
    logger: opts.logger ? { level: 'info' } : false,
    bodyLimit: 2 * 1024 * 1024,
    // Provider callbacks and uploads may be slow; headers must still arrive promptly.
    requestTimeout: 0,
  }).withTypeProvider<ZodTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  app.setErrorHandler(handleError);
  app.setNotFoundHandler((req, reply) => reply.status(404).send(errorBody('not_found', `No route for ${req.method} ${req.url.split('?')[0]}.`)));

  await app.register(swagger, {
    openapi: {
      info: { title: 'Likeness API', version: '0.1.0', description: 'Character LoRA lifecycle: training, credits, notifications.' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
    transform: jsonSchemaTransform,
  });
  await app.register(multipart, {
    limits: { fileSize: ctx.config.images.maxUploadBytes, files: 50, fields: 10, parts: 60 },
  });

  app.decorateRequest('principal', null);
  app.addHook('onRequest', async (req) => {
    const auth = req.routeOptions.config.auth ?? 'user';
    req.principal = await authenticate(req, ctx.db, opts.adminToken, auth, req.routeOptions.config.queryToken === true);
  });

  app.get('/health', { config: { auth: 'public' }, schema: { hide: true } }, async () => ({ ok: true, ...(await opts.health()) }));
  app.get('/openapi.json', { config: { auth: 'public' }, schema: { hide: true } }, async () => app.swagger());

  await app.register(usersRoutes, { ctx });
  await app.register(charactersRoutes, { ctx });
  await app.register(loraRoutes, { ctx });
  await app.register(trainingRunsRoutes, { ctx });
  await app.register(notificationsRoutes, { ctx });
  await app.register(storageRoutes, { ctx, signer: opts.signer });
  await app.register(providerWebhooksRoutes, { ctx, signer: opts.signer });
  // The web UI (web/dist) at /, after the API so /v1, /health and /openapi.json keep priority.
  await app.register(webUiPlugin);
  await app.register(generationsRoutes, { ctx });
  await app.register(workflowsRoutes, { ctx });
  await app.register(consistencyRoutes, { ctx });
  await app.register(metricsRoutes, { ctx, adminToken: opts.adminToken });
  await app.register(adminRoutes, { ctx });
  return app;
}
