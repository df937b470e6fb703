/**
 * A RunPod serverless endpoint running worker-comfyui as the generation backend (contracts §2, §5):
 * POST /{endpointId}/run with `{input: {workflow, images: [{name, image: base64}], loras?}}`,
 * GET /status/{id} until COMPLETED | FAILED | CANCELLED | TIMED_OUT, images from
 * `output.images[] {filename, type: base64|s3_url, data}`, POST /cancel/{id}.
 *
 * LoRA delivery (docs/generation.md): `download` sends `input.loras = [{name, url, sha256}]` with
 * signed URLs, which Likeness's worker image downloads into models/loras (cached by name and
 * checksum); `volume` sends nothing, for LoRAs synced to the endpoint's network volume. Either way a
 * worker that cannot load the file fails the job with a message naming it (a failed download, or
 * `value_not_in_list` for `lora_name`), which becomes a LoraUnavailableError so the caller falls back.
 */
import { ProviderError } from '../domain/errors.js';
import { ProviderHttp, ensureOk } from '../training/provider-http.js';
import { RunpodServerlessClient, serverlessPolicy, type ServerlessStatusBody } from '../training/runpod/runpod-serverless.client.js';
import type {
  GeneratedImage,
  GenerationBackend,
  GenerationHandle,
  GenerationStatus,
  GenerationSubmission,
} from './generation-backend.js';
import { isEmulatedImage } from './png-text.util.js';

const PROVIDER = 'runpod-serverless';

export interface RunpodComfyBackendOptions {
  apiKey: string;
  endpointId: string;
  /** Default https://api.runpod.ai/v2. */
  baseUrl?: string;
  loraDelivery: 'download' | 'volume';
  /** policy.executionTimeout of each job. */
  executionTimeoutMs?: number;
  requestTimeoutMs?: number;
  fetch?: typeof fetch;
}

interface StatusBody extends ServerlessStatusBody {
  output?: { images?: Array<{ filename?: string; type?: string; data?: string }>; details?: unknown; progress?: unknown } | string;
}

export class RunpodComfyBackend implements GenerationBackend {
  readonly id = PROVIDER;
  private readonly http: ProviderHttp;
  private readonly client: RunpodServerlessClient;

  constructor(private readonly opts: RunpodComfyBackendOptions) {
    this.http = new ProviderHttp({ provider: PROVIDER, timeoutMs: opts.requestTimeoutMs ?? 30_000, fetch: opts.fetch });
    this.client = new RunpodServerlessClient({
      apiKey: opts.apiKey,
      endpointId: opts.endpointId,
      baseUrl: opts.baseUrl,
      provider: PROVIDER,
      timeoutMs: opts.requestTimeoutMs,
      fetch: opts.fetch,
    });
  }

  async submit(job: GenerationSubmission): Promise<GenerationHandle> {
    const input: Record<string, unknown> = { workflow: job.workflow };
    if (job.images.length) input.images = job.images.map((i) => ({ name: i.name, image: i.bytes.toString('base64') }));
    if (job.loras.length && this.opts.loraDelivery === 'download') {
      input.loras = await Promise.all(job.loras.map(async (l) => ({ name: l.name, url: await l.url(), sha256: l.sha256 })));
    }
    const executionTimeout = this.opts.executionTimeoutMs ?? 600_000;
    const queued = await this.client.run({ input, policy: serverlessPolicy(executionTimeout, Math.max(executionTimeout * 2, 600_000)) });
    return { backend: PROVIDER, id: queued.id };
  }

  async status(handle: GenerationHandle): Promise<GenerationStatus> {
    const res = await this.getStatus(handle);
    if (!res) return { state: 'failed', error: { message: 'RunPod no longer knows this job (expired or unknown)', cause: 'lost' } };
    const executionSeconds = typeof res.executionTime === 'number' ? res.executionTime / 1000 : undefined;
    const withTime = <T extends GenerationStatus>(s: T): T => (executionSeconds === undefined ? s : { ...s, executionSeconds });
    switch (res.status) {
      case 'IN_QUEUE':
        return { state: 'queued' };
      case 'IN_PROGRESS':
      case 'RUNNING':
        return withTime({ state: 'running' });
      case 'COMPLETED':
        return withTime({ state: 'completed' });
      case 'CANCELLED':
        return withTime({ state: 'cancelled' });
      case 'TIMED_OUT':
        return withTime({ state: 'failed', error: { message: 'The job ran past its execution timeout.', cause: 'execution' } });
      case 'FAILED': {
        const message = failureText(res);
        return withTime({ state: 'failed', error: { message, cause: classifyFailure(message) } });
      }
      default:
        throw new ProviderError('transient', `RunPod reported an unknown job status ${String(res.status)}.`, PROVIDER);
    }
  }

  async fetchImages(handle: GenerationHandle): Promise<GeneratedImage[]> {
    const res = await this.getStatus(handle);
    if (!res || res.status !== 'COMPLETED') throw new ProviderError('transient', `RunPod job ${handle.id} has no output (status ${res?.status ?? 'unknown'}).`, PROVIDER);
    const output = typeof res.output === 'object' && res.output ? res.output : {};
    const images: GeneratedImage[] = [];
    for (const image of output.images ?? []) {
      if (!image.data) continue;
      let bytes: Buffer;
      if (image.type === 's3_url') {
        const download = await ensureOk(await this.http.send(image.data, { method: 'GET' }, { timeoutMs: 120_000 }), 'download of a worker image', PROVIDER);
        bytes = Buffer.from(await download.arrayBuffer());
      } else {
        bytes = Buffer.from(image.data.includes(',') ? image.data.split(',', 2)[1]! : image.data, 'base64');
      }
      images.push({ fileName: image.filename ?? `image_${images.length + 1}.png`, bytes, mime: sniffMime(bytes), emulated: isEmulatedImage(bytes) });
    }
    return images;
  }

  /** Best effort: a refusal is ignored (the job ends on its own by its execution timeout). */
  async cancel(handle: GenerationHandle): Promise<void> {
    await this.client.cancel(handle.id).catch((err: unknown) => {
      if (!(err instanceof ProviderError && err.httpStatus !== undefined)) throw err;
    });
  }

  async close(): Promise<void> {}

  private async getStatus(handle: GenerationHandle): Promise<StatusBody | null> {
    return (await this.client.status(handle.id)) as StatusBody | null;
  }
}

/** The handler's `error` string, plus `output.details` when the status carries it. */
function failureText(res: StatusBody): string {
  const error = typeof res.error === 'string' ? res.error : JSON.stringify(res.error ?? 'the job failed');
  const details = typeof res.output === 'object' && res.output && Array.isArray(res.output.details) ? res.output.details.map(String) : [];
  return details.length ? `${error}: ${details.join('; ')}` : error;
}

/**
 * worker-comfyui's messages (handler.py): a LoRA it could not download or that ComfyUI does not list
 * (`value_not_in_list` on `lora_name`) is the LoRA path failing; validation and input errors are the
 * workflow's; anything else happened while running.
 */
export function classifyFailure(message: string): 'lora' | 'workflow' | 'execution' {
  if (/download one or more LoRAs|Error downloading .*\.safetensors/i.test(message)) return 'lora';
  if (/value_not_in_list/.test(message) && /lora_name/.test(message)) return 'lora';
  if (/Workflow validation failed|Cannot execute because|Missing 'workflow'|must be a list of objects|Invalid JSON format|Please provide input|Prompt has no outputs/i.test(message)) return 'workflow';
  return 'execution';
}

function sniffMime(bytes: Buffer): string {
  if (bytes[0] === 0x89 && bytes[1] === 0x50) return 'image/png';
  if (bytes[0] === 0xff && bytes[1] === 0xd8) return 'image/jpeg';
  if (bytes.subarray(8, 12).toString('latin1') === 'WEBP') return 'image/webp';
  return 'application/octet-stream';
}
