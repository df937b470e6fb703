/**
 * AI Toolkit UI job and queue routes (`ui/src/app/api/jobs/**`, `queue/**`), with their quirks:
 * - the mutating "actions" are GETs, and start/stop/mark_stopped/delete answer the job as it was
 *   BEFORE their update (they return the row they read first);
 * - POST /api/jobs stores job_config with JSON.stringify (so a string job_config is stored
 *   double-encoded), needs gpu_ids as a string (anything else is a Prisma error, 500), and
 *   answers 409 {"error":"Job name already exists"} on a name clash;
 * - stop only changes the status when the job has a live process (it SIGINTs the pid);
 *   otherwise it just sets stop=true and "Stopping job..." (a queued job stays queued);
 * - mark_stopped and save_now/sample_now do not check that the job exists (500 when it does not);
 * - `only_active=true` has a 5 s cache in the real route; the emulator answers fresh data.
 */
import { readdir, rm, stat, readFile, open } from 'node:fs/promises';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { jobToJson, PrismaError } from './aitoolkit-db.js';
import { readLoraDescriptor } from './lora-artifact.js';
import { field, INVALID_JSON, jsonBody, nextCrash, nextJson, type AitkUiContext } from './aitoolkit-ui.context.js';

const SAMPLE_ENDINGS = ['.png', '.jpg', '.jpeg', '.webp', '.mp4', 'mp3', 'wav', 'flac', 'ogg'];
const LOG_TAIL_BYTES = 5 * 1024 * 1024;

type JobParams = { jobID: string };

export function registerJobRoutes(app: FastifyInstance, ctx: AitkUiContext): void {
  const { db } = ctx;
  const jobFolder = (name: string) => path.posix.join(ctx.roots().training, name);

  app.get('/api/jobs', async (request, reply) => {
    const q = request.query as Record<string, string | undefined>;
    if (q.id) return nextJson(reply, db.findJob(q.id) ? jobToJson(db.findJob(q.id)!) : null);
    if (q.job_ref) {
      const job = db.findJobs({ job_ref: q.job_ref }, 'updated_at_desc')[0];
      return nextJson(reply, job ? jobToJson(job) : null);
    }
    const where: { job_type?: string; statusIn?: string[] } = {};
    if (q.job_type) where.job_type = q.job_type;
    if (q.only_active === 'true') where.statusIn = ['running', 'queued', 'stopping'];
    return nextJson(reply, { jobs: db.findJobs(where).map(jobToJson) });
  });

  app.post('/api/jobs', async (request, reply) => {
    const failed = () => nextJson(reply, { error: 'Failed to save training data' }, 500);
    const body = jsonBody(request);
    if (body === INVALID_JSON) return failed();
    try {
      const id = field(body, 'id');
      const b = body as Record<string, unknown>;
      const extra: Record<string, unknown> = {};
      if ('job_ref' in b) extra.job_ref = b.job_ref;
      if ('job_type' in b) extra.job_type = b.job_type;
      const data = { name: b.name, gpu_ids: b.gpu_ids, job_config: JSON.stringify(b.job_config), ...extra };
      if (id) {
        if (typeof id !== 'string') return failed();
        return nextJson(reply, jobToJson(db.updateJob(id, data)));
      }
      const max = db.maxQueuePosition();
      return nextJson(reply, jobToJson(db.createJob({ ...data, queue_position: (max || 0) + 1000 })));
    } catch (err) {
      if (err instanceof PrismaError && err.code === 'P2002') return nextJson(reply, { error: 'Job name already exists' }, 409);
      return failed();
    }
  });

  app.get('/api/jobs/:jobID/start', async (request, reply) => {
    const { jobID } = request.params as JobParams;
    const job = db.findJob(jobID);
    if (!job) return nextJson(reply, { error: 'Job not found' }, 404);
    db.updateJob(jobID, { queue_position: (db.maxQueuePosition() || 0) + 1000 });
    if (!db.findQueue(job.gpu_ids)) db.createQueue(job.gpu_ids, false);
    db.updateJob(jobID, { status: 'queued', stop: false, return_to_queue: false, info: 'Job queued' });
    return nextJson(reply, jobToJson(job));
  });

  app.get('/api/jobs/:jobID/stop', async (request, reply) => {
    const { jobID } = request.params as JobParams;
    const job = db.findJob(jobID);
    if (!job) return nextJson(reply, { error: 'Job not found' }, 404);
    db.updateJob(jobID, { stop: true, info: 'Stopping job...' });
    if (job.pid !== null) {
      const proc = ctx.trainers.get(jobID);
      // process.kill(pid, 'SIGINT') throws ESRCH for a process that is gone; the route then
      // leaves the status as it is.
      if (proc && proc.alive && proc.pid === job.pid) {
        // The signal is handled by Python a moment later; the route marks the job stopped now.
        ctx.timers.after(20, () => proc.interrupt());
        db.updateJob(jobID, { status: 'stopped', info: 'Job stopped' });
      }
    }
    return nextJson(reply, jobToJson(job));
  });

  app.get('/api/jobs/:jobID/mark_stopped', async (request, reply) => {
    const { jobID } = request.params as JobParams;
    const job = db.findJob(jobID);
    try {
      db.updateJob(jobID, { stop: true, status: 'stopped', info: 'Job stopped', pid: null });
    } catch {
      return nextCrash(reply);
    }
    return nextJson(reply, job ? jobToJson(job) : null);
  });

  app.get('/api/jobs/:jobID/delete', async (request, reply) => {
    const { jobID } = request.params as JobParams;
    const job = db.findJob(jobID);
    if (!job) return nextJson(reply, { error: 'Job not found' }, 404);
    await rm(ctx.vfs.toReal(jobFolder(job.name)), { recursive: true, force: true });
    db.deleteJob(jobID);
    return nextJson(reply, jobToJson(job));
  });

  for (const flag of ['save_now', 'sample_now'] as const) {
    app.get(`/api/jobs/:jobID/${flag}`, async (request, reply) => {
      const { jobID } = request.params as JobParams;
      try {
        return nextJson(reply, jobToJson(db.updateJob(jobID, { [flag]: true })));
      } catch {
        return nextCrash(reply);
      }
    });
  }

  app.get('/api/jobs/:jobID/files', async (request, reply) => {
    const job = db.findJob((request.params as JobParams).jobID);
    if (!job) return nextJson(reply, { error: 'Job not found' }, 404);
    const folder = jobFolder(job.name);
    const real = ctx.vfs.toReal(folder);
    let names: string[];
    try {
      names = await readdir(real);
    } catch {
      return nextJson(reply, { files: [] });
    }
    const files = names
      .filter((n) => n.endsWith('.safetensors'))
      .map((n) => path.posix.join(folder, n))
      .sort();
    const out = await Promise.all(
      files.map(async (p) => {
        const r = ctx.vfs.toReal(p);
        const desc = await readLoraDescriptor(r);
        return { path: p, size: desc ? ctx.renderer.sizeOf(desc) : (await stat(r)).size };
      }),
    );
    const optimizer = path.posix.join(folder, 'optimizer.pt');
    const optStat = await stat(ctx.vfs.toReal(optimizer)).catch(() => null);
    if (optStat) out.push({ path: optimizer, size: optStat.size });
    return nextJson(reply, { files: out });
  });

  app.get('/api/jobs/:jobID/samples', async (request, reply) => {
    const job = db.findJob((request.params as JobParams).jobID);
    if (!job) return nextJson(reply, { error: 'Job not found' }, 404);
    const folder = path.posix.join(jobFolder(job.name), 'samples');
    let entries;
    try {
      entries = await readdir(ctx.vfs.toReal(folder), { withFileTypes: true });
    } catch {
      return nextJson(reply, { samples: [] });
    }
    const samples = entries
      .filter((e) => e.isFile())
      .map((e) => e.name)
      .filter((n) => SAMPLE_ENDINGS.some((end) => n.endsWith(end)))
      .map((n) => path.posix.join(folder, n))
      .sort();
    return nextJson(reply, { samples });
  });

  app.get('/api/jobs/:jobID/log', async (request, reply) => {
    const job = db.findJob((request.params as JobParams).jobID);
    if (!job) return nextJson(reply, { error: 'Job not found' }, 404);
    const logPath = ctx.vfs.toReal(path.posix.join(jobFolder(job.name), 'log.txt'));
    const st = await stat(logPath).catch(() => null);
    if (!st) return nextJson(reply, { log: '', offset: 0, reset: true });
    const offsetParam = (request.query as Record<string, string | undefined>).offset;
    const offset = offsetParam === undefined ? NaN : parseInt(offsetParam, 10);
    const size = st.size;
    const read = async (start: number, end: number): Promise<string> => {
      if (end <= start) return '';
      const fh = await open(logPath, 'r');
      try {
        const buf = Buffer.alloc(end - start);
        await fh.read(buf, 0, end - start, start);
        return buf.toString('utf8');
      } finally {
        await fh.close();
      }
    };
    if (Number.isNaN(offset) || offset > size) {
      const start = Math.max(0, size - LOG_TAIL_BYTES);
      let log = await read(start, size);
      if (start > 0 && log.includes('\n')) log = log.slice(log.indexOf('\n') + 1);
      return nextJson(reply, { log, offset: size, reset: true });
    }
    return nextJson(reply, { log: await read(offset, size), offset: size, reset: false });
  });

  // The real route reads loss_log.db (SQLite, written by the trainer's UI logger); the emulated
  // trainer writes the same series as JSON lines under the same name and place.
  app.get('/api/jobs/:jobID/loss', async (request, reply) => {
    const job = db.findJob((request.params as JobParams).jobID);
    if (!job) return nextJson(reply, { error: 'Job not found' }, 404);
    let text: string;
    try {
      text = await readFile(ctx.vfs.toReal(path.posix.join(jobFolder(job.name), 'loss_log.db')), 'utf8');
    } catch {
      return nextJson(reply, { keys: [], key: 'loss', points: [] });
    }
    const q = request.query as Record<string, string | undefined>;
    const key = q.key ?? 'loss';
    const limit = Math.min(Number(q.limit ?? 2000), 20000);
    const since = q.since_step != null ? Number(q.since_step) : null;
    const stride = Math.max(1, Number(q.stride ?? 1));
    const rows = text
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { step: number; wall_time: number; key: string; value: number });
    const keys = [...new Set(rows.map((r) => r.key))].sort();
    const points = rows
      .filter((r) => r.key === key && (since === null || r.step > since) && r.step % stride === 0)
      .sort((a, b) => a.step - b.step)
      .slice(0, limit)
      .map((r) => ({ step: r.step, wall_time: r.wall_time, value: r.value }));
    return nextJson(reply, { key, keys, points });
  });

  app.get('/api/queue', async (_request, reply) => nextJson(reply, { queues: db.listQueues('gpu_ids') }));

  app.get('/api/queue/:queueID/start', async (request, reply) => {
    const { queueID } = request.params as { queueID: string };
    const queue = db.findQueue(queueID);
    if (!queue) return nextJson(reply, db.createQueue(queueID, true));
    db.setQueueRunning(queue.id, true);
    return nextJson(reply, queue);
  });

  app.get('/api/queue/:queueID/stop', async (request, reply) => {
    const { queueID } = request.params as { queueID: string };
    const queue = db.findQueue(queueID);
    if (!queue) return nextJson(reply, { error: 'Queue not found' }, 404);
    db.setQueueRunning(queue.id, false);
    return nextJson(reply, queue);
  });
}
