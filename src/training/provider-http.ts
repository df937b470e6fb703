/**
 * The one place where a provider's HTTP failures become ProviderError, so every adapter classifies
 * the same way (domain/errors.ts):
 * - transient: connection refused/reset, DNS, time-outs, 408, 429, 5xx (including the RunPod
 *   proxy's 502/503/524 while a pod boots or a request runs past 100 s): retry the call;
 * - fatal: any other 4xx (validation, auth, not allowed now): retrying the same call cannot help.
 * Callers that give a status a meaning of its own (404 = "already gone", 409 = "exists") check it
 * before asking for an error. Messages never contain secrets: no headers, and URLs lose their
 * query string (signed URLs carry signatures there).
 */
import { ProviderError, type ProviderFaultKind } from '../domain/errors.js';

export interface ProviderRequestOptions {
  provider: string;
  /** Per-call limit; the whole request, body included. */
  timeoutMs: number;
  /** The caller's own cancellation; an abort by it is rethrown as is, never classified. */
  signal?: AbortSignal;
  fetch?: typeof fetch;
}

export function kindForStatus(status: number): ProviderFaultKind {
  if (status === 408 || status === 429 || status >= 500) return 'transient';
  return 'fatal';
}

/** `https://host/path?sig=...` -> `https://host/path`: safe to log and to put in messages. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.origin}${u.pathname}`;
  } catch {
    return url.split('?')[0] ?? url;
  }
}

/**
 * fetch with a per-call timeout, turning network failures and time-outs into transient
 * ProviderErrors. It does not look at the status: see `ensureOk` / `errorFromResponse`.
 */
export async function providerFetch(
  url: string,
  init: RequestInit,
  opts: ProviderRequestOptions,
): Promise<Response> {
  const timeout = AbortSignal.timeout(opts.timeoutMs);
  const signal = opts.signal ? AbortSignal.any([opts.signal, timeout]) : timeout;
  const doFetch = opts.fetch ?? fetch;
  try {
    return await doFetch(url, { ...init, signal });
  } catch (err) {
    throw networkError(err, url, init.method ?? 'GET', opts);
  }
}

/** Classifies an exception thrown by fetch or while reading a body. */
export function networkError(
  err: unknown,
  url: string,
  method: string,
  opts: Pick<ProviderRequestOptions, 'provider' | 'timeoutMs' | 'signal'>,
): unknown {
  if (opts.signal?.aborted) return opts.signal.reason ?? err;
  if (err instanceof ProviderError) return err;
  const where = `${method} ${redactUrl(url)}`;
  const name = (err as { name?: string } | null)?.name;
  if (name === 'TimeoutError' || name === 'AbortError') {
    const limit = opts.timeoutMs >= 10_000 ? `${Math.round(opts.timeoutMs / 1000)} s` : `${opts.timeoutMs} ms`;
    return new ProviderError('transient', `${where} timed out after ${limit}.`, opts.provider);
  }
  const cause = (err as { cause?: { code?: string; message?: string } } | null)?.cause;
  const detail = cause?.code ?? cause?.message ?? (err instanceof Error ? err.message : String(err));
  return new ProviderError('transient', `${where} failed: ${detail}.`, opts.provider);
}

/** Reads a short, human message from a JSON or text error body (RFC 9457 `detail`, AITK `error`). */
async function readErrorDetail(res: Response): Promise<string> {
  let text = '';
  try {
    text = (await res.text()).slice(0, 2000);
  } catch {
    return '';
  }
  try {
    const body = JSON.parse(text) as { detail?: unknown; error?: unknown; errors?: unknown; title?: unknown };
    const parts: string[] = [];
    if (typeof body.detail === 'string') parts.push(body.detail);
    else if (typeof body.error === 'string') parts.push(body.error);
    else if (typeof body.title === 'string') parts.push(body.title);
    if (Array.isArray(body.errors)) parts.push(body.errors.filter((e) => typeof e === 'string').join('; '));
    if (parts.length > 0) return parts.filter(Boolean).join(': ');
  } catch {
    // Not JSON (a proxy's HTML page, plain text): keep a short prefix of the text.
  }
  return text.replace(/\s+/g, ' ').trim().slice(0, 200);
}

export async function errorFromResponse(res: Response, what: string, provider: string): Promise<ProviderError> {
  const detail = await readErrorDetail(res);
  const message = `${what} failed with HTTP ${res.status}${detail ? `: ${detail}` : ''}.`;
  return new ProviderError(kindForStatus(res.status), message, provider, res.status);
}

export async function ensureOk(res: Response, what: string, provider: string): Promise<Response> {
  if (res.ok) return res;
  throw await errorFromResponse(res, what, provider);
}

/** Discards a body so the connection can be reused (undici keeps it open otherwise). */
export async function discardBody(res: Response): Promise<void> {
  try {
    await res.body?.cancel();
  } catch {
    // Already consumed or broken: nothing to free.
  }
}

export interface JsonCallOptions {
  /** Human name of the call for messages: "RunPod GET /v2/pods/abc". */
  what: string;
  signal?: AbortSignal;
  timeoutMs?: number;
  /** Statuses handed back to the caller (body discarded) instead of thrown, e.g. 404 or 409. */
  allow?: readonly number[];
}

export type JsonResult<T> = { status: number; ok: true; data: T } | { status: number; ok: false; data?: undefined };

/**
 * One provider's HTTP transport: base options, per-call timeout, classification, JSON decoding.
 * A body that is not JSON on a 2xx (a proxy's HTML page) is transient: the next call may reach the
 * real service.
 */
export class ProviderHttp {
  constructor(private readonly base: { provider: string; timeoutMs: number; fetch?: typeof fetch }) {}

  get provider(): string {
    return this.base.provider;
  }

  send(url: string, init: RequestInit, opts: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<Response> {
    return providerFetch(url, init, {
      provider: this.base.provider,
      timeoutMs: opts.timeoutMs ?? this.base.timeoutMs,
      signal: opts.signal,
      fetch: this.base.fetch,
    });
  }

  async json<T>(url: string, init: RequestInit, opts: JsonCallOptions): Promise<JsonResult<T>> {
    const timeoutMs = opts.timeoutMs ?? this.base.timeoutMs;
    const res = await this.send(url, init, { signal: opts.signal, timeoutMs });
    if (!res.ok) {
      if (opts.allow?.includes(res.status)) {
        await discardBody(res);
        return { status: res.status, ok: false };
      }
      throw await errorFromResponse(res, opts.what, this.base.provider);
    }
    let text: string;
    try {
      text = await res.text();
    } catch (err) {
      throw networkError(err, url, init.method ?? 'GET', { provider: this.base.provider, timeoutMs, signal: opts.signal });
    }
    if (res.status === 204 || text === '') return { status: res.status, ok: true, data: undefined as T };
    try {
      return { status: res.status, ok: true, data: JSON.parse(text) as T };
    } catch {
      throw new ProviderError('transient', `${opts.what} returned a body that is not JSON.`, this.base.provider, res.status);
    }
  }
}

/**
 * The error for a dataset file the trainer side could not read from its signed URL. A refusal
 * (401/403/404/410) means the URL expired or was revoked: retrying the same URL cannot help, so it
 * is classified as preempted and the next attempt is prepared with fresh URLs.
 */
export function datasetFetchError(status: number, fileName: string, url: string, provider: string): ProviderError {
  const refused = [401, 403, 404, 410].includes(status);
  return new ProviderError(
    refused ? 'preempted' : kindForStatus(status),
    `Reading dataset file ${fileName} from ${redactUrl(url)} failed with HTTP ${status}` +
      (refused ? ' (signed URL expired or refused; a new attempt needs fresh URLs).' : '.'),
    provider,
    status,
  );
}
