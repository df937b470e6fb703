/**
 * The batched tracker carries a training's progress and news. Each run's own poll (the watchdog)
 * is set ten minutes out here, so everything these tests see within seconds — progress, the end
 * of training, a trainer failure, a cancel, a provider blip — went through the tracker's tick and
 * its hand-over to the step job. Without the tracker each test would wait out the watchdog.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { eq, sql } from 'drizzle-orm';
import { ADMIN_TOKEN, HAVE_FACES, facesForm, startHarness, waitFor, type Harness } from '../helpers/harness.js';
import { trainingRuns } from '../../src/db/schema.js';
import { recordProgress } from '../../src/db/training-runs.repo.js';
import { takeOverFromDeadWorkers } from '../../src/jobs/reconciler.js';

let h: Harness;
let token: string;

beforeAll(async () => {
  if (!HAVE_FACES) return;
  h = await startHarness({ LIKENESS_POLL_WATCHDOG_SECONDS: '600', LIKENESS_EMULATOR_TRAIN_SECONDS: '4', LIKENESS_POLL_SECONDS: '0.3' });
  const u = (await h.call('POST', '/v1/users', { token: ADMIN_TOKEN, body: {} })).body;
  token = u.token;
  await h.call('POST', `/v1/users/${u.id}/credits`, { token: ADMIN_TOKEN, body: { amount: 1_000_000, reason: 't' } });
});
afterAll(async () => {
  await h?.close();
});

async function startTraining(name: string): Promise<string> {
  const c = (await h.call('POST', '/v1/characters', { token, body: { name, autoTrain: false } })).body;
  expect((await h.call('POST', `/v1/characters/${c.id}/images`, { token, form: await facesForm('amy') })).status).toBe(201);
  const run = await h.call('POST', `/v1/characters/${c.id}/lora/train`, { token, body: {} });
  expect(run.status).toBe(202);
  return run.body.id;
}

const getRun = async (id: string) => (await h.call('GET', `/v1/training-runs/${id}`, { token })).body;

describe.skipIf(!HAVE_FACES)('batched training tracker', () => {
  it('reports progress while training and hands the finished job to its step at once', async () => {
    const id = await startTraining('tracked');
    const steps = new Set<number>();
    const done = await waitFor('run ready through the tracker', async () => {
      const r = await getRun(id);
      if (r.status === 'training' && r.progress.step > 0) steps.add(r.progress.step);
      return r.status === 'ready' ? r : null;
    }, 40_000, 100);
    // Several distinct steps seen: progress was written tick after tick, not once at the end.
    expect(steps.size).toBeGreaterThanOrEqual(2);
    expect(done.credits.charged).toBe(done.credits.price);
  });

  it('hands a trainer failure to the step, which fails the run and releases the credits', async () => {
    h.app.backend.emulator!.setFaults({ failNextJobs: 1 });
    const id = await startTraining('failing');
    const failed = await waitFor('run failed through the tracker', async () => {
      const r = await getRun(id);
      return r.status === 'failed' ? r : null;
    }, 40_000);
    expect(failed.error.message).toBeTruthy();
    expect(failed.credits.charged).toBe(0);
  });

  it('brings a cancel forward instead of waiting for the watchdog poll', async () => {
    const id = await startTraining('cancelled');
    await waitFor('run training', async () => (await getRun(id)).status === 'training', 30_000, 100);
    expect((await h.call('POST', `/v1/training-runs/${id}/cancel`, { token })).status).toBe(202);
    const r = await waitFor('run cancelled', async () => {
      const run = await getRun(id);
      return run.status === 'cancelled' ? run : null;
    }, 20_000);
    expect(r.credits.charged).toBe(0);
  });

  it('leaves a provider blip to the step job, whose backoff retries it to the end', async () => {
    const id = await startTraining('blip');
    await waitFor('run training', async () => (await getRun(id)).status === 'training', 30_000, 100);
    h.app.backend.emulator!.setFaults({ failNextRequests: 2 });
    const done = await waitFor('run ready after the blip', async () => {
      const r = await getRun(id);
      return r.status === 'ready' ? r : null;
    }, 60_000);
    expect(done.status).toBe('ready');
  });

  it('does not write progress read from an earlier attempt, or onto a run that moved on', async () => {
    const id = await startTraining('guarded');
    const db = h.app.database.db;
    const row = await waitFor('run training', async () => {
      const [r] = await db.select().from(trainingRuns).where(eq(trainingRuns.id, id));
      return r?.status === 'training' ? r : null;
    }, 30_000, 50);
    const update = { id, step: 7, totalSteps: row.totalSteps, secondsPerStep: null, etaSeconds: null, loss: null, progressMessage: 'stale' };
    expect(await recordProgress(db, [{ ...update, attempt: row.attempt + 1 }])).toBe(0);
    // A step that began a backoff after the tracker read the run keeps its fault count.
    await db.update(trainingRuns).set({ transientRetries: 2 }).where(eq(trainingRuns.id, id));
    expect(await recordProgress(db, [{ ...update, step: 1, progressMessage: null, attempt: row.attempt }])).toBe(1);
    const [inBackoff] = await db.select().from(trainingRuns).where(eq(trainingRuns.id, id));
    expect(inBackoff!.transientRetries).toBe(2);
    await db.update(trainingRuns).set({ transientRetries: 0 }).where(eq(trainingRuns.id, id));
    const done = await waitFor('run ready', async () => {
      const [r] = await db.select().from(trainingRuns).where(eq(trainingRuns.id, id));
      return r?.status === 'ready' ? r : null;
    }, 40_000);
    expect(await recordProgress(db, [{ ...update, attempt: done.attempt }])).toBe(0);
    const [after] = await db.select().from(trainingRuns).where(eq(trainingRuns.id, id));
    expect(after!.progressMessage).not.toBe('stale');
    expect(after!.version).toBe(done.version);
  });

  /** Waits until the tracker has written progress: by then the run's first poll has rescheduled itself to the watchdog. */
  async function trackedRun(name: string) {
    const id = await startTraining(name);
    await waitFor('progress from the tracker', async () => {
      const r = await getRun(id);
      return r.status === 'training' && r.progress.step > 0;
    }, 30_000, 50);
    return id;
  }

  it('hands the runs of a worker that stopped beating to a live one at once, not at the watchdog poll', async () => {
    const id = await trackedRun('orphaned');
    const db = h.app.database.db;
    // The run is held by a worker that never beats (killed); no tracker polls it now, and its
    // step's next poll is ten minutes out.
    await db.update(trainingRuns).set({ workerId: randomUUID() }).where(eq(trainingRuns.id, id));
    expect(await takeOverFromDeadWorkers(h.app.ctx)).toBe(1);
    const done = await waitFor('orphaned run ready', async () => {
      const r = await getRun(id);
      return r.status === 'ready' ? r : null;
    }, 30_000);
    expect(done.credits.charged).toBe(done.credits.price);
  });

  it('re-enqueues a run whose step job was lost', async () => {
    const id = await trackedRun('lost-job');
    const db = h.app.database.db;
    // An operator purged the queue: the run's waiting watchdog poll is gone.
    const purged = await db.execute(sql`delete from pgboss.job where singleton_key = ${id} and state = 'created' returning id`);
    expect((purged as unknown as { rows: unknown[] }).rows).toHaveLength(1);
    expect(await h.app.reconcile()).toBe(1);
    const done = await waitFor('re-enqueued run ready', async () => {
      const r = await getRun(id);
      return r.status === 'ready' ? r : null;
    }, 30_000);
    expect(done.credits.charged).toBe(done.credits.price);
  });
});
