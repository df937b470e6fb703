/**
 * The RunPod pod backend against the GPU emulator over real HTTP: RunPod REST v2 for the pod, the
 * emulated AI Toolkit UI through the emulated proxy. Nothing of the adapter is mocked.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BASE_MODELS, LORA_PARTS } from '../../src/domain/base-models.js';
import { ProviderError } from '../../src/domain/errors.js';
import { startEmulator } from '../../src/emulator/index.js';
import { inspectLora, verifyLora } from '../../src/lora/lora-inspect.js';
import { readSafetensorsStream } from '../../src/lora/safetensors.reader.js';
import { AitkUiClient } from '../../src/training/aitoolkit/aitoolkit-ui.client.js';
import { RunpodPodBackend, type RunpodPodBackendOptions, type RunpodPodHandle } from '../../src/training/runpod-pod.backend.js';
import type { TrainingArtifact, TrainingStatus } from '../../src/training/training-backend.js';
import { pollUntil, specFor, startDatasetStore, type DatasetStore } from './helpers/training-test-kit.js';

type Emulator = Awaited<ReturnType<typeof startEmulator>>;
let emu: Emulator;
let store: DatasetStore;
let dataDir: string;
let backend: RunpodPodBackend;

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(tmpdir(), 'likeness-emu-runpod-'));
  emu = await startEmulator({ dataDir, trainSeconds: 4, bootSeconds: 0.5 });
  store = await startDatasetStore();
  backend = podBackend();
});

/** The backend on the emulator, as the product configures it for emulated runs. */
function podBackend(over: Partial<RunpodPodBackendOptions> = {}): RunpodPodBackend {
  return new RunpodPodBackend({
    apiKey: 'emulator-key',
    apiBaseUrl: emu.runpodApiUrl,
    proxyUrlTemplate: emu.podProxyUrlTemplate,
    gpuTypeIds: ['NVIDIA GeForce RTX 4090'],
    requestTimeoutMs: 10_000,
    emulated: true,
    ...over,
  });
}

afterAll(async () => {
  await emu?.close();
  await store?.close();
  await rm(dataDir, { recursive: true, force: true });
});

function podsNamed(name: string) {
  return emu.snapshot().pods.filter((p) => p.name === name);
}

/** Released: the run's pod is in the emulator's books as TERMINATED, and no pod of that name lives. */
function expectReleased(h: RunpodPodHandle) {
  const pods = podsNamed(h.podName);
  expect(pods.map((p) => p.id)).toContain(h.podId);
  for (const pod of pods) expect(pod.status).toBe('TERMINATED');
}

async function downloadHeader(h: RunpodPodHandle, a: TrainingArtifact) {
  const stream = await backend.download(h, a);
  return readSafetensorsStream(stream);
}

describe('RunpodPodBackend on the emulator', () => {
  it('trains every base model to completion, with artifacts whose headers match the model', async () => {
    await Promise.all(
      BASE_MODELS.map(async (baseModel) => {
        const spec = specFor(store, baseModel);
        const h = await backend.submit(spec);
        expect(h).toMatchObject({ backend: 'runpod', jobName: spec.jobName, podName: `likeness-${spec.jobName}` });
        expect(JSON.parse(JSON.stringify(h))).toEqual(h);
        const pod = podsNamed(h.podName)[0]!;
        expect(pod.env.AI_TOOLKIT_AUTH).toBe(h.uiToken);
        expect(h.uiToken).toMatch(/^[0-9a-f]{64}$/);

        const { status, seen } = await pollUntil(backend, h, ['completed', 'failed', 'cancelled']);
        expect(status.state, status.error).toBe('completed');
        expect(seen[0]).toBe('starting');
        expect(status.emulated).toBe(true);
        expect(status.progress.totalSteps).toBe(40);

        const checkpoints = status.artifacts!.filter((a) => a.kind === 'checkpoint');
        const samples = status.artifacts!.filter((a) => a.kind === 'sample');
        expect(samples.length).toBeGreaterThan(0);
        for (const s of samples) expect(typeof s.step).toBe('number');
        // A final save (no step) for every part the base model has.
        for (const part of LORA_PARTS[baseModel]) {
          expect(checkpoints.some((c) => c.step === null && c.part === part)).toBe(true);
        }
        for (const c of checkpoints) {
          const header = await downloadHeader(h, c);
          expect(header.fileSize).toBe(c.size);
          const info = inspectLora(header, { fileName: c.name });
          expect(verifyLora(info, { baseModel, part: c.part!, rank: 2 }), `${baseModel} ${c.name}`).toEqual([]);
        }

        const report = await backend.release(h);
        expect(report.gpuSeconds).toBeGreaterThanOrEqual(0);
        expect(report.costUsd).toBeGreaterThanOrEqual(0);
        expectReleased(h);
        // Idempotent: a second release finds nothing to terminate and reports nothing new.
        expect(await backend.release(h)).toEqual({});
      }),
    );
  });

  it('creates one pod when submit is called twice with the same job name', async () => {
    const spec = specFor(store, 'zimage-turbo');
    const first = await backend.submit(spec);
    const second = await backend.submit(spec);
    expect(second.podId).toBe(first.podId);
    expect(second.uiToken).toBe(first.uiToken);
    expect(podsNamed(first.podName)).toHaveLength(1);
    await backend.release(first);
    expectReleased(first);
  });

  it('reports a trainer error as failed with the UI’s text, then releases the pod', async () => {
    emu.setFaults({ failNextJobs: 1 });
    const h = await backend.submit(specFor(store, 'flux-dev'));
    const { status } = await pollUntil(backend, h, ['completed', 'failed']);
    expect(status.state).toBe('failed');
    // The UI's own words, as its job row has them.
    const ui = new AitkUiClient({ baseUrl: backend.uiUrlFor(h.podId), token: h.uiToken });
    const job = await ui.findJobByName(h.jobName);
    expect(job?.status).toBe('error');
    expect(job?.info).toBeTruthy();
    expect(status.error).toBe(job?.info);
    await backend.release(h);
    expectReleased(h);
  });

  it('throws ProviderError preempted when the pod goes away mid-training, and release still terminates', async () => {
    emu.setFaults({ preemptNextJobs: 1 });
    const h = await backend.submit(specFor(store, 'wan21'));
    const err = await pollUntil(backend, h, ['completed', 'failed']).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProviderError);
    expect(err).toMatchObject({ kind: 'preempted', provider: 'runpod' });
    await backend.release(h);
    expectReleased(h);
  });

  it('cancel stops the job: status becomes cancelled', async () => {
    const h = await backend.submit(specFor(store, 'qwen-image', undefined));
    await pollUntil(backend, h, ['running']);
    await backend.cancel(h);
    const { status } = await pollUntil(backend, h, ['cancelled', 'completed']);
    expect(status.state).toBe('cancelled');
    expect(emu.snapshot().jobs.find((j) => j.name === h.jobName)?.status).toBe('stopped');
    await backend.release(h);
    expectReleased(h);
  });

  it('answers many statuses with one pod listing and one request to each healthy pod', async () => {
    const requests: string[] = [];
    const counting = podBackend({
      fetch: (input, init) => {
        const url = new URL(input instanceof Request ? input.url : String(input));
        requests.push(`${init?.method ?? 'GET'} ${url.pathname}`);
        return fetch(input, init);
      },
    });
    const slow = { recipe: { ...specFor(store, 'flux-dev').recipe, steps: 400 } };
    const running = await Promise.all([specFor(store, 'flux-dev', slow), specFor(store, 'flux-dev', slow)].map((s) => counting.submit(s)));
    for (const h of running) await pollUntil(counting, h, ['running']);
    const gone = await counting.submit(specFor(store, 'flux-dev'));
    await counting.release(gone);

    requests.length = 0;
    const many = await counting.statusMany([running[0]!, gone, running[1]!], { concurrency: 2 });
    expect(requests.filter((r) => r === 'GET /v2/pods')).toHaveLength(1);
    // Each running pod's UI was asked once (its job list), and no pod was looked up alone except
    // the released one, which the listing no longer shows as alive.
    expect(requests.filter((r) => r.endsWith('/api/auth'))).toHaveLength(0);
    expect(requests.filter((r) => r.endsWith('/api/jobs'))).toHaveLength(2);
    expect(requests.filter((r) => r.startsWith('GET /v2/pods/') && !r.endsWith(gone.podId))).toHaveLength(0);

    expect(many.map((m) => m.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    const alone = await Promise.allSettled([running[0]!, gone, running[1]!].map((h) => counting.status(h)));
    for (const i of [0, 2]) {
      const [a, b] = [many[i], alone[i]] as PromiseFulfilledResult<TrainingStatus>[];
      expect(a!.value.state).toBe('running');
      expect(b!.value.state).toBe(a!.value.state);
      expect(b!.value.progress.totalSteps).toBe(a!.value.progress.totalSteps);
    }
    expect((many[1] as PromiseRejectedResult).reason).toMatchObject({ kind: 'preempted' });
    expect((alone[1] as PromiseRejectedResult).reason).toMatchObject({ kind: 'preempted' });
    for (const h of running) await counting.release(h);
  });

  it('classifies a provider 503 as transient and carries on', async () => {
    const h = await backend.submit(specFor(store, 'zimage-turbo'));
    emu.setFaults({ failNextRequests: 1 });
    const err = await backend.status(h).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProviderError);
    expect(err).toMatchObject({ kind: 'transient', httpStatus: 503 });
    const { status } = await pollUntil(backend, h, ['completed', 'failed']);
    expect(status.state).toBe('completed');
    await backend.release(h);
    expectReleased(h);
  });

  it('turns an expired dataset URL into preempted (a new attempt needs fresh URLs)', async () => {
    const spec = specFor(store, 'flux-dev');
    store.expired.add('img_003.jpg');
    try {
      const h = await backend.submit(spec);
      const err = await pollUntil(backend, h, ['completed', 'failed']).catch((e: unknown) => e);
      expect(err).toMatchObject({ kind: 'preempted', httpStatus: 403 });
      expect((err as Error).message).not.toContain('X-Signature');
      await backend.release(h);
      expectReleased(h);
    } finally {
      store.expired.delete('img_003.jpg');
    }
  });

  it('counts a pod that does not start in time as preempted', async () => {
    const late = new RunpodPodBackend({
      apiKey: 'emulator-key',
      apiBaseUrl: emu.runpodApiUrl,
      proxyUrlTemplate: emu.podProxyUrlTemplate,
      gpuTypeIds: ['NVIDIA GeForce RTX 4090'],
      startTimeoutMs: 60_000,
      // The clock says the pod was created two hours ago.
      now: () => Date.now() + 2 * 3_600_000,
    });
    const h = await late.submit(specFor(store, 'flux-dev'));
    // Right after submit the emulated pod is still provisioning (bootSeconds 0.5).
    await expect(late.status(h)).rejects.toMatchObject({ kind: 'preempted', message: expect.stringMatching(/did not start within 1 min/) });
    await late.release(h);
    expectReleased(h);
  });

  it('refuses a wrong API key as fatal', async () => {
    const wrong = new RunpodPodBackend({
      apiKey: 'not-the-key',
      apiBaseUrl: emu.runpodApiUrl,
      proxyUrlTemplate: emu.podProxyUrlTemplate,
      gpuTypeIds: ['NVIDIA GeForce RTX 4090'],
    });
    await expect(wrong.submit(specFor(store, 'flux-dev'))).rejects.toMatchObject({ kind: 'fatal', httpStatus: 401 });
  });
});
