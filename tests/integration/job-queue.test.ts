/**
 * The job queue on a real embedded database (pg-boss on PGlite). Its polling interval is set to
 * 30 s here, far beyond every wait below: whatever these tests see within seconds was done by the
 * queue's own wake-ups, not by pg-boss's next poll.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../../src/db/database.js';
import { JobQueue } from '../../src/queue/job-queue.js';
import { waitFor } from '../helpers/harness.js';

const QUEUE = 'queue-test';
let database: Database;
let queue: JobQueue;
const handled: string[] = [];

beforeAll(async () => {
  database = await openDatabase({ dataDir: 'memory://' });
  queue = new JobQueue(database.boss, { pollingIntervalSeconds: 30 });
  await queue.start([{ name: QUEUE, expireInSeconds: 60, retryLimit: 0, retryDelaySeconds: 1 }]);
});

afterAll(async () => {
  await queue?.stop({ graceful: false });
  await database?.close();
});

describe('job queue', () => {
  it('drains a backlog back to back instead of one job per polling interval', async () => {
    // Due before any handler exists, so no wake-up was scheduled for them: only the handler's
    // own "found one, ask again" can reach the second job before the 30 s poll.
    const keys = ['b1', 'b2', 'b3', 'b4', 'b5', 'b6'];
    for (const key of keys) await queue.send(QUEUE, { key }, { key });
    await queue.work<{ key: string }>(QUEUE, 1, async (job) => {
      handled.push(job.data.key);
    });
    await waitFor('the whole backlog handled', async () => keys.every((k) => handled.includes(k)), 10_000, 50);
    expect(handled.filter((k) => keys.includes(k)).sort()).toEqual(keys);
  });

  it('tells which keys have a job not yet finished, in one call', async () => {
    await queue.send(QUEUE, { key: 'later-1' }, { key: 'later-1', startAfterSeconds: 3600 });
    await queue.send(QUEUE, { key: 'later-2' }, { key: 'later-2', startAfterSeconds: 3600 });
    const pending = await queue.keysWithPendingJobs(QUEUE, ['later-1', 'later-2', 'b1', 'never-sent']);
    // b1 was handled (completed) in the test above; never-sent has no job at all.
    expect([...pending].sort()).toEqual(['later-1', 'later-2']);
    expect(await queue.keysWithPendingJobs(QUEUE, [])).toEqual(new Set());
  });

  it('makes a waiting job due now (hurry), and only a waiting one', async () => {
    expect(await queue.hurry(QUEUE, 'later-1')).toBe(1);
    await waitFor('the hurried job handled', async () => handled.includes('later-1'), 10_000, 50);
    expect(handled).not.toContain('later-2');
    // Nothing is waiting for a key whose job already ran.
    expect(await queue.hurry(QUEUE, 'later-1')).toBe(0);
    expect(await queue.pendingCount(QUEUE, 'later-2')).toBe(1);
  });
});
