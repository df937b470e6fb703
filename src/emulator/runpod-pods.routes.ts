/**
 * The emulated RunPod REST API v2, Pods and GPU catalog (contracts §1 and the OpenAPI subset).
 * Every request body is checked against RunPod's own schemas before anything else happens; every
 * error is a problem object. Order of checks: bearer key, body schema (422), cross-field rules and
 * placement (400), existence (404), status (409).
 */
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { GPU_CATALOG, findGpuType, gpuTypeToWire } from './runpod-gpu-catalog.js';
import type { RunpodOpenApiValidator } from './runpod-openapi.validator.js';
import {
  PodRequestRejected,
  rfc3339,
  type CreatePodBody,
  type PodAction,
  type PodStore,
  type UpdatePodBody,
} from './runpod-pods.store.js';
import { sendProblem } from './runpod-problem.js';

export interface RunpodApiDeps {
  store: PodStore;
  validator: RunpodOpenApiValidator;
  apiKey: string;
}

/** Which methods each path pattern answers, for 405 versus 404. */
const ALLOWED: Array<[RegExp, string]> = [
  [/^\/v2\/pods\/?$/, 'GET, POST'],
  [/^\/v2\/pods\/[^/]+\/?$/, 'GET, PATCH, DELETE'],
  [/^\/v2\/pods\/[^/]+\/action\/?$/, 'POST'],
  [/^\/v2\/pods\/[^/]+\/logs\/?$/, 'GET'],
  [/^\/v2\/catalog\/gpus(\/[^/]+)?\/?$/, 'GET'],
];

function bearerProblem(request: FastifyRequest, apiKey: string): string | null {
  const header = request.headers.authorization;
  const m = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
  if (!m) return 'missing bearer token';
  if (m[1] !== apiKey) return 'invalid bearer token';
  return null;
}

function validated<T>(deps: RunpodApiDeps, reply: FastifyReply, schema: 'CreatePodRequest' | 'UpdatePodRequest' | 'PodActionRequest', body: unknown): T | null {
  if (body === undefined || body === null) {
    sendProblem(reply, 400, 'request body is required');
    return null;
  }
  const errors = deps.validator.validate(schema, body);
  if (errors.length > 0) {
    sendProblem(reply, 422, 'Request validation failed.', errors);
    return null;
  }
  return body as T;
}

export async function buildRunpodApi(deps: RunpodApiDeps): Promise<FastifyInstance> {
  const app = Fastify({ logger: false, bodyLimit: 1024 * 1024 });
  const { store } = deps;

  // Bodies are read as JSON whatever their content type says, and an empty body is no body (a
  // DELETE sent with a JSON content type). Unverified for RunPod; lenient on purpose so the
  // emulator never fails an adapter the real API would accept.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => {
    const text = String(body);
    if (text.trim() === '') return done(null, undefined);
    try {
      done(null, JSON.parse(text));
    } catch {
      done(Object.assign(new Error('request body is not valid JSON'), { statusCode: 400 }), undefined);
    }
  });

  app.addHook('onRequest', async (request, reply) => {
    const why = bearerProblem(request, deps.apiKey);
    if (why) return sendProblem(reply, 401, why);
  });
  app.addHook('onSend', async (_request, reply, payload) => {
    // RunPod sends the IETF draft rate-limit headers on every answer (OpenAPI components/headers).
    reply.header('RateLimit', '"default";r=999;t=60');
    reply.header('RateLimit-Policy', '"default";q=1000;w=60');
    return payload;
  });

  app.setErrorHandler((error: Error & { statusCode?: number; code?: string }, _request, reply) => {
    const status = error.statusCode && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 500;
    if (status === 400) return sendProblem(reply, 400, 'request body is not valid JSON');
    if (status === 413) return sendProblem(reply, 413, 'request body too large');
    return sendProblem(reply, status, status === 500 ? 'internal error' : error.message);
  });

  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0] ?? '';
    const allowed = ALLOWED.find(([re]) => re.test(path));
    if (allowed && !allowed[1].split(', ').includes(request.method)) {
      reply.header('Allow', allowed[1]);
      return sendProblem(reply, 405, 'The requested method is not allowed for this path.');
    }
    return sendProblem(reply, 404, 'resource not found');
  });

  app.get('/v2/pods', async (request, reply) => {
    const q = request.query as Record<string, string | undefined>;
    if (q.includeClusterPods !== undefined && q.includeClusterPods !== 'true' && q.includeClusterPods !== 'false') {
      return sendProblem(reply, 422, 'Request validation failed.', [`$.includeClusterPods: got string, want boolean`]);
    }
    return reply.send({ pods: store.list().map((p) => store.toWire(p)) });
  });

  app.post('/v2/pods', async (request, reply) => {
    const body = validated<CreatePodBody>(deps, reply, 'CreatePodRequest', request.body);
    if (!body) return reply;
    try {
      const pod = store.create(body);
      return reply.code(201).send(store.toWire(pod));
    } catch (err) {
      if (err instanceof PodRequestRejected) return sendProblem(reply, 400, err.message);
      throw err;
    }
  });

  app.get('/v2/pods/:id', async (request, reply) => {
    const pod = store.get((request.params as { id: string }).id);
    if (!pod) return sendProblem(reply, 404, 'pod not found');
    return reply.send(store.toWire(pod));
  });

  app.patch('/v2/pods/:id', async (request, reply) => {
    const body = validated<UpdatePodBody>(deps, reply, 'UpdatePodRequest', request.body);
    if (!body) return reply;
    try {
      const pod = store.update((request.params as { id: string }).id, body);
      if (!pod) return sendProblem(reply, 404, 'pod not found');
      return reply.send(store.toWire(pod));
    } catch (err) {
      if (err instanceof PodRequestRejected) return sendProblem(reply, 400, err.message);
      throw err;
    }
  });

  app.delete('/v2/pods/:id', async (request, reply) => {
    const result = store.action((request.params as { id: string }).id, 'terminate');
    if (!result.ok) return sendProblem(reply, 404, 'pod not found');
    return reply.code(204).send();
  });

  app.post('/v2/pods/:id/action', async (request, reply) => {
    const body = validated<{ action: PodAction }>(deps, reply, 'PodActionRequest', request.body);
    if (!body) return reply;
    const result = store.action((request.params as { id: string }).id, body.action);
    if (!result.ok) {
      if (result.reason === 'not-found') return sendProblem(reply, 404, 'pod not found');
      return sendProblem(reply, 409, `action '${body.action}' is not valid for a pod in status ${result.status}`);
    }
    if (body.action === 'terminate') return reply.code(204).send();
    return reply.send(store.toWire(result.pod));
  });

  // The real endpoint is a live SSE stream; the emulator sends the backfill and ends the stream,
  // which a reconnecting EventSource client handles the same way.
  app.get('/v2/pods/:id/logs', async (request, reply) => {
    const pod = store.get((request.params as { id: string }).id);
    if (!pod) return sendProblem(reply, 404, 'pod not found');
    const lines = [`Pod ${pod.id} created`, `Pulling image ${pod.image}`, pod.servicesUp ? 'Container started' : `Pod status ${pod.status}`];
    const ts = rfc3339(pod.createdAt);
    const body = lines.map((line, i) => `id: ${ts}/${String(i + 1).padStart(12, '0')}\ndata: ${JSON.stringify({ ts, source: 'system', line })}\n\n`).join('');
    return reply.header('Cache-Control', 'no-cache').header('X-Accel-Buffering', 'no').type('text/event-stream').send(body);
  });

  app.get('/v2/catalog/gpus', async (request, reply) => {
    const q = request.query as Record<string, string | undefined>;
    const bad = catalogQueryProblem(q);
    if (bad) return sendProblem(reply, bad.status, bad.detail, bad.errors);
    return reply.send({ gpus: GPU_CATALOG.map((g) => gpuTypeToWire(g, q.include !== undefined)) });
  });

  app.get('/v2/catalog/gpus/:id', async (request, reply) => {
    const q = request.query as Record<string, string | undefined>;
    const bad = catalogQueryProblem(q);
    if (bad) return sendProblem(reply, bad.status, bad.detail, bad.errors);
    const gpu = findGpuType((request.params as { id: string }).id);
    if (!gpu) return sendProblem(reply, 404, 'gpu type not found');
    return reply.send(gpuTypeToWire(gpu, q.include !== undefined));
  });

  await app.ready();
  return app;
}

/** `include=AVAILABILITY` needs `product`, and `product` is valid only with it (400 either way). */
function catalogQueryProblem(q: Record<string, string | undefined>): { status: number; detail: string; errors?: string[] } | null {
  if (q.include !== undefined && q.include !== 'AVAILABILITY') {
    return { status: 422, detail: 'Request validation failed.', errors: [`$.include[0]: value must be one of 'AVAILABILITY'`] };
  }
  if (q.include !== undefined && q.product === undefined) return { status: 400, detail: 'product is required with include=AVAILABILITY' };
  if (q.include === undefined && q.product !== undefined) return { status: 400, detail: 'product is valid only with include=AVAILABILITY' };
  if (q.product !== undefined) {
    const bad = q.product.split(',').filter((p) => !['POD', 'CLUSTER', 'SERVERLESS'].includes(p));
    if (bad.length > 0) return { status: 422, detail: 'Request validation failed.', errors: bad.map((p) => `$.product: value must be one of 'POD', 'CLUSTER', 'SERVERLESS' but found '${p}'`) };
  }
  return null;
}
