/**
 * The API client. `api('patch /v1/characters/{id}/lora', { params: { id }, body: { enabled } })`:
 * the key names the operation as the OpenAPI document does; its path parameters, query and JSON
 * body are typed from the generated schema.d.ts (so a renamed field or a removed route fails the
 * web type check), its response from types.ts.
 *
 * Every request carries the session's bearer token (and x-likeness-user when the admin acts for
 * a user). Errors come back as ApiError with the API's code and message.
 */
import type { paths } from './schema';
import type { Responses } from './types';
import { getSession, type Session } from './session';

type Method = 'get' | 'post' | 'patch' | 'put' | 'delete';
export type OperationKey = keyof Responses;
type MethodOf<K> = K extends `${infer M extends Method} ${string}` ? M : never;
type PathOf<K> = K extends `${Method} ${infer P extends keyof paths}` ? P : never;
type Operation<K extends OperationKey> = NonNullable<paths[PathOf<K>][MethodOf<K>]>;

type ParamsPart<O> = O extends { parameters: { path: infer P } } ? { params: P } : { params?: undefined };
type QueryPart<O> = O extends { parameters: { query?: infer Q } } ? ([Q] extends [undefined] ? { query?: undefined } : { query?: Q }) : { query?: undefined };
type BodyPart<O> = O extends { requestBody: { content: { 'application/json': infer B } } }
  ? { body: B }
  : O extends { requestBody?: { content: { 'application/json': infer B } } }
    ? { body?: B }
    : { body?: undefined };

export type RequestOptions<K extends OperationKey> = ParamsPart<Operation<K>> &
  QueryPart<Operation<K>> &
  BodyPart<Operation<K>> & {
    /** multipart/form-data (image uploads; the document has no body schema for them). */
    form?: FormData;
    /** Extra headers (idempotency-key: the document does not declare it). */
    headers?: Record<string, string>;
    signal?: AbortSignal;
  };

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** Called on a 401: the token is wrong or was revoked (set by the app shell). */
let onUnauthorized: () => void = () => undefined;
export function setUnauthorizedHandler(fn: () => void): void {
  onUnauthorized = fn;
}

export function authHeaders(session: Session | null = getSession()): Record<string, string> {
  if (!session) return {};
  const h: Record<string, string> = { authorization: `Bearer ${session.token}` };
  if (session.kind === 'admin' && session.actAs) h['x-likeness-user'] = session.actAs;
  return h;
}

export function buildPath(template: string, params?: Record<string, string>, query?: Record<string, unknown>): string {
  const p = template.replace(/\{(\w+)\}/g, (_, name: string) => {
    const v = params?.[name];
    if (v === undefined) throw new Error(`missing path parameter ${name} for ${template}`);
    return encodeURIComponent(v);
  });
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined && v !== null) q.set(k, String(v));
  const qs = q.toString();
  return qs ? `${p}?${qs}` : p;
}

export async function api<K extends OperationKey>(key: K, ...[opts]: {} extends RequestOptions<K> ? [RequestOptions<K>?] : [RequestOptions<K>]): Promise<Responses[K]> {
  const [method, template] = key.split(' ') as [string, string];
  const o = (opts ?? {}) as { params?: Record<string, string>; query?: Record<string, unknown>; body?: unknown; form?: FormData; headers?: Record<string, string>; signal?: AbortSignal };
  const headers = { ...o.headers, ...authHeaders() };
  let body: BodyInit | undefined;
  if (o.form) body = o.form;
  else if (o.body !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(o.body);
  }
  const res = await fetch(buildPath(template, o.params, o.query), { method: method.toUpperCase(), headers, body, signal: o.signal });
  const text = await res.text();
  let json: unknown = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    // A proxy's HTML error page: reported below with the status.
  }
  if (!res.ok) {
    const err = (json as { error?: { code?: string; message?: string } } | null)?.error;
    if (res.status === 401) onUnauthorized();
    throw new ApiError(res.status, err?.code ?? `http_${res.status}`, err?.message ?? `The server answered ${res.status} ${res.statusText}.`);
  }
  return json as Responses[K];
}

/**
 * Where an authenticated redirect (image file, LoRA download) leads. The API answers these with a
 * 302 to a short-lived signed URL, but a browser cannot send the bearer token from <img> or <a>;
 * a HEAD request follows the redirect without transferring the file and reveals the final URL.
 * (Works while the signed URL is same-origin or CORS-enabled: see the report on issue 5 for the
 * API change that removes this.)
 */
export async function resolveSignedUrl(path: string): Promise<string> {
  const res = await fetch(path, { method: 'HEAD', headers: authHeaders() });
  if (res.status === 401) onUnauthorized();
  if (!res.redirected && !res.ok) throw new ApiError(res.status, `http_${res.status}`, `Could not open ${path} (${res.status}).`);
  return res.url;
}
