/**
 * Per-user limits through the HTTP API: each refusal is a 429 with its code and sentence, and
 * changes nothing (no run row, no credit reservation, no generation row).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eq, sql } from 'drizzle-orm';
import { generations } from '../../src/db/schema.js';
import { ADMIN_TOKEN, HAVE_FACES, facesForm, startHarness, waitFor, type Harness } from '../helpers/harness.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness({
    LIKENESS_MAX_TRAININGS_PER_DAY: '2',
    LIKENESS_MAX_CONCURRENT_TRAININGS: '1',
    LIKENESS_MAX_GENERATIONS_PER_MINUTE: '2',
    LIKENESS_GENERATION_POLL_SECONDS: '0.05',
  });
});
afterAll(async () => {
  await h?.close();
});

async function user() {
  const u = (await h.call('POST', '/v1/users', { token: ADMIN_TOKEN, body: {} })).body;
  await h.call('POST', `/v1/users/${u.id}/credits`, { token: ADMIN_TOKEN, body: { amount: 200_000, reason: 't' } });
  return u as { id: string; token: string };
}

async function character(token: string, person: string) {
  const c = (await h.call('POST', '/v1/characters', { token, body: { name: person, autoTrain: false } })).body;
  await h.call('POST', `/v1/characters/${c.id}/images`, { token, form: await facesForm(person) });
  return c.id as string;
}

async function ready(token: string, runId: string) {
  await waitFor(`run ${runId} ready`, async () => (await h.call('GET', `/v1/training-runs/${runId}`, { token })).body.status === 'ready', 60_000);
}

describe.skipIf(!HAVE_FACES)('per-user limits', () => {
  it('refuses a second training at once and a third in a day, changing nothing', async () => {
    const u = await user();
    const [c1, c2, c3] = [await character(u.token, 'amy'), await character(u.token, 'sheldon'), await character(u.token, 'penny')];
    const first = await h.call('POST', `/v1/characters/${c1}/lora/train`, { token: u.token, body: {} });
    expect(first.status).toBe(202);
    const before = (await h.call('GET', '/v1/me', { token: u.token })).body.credits;

    const second = await h.call('POST', `/v1/characters/${c2}/lora/train`, { token: u.token, body: {} });
    expect(second.status).toBe(429);
    expect(second.body.error.code).toBe('concurrent_training_limit');
    expect(second.body.error.message).toMatch(/in progress/);
    expect((await h.call('GET', `/v1/characters/${c2}/training-runs`, { token: u.token })).body.items).toHaveLength(0);
    expect((await h.call('GET', '/v1/me', { token: u.token })).body.credits).toEqual(before);

    await ready(u.token, first.body.id);
    const again = await h.call('POST', `/v1/characters/${c2}/lora/train`, { token: u.token, body: {} });
    expect(again.status).toBe(202);
    await ready(u.token, again.body.id);
    const afterTwo = (await h.call('GET', '/v1/me', { token: u.token })).body.credits;

    const third = await h.call('POST', `/v1/characters/${c3}/lora/train`, { token: u.token, body: {} });
    expect(third.status).toBe(429);
    expect(third.body.error.code).toBe('daily_training_limit');
    expect(third.body.error.message).toMatch(/daily limit \(2\)/);
    expect(third.headers.get('retry-after')).toBe('3600');
    expect((await h.call('GET', `/v1/characters/${c3}/training-runs`, { token: u.token })).body.items).toHaveLength(0);
    expect((await h.call('GET', '/v1/me', { token: u.token })).body.credits).toEqual(afterTwo);

    // Completing a sheet still completes it; the limit is the reason training did not start.
    await h.call('PATCH', `/v1/characters/${c3}`, { token: u.token, body: { autoTrain: true } });
    const sheet = await h.call('POST', `/v1/characters/${c3}/character-sheet/complete`, { token: u.token });
    expect(sheet.status).toBe(200);
    expect(sheet.body.training).toEqual({ started: false, reason: 'daily_training_limit' });

    // Another user is not affected.
    const other = await user();
    const theirs = await character(other.token, 'amy');
    expect((await h.call('POST', `/v1/characters/${theirs}/lora/train`, { token: other.token, body: {} })).status).toBe(202);
  });

  it('refuses generations past the per-minute limit without creating one', async () => {
    const u = await user();
    const c = await character(u.token, 'leonard');
    const body = { characterId: c, prompt: 'a portrait' };
    expect((await h.call('POST', '/v1/generations', { token: u.token, body })).status).toBe(202);
    expect((await h.call('POST', '/v1/generations', { token: u.token, body })).status).toBe(202);
    const third = await h.call('POST', '/v1/generations', { token: u.token, body });
    expect(third.status).toBe(429);
    expect(third.body.error.code).toBe('generation_rate_limited');
    expect(third.headers.get('retry-after')).toBe('60');
    const [row] = await h.app.ctx.db.select({ n: sql<number>`count(*)::int` }).from(generations).where(eq(generations.ownerId, u.id));
    expect(Number(row!.n)).toBe(2);
  });
});
