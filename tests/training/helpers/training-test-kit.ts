/**
 * Shared pieces of the backend tests: a dataset store reachable over HTTP (what signed URLs point
 * at in production), specs, and a poller that waits on provider states, not on sleeps.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import sharp from 'sharp';
import type { BaseModel } from '../../../src/domain/base-models.js';
import { ProviderError } from '../../../src/domain/errors.js';
import { defaultRecipe } from '../../../src/training/training-recipes.js';
import type {
  ProviderJobState,
  TrainingBackend,
  TrainingHandle,
  TrainingJobSpec,
  TrainingStatus,
} from '../../../src/training/training-backend.js';

export interface DatasetStore {
  url: string;
  /** Files served, by name. */
  files: Map<string, Buffer>;
  /** GET requests seen, by name. */
  hits: Map<string, number>;
  /** Names whose URL answers 403 (an expired signature). */
  expired: Set<string>;
  close(): Promise<void>;
}

export async function startDatasetStore(imageCount = 5): Promise<DatasetStore> {
  const files = new Map<string, Buffer>();
  for (let i = 1; i <= imageCount; i++) {
    const name = `img_${String(i).padStart(3, '0')}`;
    const jpg = await sharp({
      create: { width: 64, height: 64, channels: 3, background: { r: 40 * i, g: 120, b: 200 - 20 * i } },
    })
      .jpeg()
      .toBuffer();
    files.set(`${name}.jpg`, jpg);
    files.set(`${name}.txt`, Buffer.from(`photo of ohwx, portrait ${i}`));
  }
  const hits = new Map<string, number>();
  const expired = new Set<string>();
  const server = http.createServer((req, res) => {
    const name = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname.slice(1));
    hits.set(name, (hits.get(name) ?? 0) + 1);
    const body = files.get(name);
    if (expired.has(name)) {
      res.writeHead(403).end('Request has expired');
      return;
    }
    if (!body) {
      res.writeHead(404).end('not found');
      return;
    }
    res.writeHead(200, { 'content-length': body.length }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    files,
    hits,
    expired,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

let counter = 0;

/** A small, fast recipe (rank 2, few steps) so the emulator writes small files quickly. */
export function specFor(store: DatasetStore, baseModel: BaseModel, over: Partial<TrainingJobSpec> = {}): TrainingJobSpec {
  counter += 1;
  const runId = `run${process.pid}x${counter}`;
  return {
    runId,
    jobName: `likeness_${runId}_a1`,
    recipe: defaultRecipe(baseModel, 'ohwx', { steps: 40, saveEvery: 20, sampleEvery: 20, rank: 2, alpha: 2 }),
    dataset: {
      name: `ds_${runId}`,
      files: [...store.files.entries()].map(([name, body]) => ({
        name,
        url: `${store.url}/${encodeURIComponent(name)}?X-Signature=secret-${runId}`,
        size: body.length,
      })),
    },
    ...over,
  };
}

export interface PollResult {
  status: TrainingStatus;
  seen: ProviderJobState[];
  transientErrors: number;
}

/**
 * Calls status until it reports one of `until` (or throws a non-transient ProviderError, which
 * is rethrown). Transient faults are retried, as the caller's retry policy would.
 */
export async function pollUntil(
  backend: TrainingBackend,
  handle: TrainingHandle,
  until: ProviderJobState[],
  timeoutMs = 45_000,
): Promise<PollResult> {
  const deadline = Date.now() + timeoutMs;
  const seen: ProviderJobState[] = [];
  let transientErrors = 0;
  let lastError = '';
  for (;;) {
    try {
      const status = await backend.status(handle);
      if (seen.at(-1) !== status.state) seen.push(status.state);
      if (until.includes(status.state)) return { status, seen, transientErrors };
    } catch (err) {
      if (!(err instanceof ProviderError) || err.kind !== 'transient') throw err;
      transientErrors += 1;
      lastError = err.message;
    }
    if (Date.now() > deadline) throw new Error(`status did not reach ${until.join('/')} in ${timeoutMs} ms (seen ${seen.join(' > ')}; last transient error: ${lastError || 'none'})`);
    await new Promise((resolve) => setTimeout(resolve, 150));
  }
}
