/**
 * Issue #12: Likeness driving an AI Toolkit UI that is already running (here the emulator's
 * standalone AI Toolkit part, which answers as the real UI does), through the product's API.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type RunningEmulator } from '../../src/emulator/index.js';
import { providerJobName } from '../../src/jobs/submit.step.js';
import { ADMIN_TOKEN, HAVE_FACES, facesForm, startHarness, waitFor, type Harness } from '../helpers/harness.js';

let emu: RunningEmulator;
let h: Harness;
let emuDir: string;
const AITK_TOKEN = 'aitk-token-for-tests';

beforeAll(async () => {
  emuDir = await mkdtemp(path.join(tmpdir(), 'likeness-aitk-'));
  emu = await startEmulator({ dataDir: emuDir, trainSeconds: 6, aitkToken: AITK_TOKEN });
  h = await startHarness({
    LIKENESS_TRAINING_BACKEND: 'aitoolkit',
    LIKENESS_AITOOLKIT_URL: emu.aitkUrl,
    LIKENESS_AITOOLKIT_TOKEN: AITK_TOKEN,
    LIKENESS_AITOOLKIT_GPU_IDS: '0',
  });
});
afterAll(async () => {
  await h?.close();
  await emu?.close();
  await rm(emuDir, { recursive: true, force: true });
});

async function setup(name: string) {
  const u = (await h.call('POST', '/v1/users', { token: ADMIN_TOKEN, body: {} })).body;
  await h.call('POST', `/v1/users/${u.id}/credits`, { token: ADMIN_TOKEN, body: { amount: 100_000, reason: 't' } });
  const c = (await h.call('POST', '/v1/characters', { token: u.token, body: { name } })).body;
  await h.call('POST', `/v1/characters/${c.id}/images`, { token: u.token, form: await facesForm('bernadette') });
  return { token: u.token as string, characterId: c.id as string };
}

const run = (token: string, id: string) => h.call('GET', `/v1/training-runs/${id}`, { token }).then((r) => r.body);

describe.skipIf(!HAVE_FACES)('AI Toolkit UI backend', () => {
  it('reports the UI in /health and trains to a downloadable LoRA', async () => {
    const health = await h.call('GET', '/health');
    expect(health.body.training).toContain(emu.aitkUrl);
    expect(health.body.provider).toMatchObject({ ok: true });
    const { token, characterId } = await setup('Bernadette');
    const start = await h.call('POST', `/v1/characters/${characterId}/lora/train`, { token, body: {} });
    expect(start.status).toBe(202);
    const ready = await waitFor('ready', async () => {
      const r = await run(token, start.body.id);
      if (r.status === 'failed') throw new Error(r.error.message);
      return r.status === 'ready' ? r : null;
    });
    const dl = await h.call('GET', `/v1/lora-models/${ready.loraModelId}/download`, { token });
    expect(dl.status).toBe(302);
    const bytes = Buffer.from(await (await fetch(dl.headers.get('location')!)).arrayBuffer());
    expect(bytes.length).toBeGreaterThan(8);
    // Everything the emulator made is marked emulated, even through a backend that does not know it.
    expect(ready.emulated).toBe(true);
    // The job and dataset were removed from the UI after the LoRA was safely stored.
    expect(emu.snapshot().jobs.find((j) => j.name === providerJobName(ready.id, 1))).toBeUndefined();
  });

  it('cancels through the API: the UI job stops and nothing stays reserved', async () => {
    const { token, characterId } = await setup('Howard');
    const start = await h.call('POST', `/v1/characters/${characterId}/lora/train`, { token, body: {} });
    // The UI job exists once the trainer reports steps.
    await waitFor('training steps', async () => {
      const r = await run(token, start.body.id);
      return r.status === 'training' && r.progress.step > 0;
    });
    const before = emu.snapshot().jobs.length;
    expect(before).toBeGreaterThan(0);
    const cancel = await h.call('POST', `/v1/training-runs/${start.body.id}/cancel`, { token });
    expect(cancel.status).toBe(202);
    const cancelled = await waitFor('cancelled', async () => {
      const r = await run(token, start.body.id);
      return r.status === 'cancelled' ? r : null;
    });
    expect(cancelled.credits.reserved).toBe(0);
    expect((await h.call('GET', '/v1/me', { token })).body.credits.reserved).toBe(0);
    expect(emu.snapshot().jobs.some((j) => j.status === 'running')).toBe(false);
  });

  it("fails a run with the UI's own error text and releases the credits", async () => {
    const { token, characterId } = await setup('Stuart');
    emu.setFaults({ failNextJobs: 1 });
    const start = await h.call('POST', `/v1/characters/${characterId}/lora/train`, { token, body: {} });
    const failed = await waitFor('failed', async () => {
      const r = await run(token, start.body.id);
      return r.status === 'failed' || r.status === 'ready' ? r : null;
    });
    expect(failed.status).toBe('failed');
    expect(failed.error.message.length).toBeGreaterThan(5);
    expect(failed.credits).toMatchObject({ reserved: 0, charged: 0 });
    expect((await h.call('GET', '/v1/me', { token })).body.credits).toMatchObject({ available: 100_000, reserved: 0 });
  });
});
