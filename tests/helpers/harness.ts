/**
 * Test harness: a real Likeness (API + worker, PGlite in a temp dir, the GPU emulator over HTTP)
 * and small helpers to call it. Tests wait on states through the API, never on sleeps alone.
 */
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../src/config/config.js';
import { startLikeness, type RunningLikeness } from '../../src/app/likeness.app.js';
import { createScratchDatabase, type ScratchDatabase } from '../../src/db/scratch-database.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const FACES = path.resolve(ROOT, '../shared/data/faces-bbt');
export const HAVE_FACES = existsSync(FACES);

export const ADMIN_TOKEN = 'test-admin-token-0123456789abcdef';

export const TEST_ENV = {
  PORT: '0',
  LIKENESS_ADMIN_TOKEN: ADMIN_TOKEN,
  LIKENESS_MIN_IMAGE_SIDE: '100',
  LIKENESS_EMULATOR_TRAIN_SECONDS: '2',
  LIKENESS_EMULATOR_BOOT_SECONDS: '0.3',
  LIKENESS_POLL_SECONDS: '0.3',
  LIKENESS_TRAIN_STEPS: '40',
  LIKENESS_TRAIN_RANK: '2',
  // Per-user limits off: tests start many runs per user; tests of the limits set them.
  LIKENESS_MAX_TRAININGS_PER_DAY: '0',
  LIKENESS_MAX_CONCURRENT_TRAININGS: '0',
  LIKENESS_MAX_GENERATIONS_PER_MINUTE: '0',
};

export interface Harness {
  app: RunningLikeness;
  url: string;
  dataDir: string;
  call<T = any>(method: string, path: string, opts?: { token?: string; body?: unknown; form?: FormData; headers?: Record<string, string> }): Promise<{ status: number; body: T; headers: Headers }>;
  close(): Promise<void>;
}

/**
 * With LIKENESS_TEST_DATABASE_URL set (CI sets it for the PostgreSQL pass), each harness gets a
 * database of its own on that server, so test files running in parallel never share a queue.
 */
export async function freshDatabase(): Promise<ScratchDatabase | null> {
  const server = process.env.LIKENESS_TEST_DATABASE_URL;
  return server ? createScratchDatabase(server, 'lk_test') : null;
}

export interface HarnessOptions {
  /**
   * Build the web UI first when web/dist is missing or older than web/src (browser tests), so the
   * server's / serves the current UI.
   */
  web?: boolean;
}

export async function startHarness(env: Record<string, string> = {}, dataDir?: string, options: HarnessOptions = {}): Promise<Harness> {
  if (options.web) buildWebIfStale();
  const dir = dataDir ?? (await mkdtemp(path.join(tmpdir(), 'likeness-test-')));
  const database = await freshDatabase();
  const config = loadConfig({ ...TEST_ENV, LIKENESS_DATA_DIR: dir, ...(database ? { DATABASE_URL: database.url } : {}), ...env });
  const app = await startLikeness(config, { api: true, worker: true, log: process.env.LIKENESS_TEST_LOG ? (m) => console.log(m) : () => undefined });
  const url = app.url!;
  return {
    app,
    url,
    dataDir: dir,
    async call(method, p, opts = {}) {
      const headers: Record<string, string> = { ...(opts.headers ?? {}) };
      if (opts.token) headers.authorization = `Bearer ${opts.token}`;
      let body: BodyInit | undefined;
      if (opts.form) body = opts.form;
      else if (opts.body !== undefined) {
        headers['content-type'] = 'application/json';
        body = JSON.stringify(opts.body);
      }
      const res = await fetch(`${url}${p}`, { method, headers, body, redirect: 'manual' });
      const text = await res.text();
      let parsed: any = text;
      try {
        parsed = text ? JSON.parse(text) : null;
      } catch {
        // not JSON
      }
      return { status: res.status, body: parsed, headers: res.headers };
    },
    async close() {
      await app.close();
      await database?.drop();
      if (!dataDir) await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Runs scripts/build-web-if-stale.mjs (the same step `npm start` takes); throws when the build fails. */
export function buildWebIfStale(): void {
  const res = spawnSync(process.execPath, [path.join(ROOT, 'scripts/build-web-if-stale.mjs'), '--quiet'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (res.status !== 0) throw new Error(`building the web UI failed (exit ${res.status}):\n${res.stderr}${res.stdout}`);
}

export async function waitFor<T>(what: string, fn: () => Promise<T | null | undefined | false>, timeoutMs = 30_000, everyMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** The five photos of one person in the shared faces set, as a multipart form. */
export async function facesForm(person = 'amy', count = 5): Promise<FormData> {
  const dir = path.join(FACES, 'identities', person);
  const files = (await readdir(dir)).sort().slice(0, count);
  const form = new FormData();
  for (const f of files) form.append('files', new Blob([await readFile(path.join(dir, f))], { type: 'image/png' }), f);
  return form;
}

/** Parses a safetensors header from the first bytes of a file. */
export function safetensorsHeader(buf: Buffer): { tensors: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>; metadata: Record<string, string> } {
  const n = Number(buf.readBigUInt64LE(0));
  const json = JSON.parse(buf.subarray(8, 8 + n).toString('utf8'));
  const { __metadata__, ...tensors } = json;
  return { tensors, metadata: __metadata__ ?? {} };
}
