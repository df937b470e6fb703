/**
 * RunPod serverless queue endpoints (contracts §2.2) for one endpoint running worker-comfyui:
 *   POST /v2/{endpointId}/run              {input, webhook?, policy?} -> {id, status:"IN_QUEUE"}
 *   GET  /v2/{endpointId}/status/{jobId}   {delayTime, executionTime, id, status, output?, error?, workerId}
 *   POST /v2/{endpointId}/cancel/{jobId}   {id, status:"CANCELLED"}
 *   GET  /v2/{endpointId}/health           job and worker counts
 * Jobs walk IN_QUEUE -> IN_PROGRESS -> COMPLETED | FAILED (error is a string, as runpod-python
 * sends it) and are forgotten 30 minutes after they finish (then 404, like an expired job).
 * Unverified on the real service, chosen here: the bodies of 401/404 (`{"error": ...}`), and that a
 * FAILED status also carries the handler's other keys as `output` (contracts §7.2).
 */
import { randomUUID } from 'node:crypto';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { TimerSet } from '../timer-set.js';
import type { ComfyEngine } from './comfy-engine.js';
import { runWorkerComfyui } from './worker-comfyui.handler.js';

type JobStatus = 'IN_QUEUE' | 'IN_PROGRESS' | 'COMPLETED' | 'FAILED' | 'CANCELLED' | 'TIMED_OUT';

interface Job {
  id: string;
  input: unknown;
  status: JobStatus;
  createdAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  output?: unknown;
  error?: string;
  promptId: string | null;
  workerId: string;
}

export interface ServerlessOptions {
  engine: ComfyEngine;
  timers: TimerSet;
  endpointId: string;
  apiKey: string;
  log: (msg: string) => void;
}

const RETENTION_MS = 30 * 60 * 1000;
const QUEUE_DELAY_MS = 30;
const MAX_RUN_BYTES = 10 * 1024 * 1024;
const FINAL: JobStatus[] = ['COMPLETED', 'FAILED', 'CANCELLED', 'TIMED_OUT'];

export const runpodServerlessRoutes: FastifyPluginAsync<ServerlessOptions> = async (app, opts) => {
  const jobs = new Map<string, Job>();
  const workerId = `emu${randomUUID().replace(/-/g, '').slice(0, 11)}`;

  const guard = (req: FastifyRequest<{ Params: { endpointId: string } }>, reply: FastifyReply): boolean => {
    const header = req.headers.authorization ?? '';
    const key = header.replace(/^Bearer\s+/i, '').trim();
    if (!key || key !== opts.apiKey) {
      void reply.status(401).send({ error: 'Unauthorized' });
      return false;
    }
    if (req.params.endpointId !== opts.endpointId) {
      void reply.status(404).send({ error: `endpoint ${req.params.endpointId} not found` });
      return false;
    }
    return true;
  };

  const view = (job: Job) => {
    const now = Date.now();
    const body: Record<string, unknown> = { id: job.id, status: job.status };
    if (job.startedAt !== null) {
      body.delayTime = job.startedAt - job.createdAt;
      body.executionTime = (job.finishedAt ?? now) - job.startedAt;
      body.workerId = job.workerId;
    }
    if (job.output !== undefined) body.output = job.output;
    if (job.error !== undefined) body.error = job.error;
    return body;
  };

  const finish = (job: Job, status: JobStatus) => {
    job.status = status;
    job.finishedAt = Date.now();
    opts.timers.after(RETENTION_MS, () => jobs.delete(job.id));
  };

  const start = async (job: Job) => {
    if (job.status !== 'IN_QUEUE') return;
    job.status = 'IN_PROGRESS';
    job.startedAt = Date.now();
    let result: Record<string, unknown>;
    try {
      result = await runWorkerComfyui(job.input, { engine: opts.engine, onQueued: (id) => (job.promptId = id) });
    } catch (err) {
      // An uncaught handler exception: runpod-python sends a JSON string describing it.
      result = { error: JSON.stringify({ error_type: (err as Error).name, error_message: (err as Error).message, error_traceback: '', hostname: workerId, worker_id: workerId, runpod_version: '1.12.0' }) };
    }
    if (FINAL.includes(job.status)) return; // cancelled meanwhile
    const { error, ...rest } = result;
    if (Object.keys(rest).length > 0) job.output = rest;
    if (typeof error === 'string') {
      job.error = error;
      finish(job, 'FAILED');
    } else finish(job, 'COMPLETED');
    opts.log(`serverless: job ${job.id} ${job.status}${job.error ? `: ${job.error.split('\n')[0]}` : ''}`);
  };

  app.post<{ Params: { endpointId: string } }>('/v2/:endpointId/run', { bodyLimit: 2 * MAX_RUN_BYTES }, async (req, reply) => {
    if (!guard(req, reply)) return reply;
    if (Number(req.headers['content-length'] ?? 0) > MAX_RUN_BYTES) return reply.status(413).send({ error: 'request body exceeds 10 MB' });
    const body = req.body as { input?: unknown } | null;
    if (!body || typeof body !== 'object' || !('input' in body)) return reply.status(400).send({ error: 'input is required' });
    const job: Job = {
      id: `${randomUUID()}-u1`,
      input: body.input,
      status: 'IN_QUEUE',
      createdAt: Date.now(),
      startedAt: null,
      finishedAt: null,
      promptId: null,
      workerId,
    };
    jobs.set(job.id, job);
    opts.timers.after(QUEUE_DELAY_MS, () => void start(job));
    return { id: job.id, status: job.status };
  });

  app.get<{ Params: { endpointId: string; jobId: string } }>('/v2/:endpointId/status/:jobId', async (req, reply) => {
    if (!guard(req, reply)) return reply;
    const job = jobs.get(req.params.jobId);
    if (!job) return reply.status(404).send({ error: 'request does not exist' });
    return view(job);
  });

  app.post<{ Params: { endpointId: string; jobId: string } }>('/v2/:endpointId/cancel/:jobId', async (req, reply) => {
    if (!guard(req, reply)) return reply;
    const job = jobs.get(req.params.jobId);
    if (!job) return reply.status(404).send({ error: 'request does not exist' });
    if (!FINAL.includes(job.status)) {
      if (job.promptId) opts.engine.interrupt(job.promptId);
      finish(job, 'CANCELLED');
    }
    return { id: job.id, status: job.status };
  });

  app.get<{ Params: { endpointId: string } }>('/v2/:endpointId/health', async (req, reply) => {
    if (!guard(req, reply)) return reply;
    const all = [...jobs.values()];
    const count = (s: JobStatus) => all.filter((j) => j.status === s).length;
    return {
      jobs: { completed: count('COMPLETED'), failed: count('FAILED'), inProgress: count('IN_PROGRESS'), inQueue: count('IN_QUEUE'), retried: 0 },
      workers: { idle: count('IN_PROGRESS') ? 0 : 1, running: count('IN_PROGRESS') ? 1 : 0 },
    };
  });
};
