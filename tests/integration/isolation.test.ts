/**
 * Tenant isolation over every route that takes an id, derived from the OpenAPI document so a
 * new route cannot be added without a case here; plus admin-only routes and Idempotency-Key.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, HAVE_FACES, facesForm, startHarness, waitFor, type Harness } from '../helpers/harness.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

async function user(credits = 100_000) {
  const u = (await h.call('POST', '/v1/users', { token: ADMIN_TOKEN, body: {} })).body;
  await h.call('POST', `/v1/users/${u.id}/credits`, { token: ADMIN_TOKEN, body: { amount: credits, reason: 't' } });
  return u as { id: string; token: string };
}

describe.skipIf(!HAVE_FACES)('tenant isolation and request safety', () => {
  it("gives user B a 404 for every one of user A's objects, on every route with an id, and changes nothing", async () => {
    const a = await user();
    const b = await user();
    const character = (await h.call('POST', '/v1/characters', { token: a.token, body: { name: 'A' } })).body;
    const images = (await h.call('POST', `/v1/characters/${character.id}/images`, { token: a.token, form: await facesForm() })).body.items;
    const run = (await h.call('POST', `/v1/characters/${character.id}/lora/train`, { token: a.token, body: {} })).body;
    const ready = await waitFor('ready', async () => {
      const r = (await h.call('GET', `/v1/training-runs/${run.id}`, { token: a.token })).body;
      return r.status === 'ready' ? r : null;
    });
    const notification = (await h.call('GET', '/v1/notifications', { token: a.token })).body.items[0];
    const generation = (await h.call('POST', '/v1/generations', { token: a.token, body: { characterId: character.id, prompt: 'a portrait' } })).body;
    const idsByPrefix: Record<string, string> = {
      '/v1/characters/{id}': character.id,
      '/v1/images/{id}': images[0].id,
      '/v1/training-runs/{id}': run.id,
      '/v1/lora-models/{id}': ready.loraModelId,
      '/v1/notifications/{id}': notification.id,
      '/v1/generations/{id}': generation.id,
    };
    const adminPrefixes = ['/v1/users/{id}', '/v1/admin/'];
    const bodies: Record<string, unknown> = {
      'PATCH /v1/characters/{id}': { name: 'stolen' },
      'PATCH /v1/characters/{id}/lora': { enabled: false },
      'PATCH /v1/images/{id}': { liked: true },
      'POST /v1/characters/{id}/lora/train': {},
      'POST /v1/users/{id}/credits': { amount: 5, reason: 'x' },
    };

    const doc = (await h.call('GET', '/openapi.json')).body as { paths: Record<string, Record<string, unknown>> };
    let checked = 0;
    for (const [p, ops] of Object.entries(doc.paths)) {
      if (!p.includes('{id}')) continue;
      for (const method of Object.keys(ops)) {
        const verb = method.toUpperCase();
        const admin = adminPrefixes.find((x) => p.startsWith(x));
        const prefix = Object.keys(idsByPrefix).find((x) => p.startsWith(x));
        expect(admin ?? prefix, `no isolation case for ${verb} ${p}: add one`).toBeTruthy();
        const url = p.replace('{id}', admin ? a.id : idsByPrefix[prefix!]!);
        const key = `${verb} ${p}`;
        const res = await h.call(verb, url, { token: b.token, body: bodies[key] ?? (verb === 'GET' || verb === 'DELETE' ? undefined : {}) });
        if (admin) expect(res.status, key).toBe(403);
        else expect([404], `${key} answered ${res.status}`).toContain(res.status);
        if (!admin) expect(res.body.error.code, key).toBe('not_found');
        checked++;
      }
    }
    expect(checked).toBeGreaterThanOrEqual(15);

    // Nothing of A's changed.
    const after = (await h.call('GET', `/v1/characters/${character.id}`, { token: a.token })).body;
    expect(after.name).toBe('A');
    expect(after.loraStatus.enabled).toBe(true);
    expect((await h.call('GET', `/v1/characters/${character.id}/lora/versions`, { token: a.token })).body.items).toHaveLength(1);
    expect((await h.call('GET', '/v1/me', { token: a.token })).body.credits.available).toBe(100_000 - 20_000);
    expect((await h.call('GET', '/v1/me', { token: b.token })).body.credits.available).toBe(100_000);
  });

  it('replays a retried training request with the same Idempotency-Key and refuses a different body', async () => {
    const a = await user();
    const character = (await h.call('POST', '/v1/characters', { token: a.token, body: { name: 'Idem' } })).body;
    await h.call('POST', `/v1/characters/${character.id}/images`, { token: a.token, form: await facesForm('sheldon') });
    const headers = { 'idempotency-key': 'train-42' };
    const first = await h.call('POST', `/v1/characters/${character.id}/lora/train`, { token: a.token, body: {}, headers });
    const again = await h.call('POST', `/v1/characters/${character.id}/lora/train`, { token: a.token, body: {}, headers });
    expect(first.status).toBe(202);
    expect(again.status).toBe(202);
    expect(again.body.id).toBe(first.body.id);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    const other = await h.call('POST', `/v1/characters/${character.id}/lora/train`, { token: a.token, body: { baseModel: 'flux-dev' }, headers });
    expect(other.status).toBe(409);
    expect((await h.call('GET', `/v1/characters/${character.id}/training-runs`, { token: a.token })).body.items).toHaveLength(1);
    expect((await h.call('GET', '/v1/me', { token: a.token })).body.credits.reserved).toBe(20_000);
    const bad = await h.call('POST', `/v1/characters/${character.id}/lora/train`, { token: a.token, body: {}, headers: { 'idempotency-key': 'has spaces' } });
    expect(bad.status).toBe(400);
  });

  it('refuses user tokens on admin routes and unsigned or tampered storage URLs', async () => {
    const a = await user();
    expect((await h.call('POST', '/v1/users', { token: a.token, body: {} })).status).toBe(403);
    expect((await h.call('POST', `/v1/users/${a.id}/credits`, { token: a.token, body: { amount: 1, reason: 'x' } })).status).toBe(403);
    for (const [verb, p, body] of [
      ['GET', '/v1/admin/webhook-deliveries', undefined],
      ['GET', '/v1/admin/gpu-budget', undefined],
      ['PUT', '/v1/admin/gpu-budget', { dailyUsd: 0 }],
      ['GET', '/v1/admin/retention', undefined],
      ['POST', '/v1/admin/retention', {}],
    ] as const) {
      const res = await h.call(verb, p, { token: a.token, body });
      expect(res.status, `${verb} ${p}`).toBe(403);
      expect(res.body.error.code, `${verb} ${p}`).toBe('forbidden');
    }
    expect((await h.call('GET', '/v1/storage/characters/x/images/y.jpg')).status).toBe(403);
    const signed = await h.app.ctx.store.presign('characters/x/images/y.jpg', 'GET', 60);
    const retargeted = signed.replace('/y.jpg', '/z.jpg').slice(h.url.length);
    expect((await h.call('GET', retargeted)).status).toBe(403);
    expect((await h.call('GET', '/v1/storage/..%2F..%2Fetc%2Fpasswd?method=GET&expires=9999999999&sig=x')).status).toBe(404);
  });
});
