/**
 * The whole training flow on emulated RunPod pods, over real HTTP through the pod proxy:
 * create pod -> UI answers -> upload -> POST job -> start job -> start queue -> running -> completed,
 * then the outputs: checkpoint names and retention, samples, and the LoRA files themselves,
 * downloaded with Range and parsed here (Z-Image Turbo, and Wan 2.2's two files).
 */
import { createHash } from 'node:crypto';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createAitkPod,
  fileUrl,
  jobConfig,
  parseSafetensors,
  runpod,
  startTestEmulator,
  uploadDataset,
  waitFor,
  type AitkClient,
  type TestEmulator,
} from './emulator-test-kit.js';

let t: TestEmulator;

beforeAll(async () => {
  t = await startTestEmulator({ trainSeconds: 2, bootSeconds: 0.3 });
});
afterAll(async () => {
  await t.stop();
});

/** Reads bytes [start, end] of a file with one Range request. */
async function range(url: string, start: number, end: number): Promise<{ bytes: Buffer; res: Response }> {
  const res = await fetch(url, { headers: { range: `bytes=${start}-${end}` } });
  expect(res.status).toBe(206);
  return { bytes: Buffer.from(await res.arrayBuffer()), res };
}

/** Header of a remote .safetensors via two Range requests, plus the file size from Content-Range. */
async function remoteHeader(url: string) {
  const first = await range(url, 0, 7);
  const size = Number(/\/(\d+)$/.exec(first.res.headers.get('content-range') ?? '')?.[1]);
  const n = Number(first.bytes.readBigUInt64LE(0));
  const rest = await range(url, 8, 8 + n - 1);
  return { size, parsed: parseSafetensors(Buffer.concat([first.bytes, rest.bytes])) };
}

/** Starts a job the way the UI's JobActionBar does and waits for its end, recording what it saw. */
async function runJob(ui: AitkClient, name: string, cfg: unknown) {
  const job = await ui.createJob(name, cfg);
  const pre = await ui.json(`/api/jobs/${job.id}/start`);
  expect(pre.status).toBe('stopped');
  await ui.json('/api/queue/0/start');
  const infos: string[] = [];
  const statuses: string[] = [];
  let last: any;
  const deadline = Date.now() + 20_000;
  for (;;) {
    last = await ui.job(job.id);
    if (infos[infos.length - 1] !== last.info) infos.push(last.info);
    if (statuses[statuses.length - 1] !== last.status) statuses.push(last.status);
    if (['completed', 'error', 'stopped'].includes(last.status) || Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  return { job: last, infos, statuses };
}

/** True when `seen` appears in `order` in the same relative order. */
function inOrder(seen: string[], order: string[]): boolean {
  let i = 0;
  for (const s of seen) {
    const at = order.indexOf(s, i);
    if (at === -1) return false;
    i = at;
  }
  return true;
}

describe('training on an emulated pod', () => {
  it('runs Z-Image Turbo end to end and serves real-sized LoRA files with Range', async () => {
    const { ui } = await createAitkPod(t.emu, 'zimage-pod');
    expect(await ui.json('/api/datasets/list')).toEqual([]);
    await uploadDataset(ui, 'char_set', 4);
    const name = 'char_lora_v1';
    const { job, infos, statuses } = await runJob(ui, name, jobConfig(name, { steps: 100, rank: 16, saveEvery: 25, keep: 2, sampleEvery: 50, dataset: 'char_set' }));

    expect(job.status, job.info).toBe('completed');
    expect(job.info).toBe('Training completed');
    expect(job.step).toBe(100);
    expect(job.speed_string).toMatch(/^\d+\.\d{2} (iter\/sec|sec\/iter)$/);
    expect(statuses[0]).toBe('queued');
    expect(statuses).toContain('running');
    const order = ['Job queued', 'Starting job...', 'Starting', 'Loading model', 'Loading dataset', 'Training', 'Generating images - 0/2', 'Generating images - 1/2', 'Generating images - 2/2', 'Saving model', 'Training completed'];
    const known = infos.filter((i) => order.includes(i) && i !== 'Training' && !i.startsWith('Generating') && i !== 'Saving model');
    expect(inOrder(known, order), infos.join(' | ')).toBe(true);
    expect(infos).toContain('Training');

    // Checkpoints: the final file has no step and sorts first; only the newest 2 step saves remain.
    const files = (await ui.json(`/api/jobs/${job.id}/files`)).files as Array<{ path: string; size: number }>;
    const dir = `/app/ai-toolkit/output/${name}`;
    expect(files.map((f) => f.path)).toEqual([
      `${dir}/${name}.safetensors`,
      `${dir}/${name}_000000050.safetensors`,
      `${dir}/${name}_000000075.safetensors`,
      `${dir}/optimizer.pt`,
    ]);
    // Z-Image r16 bf16 is ~85 MB (contracts/lora-formats.md); the size is the true one.
    const lora = files[0]!;
    expect(lora.size).toBeGreaterThan(85_000_000);
    expect(lora.size).toBeLessThan(85_200_000);

    // Samples: <ms>__<step:09>_<prompt>.jpg at steps 0, 50 and 100, two prompts each.
    const samples = (await ui.json(`/api/jobs/${job.id}/samples`)).samples as string[];
    expect(samples).toHaveLength(6);
    for (const s of samples) expect(s).toMatch(new RegExp(`^${dir}/samples/\\d{13}__\\d{9}_[01]\\.jpg$`));
    expect(samples.map((s) => /__(\d{9})_/.exec(s)![1]).sort()).toEqual(['000000000', '000000000', '000000050', '000000050', '000000100', '000000100']);
    const img = await fetch(`${ui.base}/api/img/${encodeURIComponent(samples[0]!.slice(0, samples[0]!.lastIndexOf('/')))}/${encodeURIComponent(samples[0]!.split('/').pop()!)}`);
    expect(img.status).toBe(200);
    expect(img.headers.get('content-type')).toBe('image/jpeg');
    const meta = await sharp(Buffer.from(await img.arrayBuffer())).metadata();
    expect(meta.format).toBe('jpeg');
    expect(meta.width).toBe(128);

    // The file over Range: header, key count, shapes, dtype, metadata.
    const url = fileUrl(ui, `${dir}/${name}_000000050.safetensors`);
    const head = await fetch(url, { method: 'HEAD' });
    expect(head.headers.get('content-length')).toBe(String(lora.size));
    expect(head.headers.get('accept-ranges')).toBe('bytes');
    expect(head.headers.get('content-disposition')).toBe(`attachment; filename="${name}_000000050.safetensors"`);
    const { size, parsed } = await remoteHeader(url);
    expect(size).toBe(lora.size);
    expect(parsed.tensors.size).toBe(480);
    expect(parsed.tensors.get('diffusion_model.layers.0.attention.to_q.lora_A.weight')).toMatchObject({ dtype: 'BF16', shape: [16, 3840] });
    expect(parsed.tensors.get('diffusion_model.layers.29.attention.to_out.0.lora_B.weight')).toMatchObject({ shape: [3840, 16] });
    expect(parsed.tensors.get('diffusion_model.layers.3.feed_forward.w2.lora_A.weight')).toMatchObject({ shape: [16, 10240] });
    expect(parsed.tensors.get('diffusion_model.layers.3.adaLN_modulation.0.lora_B.weight')).toMatchObject({ shape: [15360, 16] });
    expect([...parsed.tensors.keys()].every((k) => /^diffusion_model\.layers\.\d+\..+\.lora_[AB]\.weight$/.test(k))).toBe(true);
    expect([...parsed.tensors.keys()].some((k) => k.endsWith('.alpha'))).toBe(false);
    const spans = [...parsed.tensors.values()].map((v) => v.offsets).sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < spans.length; i++) expect(spans[i]![0]).toBe(spans[i - 1]![1]);
    expect(8 + parsed.headerLength + spans[spans.length - 1]![1]).toBe(size);
    expect(parsed.headerLength % 8).toBe(0);
    expect(parsed.metadata).toMatchObject({
      ss_base_model_version: 'zimage',
      ss_output_name: name,
      name,
      version: '1.0',
      training_info: '{"step": 50, "epoch": 12}',
      ss_tag_frequency: '{"1_ohwx": {"ohwx": 1}}',
      format: 'pt',
      likeness_emulated: 'true',
    });

    // Tensor data: not zeros, and different for another checkpoint step.
    const dataAt = 8 + parsed.headerLength + 4096;
    const a = (await range(url, dataAt, dataAt + 63)).bytes;
    const b = (await range(fileUrl(ui, `${dir}/${name}_000000075.safetensors`), dataAt, dataAt + 63)).bytes;
    expect(a.some((x) => x !== 0)).toBe(true);
    expect(a.equals(b)).toBe(false);

    // Range edge cases as AI Toolkit's file server answers them.
    const beyond = await fetch(url, { headers: { range: `bytes=${size}-` } });
    expect(beyond.status).toBe(416);
    expect(beyond.headers.get('content-range')).toBe(`bytes */${size}`);
    expect((await fetch(url, { headers: { range: 'bytes=-100' } })).status).toBe(416);

    // A whole download: exact length, and its data section hashes to the sshs_model_hash it claims.
    const whole = Buffer.from(await (await fetch(fileUrl(ui, `${dir}/${name}.safetensors`))).arrayBuffer());
    expect(whole.length).toBe(lora.size);
    const final = parseSafetensors(whole);
    expect(final.metadata.training_info).toBe('{"step": 100, "epoch": 25}');
    const dataHash = createHash('sha256').update(whole.subarray(8 + final.headerLength)).digest('hex');
    expect(final.metadata.sshs_model_hash).toBe(dataHash);
    const tail = (await range(fileUrl(ui, `${dir}/${name}.safetensors`), lora.size - 1000, lora.size - 1)).bytes;
    expect(tail.equals(whole.subarray(lora.size - 1000))).toBe(true);

    // The log, read incrementally.
    const log = await ui.json(`/api/jobs/${job.id}/log`);
    expect(log.reset).toBe(true);
    expect(log.log).toContain(`Saved checkpoint to ${dir}/${name}_000000075.safetensors`);
    expect(log.log).toContain(`Removing old save: ${dir}/${name}_000000025.safetensors`);
    expect(await ui.json(`/api/jobs/${job.id}/log?offset=${log.offset}`)).toEqual({ log: '', offset: log.offset, reset: false });
  });

  it('keeps the install through a restart, loses it with a stop, and answers 502 while it is down', async () => {
    const { pod, ui } = await createAitkPod(t.emu, 'restart-pod');
    await uploadDataset(ui, 'keep_me', 1);
    expect(await ui.json('/api/datasets/list')).toEqual(['keep_me']);

    const restarted = (await (await runpod(t.emu, 'POST', `/v2/pods/${pod.id}/action`, { action: 'restart' })).json()) as any;
    expect(restarted.status).toBe('STARTING');
    expect((await ui.get('/api/auth')).status).toBe(502);
    await waitFor(() => ui.get('/api/auth').then((r) => r.status), (s) => s === 200);
    expect(await ui.json('/api/datasets/list')).toEqual(['keep_me']);

    const stopped = await runpod(t.emu, 'POST', `/v2/pods/${pod.id}/action`, { action: 'stop' });
    expect(((await stopped.json()) as any).status).toBe('EXITED');
    expect((await ui.get('/api/auth')).status).toBe(502);
    await runpod(t.emu, 'POST', `/v2/pods/${pod.id}/action`, { action: 'start' });
    await waitFor(() => ui.get('/api/auth').then((r) => r.status), (s) => s === 200);
    // A stopped pod loses its container disk, and AI Toolkit lives there.
    expect(await ui.json('/api/datasets/list')).toEqual([]);
    expect((await runpod(t.emu, 'DELETE', `/v2/pods/${pod.id}`)).status).toBe(204);
    expect((await ui.get('/api/auth')).status).toBe(502);
  });

  it('writes Wan 2.2 14B as a high-noise and a low-noise file with the Wan key set', async () => {
    const { ui } = await createAitkPod(t.emu, 'wan22-pod');
    await uploadDataset(ui, 'wan_set', 2);
    const name = 'wan_lora';
    const cfg = jobConfig(name, { arch: 'wan22_14b:t2v', nameOrPath: 'ai-toolkit/Wan2.2-T2V-A14B-Diffusers-bf16', steps: 40, rank: 4, saveEvery: 20, keep: 1, sampleEvery: 0, dataset: 'wan_set' });
    const { job } = await runJob(ui, name, cfg);
    expect(job.status, job.info).toBe('completed');

    const files = (await ui.json(`/api/jobs/${job.id}/files`)).files as Array<{ path: string; size: number }>;
    const dir = `/app/ai-toolkit/output/${name}`;
    // keep 1 x 2 (split files count double); the final pair matches `<name>_*` too, so the
    // step-20 pair is the one pruned.
    expect(files.map((f) => f.path.slice(dir.length + 1))).toEqual([`${name}_high_noise.safetensors`, `${name}_low_noise.safetensors`, 'optimizer.pt']);

    const headers = [];
    for (const part of ['high_noise', 'low_noise']) {
      const { size, parsed } = await remoteHeader(fileUrl(ui, `${dir}/${name}_${part}.safetensors`));
      expect(size).toBe(files.find((f) => f.path.endsWith(`${part}.safetensors`))!.size);
      expect(parsed.tensors.size).toBe(800);
      expect(parsed.tensors.get('diffusion_model.blocks.0.self_attn.q.lora_A.weight')).toMatchObject({ dtype: 'BF16', shape: [4, 5120] });
      expect(parsed.tensors.get('diffusion_model.blocks.39.ffn.0.lora_B.weight')).toMatchObject({ shape: [13824, 4] });
      expect(parsed.tensors.get('diffusion_model.blocks.39.ffn.2.lora_A.weight')).toMatchObject({ shape: [4, 13824] });
      expect([...parsed.tensors.keys()].some((k) => k.includes('transformer_1') || k.includes('transformer_2'))).toBe(false);
      expect(parsed.metadata.ss_base_model_version).toBe('wan_2.2_14b');
      headers.push(parsed);
    }
    // Same metadata in both files, hashes of the combined dict included.
    expect(headers[0]!.metadata).toEqual(headers[1]!.metadata);
  });
});
