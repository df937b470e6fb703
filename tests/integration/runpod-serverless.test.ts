/**
 * Issue 6: a character's run trains through the RunPod serverless backend (the emulator's
 * serverless endpoint running the emulated AI Toolkit worker), and the provider's webhook is what
 * wakes the run: polls are 60 s apart here, so a run that is ready well within that was woken by
 * the webhook. The webhook route refuses bad and expired signatures and changes nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TRAINING_STEP } from '../../src/jobs/queues.js';
import { signedRunpodWebhookPath } from '../../src/api/routes/provider-webhooks.routes.js';
import { UrlSigner } from '../../src/storage/url-signer.js';
import { ADMIN_TOKEN, HAVE_FACES, facesForm, startHarness, waitFor, type Harness } from '../helpers/harness.js';

const SECRET = 'serverless-test-signing-secret-0123456789';
const POLL_SECONDS = 60;
let h: Harness;

beforeAll(async () => {
  h = await startHarness({
    LIKENESS_EMULATOR_TRAINING_MODE: 'serverless',
    LIKENESS_POLL_SECONDS: String(POLL_SECONDS),
    LIKENESS_SIGNING_SECRET: SECRET,
    LIKENESS_EMULATOR_TRAIN_SECONDS: '2',
  });
});
afterAll(async () => {
  await h?.close();
});

async function setup(name: string) {
  const u = (await h.call('POST', '/v1/users', { token: ADMIN_TOKEN, body: {} })).body;
  await h.call('POST', `/v1/users/${u.id}/credits`, { token: ADMIN_TOKEN, body: { amount: 100_000, reason: 't' } });
  const c = (await h.call('POST', '/v1/characters', { token: u.token, body: { name } })).body;
  await h.call('POST', `/v1/characters/${c.id}/images`, { token: u.token, form: await facesForm('penny') });
  return { token: u.token as string, characterId: c.id as string };
}

const runOf = (token: string, id: string) => h.call('GET', `/v1/training-runs/${id}`, { token }).then((r) => r.body);
const hook = (path: string) => h.call('POST', path, { body: { id: 'x', status: 'COMPLETED', output: { files: [] } } });

describe.skipIf(!HAVE_FACES)('RunPod serverless training backend through the product', () => {
  it('trains to ready with the webhook waking the run, and the route refuses forged calls', async () => {
    expect((await h.call('GET', '/health')).body.training).toContain('serverless');
    const { token, characterId } = await setup('Penny');
    const start = await h.call('POST', `/v1/characters/${characterId}/lora/train`, { token, body: {} });
    expect(start.status).toBe(202);
    const runId = start.body.id as string;

    // With the provider: a forged, an expired and a misdirected webhook change nothing.
    const training = await waitFor('training', async () => {
      const r = await runOf(token, runId);
      return r.status === 'training' ? r : null;
    });
    const pending = await h.app.ctx.queue.pendingCount(TRAINING_STEP, runId);
    const forged = await hook(`/v1/provider-webhooks/runpod/${runId}?method=POST&expires=${Math.floor(Date.now() / 1000) + 600}&sig=forged`);
    expect(forged.status).toBe(401);
    expect(forged.body.error.code).toBe('unauthorized');
    const expired = await hook(signedRunpodWebhookPath(new UrlSigner(SECRET, () => Date.now() - 3600_000), runId, 60));
    expect(expired.status).toBe(401);
    expect(expired.body.error.message).toMatch(/expired/);
    const otherRun = signedRunpodWebhookPath(new UrlSigner(SECRET), '00000000-0000-0000-0000-000000000000', 600);
    expect((await hook(otherRun.replace('00000000-0000-0000-0000-000000000000', runId))).status).toBe(401);
    expect((await hook(otherRun)).status).toBe(404);
    const after = await runOf(token, runId);
    expect(after.status).toBe(training.status);
    expect(await h.app.ctx.queue.pendingCount(TRAINING_STEP, runId)).toBe(pending);

    // The first poll is a minute away: only the provider's webhook can bring the run to ready sooner.
    const t0 = Date.now();
    const ready = await waitFor(
      'ready',
      async () => {
        const r = await runOf(token, runId);
        if (r.status === 'failed') throw new Error(r.error.message);
        return r.status === 'ready' ? r : null;
      },
      (POLL_SECONDS - 15) * 1000,
    );
    expect(Date.now() - t0).toBeLessThan((POLL_SECONDS - 15) * 1000);
    expect(ready.emulated).toBe(true);
    const dl = await h.call('GET', `/v1/lora-models/${ready.loraModelId}/download`, { token });
    expect(dl.status).toBe(302);
    const bytes = Buffer.from(await (await fetch(dl.headers.get('location')!)).arrayBuffer());
    const headerLength = Number(bytes.readBigUInt64LE(0));
    expect(JSON.parse(bytes.subarray(8, 8 + headerLength).toString('utf8')).__metadata__.likeness_base_model).toBe(ready.baseModel);

    // A late duplicate of the webhook, validly signed, finds nothing to wake and changes nothing.
    const late = await hook(signedRunpodWebhookPath(new UrlSigner(SECRET), runId, 600));
    expect(late.status).toBe(200);
    expect(late.body).toEqual({ ok: true, woke: false });
    expect((await runOf(token, runId)).status).toBe('ready');
  });
});
