/**
 * The spine end to end on embedded defaults: a real Likeness (PGlite, local storage, the GPU
 * emulator over HTTP through the real RunPod + AI Toolkit adapter) driven through its HTTP API.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, FACES, HAVE_FACES, facesForm, safetensorsHeader, startHarness, waitFor, type Harness } from '../helpers/harness.js';

let h: Harness;
const admin = { token: ADMIN_TOKEN };

beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

async function newUserWithCredits(amount: number) {
  const u = await h.call('POST', '/v1/users', { ...admin, body: { name: 'test' } });
  expect(u.status).toBe(201);
  const g = await h.call('POST', `/v1/users/${u.body.id}/credits`, { ...admin, body: { amount, reason: 'test grant' } });
  expect(g.status).toBe(200);
  return u.body as { id: string; token: string };
}

async function characterWithImages(token: string, name: string) {
  const c = await h.call('POST', '/v1/characters', { token, body: { name } });
  expect(c.status).toBe(201);
  const up = await h.call('POST', `/v1/characters/${c.body.id}/images`, { token, form: await facesForm() });
  expect(up.status).toBe(201);
  expect(up.body.items).toHaveLength(5);
  return c.body as { id: string; triggerWord: string };
}

async function waitForRun(token: string, runId: string, states: string[], timeoutMs = 30_000) {
  return waitFor(`run ${runId} in ${states.join('/')}`, async () => {
    const r = await h.call('GET', `/v1/training-runs/${runId}`, { token });
    return states.includes(r.body.status) ? r.body : null;
  }, timeoutMs);
}

describe.skipIf(!HAVE_FACES)('LoRA lifecycle on embedded defaults', () => {
  it('takes a completed character sheet to a verified, downloadable LoRA with credits captured once', async () => {
    const user = await newUserWithCredits(100_000);
    const character = await characterWithImages(user.token, 'Amy');
    expect(character.triggerWord).toMatch(/^[a-z]+$/);

    const complete = await h.call('POST', `/v1/characters/${character.id}/character-sheet/complete`, { token: user.token });
    expect(complete.status).toBe(200);
    expect(complete.body.training.started).toBe(true);
    const runId = complete.body.run.id as string;
    const price = 15_000 + 5 * 1_000;
    expect(complete.body.run.credits.price).toBe(price);

    const me = await h.call('GET', '/v1/me', { token: user.token });
    expect(me.body.credits).toMatchObject({ available: 100_000 - price, reserved: price });

    // Progress is visible while training: some poll sees a step between 0 and the total.
    const seen = new Set<string>();
    let sawProgress = false;
    const ready = await waitFor('ready', async () => {
      const r = await h.call('GET', `/v1/training-runs/${runId}`, { token: user.token });
      seen.add(r.body.status);
      if (r.body.status === 'training' && r.body.progress.step > 0 && r.body.progress.step < r.body.progress.totalSteps) sawProgress = true;
      if (r.body.status === 'failed') throw new Error(`run failed: ${r.body.error?.message}`);
      return r.body.status === 'ready' ? r.body : null;
    }, 30_000, 100);
    expect(sawProgress).toBe(true);
    expect(ready.progress.step).toBe(ready.progress.totalSteps);
    expect(ready.credits).toMatchObject({ charged: price, refunded: 0, reserved: 0 });
    expect(ready.emulated).toBe(true);

    const events = await h.call('GET', `/v1/training-runs/${runId}/events`, { token: user.token });
    expect(events.body.items.map((e: { to: string }) => e.to)).toEqual(['preparing', 'submitting', 'training', 'finalizing', 'ready']);

    const lora = await h.call('GET', `/v1/characters/${character.id}/lora`, { token: user.token });
    expect(lora.body).toMatchObject({ enabled: true, strength: 1, currentRun: null });
    expect(lora.body.activeVersion).toMatchObject({ id: ready.loraModelId, version: 1, baseModel: 'zimage-turbo', rank: 2, emulated: true });

    const dl = await h.call('GET', `/v1/lora-models/${ready.loraModelId}/download`, { token: user.token });
    expect(dl.status).toBe(302);
    const file = Buffer.from(await (await fetch(dl.headers.get('location')!)).arrayBuffer());
    const header = safetensorsHeader(file);
    const keys = Object.keys(header.tensors);
    expect(keys.length).toBe(480); // Z-Image Turbo: 30 layers x 8 modules x (A, B)
    expect(keys.every((k) => k.startsWith('diffusion_model.layers.'))).toBe(true);
    expect(header.tensors['diffusion_model.layers.0.attention.to_q.lora_A.weight']!.shape).toEqual([2, 3840]);
    expect(header.metadata.ss_base_model_version).toBe('zimage');

    const after = await h.call('GET', '/v1/me', { token: user.token });
    expect(after.body.credits).toMatchObject({ available: 100_000 - price, reserved: 0 });

    const notes = await h.call('GET', '/v1/notifications', { token: user.token });
    const types = notes.body.items.map((n: { type: string }) => n.type);
    expect(types).toContain('lora.training.started');
    expect(types).toContain('lora.training.completed');
    expect(notes.body.items.find((n: { type: string }) => n.type === 'lora.training.completed').title).toBe('LoRA Training Complete');
  });

  it('fails a run on a trainer error, releases the credits, and retries it for free', async () => {
    const user = await newUserWithCredits(100_000);
    const character = await characterWithImages(user.token, 'Penny');
    h.app.backend.emulator!.setFaults({ failNextJobs: 1 });
    const start = await h.call('POST', `/v1/characters/${character.id}/lora/train`, { token: user.token, body: {} });
    expect(start.status).toBe(202);
    const failed = await waitForRun(user.token, start.body.id, ['failed', 'ready']);
    expect(failed.status).toBe('failed');
    expect(failed.error.message).toBeTruthy();
    expect(failed.credits).toMatchObject({ charged: 0, reserved: 0, refunded: 20_000 });
    expect((await h.call('GET', '/v1/me', { token: user.token })).body.credits).toMatchObject({ available: 100_000, reserved: 0 });

    const notes = await h.call('GET', '/v1/notifications', { token: user.token });
    const failure = notes.body.items.find((n: { type: string }) => n.type === 'lora.training.failed');
    expect(failure.title).toBe('LoRA Training Failed');
    expect(failure.body).toContain('Retry for free in settings');

    const q = await h.call('GET', `/v1/characters/${character.id}/lora/quote`, { token: user.token });
    expect(q.body).toMatchObject({ free: true, charge: 0, total: 20_000 });

    const retry = await h.call('POST', `/v1/characters/${character.id}/lora/train`, { token: user.token, body: {} });
    expect(retry.status).toBe(202);
    expect(retry.body.credits).toMatchObject({ price: 0, free: true });
    const ready = await waitForRun(user.token, retry.body.id, ['ready', 'failed']);
    expect(ready.status).toBe('ready');
    expect((await h.call('GET', '/v1/me', { token: user.token })).body.credits).toMatchObject({ available: 100_000, reserved: 0 });
    // The free retry is used up: the next training is charged again.
    const q2 = await h.call('GET', `/v1/characters/${character.id}/lora/quote`, { token: user.token });
    expect(q2.body.free).toBe(false);
  });

  it('refuses what it cannot do with clear errors and changes nothing', async () => {
    const poor = await newUserWithCredits(1_000);
    const c = await characterWithImages(poor.token, 'Raj');
    const noCredits = await h.call('POST', `/v1/characters/${c.id}/lora/train`, { token: poor.token, body: {} });
    expect(noCredits.status).toBe(402);
    expect(noCredits.body.error.code).toBe('insufficient_credits');
    const sheet = await h.call('POST', `/v1/characters/${c.id}/character-sheet/complete`, { token: poor.token });
    expect(sheet.body.training).toMatchObject({ started: false, reason: 'insufficient_credits' });
    expect((await h.call('GET', `/v1/characters/${c.id}/training-runs`, { token: poor.token })).body.items).toHaveLength(0);
    expect((await h.call('GET', '/v1/me', { token: poor.token })).body.credits).toMatchObject({ available: 1_000, reserved: 0 });

    const rich = await newUserWithCredits(100_000);
    const few = await h.call('POST', '/v1/characters', { token: rich.token, body: { name: 'Few' } });
    const form = await facesForm('howard', 3);
    await h.call('POST', `/v1/characters/${few.body.id}/images`, { token: rich.token, form });
    const tooFew = await h.call('POST', `/v1/characters/${few.body.id}/lora/train`, { token: rich.token, body: {} });
    expect(tooFew.status).toBe(422);
    expect(tooFew.body.error.code).toBe('not_enough_images');

    const c2 = await characterWithImages(rich.token, 'Sheldon');
    const first = await h.call('POST', `/v1/characters/${c2.id}/lora/train`, { token: rich.token, body: {} });
    expect(first.status).toBe(202);
    const second = await h.call('POST', `/v1/characters/${c2.id}/lora/train`, { token: rich.token, body: {} });
    expect(second.status).toBe(409);
    expect(second.body.error.code).toBe('run_already_active');
    // Cancel the first: the provider job stops and the reservation is released.
    const cancel = await h.call('POST', `/v1/training-runs/${first.body.id}/cancel`, { token: rich.token });
    expect(cancel.status).toBe(202);
    const cancelled = await waitForRun(rich.token, first.body.id, ['cancelled']);
    expect(cancelled.credits.reserved).toBe(0);
    expect((await h.call('GET', '/v1/me', { token: rich.token })).body.credits).toMatchObject({ available: 100_000, reserved: 0 });

    // A group photo is kept with its verdict but never trained on.
    const group = new FormData();
    group.append('files', new Blob([await readFile(path.join(FACES, 'group', 'bbt1.jpg'))], { type: 'image/jpeg' }), 'bbt1.jpg');
    const up = await h.call('POST', `/v1/characters/${c2.id}/images`, { token: rich.token, form: group });
    expect(up.status).toBe(201);
    expect(up.body.items[0].check.status).toBe('rejected');
    expect(up.body.items[0].check.reasons.map((r: { code: string }) => r.code)).toContain('multiple_faces');
    expect(first.body.imageIds).not.toContain(up.body.items[0].id);
    const explicit = await h.call('POST', `/v1/characters/${c2.id}/lora/train`, { token: rich.token, body: { imageIds: [up.body.items[0].id] } });
    expect(explicit.status).toBe(400);
    expect(explicit.body.error.code).toBe('validation_failed');

    const notImage = new FormData();
    notImage.append('files', new Blob([Buffer.from('not an image at all')], { type: 'image/png' }), 'x.png');
    const bad = await h.call('POST', `/v1/characters/${c2.id}/images`, { token: rich.token, form: notImage });
    expect(bad.status).toBe(415);
    expect(bad.body.error).toMatchObject({ code: 'unsupported_media_type' });

    const other = await h.call('GET', `/v1/characters/${c2.id}`, { token: poor.token });
    expect(other.status).toBe(404);
    const noAuth = await h.call('GET', '/v1/me');
    expect(noAuth.status).toBe(401);
    const userOnAdmin = await h.call('POST', '/v1/users', { token: rich.token, body: {} });
    expect(userOnAdmin.status).toBe(403);
    const badBody = await h.call('POST', '/v1/characters', { token: rich.token, body: { name: '' } });
    expect(badBody.status).toBe(400);
    expect(badBody.body.error.code).toBe('validation_failed');
  });
});
