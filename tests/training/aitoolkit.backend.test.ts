/**
 * The plain AI Toolkit backend against the emulator's standalone AI Toolkit UI over real HTTP.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator } from '../../src/emulator/index.js';
import { inspectLora, verifyLora } from '../../src/lora/lora-inspect.js';
import { readSafetensorsStream } from '../../src/lora/safetensors.reader.js';
import { AitoolkitBackend } from '../../src/training/aitoolkit.backend.js';
import { AitkUiClient } from '../../src/training/aitoolkit/aitoolkit-ui.client.js';
import { pollUntil, specFor, startDatasetStore, type DatasetStore } from './helpers/training-test-kit.js';

type Emulator = Awaited<ReturnType<typeof startEmulator>>;
let emu: Emulator;
let store: DatasetStore;
let dataDir: string;

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(tmpdir(), 'likeness-emu-aitk-'));
  emu = await startEmulator({ dataDir, trainSeconds: 3, bootSeconds: 0.5, aitkToken: 'tok-123' });
  store = await startDatasetStore();
});

afterAll(async () => {
  await emu?.close();
  await store?.close();
  await rm(dataDir, { recursive: true, force: true });
});

function backend(over: Partial<ConstructorParameters<typeof AitoolkitBackend>[0]> = {}) {
  return new AitoolkitBackend({ baseUrl: emu.aitkUrl, token: 'tok-123', gpuIds: '0', emulated: true, ...over });
}

describe('AitoolkitBackend on the emulator', () => {
  it('trains to completion, downloads verified LoRAs, and release removes job and dataset', async () => {
    const b = backend({ costPerGpuHourUsd: 0.5 });
    const spec = specFor(store, 'wan22');
    const h = await b.submit(spec);
    expect(await b.submit(spec)).toEqual(h);
    const { status } = await pollUntil(b, h, ['completed', 'failed', 'cancelled']);
    expect(status.state, status.error).toBe('completed');
    const checkpoints = status.artifacts!.filter((a) => a.kind === 'checkpoint');
    expect(new Set(checkpoints.map((c) => c.part))).toEqual(new Set(['high_noise', 'low_noise']));
    for (const c of checkpoints) {
      const header = await readSafetensorsStream(await b.download(h, c));
      expect(verifyLora(inspectLora(header, { fileName: c.name }), { baseModel: 'wan22', part: c.part!, rank: 2 })).toEqual([]);
    }
    // Every dataset file was read once from its URL.
    for (const f of spec.dataset.files) expect(store.hits.get(f.name)).toBeGreaterThanOrEqual(1);

    const ui = new AitkUiClient({ baseUrl: emu.aitkUrl, token: 'tok-123' });
    const job = await ui.findJobByName(h.jobName);
    expect(job?.gpu_ids).toBe('0');
    const cfg = JSON.parse(job!.job_config) as { config: { name: string; process: Array<{ training_folder: string; datasets: Array<{ folder_path: string }> }> } };
    const settings = await ui.getSettings();
    expect(cfg.config.name).toBe(h.jobName);
    expect(cfg.config.process[0]!.training_folder).toBe(settings.TRAINING_FOLDER);
    expect(cfg.config.process[0]!.datasets[0]!.folder_path).toBe(`${settings.DATASETS_FOLDER}/${h.jobName.toLowerCase()}`);

    const report = await b.release(h);
    expect(report.gpuSeconds).toBeGreaterThanOrEqual(0);
    expect(report.costUsd).toBeGreaterThanOrEqual(0);
    expect(await ui.findJobByName(h.jobName)).toBeNull();
    expect(await ui.listDatasets()).not.toContain(h.jobName.toLowerCase());
    expect(await b.release(h)).toEqual({});
  });

  it('keeps the job on release when asked, and reports a trainer error as failed', async () => {
    emu.setFaults({ failNextJobs: 1 });
    const b = backend({ keepOnRelease: true });
    const h = await b.submit(specFor(store, 'zimage-turbo'));
    const { status } = await pollUntil(b, h, ['completed', 'failed']);
    expect(status.state).toBe('failed');
    const ui = new AitkUiClient({ baseUrl: emu.aitkUrl, token: 'tok-123' });
    const job = await ui.findJobByName(h.jobName);
    expect(status.error).toBe(job?.info);
    await b.release(h);
    expect(await ui.findJobByName(h.jobName)).not.toBeNull();
  });

  it('cancel stops a running job', async () => {
    const b = backend();
    const h = await b.submit(specFor(store, 'flux-dev'));
    await pollUntil(b, h, ['running']);
    await b.cancel(h);
    const { status } = await pollUntil(b, h, ['cancelled', 'completed']);
    expect(status.state).toBe('cancelled');
    await b.release(h);
  });

  it('two overlapping first polls create one job (the 409 is absorbed)', async () => {
    const b = backend();
    const h = await b.submit(specFor(store, 'qwen-image'));
    const [a, c] = await Promise.all([b.status(h), b.status(h)]);
    expect([a.state, c.state]).toEqual(['queued', 'queued']);
    expect(emu.snapshot().jobs.filter((j) => j.name === h.jobName)).toHaveLength(1);
    const { status } = await pollUntil(b, h, ['completed', 'failed']);
    expect(status.state).toBe('completed');
    await b.release(h);
  });

  it('a hung request times out as transient', async () => {
    const b = backend({ requestTimeoutMs: 500 });
    const h = await b.submit(specFor(store, 'flux-dev'));
    emu.setFaults({ timeoutRate: 1 });
    try {
      const err = await b.status(h).catch((e: unknown) => e);
      expect(err).toMatchObject({ kind: 'transient', message: expect.stringMatching(/not answering: .*timed out after 500 ms/) });
    } finally {
      emu.setFaults({ timeoutRate: 0 });
    }
    await b.release(h);
  });

  it('a wrong token is fatal; an unreachable UI is transient', async () => {
    await expect(backend({ token: 'wrong' }).submit(specFor(store, 'flux-dev'))).rejects.toMatchObject({
      kind: 'fatal',
      httpStatus: 401,
    });
    const down = new AitoolkitBackend({ baseUrl: 'http://127.0.0.1:9', requestTimeoutMs: 2000 });
    await expect(down.submit(specFor(store, 'flux-dev'))).rejects.toMatchObject({ kind: 'transient' });
  });
});
