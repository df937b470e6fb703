/**
 * RunPod serverless queue endpoints (contracts/README.md §2.1-2.2), the calls both serverless
 * backends make (training: an AI Toolkit worker; generation: worker-comfyui):
 *   POST /{endpointId}/run            {input, webhook?, policy?} -> {id, status: "IN_QUEUE"}
 *   GET  /{endpointId}/status/{id}    {id, status, delayTime?, executionTime?, output?, error?}
 *   POST /{endpointId}/cancel/{id}    {id, status: "CANCELLED"}
 * A 404 on /status or /cancel means RunPod no longer knows the job (results are kept 30 min after
 * it ends, and a job past its `ttl` is removed at once): returned as null, for the caller to give
 * a meaning. Every other failure is classified by provider-http.ts.
 */
import { ProviderError } from '../../domain/errors.js';
import { ProviderHttp } from '../provider-http.js';

export const RUNPOD_SERVERLESS_URL = 'https://api.runpod.ai/v2';
/** RunPod refuses /run bodies above 10 MB (contracts §2.2). */
const MAX_RUN_BYTES = 10 * 1024 * 1024;
const SECOND = 1000;
const WEEK_MS = 7 * 24 * 3600 * SECOND;

export type ServerlessJobStatus = 'IN_QUEUE' | 'IN_PROGRESS' | 'RUNNING' | 'COMPLETED' | 'FAILED' | 'CANCELLED' | 'TIMED_OUT';
export const FINAL_SERVERLESS_STATUSES: readonly string[] = ['COMPLETED', 'FAILED', 'CANCELLED', 'TIMED_OUT'];

export interface ServerlessStatusBody {
  id?: string;
  status?: string;
  /** Milliseconds. */
  delayTime?: number;
  executionTime?: number;
  output?: unknown;
  error?: unknown;
}

export interface ServerlessPolicy {
  /** ms the job may run; RunPod: 5 s to 7 days, default 10 min. */
  executionTimeout: number;
  /** ms the job may exist, queue plus execution; RunPod: 10 s to 7 days, default 24 h. */
  ttl: number;
}

/** Clamps to RunPod's documented ranges, so a configuration mistake cannot make /run answer 400. */
export function serverlessPolicy(executionTimeoutMs: number, ttlMs: number): ServerlessPolicy {
  const clamp = (v: number, min: number) => Math.round(Math.min(WEEK_MS, Math.max(min, v)));
  const executionTimeout = clamp(executionTimeoutMs, 5 * SECOND);
  return { executionTimeout, ttl: clamp(Math.max(ttlMs, executionTimeout), 10 * SECOND) };
}

export interface RunpodServerlessClientOptions {
  apiKey: string;
  endpointId: string;
  /** Default https://api.runpod.ai/v2. */
  baseUrl?: string;
  /** Provider name in errors and logs. */
  provider: string;
  /** Per-call limit, default 30 s. */
  timeoutMs?: number;
  fetch?: typeof fetch;
}

export class RunpodServerlessClient {
  private readonly http: ProviderHttp;
  private readonly base: string;

  constructor(private readonly opts: RunpodServerlessClientOptions) {
    this.http = new ProviderHttp({ provider: opts.provider, timeoutMs: opts.timeoutMs ?? 30_000, fetch: opts.fetch });
    this.base = `${(opts.baseUrl ?? RUNPOD_SERVERLESS_URL).replace(/\/+$/, '')}/${encodeURIComponent(opts.endpointId)}`;
  }

  get endpointId(): string {
    return this.opts.endpointId;
  }

  private headers(json: boolean): Record<string, string> {
    const h: Record<string, string> = { authorization: `Bearer ${this.opts.apiKey}` };
    if (json) h['content-type'] = 'application/json';
    return h;
  }

  /** Queues a job. Not idempotent on RunPod's side: a retried /run can make a second job. */
  async run(body: { input: unknown; webhook?: string; policy?: ServerlessPolicy }, signal?: AbortSignal): Promise<{ id: string; status: string }> {
    const text = JSON.stringify(body);
    const bytes = Buffer.byteLength(text);
    if (bytes > MAX_RUN_BYTES) {
      throw new ProviderError('fatal', `The job input is ${(bytes / 1e6).toFixed(1)} MB; RunPod accepts at most 10 MB per /run.`, this.opts.provider);
    }
    const res = await this.http.json<{ id?: string; status?: string }>(
      `${this.base}/run`,
      { method: 'POST', headers: this.headers(true), body: text },
      { what: 'RunPod POST /run', signal },
    );
    if (!res.data?.id) throw new ProviderError('transient', 'RunPod POST /run answered without a job id.', this.opts.provider);
    return { id: res.data.id, status: res.data.status ?? 'IN_QUEUE' };
  }

  /** The job's status body, or null when RunPod no longer knows it (404). */
  status(jobId: string, signal?: AbortSignal): Promise<ServerlessStatusBody | null> {
    return this.jobCall('GET', 'status', jobId, signal);
  }

  /** Cancels a queued or running job; null when RunPod no longer knows it (404). */
  cancel(jobId: string, signal?: AbortSignal): Promise<ServerlessStatusBody | null> {
    return this.jobCall('POST', 'cancel', jobId, signal);
  }

  private async jobCall(method: 'GET' | 'POST', op: string, jobId: string, signal?: AbortSignal): Promise<ServerlessStatusBody | null> {
    const res = await this.http.json<ServerlessStatusBody>(
      `${this.base}/${op}/${encodeURIComponent(jobId)}`,
      { method, headers: this.headers(false) },
      { what: `RunPod ${method} /${op}`, allow: [404], signal },
    );
    return res.ok ? (res.data ?? null) : null;
  }

  /** GET /health: answers only with a valid key and an existing endpoint. */
  async health(signal?: AbortSignal): Promise<unknown> {
    const res = await this.http.json<unknown>(`${this.base}/health`, { method: 'GET', headers: this.headers(false) }, { what: 'RunPod GET /health', signal });
    return res.data;
  }
}

/**
 * The `error` of a FAILED job as one sentence: the handler's own string, or, for an uncaught
 * exception, runpod-python's JSON string `{error_type, error_message, ...}` reduced to its message.
 */
export function serverlessErrorText(error: unknown): string {
  if (typeof error !== 'string') return error === undefined || error === null ? 'the job failed' : JSON.stringify(error);
  if (error.startsWith('{')) {
    try {
      const parsed = JSON.parse(error) as { error_type?: unknown; error_message?: unknown };
      if (typeof parsed.error_message === 'string') {
        return typeof parsed.error_type === 'string' ? `${parsed.error_type}: ${parsed.error_message}` : parsed.error_message;
      }
    } catch {
      // Not JSON after all: the handler's own text.
    }
  }
  return error;
}
