/**
 * Client of AI Toolkit's web UI API (contracts/README.md §3, ostris/ai-toolkit `ui/`, port 8675),
 * directly or through RunPod's proxy. Wire quirks it hides:
 * - most mutating actions are GETs (`/api/jobs/{id}/start|stop|delete`, `/api/queue/{gpu}/start`);
 * - `job_config` goes out as an object and comes back as a JSON string;
 * - `gpu_ids` is a string ("0", "0,1"), and is also the queue's key;
 * - datasets/create sanitizes the name (lower-case, runs of other characters -> `_`) and answers
 *   with the name it used, while datasets/upload uses `datasetName` verbatim: callers must upload
 *   to the name create returned. Create's mkdir is not recursive, so it answers 500 until the
 *   datasets root exists, which datasets/list creates: list before the first create;
 * - `/api/files/<enc folder>/<enc file>` needs no token and supports Range (206/416).
 * Auth is `Authorization: Bearer <AI_TOOLKIT_AUTH>`; a 401 means the token is wrong (fatal).
 */
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { ProviderError } from '../../domain/errors.js';
import { discardBody, errorFromResponse, networkError, ProviderHttp } from '../provider-http.js';
import type { AitkJobConfig } from '../aitoolkit-config.builder.js';

export const AITK_PROVIDER = 'aitoolkit';

/** Job.status values in the UI database (`stopping` is only a UI display state). */
export type AitkJobStatus = 'stopped' | 'queued' | 'running' | 'stopping' | 'completed' | 'error';

export interface AitkJob {
  id: string;
  name: string;
  gpu_ids: string;
  /** A JSON string (Prisma column), not an object. */
  job_config: string;
  status: AitkJobStatus;
  stop: boolean;
  step: number;
  total_steps: number | null;
  info: string;
  speed_string: string;
  created_at: string;
  updated_at: string;
  pid?: number | null;
}

export interface AitkSettings {
  TRAINING_FOLDER: string;
  DATASETS_FOLDER: string;
  MODELS_PATH?: string;
  [key: string]: unknown;
}

export interface AitkFile {
  path: string;
  size: number;
}

export interface AitkUploadFile {
  name: string;
  data: Blob;
}

export interface AitkUiClientOptions {
  /** e.g. `http://127.0.0.1:8675` or `https://{podId}-8675.proxy.runpod.net`. */
  baseUrl: string;
  /** AI_TOOLKIT_AUTH; omit for a UI started without it. */
  token?: string;
  /** Per-call limit for ordinary calls, default 30 s. */
  timeoutMs?: number;
  /** Limit for one upload request, default 90 s (RunPod's proxy cuts requests at 100 s). */
  uploadTimeoutMs?: number;
  /** Longest silence while downloading (before headers or between chunks), default 60 s. */
  downloadIdleTimeoutMs?: number;
  /** How many times a download resumes with Range after an interruption, default 5. */
  downloadMaxResumes?: number;
  fetch?: typeof fetch;
}

export interface AitkDownloadOptions {
  signal?: AbortSignal;
  /** Known size; lets the stream tell a clean end from a cut-off one when no length header is sent. */
  expectedSize?: number;
}

/** `/abs/folder/file name.safetensors` -> `%2Fabs%2Ffolder/file%20name.safetensors` (ui/src/utils/basic.ts). */
export function encodeFilePathForUrl(absPath: string): string {
  const cut = Math.max(absPath.lastIndexOf('/'), absPath.lastIndexOf('\\'));
  if (cut < 0) return encodeURIComponent(absPath);
  return `${encodeURIComponent(absPath.slice(0, cut))}/${encodeURIComponent(absPath.slice(cut + 1))}`;
}

export class AitkUiClient {
  readonly baseUrl: string;
  private readonly http: ProviderHttp;
  private readonly opts: Required<Omit<AitkUiClientOptions, 'token' | 'fetch' | 'baseUrl'>> &
    Pick<AitkUiClientOptions, 'token' | 'fetch'>;

  constructor(options: AitkUiClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.opts = {
      token: options.token,
      fetch: options.fetch,
      timeoutMs: options.timeoutMs ?? 30_000,
      uploadTimeoutMs: options.uploadTimeoutMs ?? 90_000,
      downloadIdleTimeoutMs: options.downloadIdleTimeoutMs ?? 60_000,
      downloadMaxResumes: options.downloadMaxResumes ?? 5,
    };
    this.http = new ProviderHttp({ provider: AITK_PROVIDER, timeoutMs: this.opts.timeoutMs, fetch: options.fetch });
  }

  private headers(json = false): Record<string, string> {
    const h: Record<string, string> = { accept: 'application/json' };
    // Any first word works (the middleware splits on the space); Bearer is what the UI sends.
    if (this.opts.token) h.authorization = `Bearer ${this.opts.token}`;
    if (json) h['content-type'] = 'application/json';
    return h;
  }

  private get<T>(path: string, signal?: AbortSignal, allow?: number[]) {
    return this.http.json<T>(
      `${this.baseUrl}${path}`,
      { method: 'GET', headers: this.headers() },
      { what: `AI Toolkit GET ${path.split('?')[0]}`, signal, allow },
    );
  }

  private post<T>(path: string, body: unknown, signal?: AbortSignal, allow?: number[]) {
    return this.http.json<T>(
      `${this.baseUrl}${path}`,
      { method: 'POST', headers: this.headers(true), body: JSON.stringify(body) },
      { what: `AI Toolkit POST ${path}`, signal, allow },
    );
  }

  /**
   * Readiness and auth probe (GET /api/auth). False while nothing answers as the UI: connection
   * errors, time-outs, 5xx (502 "UI server unavailable", the proxy's 502/503/524) and 404 (what a
   * proxy may answer before the port listens; unverified, contracts §7.5). Throws a fatal
   * ProviderError on 401: the UI is up and our token is wrong, waiting will not fix it.
   */
  async probe(signal?: AbortSignal): Promise<boolean> {
    return (await this.readiness(signal)).ready;
  }

  /** `probe` with the reason when not ready (for messages). */
  async readiness(signal?: AbortSignal): Promise<{ ready: true } | { ready: false; reason: string }> {
    try {
      const res = await this.get<{ isAuthenticated?: boolean }>('/api/auth', signal, [404]);
      if (res.ok && res.data?.isAuthenticated === true) return { ready: true };
      return { ready: false, reason: res.ok ? 'GET /api/auth did not confirm the token' : `GET /api/auth answered ${res.status}` };
    } catch (err) {
      if (err instanceof ProviderError && err.kind === 'transient') return { ready: false, reason: err.message };
      throw err;
    }
  }

  async getSettings(signal?: AbortSignal): Promise<AitkSettings> {
    const res = await this.get<AitkSettings>('/api/settings', signal);
    const s = res.data;
    if (!s || typeof s.TRAINING_FOLDER !== 'string' || typeof s.DATASETS_FOLDER !== 'string') {
      throw new ProviderError('transient', 'AI Toolkit settings lack TRAINING_FOLDER or DATASETS_FOLDER.', AITK_PROVIDER);
    }
    return s;
  }

  async listDatasets(signal?: AbortSignal): Promise<string[]> {
    const res = await this.get<string[]>('/api/datasets/list', signal);
    return Array.isArray(res.data) ? res.data : [];
  }

  /** Creates the folder if missing; returns the sanitized name the UI actually used. */
  async createDataset(name: string, signal?: AbortSignal): Promise<string> {
    const res = await this.post<{ success?: boolean; name?: string }>('/api/datasets/create', { name }, signal);
    if (!res.ok || typeof res.data?.name !== 'string') {
      throw new ProviderError('transient', 'AI Toolkit datasets/create returned no name.', AITK_PROVIDER);
    }
    return res.data.name;
  }

  async deleteDataset(name: string, signal?: AbortSignal): Promise<void> {
    await this.post('/api/datasets/delete', { name }, signal);
  }

  /** Media files of a dataset, relative to it; null when the dataset does not exist (404). */
  async listDatasetImages(datasetName: string, signal?: AbortSignal): Promise<string[] | null> {
    const res = await this.post<{ images?: string[] }>('/api/datasets/listImages', { datasetName }, signal, [404]);
    return res.ok ? (res.data?.images ?? []) : null;
  }

  /**
   * One multipart request (fields `datasetName`, `files` repeated). Existing files of the same
   * name are overwritten, which makes a repeated upload harmless. Returns the names the UI
   * stored (it replaces characters outside [a-zA-Z0-9.-] with `_`).
   */
  async uploadDatasetFiles(datasetName: string, files: AitkUploadFile[], signal?: AbortSignal): Promise<string[]> {
    const form = new FormData();
    form.append('datasetName', datasetName);
    for (const f of files) form.append('files', f.data, f.name);
    const headers = this.headers();
    const res = await this.http.json<{ files?: string[] }>(
      `${this.baseUrl}/api/datasets/upload`,
      { method: 'POST', headers, body: form },
      { what: 'AI Toolkit POST /api/datasets/upload', signal, timeoutMs: this.opts.uploadTimeoutMs },
    );
    return res.ok ? (res.data?.files ?? []) : [];
  }

  async listJobs(signal?: AbortSignal): Promise<AitkJob[]> {
    const res = await this.get<{ jobs?: AitkJob[] }>('/api/jobs', signal);
    return res.ok ? (res.data?.jobs ?? []) : [];
  }

  /** The UI has no lookup by name: list and match (names are unique in its database). */
  async findJobByName(name: string, signal?: AbortSignal): Promise<AitkJob | null> {
    return (await this.listJobs(signal)).find((j) => j.name === name) ?? null;
  }

  async getJob(id: string, signal?: AbortSignal): Promise<AitkJob | null> {
    const res = await this.get<AitkJob | null>(`/api/jobs?id=${encodeURIComponent(id)}`, signal);
    return res.ok ? (res.data ?? null) : null;
  }

  /** The new Job row (status `stopped`); null when the name is taken (409). */
  async createJob(
    input: { name: string; gpuIds: string; jobConfig: AitkJobConfig },
    signal?: AbortSignal,
  ): Promise<AitkJob | null> {
    const res = await this.post<AitkJob>(
      '/api/jobs',
      { name: input.name, gpu_ids: input.gpuIds, job_config: input.jobConfig },
      signal,
      [409],
    );
    return res.ok ? res.data : null;
  }

  /** Queues the job (the Job as it was before). Null when the UI does not know the job (404). */
  async startJob(id: string, signal?: AbortSignal): Promise<AitkJob | null> {
    return this.jobAction(id, 'start', signal);
  }

  async stopJob(id: string, signal?: AbortSignal): Promise<AitkJob | null> {
    return this.jobAction(id, 'stop', signal);
  }

  /** Deletes the row and `rm -rf TRAINING_FOLDER/<name>`. Null when already gone (404). */
  async deleteJob(id: string, signal?: AbortSignal): Promise<AitkJob | null> {
    return this.jobAction(id, 'delete', signal);
  }

  private async jobAction(id: string, action: 'start' | 'stop' | 'delete', signal?: AbortSignal) {
    const res = await this.get<AitkJob>(`/api/jobs/${encodeURIComponent(id)}/${action}`, signal, [404]);
    return res.ok ? res.data : null;
  }

  /** `is_running=true` for the queue of these gpu_ids (created if missing). */
  async startQueue(gpuIds: string, signal?: AbortSignal): Promise<void> {
    await this.get(`/api/queue/${encodeURIComponent(gpuIds)}/start`, signal);
  }

  /** `*.safetensors` (and optimizer.pt) in the job folder, sorted by path. Null when no such job. */
  async listJobFiles(id: string, signal?: AbortSignal): Promise<AitkFile[] | null> {
    const res = await this.get<{ files?: AitkFile[] }>(`/api/jobs/${encodeURIComponent(id)}/files`, signal, [404]);
    return res.ok ? (res.data?.files ?? []) : null;
  }

  /** Absolute paths of the job's sample images. Null when no such job. */
  async listJobSamples(id: string, signal?: AbortSignal): Promise<string[] | null> {
    const res = await this.get<{ samples?: string[] }>(`/api/jobs/${encodeURIComponent(id)}/samples`, signal, [404]);
    return res.ok ? (res.data?.samples ?? []) : null;
  }

  fileUrl(absPath: string): string {
    return `${this.baseUrl}/api/files/${encodeFilePathForUrl(absPath)}`;
  }

  /**
   * Streams a file from /api/files. The first response is awaited, so a missing or refused file
   * throws here; after that, an interrupted body (reset, idle time-out, short read) is resumed
   * with `Range: bytes=<received>-` up to `downloadMaxResumes` times. A server that ignores the
   * Range and answers 200 is handled by skipping the bytes already delivered.
   */
  async downloadFile(absPath: string, options: AitkDownloadOptions = {}): Promise<Readable> {
    const url = this.fileUrl(absPath);
    const first = await this.openRange(url, 0, options.signal);
    const self = this;
    async function* body(): AsyncGenerator<Buffer> {
      let received = 0;
      let resumes = 0;
      let current: { res: Response; abort: IdleAbort } | null = first;
      let total = options.expectedSize ?? totalFromHeaders(first.res, 0);
      // A consumer that stops early returns this generator at a `yield`: the for-await below then
      // cancels the body, and this `finally` stops the idle timer.
      try {
        for (;;) {
          try {
            if (!current) {
              current = await self.openRange(url, received, options.signal).catch((err: unknown) => {
                if (err instanceof ProviderError && err.httpStatus === 416 && total !== undefined && received >= total) {
                  return null;
                }
                throw err;
              });
              if (!current) return;
              total ??= totalFromHeaders(current.res, received);
            }
            // A 200 to a ranged request restarts at byte 0: drop what was already delivered.
            let skip = received > 0 && current.res.status === 200 ? received : 0;
            for await (const chunk of current.res.body as unknown as AsyncIterable<Uint8Array>) {
              current.abort.touch();
              let buf = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
              if (skip > 0) {
                const drop = Math.min(skip, buf.length);
                skip -= drop;
                buf = buf.subarray(drop);
                if (buf.length === 0) continue;
              }
              received += buf.length;
              yield buf;
            }
            current.abort.done();
            if (total === undefined || received >= total) return;
            throw new ProviderError('transient', `download of ${absPath} ended early at ${received} of ${total} bytes.`, AITK_PROVIDER);
          } catch (err) {
            current?.abort.done();
            if (options.signal?.aborted) throw options.signal.reason ?? err;
            // A refusal (404, 403, 416 past the end) will not change by asking again.
            if (err instanceof ProviderError && err.kind === 'fatal') throw err;
            const classified = networkError(err, url, 'GET', {
              provider: AITK_PROVIDER,
              timeoutMs: self.opts.downloadIdleTimeoutMs,
              signal: options.signal,
            });
            if (resumes >= self.opts.downloadMaxResumes) throw classified;
            resumes += 1;
            current = null;
            await sleep(Math.min(5_000, 250 * 2 ** resumes), undefined, { signal: options.signal });
          }
        }
      } finally {
        current?.abort.done();
      }
    }
    return Readable.from(body(), { objectMode: false });
  }

  private async openRange(url: string, from: number, signal?: AbortSignal): Promise<{ res: Response; abort: IdleAbort }> {
    const abort = new IdleAbort(this.opts.downloadIdleTimeoutMs, signal);
    const headers = this.headers();
    delete headers.accept;
    if (from > 0) headers.range = `bytes=${from}-`;
    let res: Response;
    try {
      res = await (this.opts.fetch ?? fetch)(url, { method: 'GET', headers, signal: abort.signal });
    } catch (err) {
      abort.done();
      throw networkError(err, url, 'GET', { provider: AITK_PROVIDER, timeoutMs: this.opts.downloadIdleTimeoutMs, signal });
    }
    if (!res.ok) {
      abort.done();
      const error = await errorFromResponse(res, `AI Toolkit download ${decodeURIComponent(url.split('/api/files/')[1] ?? '')}`, AITK_PROVIDER);
      await discardBody(res);
      throw error;
    }
    if (from > 0 && res.status === 206) {
      const start = /bytes (\d+)-/.exec(res.headers.get('content-range') ?? '')?.[1];
      if (start !== undefined && Number(start) !== from) {
        abort.done();
        await discardBody(res);
        throw new ProviderError('transient', `AI Toolkit answered a Range from ${start} for a request from ${from}.`, AITK_PROVIDER);
      }
    }
    return { res, abort };
  }
}

/** Full file size from a 200's Content-Length or a 206's Content-Range. */
function totalFromHeaders(res: Response, offset: number): number | undefined {
  const range = /\/(\d+)\s*$/.exec(res.headers.get('content-range') ?? '')?.[1];
  if (range !== undefined) return Number(range);
  const length = res.headers.get('content-length');
  if (length === null) return undefined;
  return res.status === 206 ? offset + Number(length) : Number(length);
}

/**
 * An abort signal that fires after `idleMs` without `touch()`: a total time limit would cut off a
 * large but healthy download, a silence limit only a stalled one. Follows the caller's signal.
 */
class IdleAbort {
  private readonly controller = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  readonly signal: AbortSignal;

  constructor(
    private readonly idleMs: number,
    parent?: AbortSignal,
  ) {
    this.signal = parent ? AbortSignal.any([parent, this.controller.signal]) : this.controller.signal;
    this.touch();
  }

  touch(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.controller.abort(new DOMException(`no data for ${this.idleMs} ms`, 'TimeoutError'));
    }, this.idleMs);
    this.timer.unref?.();
  }

  done(): void {
    clearTimeout(this.timer);
  }
}
