/**
 * The RunPod serverless training backend against the GPU emulator's serverless endpoint over real
 * HTTP: /run, /status, /cancel, the webhook, and the emulated AI Toolkit worker downloading the
 * dataset and uploading the LoRA into a real object store through signed PUT URLs.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { LORA_PARTS } from '../../src/domain/base-models.js';
import { ProviderError } from '../../src/domain/errors.js';
import { startEmulator, type RunningEmulator } from '../../src/emulator/index.js';
import { inspectLora, verifyLora } from '../../src/lora/lora-inspect.js';
import { readSafetensorsStream } from '../../src/lora/safetensors.reader.js';
import { RunpodServerlessBackend, type RunpodServerlessBackendOptions, type RunpodServerlessHandle } from '../../src/training/runpod-serverless.backend.js';
import { pollUntil, specFor, startDatasetStore, type DatasetStore } from './helpers/training-test-kit.js';
import { startSignedStore, type SignedStore } from './helpers/signed-store.js';

let emu: RunningEmulator;
let dataDir: string;
let dataset: DatasetStore;
let signed: SignedStore;
let hooks: { url: string; received: Array<Record<string, any>>; failNext: number; close(): Promise<void> };
const runBodies: Array<Record<string, any>> = [];

/** Records what the backend sent to /run, to replay it as a retried /run would. */
const recordingFetch: typeof fetch = async (input, init) => {
  const url = String(input);
  if (url.endsWith('/run') && typeof init?.body === 'string') runBodies.push(JSON.parse(init.body));
  return fetch(input, init);
};

function make(over: Partial<RunpodServerlessBackendOptions> = {}) {
  return new RunpodServerlessBackend({
    apiKey: 'emulator-key',
    endpointId: emu.trainingEndpointId,
    baseUrl: emu.serverlessUrl,
    store: signed.store,
    webhookUrl: (runId) => `${hooks.url}/hook/${runId}?sig=test`,
    requestTimeoutMs: 5_000,
    emulated: true,
    fetch: recordingFetch,
    ...over,
  });
}

async function startHookReceiver() {
  const received: Array<Record<string, any>> = [];
  const state = { failNext: 0 };
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      if (state.failNext > 0) {
        state.failNext -= 1;
        res.writeHead(500).end();
        return;
      }
      received.push({ path: req.url, ...JSON.parse(body) });
      res.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return Object.assign(state, {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    received,
    close: async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  });
}

async function waitFor<T>(what: string, fn: () => T | null | undefined | false | Promise<T | null | undefined | false>, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(tmpdir(), 'likeness-emu-serverless-'));
  emu = await startEmulator({ dataDir, trainSeconds: 2, webhookRetryMs: 50 });
  dataset = await startDatasetStore();
  signed = await startSignedStore();
  hooks = await startHookReceiver();
});
afterAll(async () => {
  await emu?.close();
  await dataset?.close();
  await signed?.close();
  await hooks?.close();
  await rm(dataDir, { recursive: true, force: true });
});
beforeEach(() => emu.setFaults({ failNextJobs: 0, preemptNextJobs: 0, failNextRequests: 0, loseNextWebhooks: 0, duplicateNextWebhooks: 0 }));

describe('RunPod serverless training backend', () => {
  it('trains to a verified LoRA uploaded to the store, reporting progress, idempotent by job name, with one webhook', async () => {
    const backend = make();
    const spec = specFor(dataset, 'flux-dev');
    const handle = await backend.submit(spec);
    // A repeated submit (a worker that crashed after /run) finds the same job through the marker.
    const again = await make().submit(spec);
    expect(again.jobId).toBe(handle.jobId);
    expect(runBodies.filter((b) => b.input.job_name === spec.jobName)).toHaveLength(1);
    const sent = runBodies.find((b) => b.input.job_name === spec.jobName)!;
    expect(sent.policy.executionTimeout).toBeGreaterThanOrEqual(5_000);
    expect(sent.policy.ttl).toBeGreaterThan(sent.policy.executionTimeout);
    expect(sent.webhook).toBe(`${hooks.url}/hook/${spec.runId}?sig=test`);
    expect(sent.input.config.config.name).toBe(spec.jobName);

    const running = await pollUntil(backend, handle, ['running', 'completed', 'failed']);
    const progressed = await waitFor('progress', async () => {
      const s = await backend.status(handle);
      return s.state === 'running' && s.progress.step > 0 ? s : s.state === 'completed' ? s : null;
    });
    expect(running.status.state).not.toBe('failed');
    expect(progressed.progress.totalSteps).toBe(spec.recipe.steps);

    const done = await pollUntil(backend, handle, ['completed', 'failed', 'cancelled']);
    expect(done.status.state, done.status.error).toBe('completed');
    expect(done.status.emulated).toBe(true);
    const checkpoints = done.status.artifacts!.filter((a) => a.kind === 'checkpoint');
    expect(checkpoints.map((a) => a.name)).toEqual([`${spec.jobName}.safetensors`]);
    const header = await readSafetensorsStream(await backend.download(handle, checkpoints[0]!));
    expect(verifyLora(inspectLora(header, { fileName: checkpoints[0]!.name }), { baseModel: 'flux-dev', part: 'main', rank: 2 })).toEqual([]);
    expect(header.metadata.likeness_emulated).toBe('true');
    const samples = done.status.artifacts!.filter((a) => a.kind === 'sample');
    expect(samples.length).toBe(spec.recipe.samplePrompts.length);

    const hook = await waitFor('webhook', () => hooks.received.find((b) => b.id === handle.jobId));
    expect(hook).toMatchObject({ status: 'COMPLETED', path: `/hook/${spec.runId}?sig=test`, input: { job_name: spec.jobName } });

    const report = await backend.release(handle);
    expect(report.gpuSeconds).toBeGreaterThanOrEqual(1);
    expect(await signed.store.head(checkpoints[0]!.ref)).toBeNull();
    expect(await backend.release(handle)).toBeDefined(); // idempotent
  });

  it('writes both Wan 2.2 expert files', async () => {
    const backend = make();
    const handle = await backend.submit(specFor(dataset, 'wan22'));
    const done = await pollUntil(backend, handle, ['completed', 'failed']);
    expect(done.status.state, done.status.error).toBe('completed');
    const parts = done.status.artifacts!.filter((a) => a.kind === 'checkpoint').map((a) => a.part);
    expect(parts).toEqual([...LORA_PARTS.wan22]);
    await backend.release(handle);
  });

  it('cancels a running job', async () => {
    const backend = make();
    const handle = await backend.submit(specFor(dataset, 'zimage-turbo'));
    await pollUntil(backend, handle, ['running']);
    await backend.cancel(handle);
    expect((await backend.status(handle)).state).toBe('cancelled');
    await backend.release(handle);
  });

  it("fails with the trainer's message", async () => {
    emu.setFaults({ failNextJobs: 1 });
    const backend = make();
    const handle = await backend.submit(specFor(dataset, 'flux-dev'));
    const done = await pollUntil(backend, handle, ['completed', 'failed']);
    expect(done.status.state).toBe('failed');
    expect(done.status.error).toMatch(/^CUDA out of memory/);
  });

  it('turns a job RunPod forgot (preempted worker, ttl) into a preempted fault', async () => {
    emu.setFaults({ preemptNextJobs: 1 });
    const backend = make();
    const handle = await backend.submit(specFor(dataset, 'flux-dev'));
    const err = await pollUntil(backend, handle, ['completed', 'failed']).catch((e) => e);
    expect(err).toBeInstanceOf(ProviderError);
    expect(err.kind).toBe('preempted');
  });

  it('refuses a wrong API key as fatal, retries a 503 as transient', async () => {
    const bad = await make({ apiKey: 'wrong' }).submit(specFor(dataset, 'flux-dev')).catch((e) => e);
    expect(bad).toBeInstanceOf(ProviderError);
    expect(bad.kind).toBe('fatal');
    expect(bad.httpStatus).toBe(401);
    emu.setFaults({ failNextRequests: 1 });
    const transient = await make().submit(specFor(dataset, 'flux-dev')).catch((e) => e);
    expect(transient).toBeInstanceOf(ProviderError);
    expect(transient.kind).toBe('transient');
    expect((await make().probe()).ok).toBe(true);
    expect((await make({ apiKey: 'wrong' }).probe()).ok).toBe(false);
  });

  it('an orphan job of a retried /run quits when the marker names the other job', async () => {
    const backend = make();
    const spec = specFor(dataset, 'flux-dev');
    const handle = await backend.submit(spec);
    const body = runBodies.find((b) => b.input.job_name === spec.jobName)!;
    const res = await fetch(`${emu.serverlessUrl}/${emu.trainingEndpointId}/run`, {
      method: 'POST',
      headers: { authorization: 'Bearer emulator-key', 'content-type': 'application/json' },
      body: JSON.stringify({ input: body.input, policy: body.policy }),
    });
    const orphan = (await res.json()) as { id: string };
    const orphanHandle: RunpodServerlessHandle = { ...handle, jobId: orphan.id };
    const ended = await pollUntil(backend, orphanHandle, ['failed', 'completed']);
    expect(ended.status).toMatchObject({ state: 'failed', error: `Superseded: job ${handle.jobId} owns ${spec.jobName}` });
    await backend.cancel(handle);
  });

  it('webhooks: retried after a non-200, lost or duplicated as injected', async () => {
    const backend = make();
    hooks.failNext = 1;
    const first = await backend.submit(specFor(dataset, 'zimage-turbo'));
    await waitFor('retried webhook', () => hooks.received.find((b) => b.id === first.jobId));

    emu.setFaults({ duplicateNextWebhooks: 1 });
    const dup = await backend.submit(specFor(dataset, 'zimage-turbo'));
    await waitFor('two webhooks', () => hooks.received.filter((b) => b.id === dup.jobId).length === 2);

    emu.setFaults({ loseNextWebhooks: 1 });
    const lost = await backend.submit(specFor(dataset, 'zimage-turbo'));
    const done = await pollUntil(backend, lost, ['completed', 'failed']);
    expect(done.status.state).toBe('completed'); // polling still finds it
    await new Promise((r) => setTimeout(r, 200));
    expect(hooks.received.filter((b) => b.id === lost.jobId)).toHaveLength(0);
  });
});
