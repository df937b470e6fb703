/**
 * Kill -9 during training and start again: the run resumes on the same provider job and ends
 * ready, charged once. Real processes: the GPU emulator in its own process (as a real provider
 * outlives us) and `likeness start` twice on the same data dir.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, HAVE_FACES, ROOT, facesForm, freshDatabase, waitFor } from '../helpers/harness.js';

const children: ChildProcess[] = [];

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

function spawnLikeness(args: string[], env: Record<string, string>): ChildProcess {
  const child = spawn(process.execPath, [path.join(ROOT, 'bin/likeness.mjs'), ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  child.on('exit', (code, signal) => {
    if (code && code !== 0) console.error(`likeness ${args[0]} exited ${code} ${signal ?? ''}\n${output}`);
  });
  children.push(child);
  return child;
}

async function until(url: string) {
  await waitFor(`${url} to answer`, async () => (await fetch(url).catch(() => null))?.ok ?? false, 60_000, 200);
}

afterAll(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
});

const BACKENDS: Array<[string, (emuUrl: string) => Record<string, string>]> = [
  // The RunPod pod adapter against the emulator's RunPod API and pod proxy.
  ['RunPod pods + AI Toolkit', (emuUrl) => ({ LIKENESS_EMULATOR_URL: emuUrl })],
  // An AI Toolkit UI that is already running (issue #12): re-attach to the job by its stored name.
  ['AI Toolkit UI', (emuUrl) => ({ LIKENESS_TRAINING_BACKEND: 'aitoolkit', LIKENESS_AITOOLKIT_URL: `${emuUrl}/aitk`, LIKENESS_AITOOLKIT_TOKEN: 'emulator-aitk' })],
];

describe.skipIf(!HAVE_FACES).each(BACKENDS)('crash during training (%s)', (backendName, backendEnv) => {
  it('resumes after kill -9 and charges once', async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'likeness-crash-'));
    const emuPort = await freePort();
    const apiPort = await freePort();
    spawnLikeness(['emulator', '--port', String(emuPort), '--train-seconds', '8'], { LIKENESS_DATA_DIR: dataDir });
    const database = await freshDatabase();
    const env: Record<string, string> = {
      ...(database ? { DATABASE_URL: database.url } : {}),
      PORT: String(apiPort),
      LIKENESS_DATA_DIR: dataDir,
      LIKENESS_ADMIN_TOKEN: ADMIN_TOKEN,
      LIKENESS_MIN_IMAGE_SIDE: '100',
      ...backendEnv(`http://127.0.0.1:${emuPort}`),
      LIKENESS_POLL_SECONDS: '0.5',
      LIKENESS_TRAIN_STEPS: '40',
      LIKENESS_TRAIN_RANK: '2',
    };
    await until(`http://127.0.0.1:${emuPort}/_emulator/state`);
    let likeness = spawnLikeness(['start'], env);
    const api = `http://127.0.0.1:${apiPort}`;
    await until(`${api}/health`);

    const json = async (method: string, p: string, token: string, body?: unknown) => {
      const res = await fetch(`${api}${p}`, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
        body: body ? JSON.stringify(body) : undefined,
      });
      return (await res.json()) as any;
    };
    const user = await json('POST', '/v1/users', ADMIN_TOKEN, { name: 'crash' });
    await json('POST', `/v1/users/${user.id}/credits`, ADMIN_TOKEN, { amount: 50_000, reason: 'test' });
    const character = await json('POST', '/v1/characters', user.token, { name: 'Leonard' });
    await fetch(`${api}/v1/characters/${character.id}/images`, {
      method: 'POST',
      headers: { authorization: `Bearer ${user.token}` },
      body: await facesForm('leonard'),
    });
    const started = await json('POST', `/v1/characters/${character.id}/character-sheet/complete`, user.token);
    const runId = started.run.id as string;

    await waitFor('training with progress', async () => {
      const r = await json('GET', `/v1/training-runs/${runId}`, user.token);
      return r.status === 'training' && r.progress.step > 0;
    }, 60_000);
    likeness.kill('SIGKILL');
    await new Promise((r) => likeness.once('exit', r));

    likeness = spawnLikeness(['start'], env);
    await until(`${api}/health`);
    const done = await waitFor('ready after restart', async () => {
      const r = await json('GET', `/v1/training-runs/${runId}`, user.token);
      if (r.status === 'failed') throw new Error(r.error?.message);
      return r.status === 'ready' ? r : null;
      // With PostgreSQL a job the killed process held becomes free when it expires (60 s while
      // training) plus a maintenance tick; with PGlite it is recovered at start-up.
    }, 150_000);
    expect(done.attempt).toBe(1); // the same pod and job carried on: no second attempt
    expect(done.credits).toMatchObject({ charged: 20_000, refunded: 0, reserved: 0 });
    const me = await json('GET', '/v1/me', user.token);
    expect(me.credits).toMatchObject({ available: 30_000, reserved: 0, spent: 20_000 });
    const events = await json('GET', `/v1/training-runs/${runId}/events`, user.token);
    expect(events.items.filter((e: { to: string }) => e.to === 'ready')).toHaveLength(1);
    const state = await (await fetch(`http://127.0.0.1:${emuPort}/_emulator/state`)).json();
    if (backendName.startsWith('RunPod')) {
      expect(state.pods).toHaveLength(1);
      expect(state.pods[0].status).toBe('TERMINATED');
    } else {
      // One job was ever created on the UI, and it was cleaned up once the LoRA was stored.
      expect(state.jobs.filter((j: { status: string }) => j.status === 'running')).toHaveLength(0);
    }

    likeness.kill('SIGTERM');
    await new Promise((r) => likeness.once('exit', r));
    await database?.drop();
    await rm(dataDir, { recursive: true, force: true });
  }, 300_000);
});
