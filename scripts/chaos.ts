/**
 * Chaos run (issue #7): N trainings against the GPU emulator with injected provider faults, while
 * worker processes are killed with SIGKILL at random moments and restarted. Then every invariant
 * the product promises is checked in the database and at the provider:
 *   every run ended ready or failed (none stuck) · every ready run has a LoRA whose files exist
 *   and verify · no credits charged twice · no reservation left open · ledger sums balance ·
 *   no emulated pod left running.
 *
 *   npm run chaos                       # 100 runs, 30% faults, 3 workers
 *   npm run chaos -- --runs 8 --workers 2 --kill-every 3000 --json
 *
 * Needs PostgreSQL (several processes share the database): DATABASE_URL, or the throwaway
 * server of scripts/pg-test-server.sh, on which it creates a database of its own.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';
import sharp from 'sharp';
import { createScratchDatabase } from '../src/db/scratch-database.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const ADMIN = 'chaos-admin-token-0123456789abcdef';

const { values: args } = parseArgs({
  options: {
    runs: { type: 'string', default: '100' },
    workers: { type: 'string', default: '3' },
    faults: { type: 'string', default: 'error=0.15,timeout=0.02,preempt=0.08,trainer_error=0.05' },
    'kill-every': { type: 'string', default: '4000' },
    'train-seconds': { type: 'string', default: '4' },
    'timeout-minutes': { type: 'string', default: '20' },
    json: { type: 'boolean', default: false },
  },
});
const RUNS = Number(args.runs);
const WORKERS = Number(args.workers);
const KILL_EVERY = Number(args['kill-every']);
const log = (m: string) => {
  if (!args.json) console.log(m);
};

const freePort = () =>
  new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const children = new Set<ChildProcess>();
function likeness(cmd: string[], env: Record<string, string>): ChildProcess {
  const child = spawn(process.execPath, [path.join(ROOT, 'bin/likeness.mjs'), ...cmd], { env: { ...process.env, ...env }, stdio: 'ignore' });
  children.add(child);
  child.on('exit', () => children.delete(child));
  return child;
}

async function until(url: string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (await fetch(url).then((r) => r.ok).catch(() => false)) return;
    await sleep(100);
  }
  throw new Error(`${url} never answered`);
}

async function main() {
  const server = process.env.DATABASE_URL ?? execFileSync('bash', [path.join(ROOT, 'scripts/pg-test-server.sh')], { encoding: 'utf8' }).trim();
  const database = await createScratchDatabase(server, 'lk_chaos');
  const dbUrl = database.url;
  const dataDir = await mkdtemp(path.join(tmpdir(), 'likeness-chaos-'));
  const emuPort = await freePort();
  const apiPort = await freePort();
  const emuUrl = `http://127.0.0.1:${emuPort}`;
  const api = `http://127.0.0.1:${apiPort}`;
  const env = {
    DATABASE_URL: dbUrl,
    PORT: String(apiPort),
    LIKENESS_DATA_DIR: dataDir,
    LIKENESS_ADMIN_TOKEN: ADMIN,
    LIKENESS_EMULATOR_URL: emuUrl,
    LIKENESS_IDENTITY: 'off',
    // One user starts every run: the per-user limits would refuse most of them.
    LIKENESS_MAX_TRAININGS_PER_DAY: '0',
    LIKENESS_MAX_CONCURRENT_TRAININGS: '0',
    LIKENESS_MAX_GENERATIONS_PER_MINUTE: '0',
    LIKENESS_MIN_IMAGE_SIDE: '64',
    LIKENESS_POLL_SECONDS: '0.5',
    LIKENESS_TRAIN_STEPS: '20',
    LIKENESS_TRAIN_RANK: '1',
    LIKENESS_WORKER_CONCURRENCY: '4',
  };
  const started = Date.now();
  try {
    likeness(['emulator', '--port', String(emuPort), '--train-seconds', String(args['train-seconds']), '--faults', args.faults!], { LIKENESS_DATA_DIR: dataDir });
    await until(`${emuUrl}/_emulator/state`);
    // Migrate once before the processes race to.
    execFileSync(process.execPath, [path.join(ROOT, 'bin/likeness.mjs'), 'migrate'], { env: { ...process.env, ...env }, stdio: 'ignore' });
    likeness(['api'], env);
    await until(`${api}/health`);
    const workers: ChildProcess[] = [];
    for (let i = 0; i < WORKERS; i++) workers.push(likeness(['worker'], env));

    const call = async (method: string, p: string, token: string, body?: unknown, form?: FormData) => {
      const res = await fetch(`${api}${p}`, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        body: form ?? (body !== undefined ? JSON.stringify(body) : undefined),
      });
      const json = (await res.json()) as any;
      if (!res.ok) throw new Error(`${method} ${p}: ${res.status} ${JSON.stringify(json)}`);
      return json;
    };
    const user = await call('POST', '/v1/users', ADMIN, { name: 'chaos' });
    const GRANT = 100_000_000;
    await call('POST', `/v1/users/${user.id}/credits`, ADMIN, { amount: GRANT, reason: 'chaos' });
    const photos = await Promise.all(
      [1, 2, 3, 4, 5].map((s) =>
        sharp({ create: { width: 80, height: 80, channels: 3, background: { r: 50 * s, g: 100, b: 150 }, noise: { type: 'gaussian', mean: 128, sigma: 40 } } }).jpeg().toBuffer(),
      ),
    );
    const runIds: string[] = [];
    for (let i = 0; i < RUNS; i++) {
      const c = await call('POST', '/v1/characters', user.token, { name: `chaos ${i}` });
      const form = new FormData();
      photos.forEach((p, k) => form.append('files', new Blob([new Uint8Array(p)], { type: 'image/jpeg' }), `${k}.jpg`));
      await call('POST', `/v1/characters/${c.id}/images`, user.token, undefined, form);
      runIds.push((await call('POST', `/v1/characters/${c.id}/lora/train`, user.token, {})).id);
    }
    log(`${RUNS} trainings started; killing a worker every ~${KILL_EVERY} ms`);

    let kills = 0;
    const db = new pg.Client({ connectionString: dbUrl });
    await db.connect();
    const deadline = Date.now() + Number(args['timeout-minutes']) * 60_000;
    for (;;) {
      const { rows } = await db.query(`select count(*)::int as n from training_runs where status not in ('ready','failed','cancelled')`);
      const open = rows[0].n as number;
      if (open === 0) break;
      if (Date.now() > deadline) throw new Error(`${open} runs still open at the deadline`);
      await sleep(KILL_EVERY * (0.5 + Math.random()));
      const i = Math.floor(Math.random() * workers.length);
      workers[i]!.kill('SIGKILL');
      kills++;
      workers[i] = likeness(['worker'], env);
      log(`  killed worker ${i} (${kills} kills), ${open} runs open`);
    }

    // The invariants.
    const q = async (sql: string) => (await db.query(sql)).rows;
    const states = Object.fromEntries((await q(`select status, count(*)::int as n from training_runs group by status`)).map((r) => [r.status, r.n]));
    const doubleCharged = (await q(`select reservation_id from ledger_entries where kind in ('capture','release') group by reservation_id having count(*) > 1`)).length;
    const openReservations = (await q(`select r.reservation_id from ledger_entries r where r.kind = 'reserve' and not exists (select 1 from ledger_entries c where c.reservation_id = r.reservation_id and c.kind in ('capture','release'))`)).length;
    const captured = (await q(`select coalesce(sum(amount),0)::bigint as s from ledger_entries where kind = 'capture'`))[0].s;
    const chargedReady = (await q(`select coalesce(sum(price_total),0)::bigint as s from training_runs where status = 'ready'`))[0].s;
    const wrongCharge = (await q(`select id from training_runs where (status = 'ready' and credits_charged <> price_total) or (status <> 'ready' and credits_charged <> 0)`)).length;
    const readyWithoutLora = (await q(`select id from training_runs r where status = 'ready' and not exists (select 1 from lora_models m where m.run_id = r.id)`)).length;
    const failuresByCode = Object.fromEntries(
      (await q(`select error_code, count(*)::int as n from training_runs where status = 'failed' group by 1 order by 2 desc`)).map((r) => [r.error_code, r.n]),
    );
    const me = await call('GET', '/v1/me', user.token);
    const balanced = me.credits.available === GRANT - Number(captured) && me.credits.reserved === 0;
    // Every stored LoRA file is there and verifies (the CLI reads its header).
    const files = await q(`select files from lora_models`);
    let missingOrInvalid = 0;
    for (const f of files.flatMap((r) => r.files as { storageKey: string }[])) {
      try {
        execFileSync(process.execPath, [path.join(ROOT, 'bin/likeness.mjs'), 'lora', 'inspect', path.join(dataDir, 'objects', f.storageKey)], { stdio: 'ignore' });
      } catch {
        missingOrInvalid++;
      }
    }
    // Pods are freed by the run itself, or by the reaper within a couple of reconcile ticks.
    let podsLeft = 0;
    for (let i = 0; i < 60; i++) {
      const emu = (await (await fetch(`${emuUrl}/_emulator/state`)).json()) as { pods: { status: string }[] };
      podsLeft = emu.pods.filter((p) => p.status !== 'TERMINATED').length;
      if (podsLeft === 0) break;
      await sleep(2000);
    }
    await db.end();

    const summary = {
      runs: RUNS,
      ready: states.ready ?? 0,
      failed: states.failed ?? 0,
      stuck: RUNS - (states.ready ?? 0) - (states.failed ?? 0) - (states.cancelled ?? 0),
      failuresByCode: JSON.stringify(failuresByCode),
      workerKills: kills,
      loraFilesMissingOrInvalid: missingOrInvalid,
      readyWithoutLora,
      doubleClosedReservations: doubleCharged,
      openReservations,
      runsChargedWrongly: wrongCharge,
      ledgerBalances: balanced && Number(captured) === Number(chargedReady),
      emulatedPodsLeftRunning: podsLeft,
      seconds: Math.round((Date.now() - started) / 1000),
    };
    const ok =
      summary.stuck === 0 &&
      missingOrInvalid === 0 &&
      readyWithoutLora === 0 &&
      doubleCharged === 0 &&
      openReservations === 0 &&
      wrongCharge === 0 &&
      summary.ledgerBalances &&
      podsLeft === 0;
    if (args.json) console.log(JSON.stringify({ ok, ...summary }));
    else {
      console.log('\nChaos figures');
      for (const [k, v] of Object.entries(summary)) console.log(`  ${k.padEnd(28)} ${v}`);
      console.log(ok ? '\nAll invariants hold.' : '\nINVARIANTS BROKEN.');
    }
    process.exitCode = ok ? 0 : 1;
  } finally {
    for (const c of children) c.kill('SIGKILL');
    await sleep(300);
    await database.drop().catch(() => undefined);
    await rm(dataDir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  for (const c of children) c.kill('SIGKILL');
  process.exit(1);
});
