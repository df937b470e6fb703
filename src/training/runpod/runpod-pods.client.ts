/**
 * RunPod REST v2 Pods client (contracts/README.md §1; types generated from the OpenAPI subset by
 * scripts/generate-runpod-types.mjs). REST v1 is retired: v2 only. Only the calls the pod backend
 * needs. Errors are RFC 9457 problems; they become ProviderError through provider-http.ts, and the
 * statuses with a meaning of their own (404 = no such pod) are returned instead of thrown.
 */
import { ProviderHttp } from '../provider-http.js';
import type { components } from './runpod-v2.types.js';

export type RunpodPod = components['schemas']['Pod'];
export type RunpodPodStatus = components['schemas']['PodStatus'];
export type RunpodCreatePodRequest = components['schemas']['CreatePodRequest'];
type ListPodsResponse = components['schemas']['ListPodsResponse'];

export const RUNPOD_API_URL = 'https://api.runpod.io';
export const RUNPOD_PROVIDER = 'runpod';

export interface RunpodPodsClientOptions {
  apiKey: string;
  /** Default https://api.runpod.io (paths under /v2). */
  baseUrl?: string;
  /** Per-call limit, default 30 s. */
  timeoutMs?: number;
  fetch?: typeof fetch;
}

export class RunpodPodsClient {
  private readonly http: ProviderHttp;
  private readonly baseUrl: string;
  private readonly apiKey: string;

  constructor(opts: RunpodPodsClientOptions) {
    this.apiKey = opts.apiKey;
    this.baseUrl = (opts.baseUrl ?? RUNPOD_API_URL).replace(/\/+$/, '');
    this.http = new ProviderHttp({ provider: RUNPOD_PROVIDER, timeoutMs: opts.timeoutMs ?? 30_000, fetch: opts.fetch });
  }

  private headers(json = false): Record<string, string> {
    const h: Record<string, string> = { authorization: `Bearer ${this.apiKey}`, accept: 'application/json' };
    if (json) h['content-type'] = 'application/json';
    return h;
  }

  async listPods(signal?: AbortSignal): Promise<RunpodPod[]> {
    const res = await this.http.json<ListPodsResponse>(
      `${this.baseUrl}/v2/pods`,
      { method: 'GET', headers: this.headers() },
      { what: 'RunPod GET /v2/pods', signal },
    );
    return res.ok ? res.data.pods : [];
  }

  /** The pod, or null when RunPod answers 404 (never existed, or terminated and forgotten). */
  async getPod(id: string, signal?: AbortSignal): Promise<RunpodPod | null> {
    const res = await this.http.json<RunpodPod>(
      `${this.baseUrl}/v2/pods/${encodeURIComponent(id)}`,
      { method: 'GET', headers: this.headers() },
      { what: `RunPod GET /v2/pods/${id}`, signal, allow: [404] },
    );
    return res.ok ? res.data : null;
  }

  /** 201 with the new pod (status PROVISIONING). Failures keep their HTTP status for the caller. */
  async createPod(body: RunpodCreatePodRequest, signal?: AbortSignal): Promise<RunpodPod> {
    const res = await this.http.json<RunpodPod>(
      `${this.baseUrl}/v2/pods`,
      { method: 'POST', headers: this.headers(true), body: JSON.stringify(body) },
      { what: 'RunPod POST /v2/pods', signal },
    );
    if (!res.ok) throw new Error('unreachable: createPod allows no error status');
    return res.data;
  }

  /** DELETE = terminate (204). 'gone' when RunPod no longer knows the pod (404): already terminated. */
  async terminatePod(id: string, signal?: AbortSignal): Promise<'terminated' | 'gone'> {
    const res = await this.http.json<unknown>(
      `${this.baseUrl}/v2/pods/${encodeURIComponent(id)}`,
      { method: 'DELETE', headers: this.headers() },
      { what: `RunPod DELETE /v2/pods/${id}`, signal, allow: [404] },
    );
    return res.ok ? 'terminated' : 'gone';
  }
}
