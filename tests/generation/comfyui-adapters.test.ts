/**
 * The real generation adapters (ComfyUI server over HTTP + WebSocket, RunPod serverless
 * worker-comfyui) against the GPU emulator over real HTTP, plus the emulator's ComfyUI wire shapes
 * checked with plain fetch and a plain ws client (contracts §2, §4, §5).
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { ProviderError } from '../../src/domain/errors.js';
import { ComfyUiBackend } from '../../src/generation/comfyui.backend.js';
import { LoraUnavailableError, type LoraFileSource } from '../../src/generation/generation-backend.js';
import { runWorkflow } from '../../src/generation/generation-runner.js';
import { pngTextChunks } from '../../src/generation/png-text.util.js';
import { RunpodComfyBackend } from '../../src/generation/runpod-comfyui.backend.js';
import { buildWorkflow, type ComfyWorkflow } from '../../src/generation/workflow/index.js';
import { FACES, HAVE_FACES } from '../helpers/harness.js';
import { RUNPOD_KEY, startTestEmulator, type TestEmulator } from '../emulator/emulator-test-kit.js';

let t: TestEmulator;
let loraDir: string;
let loraServer: http.Server;
let loraServerUrl: string;
let loraHits = 0;
const LORA_BYTES = Buffer.concat([Buffer.from('emulated-lora-'), Buffer.alloc(4096, 7)]);
const LORA_SHA = createHash('sha256').update(LORA_BYTES).digest('hex');
const RUN = { pollMs: 50, timeoutMs: 20_000 };

function workflow(method: 'plain' | 'lora' | 'faceswap', extra: Record<string, unknown> = {}): ComfyWorkflow {
  const base = { baseModel: method === 'faceswap' ? 'flux-dev' : 'zimage-turbo', prompt: 'a portrait in a park', seed: 42, width: 1024, height: 1024 } as const;
  const built = buildWorkflow({ ...base, method, ...extra } as Parameters<typeof buildWorkflow>[0]);
  if (!built.ok) throw new Error(built.message);
  return built.workflow;
}

function loraSource(name: string, bytes = LORA_BYTES, sha = LORA_SHA): LoraFileSource {
  return { name, sha256: sha, size: bytes.length, url: async () => `${loraServerUrl}/${name}`, open: async () => Readable.from([bytes]) };
}

const settings = (body: Record<string, unknown>) =>
  fetch(`${t.emu.url}/_emulator/comfyui/settings`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

beforeAll(async () => {
  t = await startTestEmulator();
  loraDir = await mkdtemp(path.join(tmpdir(), 'likeness-loras-'));
  loraServer = http.createServer((req, res) => {
    loraHits++;
    if (req.url?.startsWith('/missing')) {
      res.writeHead(404).end('no such object');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(LORA_BYTES);
  });
  await new Promise<void>((r) => loraServer.listen(0, '127.0.0.1', r));
  loraServerUrl = `http://127.0.0.1:${(loraServer.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise<void>((r) => loraServer?.close(() => r()));
  await t?.stop();
  await rm(loraDir, { recursive: true, force: true });
});
beforeEach(async () => {
  await settings({ stepMs: 5, lorasVisible: true, facelessNextOutputs: 0, failNextPrompts: 0, failNextLoraDownloads: 0, failNextRequests: 0 });
});

describe('emulated ComfyUI wire protocol', () => {
  it('validates /prompt like ComfyUI: unknown class, no outputs, missing link, lora not in list', async () => {
    const post = (prompt: unknown) =>
      fetch(`${t.emu.comfyUrl}/prompt`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ prompt }) });
    let r = await post({ '1': { class_type: 'NoSuchNode', inputs: {} } });
    expect(r.status).toBe(400);
    expect(await r.json()).toEqual({
      error: { type: 'invalid_prompt', message: 'Cannot execute because node NoSuchNode does not exist.', details: "Node ID '#1'", extra_info: {} },
      node_errors: {},
    });
    r = await post({ '1': { class_type: 'VAELoader', inputs: { vae_name: 'ae.safetensors' } } });
    expect((await r.json()).error.type).toBe('prompt_no_outputs');

    const wf = workflow('plain');
    const save = Object.keys(wf).find((id) => wf[id]!.class_type === 'SaveImage')!;
    r = await post({ ...wf, [save]: { ...wf[save]!, inputs: { ...wf[save]!.inputs, images: ['999', 0] } } });
    const broken = await r.json();
    expect(r.status).toBe(400);
    expect(broken.error.type).toBe('prompt_outputs_failed_validation');
    expect(broken.node_errors[save].errors[0]).toMatchObject({ type: 'exception_during_validation', details: "'999'" });

    const loraWf = workflow('lora', { lora: { fileNames: { main: 'nobody.safetensors' }, strength: 0.8, triggerWord: 'zxq' } });
    const loraSave = Object.keys(loraWf).find((id) => loraWf[id]!.class_type === 'SaveImage')!;
    r = await post(loraWf);
    const body = await r.json();
    expect(r.status).toBe(400);
    const [nodeId, nodeError] = Object.entries(body.node_errors as Record<string, any>)[0]!;
    expect(nodeError).toMatchObject({ class_type: 'LoraLoaderModelOnly', dependent_outputs: [loraSave] });
    expect(nodeError.errors[0]).toMatchObject({
      type: 'value_not_in_list',
      message: 'Value not in list',
      details: "lora_name: 'nobody.safetensors' not in []",
      extra_info: { input_name: 'lora_name', input_config: [[], {}], received_value: 'nobody.safetensors' },
    });
    // The output's own reasons are empty (the error is upstream), so ComfyUI's summary details are too.
    expect(body.error).toMatchObject({ type: 'prompt_outputs_failed_validation', details: '' });
    expect(loraWf[nodeId]!.class_type).toBe('LoraLoaderModelOnly');
  });

  it('serves /upload/image with ComfyUI clash naming and /view with its path checks', async () => {
    const up = async (bytes: Buffer, overwrite: boolean) => {
      const form = new FormData();
      form.append('image', new Blob([new Uint8Array(bytes)]), 'face.png');
      if (overwrite) form.append('overwrite', 'true');
      return (await fetch(`${t.emu.comfyUrl}/upload/image`, { method: 'POST', body: form })).json();
    };
    expect(await up(Buffer.from('one'), false)).toEqual({ name: 'face.png', subfolder: '', type: 'input' });
    expect(await up(Buffer.from('one'), false)).toEqual({ name: 'face.png', subfolder: '', type: 'input' });
    expect(await up(Buffer.from('two'), false)).toEqual({ name: 'face (1).png', subfolder: '', type: 'input' });
    expect(await up(Buffer.from('three'), true)).toEqual({ name: 'face.png', subfolder: '', type: 'input' });
    const view = await fetch(`${t.emu.comfyUrl}/view?filename=face.png&type=input`);
    expect(view.status).toBe(200);
    expect(await view.text()).toBe('three');
    expect((await fetch(`${t.emu.comfyUrl}/view?filename=../x.png&type=input`)).status).toBe(400);
    expect((await fetch(`${t.emu.comfyUrl}/api/view?filename=none.png&type=output`)).status).toBe(404);
  });

  it('streams status, execution, progress and completion events to the prompt\'s client socket, then the history', async () => {
    const clientId = 'test-client-1';
    const ws = new WebSocket(`${t.emu.comfyUrl.replace('http', 'ws')}/ws?clientId=${clientId}`);
    const frames: Array<{ type: string; data: any }> = [];
    ws.on('message', (d) => frames.push(JSON.parse(d.toString())));
    await new Promise((r) => ws.once('open', r));
    const r = await fetch(`${t.emu.comfyUrl}/prompt`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ prompt: workflow('plain'), client_id: clientId }),
    });
    const { prompt_id: promptId, number, node_errors } = await r.json();
    expect(typeof number).toBe('number');
    expect(node_errors).toEqual({});
    const deadline = Date.now() + 10_000;
    while (!frames.some((f) => f.type === 'executing' && f.data.node === null && f.data.prompt_id === promptId) && Date.now() < deadline) {
      await new Promise((res) => setTimeout(res, 20));
    }
    ws.close();
    expect(frames[0]).toMatchObject({ type: 'status', data: { sid: clientId } });
    const types = frames.filter((f) => f.data.prompt_id === promptId).map((f) => f.type);
    expect(types[0]).toBe('execution_start');
    expect(types).toContain('progress');
    expect(types.indexOf('executed')).toBeLessThan(types.indexOf('execution_success'));
    expect(types.at(-1)).toBe('executing');
    const progress = frames.filter((f) => f.type === 'progress');
    expect(progress.at(-1)!.data).toMatchObject({ value: 8, max: 8, prompt_id: promptId });

    const history = await (await fetch(`${t.emu.comfyUrl}/history/${promptId}`)).json();
    const item = history[promptId];
    expect(item.status).toMatchObject({ status_str: 'success', completed: true });
    expect(item.prompt[1]).toBe(promptId);
    const images = Object.values(item.outputs as Record<string, any>)[0].images;
    expect(images[0]).toMatchObject({ subfolder: '', type: 'output' });
    expect(images[0].filename).toMatch(/^likeness_\d{5}_\.png$/);
    const png = Buffer.from(await (await fetch(`${t.emu.comfyUrl}/view?filename=${images[0].filename}&type=output`)).arrayBuffer());
    expect(pngTextChunks(png).likeness_emulated).toBe('true');
    expect(JSON.parse(pngTextChunks(png).prompt!)).toHaveProperty('1');
    expect(await (await fetch(`${t.emu.comfyUrl}/history/not-a-prompt`)).json()).toEqual({});
  });
});

describe('ComfyUI server backend', () => {
  let backend: ComfyUiBackend;
  beforeAll(() => {
    backend = new ComfyUiBackend({ baseUrl: t.emu.comfyUrl, loraDir: null });
  });
  afterAll(async () => backend?.close());

  it('runs a workflow and returns its images, marked emulated, with WebSocket progress', async () => {
    const seen: number[] = [];
    await settings({ stepMs: 40 });
    const run = await runWorkflow(backend, { workflow: workflow('plain'), images: [], loras: [] }, { ...RUN, pollMs: 20, onProgress: (p) => seen.push(p.value) });
    expect(run.images).toHaveLength(1);
    expect(run.images[0]).toMatchObject({ mime: 'image/png', emulated: true });
    expect(run.executionSeconds).toBeGreaterThan(0);
    expect(seen.length).toBeGreaterThan(0);
  });

  it.skipIf(!HAVE_FACES)('uploads the face-swap reference so LoadImage finds it, and derives the output from it', async () => {
    const face = readFileSync(path.join(FACES, 'identities/amy/amy1.png'));
    const run = await runWorkflow(
      backend,
      { workflow: workflow('faceswap', { referenceImage: 'likeness_ref_amy.png' }), images: [{ name: 'likeness_ref_amy.png', bytes: face }], loras: [] },
      RUN,
    );
    expect(run.images).toHaveLength(1);
    expect(existsSync(path.join(t.dataDir, 'comfyui/input/likeness_ref_amy.png'))).toBe(true);
  });

  it('copies the LoRA into the shared loras folder once, then finds it cached', async () => {
    const shared = new ComfyUiBackend({ baseUrl: t.emu.comfyUrl, loraDir: t.emu.comfyLorasDir });
    try {
      const wf = workflow('lora', { lora: { fileNames: { main: 'abc.safetensors' }, strength: 0.9, triggerWord: 'zxq' } });
      const run = await runWorkflow(shared, { workflow: wf, images: [], loras: [loraSource('abc.safetensors')] }, RUN);
      expect(run.images).toHaveLength(1);
      const file = path.join(t.emu.comfyLorasDir, 'abc.safetensors');
      expect(readFileSync(file).equals(LORA_BYTES)).toBe(true);
      const mtime = statSync(file).mtimeMs;
      await runWorkflow(shared, { workflow: wf, images: [], loras: [loraSource('abc.safetensors')] }, RUN);
      expect(statSync(file).mtimeMs).toBe(mtime);
      // A corrupted source never lands under the real name.
      await expect(shared.submit({ workflow: wf, images: [], loras: [loraSource('bad.safetensors', LORA_BYTES, '0'.repeat(64))] })).rejects.toBeInstanceOf(LoraUnavailableError);
      expect(existsSync(path.join(t.emu.comfyLorasDir, 'bad.safetensors'))).toBe(false);
    } finally {
      await shared.close();
    }
  });

  it('reports a LoRA ComfyUI does not list as LoraUnavailableError before submitting anything', async () => {
    const wf = workflow('lora', { lora: { fileNames: { main: 'zzz.safetensors' }, strength: 1, triggerWord: 'zxq' } });
    await expect(backend.submit({ workflow: wf, images: [], loras: [loraSource('zzz.safetensors')] })).rejects.toBeInstanceOf(LoraUnavailableError);
    // A file copied where ComfyUI does not look (the folder hidden) is caught the same way.
    await settings({ lorasVisible: false });
    const shared = new ComfyUiBackend({ baseUrl: t.emu.comfyUrl, loraDir: t.emu.comfyLorasDir });
    try {
      const err = await shared.submit({ workflow: wf, images: [], loras: [loraSource('zzz.safetensors')] }).catch((e) => e);
      expect(err).toBeInstanceOf(LoraUnavailableError);
      expect(err.message).toContain('zzz.safetensors');
    } finally {
      await shared.close();
    }
    // And /prompt's own refusal (no delivery step) is classified as the LoRA's fault too.
    const raw = await backend.submit({ workflow: wf, images: [], loras: [] }).catch((e) => e);
    expect(raw).toBeInstanceOf(LoraUnavailableError);
  });

  it('turns a refused workflow into a fatal error and an execution error into a transient one', async () => {
    const bad = await backend.submit({ workflow: { '1': { class_type: 'NoSuchNode', inputs: {} } }, images: [], loras: [] }).catch((e) => e);
    expect(bad).toBeInstanceOf(ProviderError);
    expect(bad.kind).toBe('fatal');
    expect(bad.message).toContain('NoSuchNode does not exist');

    await settings({ failNextPrompts: 1 });
    const failed = await runWorkflow(backend, { workflow: workflow('plain'), images: [], loras: [] }, RUN).catch((e) => e);
    expect(failed).toBeInstanceOf(ProviderError);
    expect(failed.kind).toBe('transient');
    expect(failed.message).toMatch(/KSampler \(node \d+\): .*out of memory/);
  });

  it('retries a transient 503 and cancels a running prompt', async () => {
    await settings({ failNextRequests: 1 });
    const run = await runWorkflow(backend, { workflow: workflow('plain'), images: [], loras: [] }, { ...RUN, sleep: async () => undefined });
    expect(run.images).toHaveLength(1);

    await settings({ stepMs: 200 });
    const handle = await backend.submit({ workflow: workflow('plain'), images: [], loras: [] });
    const running = async () => (await backend.status(handle)).state;
    for (let i = 0; i < 100 && (await running()) !== 'running'; i++) await new Promise((r) => setTimeout(r, 20));
    await backend.cancel(handle);
    let state = await running();
    for (let i = 0; i < 100 && state !== 'cancelled'; i++) {
      await new Promise((r) => setTimeout(r, 50));
      state = await running();
    }
    expect(state).toBe('cancelled');
  });
});

describe('RunPod serverless worker-comfyui backend', () => {
  const make = (over: Partial<ConstructorParameters<typeof RunpodComfyBackend>[0]> = {}) =>
    new RunpodComfyBackend({ apiKey: RUNPOD_KEY, endpointId: t.emu.comfyEndpointId, baseUrl: t.emu.comfyServerlessUrl, loraDelivery: 'download', ...over });

  it('runs a workflow with a LoRA downloaded from a signed URL once, then cached by the worker', async () => {
    const backend = make();
    const wf = workflow('lora', { lora: { fileNames: { main: 'srv.safetensors' }, strength: 1, triggerWord: 'zxq' } });
    const before = loraHits;
    const run = await runWorkflow(backend, { workflow: wf, images: [], loras: [loraSource('srv.safetensors')] }, RUN);
    expect(run.images).toHaveLength(1);
    expect(run.images[0]).toMatchObject({ mime: 'image/png', emulated: true });
    expect(run.executionSeconds).not.toBeNull();
    expect(loraHits - before).toBe(1);
    await runWorkflow(backend, { workflow: wf, images: [], loras: [loraSource('srv.safetensors')] }, RUN);
    expect(loraHits - before).toBe(1);
  });

  it('reports a failed LoRA download, and a stock worker that ignores the field, as LoraUnavailableError', async () => {
    const wf = workflow('lora', { lora: { fileNames: { main: 'missing.safetensors' }, strength: 1, triggerWord: 'zxq' } });
    const failed = await runWorkflow(make(), { workflow: wf, images: [], loras: [loraSource('missing.safetensors')] }, RUN).catch((e) => e);
    expect(failed).toBeInstanceOf(LoraUnavailableError);
    expect(failed.message).toContain('Failed to download one or more LoRAs');
    // `volume` delivery sends no URL: the worker's ComfyUI does not list the file.
    const volume = await runWorkflow(make({ loraDelivery: 'volume' }), { workflow: wf, images: [], loras: [loraSource('other.safetensors')] }, RUN).catch((e) => e);
    expect(volume).toBeInstanceOf(LoraUnavailableError);
    expect(volume.message).toContain('value_not_in_list');
  });

  it('sends reference images as base64 input images and classifies worker errors', async () => {
    const face = HAVE_FACES ? readFileSync(path.join(FACES, 'identities/amy/amy1.png')) : Buffer.from('x');
    const run = await runWorkflow(
      make(),
      { workflow: workflow('faceswap', { referenceImage: 'ref_srv.png' }), images: [{ name: 'ref_srv.png', bytes: face }], loras: [] },
      RUN,
    );
    expect(run.images).toHaveLength(1);

    const refused = await runWorkflow(make(), { workflow: { '1': { class_type: 'Nope', inputs: {} } }, images: [], loras: [] }, RUN).catch((e) => e);
    expect(refused).toBeInstanceOf(ProviderError);
    expect(refused.kind).toBe('fatal');

    const badKey = await make({ apiKey: 'wrong' }).submit({ workflow: workflow('plain'), images: [], loras: [] }).catch((e) => e);
    expect(badKey).toBeInstanceOf(ProviderError);
    expect(badKey.httpStatus).toBe(401);

    expect(await make().status({ backend: 'runpod-serverless', id: 'no-such-job' })).toMatchObject({ state: 'failed', error: { cause: 'lost' } });
  });

  it('cancels a queued or running job', async () => {
    await settings({ stepMs: 200 });
    const backend = make();
    const handle = await backend.submit({ workflow: workflow('plain'), images: [], loras: [] });
    await backend.cancel(handle);
    expect((await backend.status(handle)).state).toBe('cancelled');
  });
});

describe('serverless raw shapes', () => {
  it('answers /run with IN_QUEUE and walks to COMPLETED with worker-comfyui output', async () => {
    const h = { authorization: `Bearer ${RUNPOD_KEY}`, 'content-type': 'application/json' };
    const base = `${t.emu.comfyServerlessUrl}/${t.emu.comfyEndpointId}`;
    const run = await (await fetch(`${base}/run`, { method: 'POST', headers: h, body: JSON.stringify({ input: { workflow: workflow('plain') } }) })).json();
    expect(run).toMatchObject({ status: 'IN_QUEUE' });
    expect(run.id).toMatch(/-u1$/);
    let status: any;
    for (let i = 0; i < 200; i++) {
      status = await (await fetch(`${base}/status/${run.id}`, { headers: h })).json();
      if (status.status === 'COMPLETED' || status.status === 'FAILED') break;
      await new Promise((r) => setTimeout(r, 25));
    }
    expect(status.status).toBe('COMPLETED');
    expect(status).toHaveProperty('delayTime');
    expect(status).toHaveProperty('executionTime');
    expect(status.output.images[0]).toMatchObject({ type: 'base64' });
    expect(status.output.images[0].filename).toMatch(/\.png$/);
    const missing = await (await fetch(`${base}/run`, { method: 'POST', headers: h, body: JSON.stringify({ input: {} }) })).json();
    for (let i = 0; i < 100; i++) {
      status = await (await fetch(`${base}/status/${missing.id}`, { headers: h })).json();
      if (status.status === 'FAILED') break;
      await new Promise((r) => setTimeout(r, 25));
    }
    expect(status).toMatchObject({ status: 'FAILED', error: "Missing 'workflow' parameter" });
  });
});

