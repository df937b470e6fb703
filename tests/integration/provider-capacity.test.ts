/**
 * The provider's concurrency limit (LIKENESS_MAX_PROVIDER_RUNS) through the real process: with one
 * slot, three trainings started together run one after another in the order they were started,
 * the waiting ones held in `queued` with their reason, and each is charged once when ready.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asc, inArray } from 'drizzle-orm';
import { runEvents } from '../../src/db/schema.js';
import { ADMIN_TOKEN, HAVE_FACES, facesForm, startHarness, waitFor, type Harness } from '../helpers/harness.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ LIKENESS_MAX_PROVIDER_RUNS: '1' });
});
afterAll(async () => {
  await h?.close();
});

describe.skipIf(!HAVE_FACES)('provider concurrency limit', () => {
  it('runs trainings one at a time, first come first served, holding the others in the queue', async () => {
    const u = (await h.call('POST', '/v1/users', { token: ADMIN_TOKEN, body: {} })).body;
    await h.call('POST', `/v1/users/${u.id}/credits`, { token: ADMIN_TOKEN, body: { amount: 500_000, reason: 't' } });
    const runIds: string[] = [];
    for (const person of ['amy', 'leonard', 'penny']) {
      const c = (await h.call('POST', '/v1/characters', { token: u.token, body: { name: person, autoTrain: false } })).body;
      await h.call('POST', `/v1/characters/${c.id}/images`, { token: u.token, form: await facesForm(person) });
      const run = await h.call('POST', `/v1/characters/${c.id}/lora/train`, { token: u.token, body: {} });
      expect(run.status).toBe(202);
      runIds.push(run.body.id);
    }
    const held = await waitFor('the last run held for a slot', async () => {
      const r = (await h.call('GET', `/v1/training-runs/${runIds[2]}`, { token: u.token })).body;
      return r.waitReason === 'provider_capacity' ? r : null;
    });
    expect(held.status).toBe('queued');
    expect(held.progress.message).toMatch(/1 of 1 training slots are busy/);
    expect(held.credits.charged).toBe(0);

    const done = [];
    for (const id of runIds) {
      done.push(
        await waitFor(`run ${id} ready`, async () => {
          const r = (await h.call('GET', `/v1/training-runs/${id}`, { token: u.token })).body;
          return r.status === 'ready' ? r : null;
        }, 60_000),
      );
    }
    for (const r of done) expect(r.credits.charged).toBe(r.credits.price);

    // From the transition log: each run left `queued` only after the one before it was ready.
    const events = await h.app.database.db.select().from(runEvents).where(inArray(runEvents.runId, runIds)).orderBy(asc(runEvents.id));
    const at = (runId: string, to: string) => events.find((e) => e.runId === runId && e.toStatus === to)!.at.getTime();
    for (let i = 1; i < runIds.length; i++) {
      expect(at(runIds[i]!, 'preparing')).toBeGreaterThanOrEqual(at(runIds[i - 1]!, 'ready'));
    }
    const me = (await h.call('GET', '/v1/me', { token: u.token })).body.credits;
    expect(me.reserved).toBe(0);
  });
});
