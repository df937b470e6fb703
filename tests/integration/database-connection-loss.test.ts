/**
 * PostgreSQL drops connections (a restart, a failover, an operator's pg_terminate_backend): the
 * process must live on and the next request must work, on both the app's pool and the queue's.
 * Only meaningful on a server, so it runs in the PostgreSQL pass (LIKENESS_TEST_DATABASE_URL).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { ADMIN_TOKEN, HAVE_FACES, facesForm, startHarness, waitFor, type Harness } from '../helpers/harness.js';

const server = process.env.LIKENESS_TEST_DATABASE_URL;
let h: Harness;

beforeAll(async () => {
  if (server) h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

describe.skipIf(!server || !HAVE_FACES)('losing database connections', () => {
  it('survives the server terminating every connection, and trains afterwards', async () => {
    const u = (await h.call('POST', '/v1/users', { token: ADMIN_TOKEN, body: {} })).body;
    await h.call('POST', `/v1/users/${u.id}/credits`, { token: ADMIN_TOKEN, body: { amount: 100_000, reason: 't' } });
    const c = (await h.call('POST', '/v1/characters', { token: u.token, body: { name: 'amy', autoTrain: false } })).body;
    expect((await h.call('POST', `/v1/characters/${c.id}/images`, { token: u.token, form: await facesForm('amy') })).status).toBe(201);

    // Fill the app's pool with idle connections, then terminate every connection to this database
    // from outside: the app's pooled ones and the queue's.
    const db = h.app.database.db;
    await Promise.all(Array.from({ length: 6 }, () => db.execute(sql`SELECT pg_sleep(0.05)`)));
    const name = ((await db.execute(sql`SELECT current_database() AS name`)) as unknown as { rows: { name: string }[] }).rows[0]!.name;
    const { default: pg } = await import('pg');
    const outside = new pg.Client({ connectionString: server });
    await outside.connect();
    const killed = await outside.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1', [name]);
    await outside.end();
    expect(killed.rows.length).toBeGreaterThanOrEqual(6);
    // The dropped connections' errors arrive asynchronously; give them a moment to land.
    await new Promise((r) => setTimeout(r, 500));

    expect((await h.call('GET', '/health')).status).toBe(200);
    const run = await h.call('POST', `/v1/characters/${c.id}/lora/train`, { token: u.token, body: {} });
    expect(run.status).toBe(202);
    const done = await waitFor('run ready after the connections were lost', async () => {
      const r = (await h.call('GET', `/v1/training-runs/${run.body.id}`, { token: u.token })).body;
      return r.status === 'ready' ? r : null;
    }, 60_000);
    expect(done.credits.charged).toBe(done.credits.price);
  });
});
