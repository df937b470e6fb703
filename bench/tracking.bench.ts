/**
 * One worker tracking N running trainings: the CPU share of the Likeness process (API + worker +
 * embedded database) while it only polls providers, at the production poll interval. The GPU
 * emulator runs in a child process so its own cost is not counted. `LIKENESS_BENCH_CPU_PROFILE=
 * /tmp/p` also writes a CPU profile of each measured window (/tmp/p-N.cpuprofile).
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pLimit from 'p-limit';
import { and, count, eq, isNotNull } from 'drizzle-orm';
import { trainingRuns } from '../src/db/schema.js';
import { seedCharacters, sleep, startBenchApp, type BenchApp, type BenchRow } from './bench-kit.js';

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

/** A CPU profile of this thread (the API, the worker and PGlite) over the measured window only. */
async function startProfile(): Promise<{ stop(file: string): Promise<void> }> {
  const { Session } = await import('node:inspector/promises');
  const { writeFile } = await import('node:fs/promises');
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
  return {
    async stop(file) {
      const { profile } = await session.post('Profiler.stop');
      await writeFile(file, JSON.stringify(profile));
      session.disconnect();
      console.error(`  CPU profile of the window: ${file}`);
    },
  };
}

const row = (n: number, value: number, note = ''): BenchRow => ({
  name: `CPU of one worker tracking ${n} running trainings (poll every ${POLL_SECONDS} s)${note}`,
  value,
  unit: '% of a core',
  target: n >= 1000 ? '< 25%' : undefined,
  meets: n >= 1000 ? value < 25 : undefined,
});

/**
 * Measures each size in turn on one emulator and one data folder: the runs of a smaller size stay
 * in training and count toward the next. For each size, a setup Likeness with many step handlers
 * brings the new runs to their trainers (at the default four, 1,000 runs take minutes of mostly
 * waiting), stops, and the measured one opens the same data with the defaults: a worker restarted
 * with N trainings in flight, which takes them over and from then on only tracks them.
 */
export async function trackSizes(sizes: readonly number[], windowSeconds: number): Promise<BenchRow[]> {
  const port = await freePort();
  const emuDir = await mkdtemp(path.join(tmpdir(), 'likeness-bench-emu-'));
  const emu = spawn(process.execPath, [path.join(ROOT, 'bin/likeness.mjs'), 'emulator', '--port', String(port), '--train-seconds', '3600'], {
    env: { ...process.env, LIKENESS_DATA_DIR: emuDir },
    stdio: 'ignore',
  });
  const emuUrl = `http://127.0.0.1:${port}`;
  // Waited for after the first Likeness has started: both take a second or two.
  const emuReady = (async () => {
    for (let i = 0; i < 100; i++) {
      if (await fetch(`${emuUrl}/_emulator/state`).then((r) => r.ok).catch(() => false)) return;
      await sleep(100);
    }
    throw new Error('the GPU emulator did not answer within 10 s');
  })();
  emuReady.catch(() => undefined);
  // One image per training: what tracking costs does not depend on the dataset, and preparing,
  // uploading and fetching five per run was most of the setup's time.
  const env = { LIKENESS_EMULATOR_URL: emuUrl, LIKENESS_TRAIN_STEPS: '1000', LIKENESS_POLL_SECONDS: String(POLL_SECONDS), LIKENESS_MIN_IMAGES: '1' };
  const rows: BenchRow[] = [];
  let b: BenchApp | null = null;
  let dataDir: string | undefined;
  let started = 0;
  try {
    for (const n of sizes) {
      try {
        // Setup ticks every second: a booted pod gets its job sooner.
        b = await startBenchApp({ ...env, LIKENESS_WORKER_CONCURRENCY: '32', LIKENESS_POLL_SECONDS: '1' }, { dataDir });
        dataDir = b.dataDir;
        await emuReady;
        const setup0 = performance.now();
        const { token, characterIds } = await seedCharacters(b, n - started, 1);
        const limit = pLimit(8);
        await Promise.all(characterIds.map((id) => limit(() => b!.call('POST', `/v1/characters/${id}/lora/train`, token, {}))));
        started = n;
        // Every job runs on its (emulated) trainer: before that, polls still boot pods, upload
        // datasets and create jobs, which is setup work, not tracking.
        const deadline = Date.now() + 240_000;
        for (;;) {
          const state = (await fetch(`${emuUrl}/_emulator/state`).then((r) => r.json())) as { jobs: { status: string }[] };
          const running = state.jobs.filter((j) => j.status === 'running').length;
          if (running === n) break;
          if (Date.now() > deadline) throw new Error(`only ${running}/${n} jobs reached their trainer`);
          await sleep(300);
        }
        const onTrainer = performance.now();
        await b.close({ keepData: true });
        b = await startBenchApp(env, { dataDir });
        for (;;) {
          const [held] = await b.app.database.db
            .select({ n: count() })
            .from(trainingRuns)
            .where(and(eq(trainingRuns.status, 'training'), isNotNull(trainingRuns.workerId)));
          if (held!.n === n) break;
          if (Date.now() > deadline) throw new Error(`only ${held!.n}/${n} runs were taken over after the restart`);
          await sleep(200);
        }
        const secs = (a: number, z: number) => ((z - a) / 1000).toFixed(0);
        console.error(`  tracking ${n}: on their trainers after ${secs(setup0, onTrainer)} s of setup, taken over by the restarted worker in ${secs(onTrainer, performance.now())} s`);
        // One poll interval more, so the window holds only steady tracking.
        await sleep(POLL_SECONDS * 1000 + 250);
        const profile = process.env.LIKENESS_BENCH_CPU_PROFILE ? await startProfile() : null;
        const wall0 = performance.now();
        const cpu0 = process.cpuUsage();
        await sleep(windowSeconds * 1000);
        const cpu = process.cpuUsage(cpu0);
        if (profile) await profile.stop(`${process.env.LIKENESS_BENCH_CPU_PROFILE}-${n}.cpuprofile`);
        rows.push(row(n, ((cpu.user + cpu.system) / 1000 / (performance.now() - wall0)) * 100));
        await b.close({ keepData: true });
        b = null;
      } catch (err) {
        // Keep the sizes that worked; say plainly why this one (and any larger) has no figure.
        rows.push(row(n, NaN, `: not measured (${(err as Error).message})`));
        break;
      }
    }
  } finally {
    await b?.close({ keepData: true });
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
    emu.kill('SIGTERM');
    await rm(emuDir, { recursive: true, force: true });
  }
  return rows;
}

export async function runTrackingBench(opts: { quick: boolean; sizes?: number[] }): Promise<BenchRow[]> {
  const sizes = opts.sizes ?? (opts.quick ? [30] : [100, 1000]);
  return trackSizes([...sizes].sort((a, z) => a - z), opts.quick ? 5 : 15);
}
