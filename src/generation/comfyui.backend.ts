/**
 * A ComfyUI server as the generation backend (contracts §4): LoRA files into its loras folder
 * (lora-folder.delivery.ts), input images through POST /upload/image (overwrite, into input/),
 * the workflow through POST /prompt with this adapter's client id, progress and errors over the
 * WebSocket, the outcome from GET /history/{id}, the images through GET /view.
 *
 * A 400 from /prompt whose node errors say `lora_name` is not in the list means ComfyUI cannot see
 * the LoRA: that is a LoraUnavailableError (the caller falls back), any other 400 is a fatal
 * workflow error, network errors and 5xx are transient (training/provider-http.ts classifies).
 */
import { randomUUID } from 'node:crypto';
import { ProviderError } from '../domain/errors.js';
import { ProviderHttp, discardBody, ensureOk } from '../training/provider-http.js';
import { ComfyProgressSocket } from './comfyui-progress.socket.js';
import {
  LoraUnavailableError,
  type GeneratedImage,
  type GenerationBackend,
  type GenerationHandle,
  type GenerationStatus,
  type GenerationSubmission,
} from './generation-backend.js';
import { LoraFolderDelivery } from './lora-folder.delivery.js';
import { isEmulatedImage } from './png-text.util.js';

const PROVIDER = 'comfyui';

export interface ComfyUiBackendOptions {
  /** e.g. http://127.0.0.1:8188 (no trailing slash). */
  baseUrl: string;
  /** Folder ComfyUI reads LoRAs from, shared with this process; null = only check ComfyUI lists them. */
  loraDir: string | null;
  requestTimeoutMs?: number;
  log?: (msg: string) => void;
  fetch?: typeof fetch;
}

interface HistoryEntry {
  outputs?: Record<string, { images?: Array<{ filename: string; subfolder?: string; type?: string }> }>;
  status?: { status_str?: string; completed?: boolean; messages?: Array<[string, Record<string, unknown>]> };
}

interface NodeErrorBody {
  error?: { type?: string; message?: string; details?: string };
  node_errors?: Record<string, { class_type?: string; errors?: Array<{ type?: string; details?: string; extra_info?: { input_name?: string } }> }>;
}

export class ComfyUiBackend implements GenerationBackend {
  readonly id = PROVIDER;
  private readonly http: ProviderHttp;
  private readonly socket: ComfyProgressSocket;
  private readonly delivery: LoraFolderDelivery;
  private readonly clientId = randomUUID();

  constructor(private readonly opts: ComfyUiBackendOptions) {
    this.http = new ProviderHttp({ provider: PROVIDER, timeoutMs: opts.requestTimeoutMs ?? 30_000, fetch: opts.fetch });
    const ws = `${opts.baseUrl.replace(/^http/, 'ws')}/ws?clientId=${this.clientId}`;
    this.socket = new ComfyProgressSocket(ws, opts.log);
    this.delivery = new LoraFolderDelivery(opts.loraDir, PROVIDER);
  }

  private url(p: string): string {
    return `${this.opts.baseUrl}${p}`;
  }

  async submit(job: GenerationSubmission): Promise<GenerationHandle> {
    await this.socket.connect();
    if (job.loras.length) await this.delivery.ensure(job.loras, () => this.listLoras());
    for (const image of job.images) await this.uploadImage(image.name, image.bytes);
    const res = await this.http.send(this.url('/prompt'), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ prompt: job.workflow, client_id: this.clientId }),
    });
    if (res.status === 400) throw promptRefusal((await res.json().catch(() => ({}))) as NodeErrorBody);
    await ensureOk(res, 'ComfyUI POST /prompt', PROVIDER);
    const body = (await res.json()) as { prompt_id?: string };
    if (!body.prompt_id) throw new ProviderError('transient', 'ComfyUI POST /prompt answered without a prompt_id.', PROVIDER);
    this.socket.track(body.prompt_id);
    return { backend: PROVIDER, id: body.prompt_id, clientId: this.clientId };
  }

  async status(handle: GenerationHandle): Promise<GenerationStatus> {
    const entry = await this.history(handle.id);
    if (entry) {
      this.socket.forget(handle.id);
      return statusFromHistory(entry);
    }
    const live = this.socket.get(handle.id);
    if (live?.error && live.error !== 'interrupted') return { state: 'failed', error: { message: live.error, cause: 'execution' } };
    const queue = await this.http.json<{ queue_running?: unknown[][]; queue_pending?: unknown[][] }>(this.url('/queue'), { method: 'GET' }, { what: 'ComfyUI GET /queue' });
    const has = (items: unknown[][] | undefined) => (items ?? []).some((t) => t[1] === handle.id);
    // History is written before the prompt leaves the queue, so "in neither" right after a history
    // miss means ComfyUI restarted and forgot the prompt.
    if (has(queue.data?.queue_running)) return live?.progress ? { state: 'running', progress: live.progress } : { state: 'running' };
    if (has(queue.data?.queue_pending)) return { state: 'queued' };
    const again = await this.history(handle.id);
    if (again) return statusFromHistory(again);
    return { state: 'failed', error: { message: 'ComfyUI no longer knows this prompt (restarted?)', cause: 'lost' } };
  }

  async fetchImages(handle: GenerationHandle): Promise<GeneratedImage[]> {
    const entry = await this.history(handle.id);
    if (!entry) throw new ProviderError('transient', `ComfyUI has no history for prompt ${handle.id} yet.`, PROVIDER);
    const images: GeneratedImage[] = [];
    for (const nodeId of Object.keys(entry.outputs ?? {}).sort(byNodeId)) {
      for (const image of entry.outputs![nodeId]!.images ?? []) {
        if (image.type === 'temp') continue; // previews, as worker-comfyui skips them
        const q = new URLSearchParams({ filename: image.filename, subfolder: image.subfolder ?? '', type: image.type ?? 'output' });
        const res = await ensureOk(await this.http.send(this.url(`/view?${q}`), { method: 'GET' }, { timeoutMs: 120_000 }), 'ComfyUI GET /view', PROVIDER);
        const bytes = Buffer.from(await res.arrayBuffer());
        images.push({
          fileName: image.filename,
          bytes,
          mime: res.headers.get('content-type')?.split(';')[0] ?? 'image/png',
          emulated: res.headers.get('x-likeness-emulated') === '1' || isEmulatedImage(bytes),
        });
      }
    }
    return images;
  }

  async cancel(handle: GenerationHandle): Promise<void> {
    // Pending: removed from the queue; running: interrupted. Each is harmless in the other case.
    for (const [p, body] of [
      ['/queue', { delete: [handle.id] }],
      ['/interrupt', { prompt_id: handle.id }],
    ] as const) {
      const res = await this.http.send(this.url(p), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      await discardBody(res);
    }
    this.socket.forget(handle.id);
  }

  async close(): Promise<void> {
    await this.socket.close();
  }

  private async listLoras(): Promise<string[]> {
    const res = await this.http.json<string[]>(this.url('/models/loras'), { method: 'GET' }, { what: 'ComfyUI GET /models/loras' });
    return Array.isArray(res.data) ? res.data : [];
  }

  private async uploadImage(name: string, bytes: Buffer): Promise<void> {
    const form = new FormData();
    form.append('image', new Blob([new Uint8Array(bytes)]), name);
    form.append('overwrite', 'true');
    form.append('type', 'input');
    const res = await this.http.send(this.url('/upload/image'), { method: 'POST', body: form });
    await ensureOk(res, 'ComfyUI POST /upload/image', PROVIDER);
    await discardBody(res);
  }

  private async history(promptId: string): Promise<HistoryEntry | null> {
    const res = await this.http.json<Record<string, HistoryEntry>>(this.url(`/history/${encodeURIComponent(promptId)}`), { method: 'GET' }, { what: 'ComfyUI GET /history' });
    return res.data?.[promptId] ?? null;
  }
}

function byNodeId(a: string, b: string): number {
  const na = Number(a);
  const nb = Number(b);
  return Number.isFinite(na) && Number.isFinite(nb) ? na - nb : a.localeCompare(b);
}

function statusFromHistory(entry: HistoryEntry): GenerationStatus {
  const messages = entry.status?.messages ?? [];
  const at = (type: string) => messages.find(([t]) => t === type)?.[1];
  const start = Number(at('execution_start')?.timestamp);
  if (entry.status?.status_str === 'success' || entry.status?.completed) {
    const end = Number(at('execution_success')?.timestamp);
    return Number.isFinite(start) && Number.isFinite(end) ? { state: 'completed', executionSeconds: Math.max(0, (end - start) / 1000) } : { state: 'completed' };
  }
  const failure = at('execution_error');
  if (failure) {
    return {
      state: 'failed',
      error: { message: `${String(failure.node_type)} (node ${String(failure.node_id)}): ${String(failure.exception_message)}`, cause: 'execution' },
    };
  }
  if (at('execution_interrupted')) return { state: 'cancelled' };
  return { state: 'failed', error: { message: 'ComfyUI ended the prompt without success', cause: 'execution' } };
}

/** A 400 from /prompt: LoRA not visible to ComfyUI (fall back) or a workflow it refuses. */
function promptRefusal(body: NodeErrorBody): ProviderError {
  for (const [nodeId, node] of Object.entries(body.node_errors ?? {})) {
    for (const e of node.errors ?? []) {
      if (e.type === 'value_not_in_list' && e.extra_info?.input_name === 'lora_name') {
        return new LoraUnavailableError(`ComfyUI cannot load the LoRA of node ${nodeId} (${node.class_type}): ${e.details}`, PROVIDER);
      }
    }
  }
  const details = Object.entries(body.node_errors ?? {})
    .flatMap(([id, n]) => (n.errors ?? []).map((e) => `node ${id} (${n.class_type}): ${e.details ?? e.type}`))
    .join('; ');
  const head = body.error?.message ?? 'ComfyUI refused the workflow';
  return new ProviderError('fatal', `${head}${details ? `: ${details}` : body.error?.details ? `: ${body.error.details}` : ''}`, PROVIDER, 400);
}
