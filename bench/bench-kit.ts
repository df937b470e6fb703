/**
 * Shared pieces of the benchmarks: the row type, a Likeness started for measuring (identity
 * checks off unless asked, quiet logs), synthetic face-sized photos, and percentiles.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pLimit from 'p-limit';
import sharp from 'sharp';
import { loadConfig } from '../src/config/config.js';
import { startLikeness, type RunningLikeness } from '../src/app/likeness.app.js';
import { createScratchDatabase } from '../src/db/scratch-database.js';

export interface BenchRow {
  name: string;
  value: number;
  unit: string;
  /** The reference figure measured in the same run, when there is one. */
  reference?: { name: string; value: number };
  target?: string;
  meets?: boolean;
}

export const BENCH_ADMIN = 'bench-admin-token-0123456789abcdef';

export interface BenchApp {
  app: RunningLikeness;
  url: string;
  /** The data directory (embedded database, files): another BenchApp can open it after close. */
  dataDir: string;
  call<T = any>(method: string, p: string, token: string, body?: unknown, form?: FormData): Promise<T>;
  /** Stops Likeness; removes what it created unless `keepData` (the caller's dataDir is kept). */
  close(opts?: { keepData?: boolean }): Promise<void>;
}

export interface BenchAppOptions {
  /** On a fresh database of this PostgreSQL server (dropped on close); else embedded PGlite. */
  databaseServer?: string;
  /** Open the data of a BenchApp closed with `keepData` (a restart), instead of a new folder. */
  dataDir?: string;
}

let template: Promise<string> | null = null;
/**
 * A migrated embedded database, made once per bench process: creating PGlite takes ~5 s here and
 * opening a copy of a closed one ~1.4 s, which is most of what the quick run's five apps cost.
 */
function embeddedTemplate(): Promise<string> {
  template ??= (async () => {
    const app = await startBenchApp({}, { dataDir: await mkdtemp(path.join(tmpdir(), 'likeness-bench-template-')) });
    await app.close({ keepData: true });
    process.once('exit', () => rmSync(app.dataDir, { recursive: true, force: true }));
    return path.join(app.dataDir, 'pglite');
  })();
  return template;
}

/** A Likeness for measuring, so runs of the bench never see each other's data or queues. */
export async function startBenchApp(env: Record<string, string>, opts: BenchAppOptions = {}): Promise<BenchApp> {
  let dir = opts.dataDir;
  if (!dir) {
    dir = await mkdtemp(path.join(tmpdir(), 'likeness-bench-'));
    if (!opts.databaseServer) await cp(await embeddedTemplate(), path.join(dir, 'pglite'), { recursive: true });
  }
  const database = opts.databaseServer ? await createScratchDatabase(opts.databaseServer, 'lk_bench') : null;
  const config = loadConfig({
    PORT: '0',
    LIKENESS_DATA_DIR: dir,
    LIKENESS_ADMIN_TOKEN: BENCH_ADMIN,
    LIKENESS_MIN_IMAGE_SIDE: '64',
    LIKENESS_IDENTITY: 'off',
    // One user starts every run: the per-user limits would refuse most of them.
    LIKENESS_MAX_TRAININGS_PER_DAY: '0',
    LIKENESS_MAX_CONCURRENT_TRAININGS: '0',
    LIKENESS_MAX_GENERATIONS_PER_MINUTE: '0',
    LIKENESS_TRAIN_RANK: '1',
    ...env,
    ...(database ? { DATABASE_URL: database.url } : {}),
  });
  const app = await startLikeness(config, { api: true, worker: true, log: () => undefined });
  const url = app.url!;
  return {
    app,
    url,
    dataDir: dir,
    async call(method, p, token, body, form) {
      const res = await fetch(`${url}${p}`, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        body: form ?? (body !== undefined ? JSON.stringify(body) : undefined),
      });
      const json = await res.json().catch(() => null);
      if (!res.ok) throw new Error(`${method} ${p}: HTTP ${res.status} ${JSON.stringify(json)}`);
      return json;
    },
    async close({ keepData = false } = {}) {
      await app.close();
      if (keepData) return;
      await database?.drop();
      if (!opts.dataDir) await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * A PostgreSQL server for the scale-out rows: LIKENESS_BENCH_DATABASE_URL, else the throwaway
 * test server (scripts/pg-test-server.sh) when this machine has PostgreSQL's binaries; null (and
 * those rows say why) otherwise. The bench never installs anything.
 */
export function benchPostgresServer(): string | null {
  if (process.env.LIKENESS_BENCH_DATABASE_URL) return process.env.LIKENESS_BENCH_DATABASE_URL;
  const root = '/usr/lib/postgresql';
  const haveBinaries = existsSync(root) && readdirSync(root).some((v) => existsSync(path.join(root, v, 'bin/initdb')));
  if (!haveBinaries) return null;
  const script = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../scripts/pg-test-server.sh');
  return execFileSync('bash', [script], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
}

let photos: Buffer[] | null = null;
/** Five distinct 96 px photos (noise), enough for the basic checks with identity off. */
export async function syntheticPhotos(): Promise<Buffer[]> {
  if (photos) return photos;
  photos = await Promise.all(
    [1, 2, 3, 4, 5].map((seed) =>
      sharp({ create: { width: 96, height: 96, channels: 3, background: { r: 40 * seed, g: 120, b: 200 - 30 * seed }, noise: { type: 'gaussian', mean: 128, sigma: 30 } } })
        .jpeg()
        .toBuffer(),
    ),
  );
  return photos;
}

/** A user with credits and `n` characters, each with `images` accepted images (8 created at once). */
export async function seedCharacters(b: BenchApp, n: number, images = 5): Promise<{ token: string; characterIds: string[] }> {
  const user = await b.call('POST', '/v1/users', BENCH_ADMIN, { name: 'bench' });
  await b.call('POST', `/v1/users/${user.id}/credits`, BENCH_ADMIN, { amount: 1_000_000_000, reason: 'bench' });
  const imgs = (await syntheticPhotos()).slice(0, images);
  const limit = pLimit(8);
  const characterIds = await Promise.all(
    Array.from({ length: n }, (_, i) =>
      limit(async () => {
        const c = await b.call('POST', '/v1/characters', user.token, { name: `bench ${i}` });
        const form = new FormData();
        imgs.forEach((img, k) => form.append('files', new Blob([new Uint8Array(img)], { type: 'image/jpeg' }), `p${k}.jpg`));
        await b.call('POST', `/v1/characters/${c.id}/images`, user.token, undefined, form);
        return c.id as string;
      }),
    ),
  );
  return { token: user.token, characterIds };
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[idx]!;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
