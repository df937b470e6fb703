/**
 * The feedback API (PATCH /v1/images/:id looksLikeCharacter) with tenant isolation, the admin
 * metrics summary, GET /metrics with its two tokens, and `likeness metrics` against a real
 * Likeness over HTTP (PGlite, the GPU emulator).
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, HAVE_FACES, ROOT, facesForm, startHarness, waitFor, type Harness } from '../helpers/harness.js';

const METRICS_TOKEN = 'metrics-token-0123456789abcdef';
let h: Harness;
beforeAll(async () => {
  h = await startHarness({ LIKENESS_METRICS_TOKEN: METRICS_TOKEN, LIKENESS_GENERATION_POLL_SECONDS: '0.05' });
});
afterAll(async () => {
  await h?.close();
});

async function user() {
  const u = (await h.call('POST', '/v1/users', { token: ADMIN_TOKEN, body: {} })).body;
  await h.call('POST', `/v1/users/${u.id}/credits`, { token: ADMIN_TOKEN, body: { amount: 100_000, reason: 't' } });
  return u as { id: string; token: string };
}

describe.skipIf(!HAVE_FACES)('feedback and metrics over HTTP', () => {
  it('records one changeable answer per generated image, for its owner only', async () => {
    const a = await user();
    const b = await user();
    const character = (await h.call('POST', '/v1/characters', { token: a.token, body: { name: 'A', autoTrain: false } })).body;
    const sheet = (await h.call('POST', `/v1/characters/${character.id}/images`, { token: a.token, form: await facesForm() })).body.items;
    const created = await h.call('POST', '/v1/generations', { token: a.token, body: { characterId: character.id, prompt: 'a portrait', count: 2 } });
    expect(created.status).toBe(202);
    const done = await waitFor('generation', async () => {
      const r = (await h.call('GET', `/v1/generations/${created.body.id}`, { token: a.token })).body;
      return r.status === 'completed' || r.status === 'failed' ? r : null;
    }, 60_000, 100);
    expect(done.images.length).toBeGreaterThan(0);
    const image = done.images[0].id as string;

    const yes = await h.call('PATCH', `/v1/images/${image}`, { token: a.token, body: { looksLikeCharacter: true } });
    expect(yes.status).toBe(200);
    expect(yes.body).toMatchObject({ id: image, looksLikeCharacter: true, liked: false });
    // Changeable, independent of the like, and can be taken back.
    expect((await h.call('PATCH', `/v1/images/${image}`, { token: a.token, body: { liked: true } })).body).toMatchObject({ liked: true, looksLikeCharacter: true });
    expect((await h.call('PATCH', `/v1/images/${image}`, { token: a.token, body: { looksLikeCharacter: false } })).body).toMatchObject({ liked: true, looksLikeCharacter: false });
    const again = (await h.call('GET', `/v1/generations/${created.body.id}`, { token: a.token })).body;
    expect(again.images[0].looksLikeCharacter).toBe(false);

    // Another tenant gets a 404 and changes nothing.
    const stolen = await h.call('PATCH', `/v1/images/${image}`, { token: b.token, body: { looksLikeCharacter: true } });
    expect(stolen.status).toBe(404);
    expect(stolen.body.error.code).toBe('not_found');
    expect((await h.call('GET', `/v1/generations/${created.body.id}`, { token: a.token })).body.images[0].looksLikeCharacter).toBe(false);

    // A character-sheet image is the identity itself: no answer; an empty body is refused.
    const onSheet = await h.call('PATCH', `/v1/images/${sheet[0].id}`, { token: a.token, body: { looksLikeCharacter: true } });
    expect(onSheet.status).toBe(400);
    expect(onSheet.body.error.code).toBe('validation_failed');
    expect((await h.call('PATCH', `/v1/images/${image}`, { token: a.token, body: {} })).status).toBe(400);
    expect((await h.call('PATCH', `/v1/images/${image}`, { token: a.token, body: { looksLikeCharacter: 'yes' } })).status).toBe(400);

    // Emulated images never enter the metrics: the answer is stored but satisfaction has n = 0.
    const summary = await h.call('GET', '/v1/metrics/summary', { token: ADMIN_TOKEN });
    expect(summary.status).toBe(200);
    const satisfaction = summary.body.metrics.find((m: { key: string }) => m.key === 'satisfaction');
    expect(satisfaction).toMatchObject({ value: null, n: 0, meetsTarget: null, target: { direction: 'above', value: 0.8 } });
    expect(summary.body.satisfaction.byMethod[done.images[0].method]).toMatchObject({ n: 0, value: null });

    const prom = await h.call('GET', '/metrics', { token: METRICS_TOKEN });
    expect(prom.body).toContain(`likeness_image_feedback{method="${done.images[0].method}",answer="no"} 1`);
  });

  it('serves the summary to the admin only, with six metrics and a validated window', async () => {
    const a = await user();
    expect((await h.call('GET', '/v1/metrics/summary', { token: a.token })).status).toBe(403);
    const s = await h.call('GET', '/v1/metrics/summary?from=2026-01-01T00:00:00Z&to=2027-01-01T00:00:00Z', { token: ADMIN_TOKEN });
    expect(s.status).toBe(200);
    expect(s.body.metrics.map((m: { key: string }) => m.key)).toEqual(['adoption', 'completion', 'trainingTime', 'faceConsistency', 'satisfaction', 'generationSuccess']);
    expect(s.body.window).toEqual({ from: '2026-01-01T00:00:00.000Z', to: '2027-01-01T00:00:00.000Z' });
    expect((await h.call('GET', '/v1/metrics/summary?from=yesterday', { token: ADMIN_TOKEN })).status).toBe(400);
    expect((await h.call('GET', '/v1/metrics/summary?from=2027-01-01T00:00:00Z&to=2026-01-01T00:00:00Z', { token: ADMIN_TOKEN })).status).toBe(400);
  });

  it('serves Prometheus text to the admin token or the metrics token only', async () => {
    const a = await user();
    expect((await h.call('GET', '/metrics')).status).toBe(401);
    expect((await h.call('GET', '/metrics', { token: a.token })).status).toBe(403);
    for (const token of [ADMIN_TOKEN, METRICS_TOKEN]) {
      const r = await h.call('GET', '/metrics', { token });
      expect(r.status).toBe(200);
      expect(r.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
      expect(r.body).toMatch(/^# TYPE likeness_training_runs gauge$/m);
      expect(r.body).toMatch(/^# TYPE likeness_training_duration_seconds histogram$/m);
    }
  });

  it('`likeness metrics` prints the six rows with their targets', async () => {
    // Asynchronously: the server answering the CLI runs in this process.
    const res = await promisify(execFile)(process.execPath, [path.join(ROOT, 'bin/likeness.mjs'), 'metrics', '--url', h.url, '--token', ADMIN_TOKEN], { cwd: ROOT, encoding: 'utf8' });
    const lines = res.stdout.split('\n');
    for (const [label, target] of [
      ['Adoption', '> 60%'],
      ['Training completion', '> 90%'],
      ['Training time', '< 2.00 h'],
      ['Face consistency', '> 95%'],
      ['User satisfaction', '> 80%'],
      ['Generation success with a LoRA', '> 95%'],
    ] as const) {
      const row = lines.find((l) => l.startsWith(label));
      expect(row, `${label} row in:\n${res.stdout}`).toBeTruthy();
      expect(row).toContain(target);
    }
  });
});

describe('retention over HTTP', () => {
  it('`likeness retention --dry-run` reports through the admin API; users are refused', async () => {
    const a = await user();
    expect((await h.call('GET', '/v1/admin/retention', { token: a.token })).status).toBe(403);
    expect((await h.call('POST', '/v1/admin/retention', { token: a.token })).status).toBe(403);
    const res = await promisify(execFile)(process.execPath, [path.join(ROOT, 'bin/likeness.mjs'), 'retention', '--dry-run', '--url', h.url, '--token', ADMIN_TOKEN], { cwd: ROOT, encoding: 'utf8' });
    expect(res.stdout).toContain('Keeping the last 3 LoRA versions per character and base model (never the active one) and datasets for 30 days.');
    expect(res.stdout).toMatch(/^Would remove 0 LoRA version\(s\) and 0 dataset\(s\): 0 bytes/m);
  });
});
