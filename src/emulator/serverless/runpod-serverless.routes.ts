/**
 * RunPod serverless queue endpoints (contracts §2.2), one handler per endpoint id (worker-comfyui,
 * the AI Toolkit training worker):
 *   POST /v2/{endpointId}/run              {input, webhook?, policy?} -> {id, status:"IN_QUEUE"}
 *   GET  /v2/{endpointId}/status/{jobId}   {delayTime, executionTime, id, status, output?, error?, workerId}
 *   POST /v2/{endpointId}/cancel/{jobId}   {id, status:"CANCELLED"}
 *   GET  /v2/{endpointId}/health           job and worker counts
 * Jobs walk IN_QUEUE -> IN_PROGRESS (output = the handler's last progress_update) -> COMPLETED |
 * FAILED (error is a string, as runpod-python sends it) | TIMED_OUT (past policy.executionTimeout),
 * and are forgotten 30 minutes after they finish, or at once when they reach policy.ttl (then
 * 404). A job the handler `vanish`es (injected preemption) is forgotten at once too.
 * Unverified on the real service, chosen here: the bodies of 401/404 (`{"error": ...}`), that a
 * FAILED status also carries the handler's other keys as `output` (contracts §7.2), that policy
 * values out of range answer 400, and that no webhook is sent for CANCELLED (§7.1).
 */
import { randomUUID } from 'node:crypto';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { hang, writeFaultResponse } from '../fault-responses.js';
import type { RequestFault, WebhookFate } from '../faults.js';
import type { TimerSet } from '../timer-set.js';
import { deliverWebhook } from './serverless-webhook.js';

type JobStatus = 'IN_QUEUE' | 'IN_PROGRESS' | 'COMPLETED' | 'FAILED' | 'CANCELLED' | 'TIMED_OUT';

/** What a handler returns; runpod-python turns `error` into a FAILED job and the rest into `output`. */
export type HandlerReturn = Record<string, unknown> & { error?: string };

export interface ServerlessJob {
  id: string;
  input: unknown;
  /** runpod.serverless.progress_update: shown as IN_PROGRESS `output` until the job ends. */
  progress(output: unknown): void;
  /** Aborted when the job is cancelled, times out or vanishes. */
  signal: AbortSignal;
  /** The worker's machine went away: RunPod forgets the job (404 from now on), no webhook. */
  vanish(): void;
}

export interface ServerlessEndpoint {
  id: string;
  handler: (job: ServerlessJob) => Promise<HandlerReturn>;
  /** Injected fault for a request to this endpoint, decided before it is handled. */
  requestFault?: () => RequestFault;
}

export interface ServerlessOptions {
  endpoints: ServerlessEndpoint[];
  timers: TimerSet;
  apiKey: string;
  webhookFate?: () => WebhookFate;
  /** RunPod waits 10 s before each of its 2 webhook retries. */
  webhookRetryMs?: number;
  log: (msg: string) => void;
}

interface Job {
  id: string;
  endpoint: ServerlessEndpoint;
  input: unknown;
  webhook: string | null;
  status: JobStatus;
  createdAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  output?: unknown;
  error?: string;
  abort: AbortController;
  executionTimeoutMs: number;
  workerId: string;
}

const RETENTION_MS = 30 * 60 * 1000;
const QUEUE_DELAY_MS = 30;
const MAX_RUN_BYTES = 10 * 1024 * 1024;
const WEEK_MS = 7 * 24 * 3600 * 1000;
const FINAL: JobStatus[] = ['COMPLETED', 'FAILED', 'CANCELLED', 'TIMED_OUT'];

/** `policy` as send-requests.mdx documents it; an error sentence for values out of range. */
function readPolicy(raw: unknown): { executionTimeoutMs: number; ttlMs: number } | string {
  const p = (raw ?? {}) as { executionTimeout?: unknown; ttl?: unknown };
  const executionTimeoutMs = p.executionTimeout ?? 600_000;
  const ttlMs = p.ttl ?? 86_400_000;
  if (typeof executionTimeoutMs !== 'number' || executionTimeoutMs < 5_000 || executionTimeoutMs > WEEK_MS) return 'policy.executionTimeout must be between 5000 and 604800000 ms';
  if (typeof ttlMs !== 'number' || ttlMs < 10_000 || ttlMs > WEEK_MS) return 'policy.ttl must be between 10000 and 604800000 ms';
  return { executionTimeoutMs, ttlMs };
}

export const runpodServerlessRoutes: FastifyPluginAsync<ServerlessOptions> = async (app, opts) => {
  const jobs = new Map<string, Job>();
  const endpoints = new Map(opts.endpoints.map((e) => [e.id, e]));
  const workerId = `emu${randomUUID().replace(/-/g, '').slice(0, 11)}`;

  type Req = FastifyRequest<{ Params: { endpointId: string } }>;
  const guard = (req: Req, reply: FastifyReply): ServerlessEndpoint | null => {
    const key = (req.headers.authorization ?? '').replace(/^Bearer\s+/i, '').trim();
    if (!key || key !== opts.apiKey) {
      void reply.status(401).send({ error: 'Unauthorized' });
      return null;
    }
    const endpoint = endpoints.get(req.params.endpointId);
    if (!endpoint) {
      void reply.status(404).send({ error: `endpoint ${req.params.endpointId} not found` });
      return null;
    }
    const fault = endpoint.requestFault?.() ?? { kind: 'none' };
    if (fault.kind === 'none') return endpoint;
    opts.log(`fault: ${req.method} ${req.url} -> ${fault.kind === 'error' ? fault.status : 'hang'}`);
    reply.hijack();
    if (fault.kind === 'error') writeFaultResponse(reply.raw, 'runpod', fault.status);
    else hang(req.raw, reply.raw, opts.timers);
    return null;
  };
  const jobOf = (endpoint: ServerlessEndpoint, id: string) => {
    const job = jobs.get(id);
    return job && job.endpoint === endpoint ? job : undefined;
  };

  const view = (job: Job) => {
    const body: Record<string, unknown> = { id: job.id, status: job.status };
    if (job.startedAt !== null) {
      body.delayTime = job.startedAt - job.createdAt;
      body.executionTime = (job.finishedAt ?? Date.now()) - job.startedAt;
      body.workerId = job.workerId;
    }
    if (job.output !== undefined) body.output = job.output;
    if (job.error !== undefined) body.error = job.error;
    return body;
  };

  const forget = (job: Job) => {
    jobs.delete(job.id);
    job.abort.abort(new Error('job removed'));
  };

  const finish = (job: Job, status: JobStatus) => {
    if (FINAL.includes(job.status) || !jobs.has(job.id)) return;
    job.status = status;
    job.finishedAt = Date.now();
    job.abort.abort(new Error(`job ${status}`));
    opts.timers.after(RETENTION_MS, () => forget(job));
    opts.log(`serverless: job ${job.id} ${job.status}${job.error ? `: ${job.error.split('\n')[0]}` : ''}`);
    if (job.webhook && status !== 'CANCELLED') {
      const body = { ...view(job), input: job.input, webhook: job.webhook };
      void deliverWebhook(job.webhook, body, { fate: opts.webhookFate?.() ?? 'deliver', retryMs: opts.webhookRetryMs ?? 10_000, timers: opts.timers, log: opts.log });
    }
  };

  const start = async (job: Job) => {
    if (job.status !== 'IN_QUEUE' || !jobs.has(job.id)) return;
    job.status = 'IN_PROGRESS';
    job.startedAt = Date.now();
    opts.timers.after(job.executionTimeoutMs, () => finish(job, 'TIMED_OUT'));
    let result: HandlerReturn;
    try {
      result = await job.endpoint.handler({
        id: job.id,
        input: job.input,
        signal: job.abort.signal,
        progress: (output) => {
          if (job.status === 'IN_PROGRESS') job.output = output;
        },
        vanish: () => forget(job),
      });
    } catch (err) {
      // An uncaught handler exception: runpod-python sends a JSON string describing it.
      result = { error: JSON.stringify({ error_type: (err as Error).name, error_message: (err as Error).message, error_traceback: '', hostname: workerId, worker_id: workerId, runpod_version: '1.12.0' }) };
    }
    if (FINAL.includes(job.status) || !jobs.has(job.id)) return; // cancelled, timed out or gone meanwhile
    const { error, ...rest } = result;
    job.output = Object.keys(rest).length > 0 ? rest : undefined;
    if (typeof error === 'string') {
      job.error = error;
      finish(job, 'FAILED');
    } else finish(job, 'COMPLETED');
  };

  app.post<{ Params: { endpointId: string } }>('/v2/:endpointId/run', { bodyLimit: 2 * MAX_RUN_BYTES }, async (req, reply) => {
    const endpoint = guard(req, reply);
    if (!endpoint) return reply;
    if (Number(req.headers['content-length'] ?? 0) > MAX_RUN_BYTES) return reply.status(413).send({ error: 'request body exceeds 10 MB' });
    const body = req.body as { input?: unknown; webhook?: unknown; policy?: unknown } | null;
    if (!body || typeof body !== 'object' || !('input' in body)) return reply.status(400).send({ error: 'input is required' });
    if (body.webhook !== undefined && (typeof body.webhook !== 'string' || !/^https?:\/\//.test(body.webhook))) return reply.status(400).send({ error: 'webhook must be a URL' });
    const policy = readPolicy(body.policy);
    if (typeof policy === 'string') return reply.status(400).send({ error: policy });
    const job: Job = {
      id: `${randomUUID()}-u1`,
      endpoint,
      input: body.input,
      webhook: (body.webhook as string | undefined) ?? null,
      status: 'IN_QUEUE',
      createdAt: Date.now(),
      startedAt: null,
      finishedAt: null,
      abort: new AbortController(),
      executionTimeoutMs: policy.executionTimeoutMs,
      workerId,
    };
    jobs.set(job.id, job);
    // "If TTL expires while a job is running, the job is immediately removed and status checks return 404."
    opts.timers.after(policy.ttlMs, () => forget(job));
    opts.timers.after(QUEUE_DELAY_MS, () => void start(job));
    return { id: job.id, status: job.status };
  });

  app.get<{ Params: { endpointId: string; jobId: string } }>('/v2/:endpointId/status/:jobId', async (req, reply) => {
    const endpoint = guard(req, reply);
    if (!endpoint) return reply;
    const job = jobOf(endpoint, req.params.jobId);
    if (!job) return reply.status(404).send({ error: 'request does not exist' });
    return view(job);
  });

  app.post<{ Params: { endpointId: string; jobId: string } }>('/v2/:endpointId/cancel/:jobId', async (req, reply) => {
    const endpoint = guard(req, reply);
    if (!endpoint) return reply;
    const job = jobOf(endpoint, req.params.jobId);
    if (!job) return reply.status(404).send({ error: 'request does not exist' });
    finish(job, 'CANCELLED');
    return { id: job.id, status: job.status };
  });

  app.get<{ Params: { endpointId: string } }>('/v2/:endpointId/health', async (req, reply) => {
    const endpoint = guard(req, reply);
    if (!endpoint) return reply;
    const all = [...jobs.values()].filter((j) => j.endpoint === endpoint);
    const count = (s: JobStatus) => all.filter((j) => j.status === s).length;
    return {
      jobs: { completed: count('COMPLETED'), failed: count('FAILED'), inProgress: count('IN_PROGRESS'), inQueue: count('IN_QUEUE'), retried: 0 },
      workers: { idle: count('IN_PROGRESS') ? 0 : 1, running: count('IN_PROGRESS') ? 1 : 0 },
    };
  });
};
