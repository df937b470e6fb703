/**
 * Shared helpers for the emulator's contract tests: start/stop an emulator in a temp folder, talk
 * to it with plain fetch, wait on states (never fixed sleeps), and read a .safetensors header with
 * a parser written here on purpose (the tests must not trust product code to check the emulator).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { startEmulator, type EmulatorOptions, type RunningEmulator } from '../../src/emulator/index.js';

export const RUNPOD_KEY = 'test-runpod-key';
export const RTX4090 = 'NVIDIA GeForce RTX 4090';

export interface TestEmulator {
  emu: RunningEmulator;
  dataDir: string;
  stop(): Promise<void>;
}

export async function startTestEmulator(opts: Partial<EmulatorOptions> = {}): Promise<TestEmulator> {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'likeness-emu-test-'));
  const emu = await startEmulator({ dataDir, runpodApiKey: RUNPOD_KEY, trainSeconds: 2, bootSeconds: 0.3, ...opts });
  return {
    emu,
    dataDir,
    stop: async () => {
      await emu.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** Polls `probe` until `done` accepts its value; fails with the last value seen. */
export async function waitFor<T>(probe: () => Promise<T>, done: (v: T) => boolean, timeoutMs = 15_000, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  for (;;) {
    last = await probe();
    if (done(last)) return last;
    if (Date.now() > deadline) throw new Error(`waitFor timed out; last value: ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export function runpod(emu: RunningEmulator, method: string, p: string, body?: unknown, key: string | null = RUNPOD_KEY): Promise<Response> {
  const headers: Record<string, string> = {};
  if (key !== null) headers.authorization = `Bearer ${key}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  return fetch(`${emu.runpodApiUrl}${p}`, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
}

/** A client of one AI Toolkit UI (a pod's, through the proxy, or the standalone one). */
export class AitkClient {
  constructor(
    readonly base: string,
    readonly token: string,
  ) {}

  get(p: string, init: RequestInit = {}): Promise<Response> {
    return fetch(`${this.base}${p}`, { ...init, headers: { authorization: `Bearer ${this.token}`, ...(init.headers as Record<string, string> | undefined) } });
  }

  async json<T = any>(p: string): Promise<T> {
    const r = await this.get(p);
    if (!r.ok) throw new Error(`GET ${p} -> ${r.status} ${await r.text()}`);
    return (await r.json()) as T;
  }

  post(p: string, body: unknown): Promise<Response> {
    return fetch(`${this.base}${p}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${this.token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  }

  async upload(datasetName: string, files: Array<{ name: string; data: Uint8Array | string }>): Promise<Response> {
    const fd = new FormData();
    fd.append('datasetName', datasetName);
    for (const f of files) fd.append('files', new Blob([typeof f.data === 'string' ? f.data : Buffer.from(f.data)]), f.name);
    return fetch(`${this.base}/api/datasets/upload`, { method: 'POST', headers: { authorization: `Bearer ${this.token}` }, body: fd });
  }

  async createJob(name: string, jobConfig: unknown, gpuIds = '0'): Promise<any> {
    const r = await this.post('/api/jobs', { name, gpu_ids: gpuIds, job_config: jobConfig });
    if (r.status !== 200) throw new Error(`create job -> ${r.status} ${await r.text()}`);
    return r.json();
  }

  job(id: string): Promise<any> {
    return this.json(`/api/jobs?id=${id}`);
  }

  waitForJob(id: string, statuses: string[], timeoutMs = 20_000): Promise<any> {
    return waitFor(() => this.job(id), (j) => j !== null && statuses.includes(j.status), timeoutMs);
  }
}

/** Creates an AI Toolkit pod and waits until its UI answers through the proxy. */
export async function createAitkPod(emu: RunningEmulator, name: string, token = 'pod-secret-token'): Promise<{ pod: any; ui: AitkClient }> {
  const r = await runpod(emu, 'POST', '/v2/pods', {
    name,
    image: 'ostris/aitoolkit:latest',
    gpu: { id: RTX4090, count: 1, allowedCudaVersions: ['13.0'] },
    disk: 100,
    mounts: { persistent: { size: 100, path: '/workspace' } },
    ports: ['8675/http'],
    env: { AI_TOOLKIT_AUTH: token },
  });
  if (r.status !== 201) throw new Error(`create pod -> ${r.status} ${await r.text()}`);
  const pod = (await r.json()) as any;
  const ui = new AitkClient(emu.podProxyUrlTemplate.replace('{podId}', pod.id).replace('{port}', '8675'), token);
  await waitFor(() => ui.get('/api/auth').then((x) => x.status), (s) => s === 200);
  return { pod, ui };
}

/** A small real JPEG (the emulated trainer only counts image files, but keep the data honest). */
export function tinyJpeg(): Promise<Buffer> {
  return sharp({ create: { width: 16, height: 16, channels: 3, background: { r: 120, g: 90, b: 70 } } }).jpeg().toBuffer();
}

export async function uploadDataset(ui: AitkClient, name: string, images = 3): Promise<void> {
  const files: Array<{ name: string; data: Uint8Array | string }> = [];
  const jpeg = await tinyJpeg();
  for (let i = 0; i < images; i++) {
    files.push({ name: `img_${i}.jpg`, data: jpeg });
    files.push({ name: `img_${i}.txt`, data: 'ohwx woman' });
  }
  const r = await ui.upload(name, files);
  if (r.status !== 200) throw new Error(`upload -> ${r.status} ${await r.text()}`);
}

/** An AI Toolkit UI job config (contracts §3.5 shape) for one arch. */
export function jobConfig(name: string, over: { arch?: string; nameOrPath?: string; steps?: number; rank?: number; saveEvery?: number; keep?: number; sampleEvery?: number; prompts?: string[]; dataset?: string; trainingFolder?: string; dtype?: string } = {}): unknown {
  return {
    job: 'extension',
    config: {
      name,
      process: [
        {
          type: 'diffusion_trainer',
          training_folder: over.trainingFolder ?? '/app/ai-toolkit/output',
          sqlite_db_path: './aitk_db.db',
          device: 'cuda',
          trigger_word: 'ohwx',
          performance_log_every: 10,
          network: { type: 'lora', linear: over.rank ?? 4, linear_alpha: over.rank ?? 4 },
          save: { dtype: over.dtype ?? 'bf16', save_every: over.saveEvery ?? 25, max_step_saves_to_keep: over.keep ?? 4, save_format: 'diffusers', push_to_hub: false },
          datasets: [{ folder_path: `/app/ai-toolkit/datasets/${over.dataset ?? 'set'}`, caption_ext: 'txt', resolution: [512, 768, 1024] }],
          train: { batch_size: 1, steps: over.steps ?? 100, lr: 0.0001, optimizer: 'adamw8bit', dtype: 'bf16' },
          logging: { log_every: 1, use_ui_logger: true },
          model: { name_or_path: over.nameOrPath ?? 'Tongyi-MAI/Z-Image-Turbo', arch: over.arch ?? 'zimage:turbo', quantize: true },
          sample: {
            sampler: 'flowmatch',
            sample_every: over.sampleEvery ?? 50,
            width: 1024,
            height: 1024,
            samples: (over.prompts ?? ['ohwx woman, portrait', 'ohwx woman at the park']).map((prompt) => ({ prompt })),
            seed: 42,
            walk_seed: true,
            guidance_scale: 1,
            sample_steps: 9,
          },
        },
      ],
    },
    meta: { name: '[name]', version: '1.0' },
  };
}

export interface ParsedSafetensors {
  headerLength: number;
  metadata: Record<string, string>;
  tensors: Map<string, { dtype: string; shape: number[]; offsets: [number, number] }>;
}

/** Minimal safetensors header parser (u64 LE length, JSON header). Written here, not shared. */
export function parseSafetensors(bytes: Uint8Array): ParsedSafetensors {
  const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = Number(view.readBigUInt64LE(0));
  if (view.length < 8 + n) throw new Error(`need ${8 + n} bytes for the header, have ${view.length}`);
  const raw = view.subarray(8, 8 + n).toString('utf8');
  const json = JSON.parse(raw) as Record<string, any>;
  const tensors = new Map<string, { dtype: string; shape: number[]; offsets: [number, number] }>();
  let metadata: Record<string, string> = {};
  for (const [k, v] of Object.entries(json)) {
    if (k === '__metadata__') metadata = v;
    else tensors.set(k, { dtype: v.dtype, shape: v.shape, offsets: v.data_offsets });
  }
  return { headerLength: n, metadata, tensors };
}

/** URL of a file under /api/files, encoded as the AI Toolkit UI encodes it (folder / file). */
export function fileUrl(ui: AitkClient, absPath: string): string {
  const cut = absPath.lastIndexOf('/');
  return `${ui.base}/api/files/${encodeURIComponent(absPath.slice(0, cut))}/${encodeURIComponent(absPath.slice(cut + 1))}`;
}
