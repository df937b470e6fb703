/**
 * Issue 4's "Done when", through the HTTP API of a real Likeness (PGlite, the GPU emulator's
 * ComfyUI over HTTP + WebSocket through the real ComfyUI adapter, the identity engine on the shared
 * face photos): LoRA when ready, face swap or plain with the reason otherwise, fallbacks when the
 * base model has no LoRA, when LoRA use is off and when the LoRA cannot load; every image scored;
 * the identity gate's retries, face swap and flag; the retrain suggestion once per crossing; and
 * consistency metrics that keep emulated output out.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, HAVE_FACES, facesForm, startHarness, waitFor, type Harness } from '../helpers/harness.js';

let h: Harness;
let emulatorUrl: string;
const admin = { token: ADMIN_TOKEN };

beforeAll(async () => {
  h = await startHarness({ LIKENESS_GENERATION_POLL_SECONDS: '0.05' });
  emulatorUrl = h.app.backend.emulator!.url;
});
afterAll(async () => {
  await h?.close();
});

async function comfySettings(body: Record<string, unknown>) {
  const r = await fetch(`${emulatorUrl}/_emulator/comfyui/settings`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  expect(r.status).toBe(200);
}

async function newUser() {
  const u = await h.call('POST', '/v1/users', { ...admin, body: { name: 'gen' } });
  await h.call('POST', `/v1/users/${u.body.id}/credits`, { ...admin, body: { amount: 200_000, reason: 'test' } });
  return u.body as { id: string; token: string };
}

async function character(token: string, person: string, name: string) {
  const c = await h.call('POST', '/v1/characters', { token, body: { name, autoTrain: false } });
  const up = await h.call('POST', `/v1/characters/${c.body.id}/images`, { token, form: await facesForm(person) });
  expect(up.body.items.filter((i: { check: { status: string } }) => i.check.status === 'accepted')).toHaveLength(5);
  return c.body as { id: string; triggerWord: string };
}

async function trainLora(token: string, characterId: string, baseModel: string) {
  const run = await h.call('POST', `/v1/characters/${characterId}/lora/train`, { token, body: { baseModel } });
  expect(run.status).toBe(202);
  return waitFor(`LoRA ${baseModel}`, async () => {
    const r = await h.call('GET', `/v1/training-runs/${run.body.id}`, { token });
    if (r.body.status === 'failed') throw new Error(r.body.error.message);
    return r.body.status === 'ready' ? (r.body.loraModelId as string) : null;
  }, 60_000);
}

async function generate(token: string, body: Record<string, unknown>) {
  // A fixed seed makes the emulated renders, and so their identity scores, the same on every run.
  const created = await h.call('POST', '/v1/generations', { token, body: { seed: 4242, ...body } });
  expect(created.status, JSON.stringify(created.body)).toBe(202);
  expect(created.body.status).toBe('queued');
  const done = await waitFor(`generation ${created.body.id}`, async () => {
    const r = await h.call('GET', `/v1/generations/${created.body.id}`, { token });
    return r.body.status === 'completed' || r.body.status === 'failed' ? r.body : null;
  }, 60_000, 100);
  return { created: created.body, done };
}

const nodes = (wf: Record<string, { class_type: string; inputs: Record<string, unknown> }>, cls: string) => Object.values(wf).filter((n) => n.class_type === cls);

describe.skipIf(!HAVE_FACES)('generation with the character\'s LoRA, fallbacks and the identity gate', () => {
  let user: { id: string; token: string };
  let amy: { id: string; triggerWord: string };
  let zimageLora: string;

  beforeAll(async () => {
    user = await newUser();
    amy = await character(user.token, 'amy', 'Amy');
    zimageLora = await trainLora(user.token, amy.id, 'zimage-turbo');
  });

  it('generates with the ready LoRA: loader with its file and strength, trigger word first, every image scored', async () => {
    const { created, done } = await generate(user.token, { characterId: amy.id, prompt: 'a portrait of a woman in a park', baseModel: 'zimage-turbo', count: 2, seed: 7 });
    expect(created).toMatchObject({ method: 'lora', plan: { code: 'lora_ready', method: 'lora' }, loraModelId: zimageLora, triggerWord: amy.triggerWord });
    expect(done.status).toBe('completed');
    expect(done.method).toBe('lora');
    expect(done.planReason).toContain('ready');
    const [loader] = nodes(done.workflow, 'LoraLoaderModelOnly');
    expect(loader!.inputs).toMatchObject({ lora_name: `${zimageLora}.safetensors`, strength_model: 1 });
    const [positive] = nodes(done.workflow, 'CLIPTextEncode');
    expect(String(positive!.inputs.text).startsWith(`${amy.triggerWord}, `)).toBe(true);
    expect(nodes(done.workflow, 'KSampler')[0]!.inputs.seed).toBe(7);
    expect(done.images).toHaveLength(2);
    for (const img of done.images) {
      expect(img).toMatchObject({ method: 'lora', attempts: 1, emulated: true });
      expect(img.identity.scored).toBe(true);
      expect(typeof img.identity.similarity).toBe('number');
      expect(img.identity.match).toBe(true);
      const file = await fetch(img.url);
      expect(file.status).toBe(200);
      expect(file.headers.get('content-type')).toBe('image/png');
    }
    expect(done.emulated).toBe(true);
    expect(done.attempts).toBe(2);
    expect(done.gpuSeconds).toBeGreaterThan(0);

    // Strength is the character's setting, read when the plan is made.
    await h.call('PATCH', `/v1/characters/${amy.id}/lora`, { token: user.token, body: { strength: 0.7 } });
    const plan = await h.call('POST', '/v1/generations/plan', { token: user.token, body: { characterId: amy.id, prompt: 'x', baseModel: 'zimage-turbo' } });
    expect(nodes(plan.body.workflow, 'LoraLoaderModelOnly')[0]!.inputs.strength_model).toBe(0.7);
    await h.call('PATCH', `/v1/characters/${amy.id}/lora`, { token: user.token, body: { strength: 1 } });

    // Emulated output is never a measurement: n = 0 and null rates, not 0%.
    const mine = await h.call('GET', `/v1/characters/${amy.id}/consistency`, { token: user.token });
    expect(mine.status).toBe(200);
    expect(mine.body.overall).toMatchObject({ n: 0, matchRate: null, matchRateInterval: null, noFaceRate: null });
    expect(mine.body.byMethod.lora).toMatchObject({ n: 0, matchRate: null });
    expect(mine.body.excluded.emulated).toBeGreaterThanOrEqual(2);
    const all = await h.call('GET', '/v1/metrics/consistency', admin);
    expect(all.status).toBe(200);
    expect(all.body.overall.n).toBe(0);
    expect((await h.call('GET', '/v1/metrics/consistency', { token: user.token })).status).toBe(403);
  });

  it('falls back to face swap for a base model with no LoRA, and to plain where face swap does not exist, saying why', async () => {
    const { created, done } = await generate(user.token, { characterId: amy.id, prompt: 'a woman reading', baseModel: 'flux-dev', count: 1 });
    expect(created.plan.code).toBe('no_lora_for_base_model');
    expect(created.planReason).toMatch(/LoRA for Z-Image Turbo but none for FLUX\.1-dev/);
    expect(done).toMatchObject({ status: 'completed', method: 'faceswap', loraModelId: null });
    expect(nodes(done.workflow, 'ApplyPulidFlux')).toHaveLength(1);
    expect(nodes(done.workflow, 'LoraLoaderModelOnly')).toHaveLength(0);
    expect(done.images[0]).toMatchObject({ method: 'faceswap', identity: { match: true } });

    const plain = await h.call('POST', '/v1/generations/plan', { token: user.token, body: { characterId: amy.id, prompt: 'x', baseModel: 'qwen-image' } });
    expect(plain.body).toMatchObject({ method: 'plain', plan: { code: 'no_lora_for_base_model' } });
    expect(plain.body.plan.reason).toContain('no face-swap node exists for Qwen-Image');
  });

  it('plans face swap or plain for a character without a LoRA, and runs the face swap', async () => {
    const penny = await character(user.token, 'penny', 'Penny');
    const flux = await h.call('POST', '/v1/generations/plan', { token: user.token, body: { characterId: penny.id, prompt: 'x', baseModel: 'flux-dev' } });
    expect(flux.body).toMatchObject({ method: 'faceswap', plan: { code: 'no_lora', faceSwap: { method: 'pulid-flux' } } });
    const zimage = await h.call('POST', '/v1/generations/plan', { token: user.token, body: { characterId: penny.id, prompt: 'x', baseModel: 'zimage-turbo' } });
    expect(zimage.body).toMatchObject({ method: 'plain', plan: { code: 'no_lora' } });
    expect(zimage.body.plan.reason).toContain('no trained LoRA');
    const { done } = await generate(user.token, { characterId: penny.id, prompt: 'a woman at a cafe', baseModel: 'flux-dev' });
    expect(done.images[0]).toMatchObject({ method: 'faceswap', identity: { match: true } });
  });

  it('falls back when LoRA use is turned off', async () => {
    await h.call('PATCH', `/v1/characters/${amy.id}/lora`, { token: user.token, body: { enabled: false } });
    try {
      const plan = await h.call('POST', '/v1/generations/plan', { token: user.token, body: { characterId: amy.id, prompt: 'x', baseModel: 'zimage-turbo' } });
      expect(plan.body).toMatchObject({ method: 'plain', plan: { code: 'lora_disabled', lora: null } });
      expect(nodes(plan.body.workflow, 'LoraLoaderModelOnly')).toHaveLength(0);
      const { done } = await generate(user.token, { characterId: amy.id, prompt: 'x', baseModel: 'zimage-turbo', count: 1 });
      expect(done).toMatchObject({ status: 'completed', method: 'plain', loraModelId: null });
      expect(done.planReason).toContain('turned off');
      const inject = await h.call('POST', '/v1/workflows/inject', { token: user.token, body: { workflow: plan.body.workflow, characterId: amy.id } });
      expect(inject.status).toBe(409);
    } finally {
      await h.call('PATCH', `/v1/characters/${amy.id}/lora`, { token: user.token, body: { enabled: true } });
    }
  });

  it('never fails the generation when the LoRA cannot reach ComfyUI: it falls back and says so', async () => {
    await comfySettings({ lorasVisible: false });
    try {
      const { created, done } = await generate(user.token, { characterId: amy.id, prompt: 'x', baseModel: 'zimage-turbo', count: 1 });
      expect(created.method).toBe('lora');
      expect(done.status).toBe('completed');
      expect(done.images).toHaveLength(1);
      expect(done.images[0].method).toBe('plain');
      expect(done.fallbacks[0]).toMatchObject({ from: 'lora', to: 'plain' });
      expect(done.fallbacks[0].reason).toContain('LoRA unavailable');
      expect(done.attemptLog[0]).toMatchObject({ method: 'lora', outcome: 'lora_unavailable' });
    } finally {
      await comfySettings({ lorasVisible: true });
    }
  });

  it('gates identity: below tau regenerates (LoRA stronger each time), then face swap, then delivers flagged', async () => {
    await trainLora(user.token, amy.id, 'flux-dev');
    await comfySettings({ facelessNextOutputs: 3 });
    const rescued = (await generate(user.token, { characterId: amy.id, prompt: 'x', baseModel: 'flux-dev', count: 1 })).done;
    expect(rescued.method).toBe('lora');
    expect(rescued.attemptLog.map((a: { method: string }) => a.method)).toEqual(['lora', 'lora', 'lora', 'faceswap']);
    expect(rescued.attemptLog.map((a: { loraStrength: number | null }) => a.loraStrength)).toEqual([1, 1.15, 1.3, null]);
    expect(new Set(rescued.attemptLog.map((a: { seed: number }) => a.seed)).size).toBe(4);
    expect(rescued.attemptLog.slice(0, 3).every((a: { match: boolean; faceCount: number }) => a.match === false && a.faceCount === 0)).toBe(true);
    expect(rescued.images[0]).toMatchObject({ method: 'faceswap', attempts: 4, identity: { match: true, flagged: false } });
    expect(rescued.fallbacks).toEqual([expect.objectContaining({ from: 'lora', to: 'faceswap' })]);

    await comfySettings({ facelessNextOutputs: 4 });
    const flagged = (await generate(user.token, { characterId: amy.id, prompt: 'x', baseModel: 'flux-dev', count: 1 })).done;
    expect(flagged.status).toBe('completed');
    expect(flagged.attemptLog).toHaveLength(4);
    expect(flagged.images[0]).toMatchObject({ attempts: 4, identity: { match: false, flagged: true, faceCount: 0 } });
    expect(flagged.attempts).toBe(4);
  });

  it('suggests a retrain once per crossing of new liked images since the last training', async () => {
    // The flux-dev training above finished last: likes count from then.
    const { done } = await generate(user.token, { characterId: amy.id, prompt: 'x', baseModel: 'zimage-turbo', count: 5 });
    expect(done.images).toHaveLength(5);
    const retrainNotes = async () =>
      (await h.call('GET', '/v1/notifications', { token: user.token })).body.items.filter((n: { type: string }) => n.type === 'lora.retrain.available');
    const like = (id: string, liked = true) => h.call('PATCH', `/v1/images/${id}`, { token: user.token, body: { liked } });
    for (const img of done.images.slice(0, 4)) expect((await like(img.id)).status).toBe(200);
    expect(await retrainNotes()).toHaveLength(0);
    await like(done.images[4].id);
    const notes = await retrainNotes();
    expect(notes).toHaveLength(1);
    expect(notes[0]).toMatchObject({ title: 'Improve Your Model', body: 'You have 5 new liked images. Retrain your LoRA for better results!' });
    await like(done.images[4].id, false);
    await like(done.images[4].id);
    expect(await retrainNotes()).toHaveLength(1);
    // Liked generated images are training data now; unliked ones never are.
    const quote = await h.call('GET', `/v1/characters/${amy.id}/lora/quote`, { token: user.token });
    expect(quote.status).toBe(200);
  });

  it('injects the character\'s LoRA into a platform\'s own workflow, and refuses what it cannot do', async () => {
    const plain = await h.call('POST', '/v1/generations/plan', { token: user.token, body: { characterId: amy.id, prompt: 'a woman by the sea', baseModel: 'qwen-image' } });
    const workflow = plain.body.workflow;
    const injected = await h.call('POST', '/v1/workflows/inject', { token: user.token, body: { workflow, characterId: amy.id } });
    expect(injected.status).toBe(200);
    expect(nodes(injected.body.workflow, 'LoraLoaderModelOnly')[0]!.inputs.lora_name).toBe(`${zimageLora}.safetensors`);
    expect(injected.body.changes.loaders[0]).toMatchObject({ action: 'lora_added' });
    const byName = await h.call('POST', '/v1/workflows/inject', { token: user.token, body: { workflow, loraName: 'x.safetensors', strength: 0.8, triggerWord: 'zxq' } });
    expect(byName.status).toBe(200);
    expect(String(nodes(byName.body.workflow, 'CLIPTextEncode')[0]!.inputs.text).startsWith('zxq, ')).toBe(true);
    const refused = await h.call('POST', '/v1/workflows/inject', {
      token: user.token,
      body: { workflow: { '1': { class_type: 'VAELoader', inputs: { vae_name: 'ae.safetensors' } } }, loraName: 'x.safetensors', strength: 1, triggerWord: 'zxq' },
    });
    expect(refused.status).toBe(422);
    expect(refused.body.error.code).toBe('workflow_unsupported');

    // POST /v1/generations with the platform's workflow: the LoRA goes in through injectLora.
    const { created, done } = await generate(user.token, { characterId: amy.id, baseModel: 'zimage-turbo', workflow });
    // A retried request with the same Idempotency-Key gets the first generation, not a second one.
    const headers = { 'idempotency-key': `gen-${created.id}` };
    const first = await h.call('POST', '/v1/generations', { token: user.token, body: { characterId: amy.id, prompt: 'again' }, headers });
    const again = await h.call('POST', '/v1/generations', { token: user.token, body: { characterId: amy.id, prompt: 'again' }, headers });
    expect(again.body.id).toBe(first.body.id);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(done).toMatchObject({ status: 'completed', method: 'lora', platformWorkflow: true });
    expect(nodes(done.workflow, 'LoraLoaderModelOnly')[0]!.inputs.lora_name).toBe(`${zimageLora}.safetensors`);
    expect(done.images[0].identity.match).toBe(true);
  });
});
