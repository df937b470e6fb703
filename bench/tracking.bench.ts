/**
 * One worker tracking N running trainings: the CPU share of the Likeness process (API + worker +
 * embedded database) while it only polls providers, at the production poll interval. The GPU
 * emulator runs in a child process so its own cost is not counted.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { seedCharacters, sleep, startBenchApp, type BenchRow } from './bench-kit.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
/** The production default of LIKENESS_POLL_SECONDS. */
const POLL_SECONDS = 5;

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

async function trackN(n: number, windowSeconds: number): Promise<BenchRow[]> {
  const port = await freePort();
  const emuDir = await mkdtemp(path.join(tmpdir(), 'likeness-bench-emu-'));
  const emu = spawn(process.execPath, [path.join(ROOT, 'bin/likeness.mjs'), 'emulator', '--port', String(port), '--train-seconds', '3600'], {
    env: { ...process.env, LIKENESS_DATA_DIR: emuDir },
    stdio: 'ignore',
  });
  const emuUrl = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    if (await fetch(`${emuUrl}/_emulator/state`).then((r) => r.ok).catch(() => false)) break;
    await sleep(100);
  }
  const b = await startBenchApp({ LIKENESS_EMULATOR_URL: emuUrl, LIKENESS_TRAIN_STEPS: '1000', LIKENESS_POLL_SECONDS: String(POLL_SECONDS) });
  try {
    const { token, characterIds } = await seedCharacters(b, n);
    for (const id of characterIds) await b.call('POST', `/v1/characters/${id}/lora/train`, token, {});
    // Wait until every job runs on its (emulated) trainer: before that, polls still boot pods,
    // upload datasets and create jobs, which is setup work, not tracking. Then one more poll
    // interval, so each run has seen its job running; from then on the worker only polls.
    const deadline = Date.now() + 240_000;
    for (;;) {
      const state = (await fetch(`${emuUrl}/_emulator/state`).then((r) => r.json())) as { jobs: { status: string }[] };
      const running = state.jobs.filter((j) => j.status === 'running').length;
      if (running === n) break;
      if (Date.now() > deadline) throw new Error(`only ${running}/${n} jobs reached their trainer`);
      await sleep(1000);
    }
    await sleep(POLL_SECONDS * 1000 + 1000);
    const wall0 = performance.now();
    const cpu0 = process.cpuUsage();
    await sleep(windowSeconds * 1000);
    const cpu = process.cpuUsage(cpu0);
    const share = ((cpu.user + cpu.system) / 1000 / (performance.now() - wall0)) * 100;
    return [
      {
        name: `CPU of one worker tracking ${n} running trainings (poll every ${POLL_SECONDS} s)`,
        value: share,
        unit: '% of a core',
        target: n >= 1000 ? '< 25%' : undefined,
        meets: n >= 1000 ? share < 25 : undefined,
      },
    ];
  } finally {
    await b.close();
    emu.kill('SIGTERM');
    await rm(emuDir, { recursive: true, force: true });
  }
}

export async function runTrackingBench(opts: { quick: boolean }): Promise<BenchRow[]> {
  const sizes = opts.quick ? [30] : [100, 1000];
  const rows: BenchRow[] = [];
  for (const n of sizes) {
    try {
      rows.push(...(await trackN(n, opts.quick ? 5 : 20)));
    } catch (err) {
      // Keep the sizes that worked; say plainly why this one has no figure.
      rows.push({ name: `CPU of one worker tracking ${n} running trainings: not measured (${(err as Error).message})`, value: NaN, unit: '% of a core', target: n >= 1000 ? '< 25%' : undefined, meets: n >= 1000 ? false : undefined });
    }
  }
  return rows;
}
