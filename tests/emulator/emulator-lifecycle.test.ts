/**
 * The emulator as a component: option checks, its data folder, the marker header on every
 * answer, and a close() that leaves no timer behind even in the middle of a training.
 */
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { startEmulator } from '../../src/emulator/index.js';
import { AitkClient, jobConfig, startTestEmulator, uploadDataset, waitFor } from './emulator-test-kit.js';

const timeouts = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

describe('emulator lifecycle', () => {
  it('close() in the middle of a training stops every timer and the server', async () => {
    const before = timeouts();
    const t = await startTestEmulator({ trainSeconds: 8, aitkToken: 'tok' });
    const ui = new AitkClient(t.emu.aitkUrl, 'tok');
    await ui.json('/api/datasets/list');
    await uploadDataset(ui, 'set');
    const job = await ui.createJob('long_one', jobConfig('long_one', { steps: 1000, dataset: 'set' }));
    await ui.json(`/api/jobs/${job.id}/start`);
    await ui.json('/api/queue/0/start');
    await waitFor(() => ui.job(job.id), (j) => j.status === 'running' && j.step > 0, 10_000);
    expect(timeouts()).toBeGreaterThan(before);
    await t.emu.close();
    await t.emu.close(); // idempotent
    expect(timeouts()).toBeLessThanOrEqual(before);
    await expect(fetch(`${t.emu.url}/aitk/api/auth`)).rejects.toThrow();
    await rm(t.dataDir, { recursive: true, force: true });
  });

  it('marks every answer as emulated, including unknown paths', async () => {
    const t = await startTestEmulator();
    try {
      const r = await fetch(`${t.emu.url}/nothing`);
      expect(r.status).toBe(404);
      expect(r.headers.get('x-likeness-emulated')).toBe('1');
      const proxy = await fetch(`${t.emu.podProxyUrlTemplate.replace('{podId}', 'nosuchpod').replace('{port}', '8675')}/api/auth`);
      expect(proxy.status).toBe(404);
      expect(proxy.headers.get('x-likeness-emulated')).toBe('1');
      expect(t.emu.podProxyUrlTemplate).toBe(`${t.emu.url}/proxy/{podId}-{port}`);
      expect(t.emu.aitkUrl).toBe(`${t.emu.url}/aitk`);
      expect(t.emu.runpodApiUrl).toBe(t.emu.url);
    } finally {
      await t.stop();
    }
  });

  it('refuses bad options and a data folder that is not its own; cleans its own on restart', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'likeness-emu-dir-'));
    try {
      await expect(startEmulator({ dataDir: dir, trainSeconds: -1 })).rejects.toThrow(/trainSeconds/);
      await expect(startEmulator({ dataDir: dir, openapiPath: path.join(dir, 'missing.json') })).rejects.toThrow(/OpenAPI/);

      const foreign = path.join(dir, 'foreign');
      await mkdir(path.join(foreign, 'pods'), { recursive: true });
      await expect(startEmulator({ dataDir: foreign })).rejects.toThrow(/not an emulator data dir/);

      const own = path.join(dir, 'own');
      const first = await startEmulator({ dataDir: own });
      await first.close();
      await writeFile(path.join(own, 'aitk', 'stale.txt'), 'left over');
      const second = await startEmulator({ dataDir: own });
      expect(await readdir(path.join(own, 'aitk'))).not.toContain('stale.txt');
      await second.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
