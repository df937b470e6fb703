/**
 * Test-only safetensors writer and LoRA key sets, written from contracts/lora-formats.md on
 * purpose without importing product code, so a wrong table in src/lora/ fails these tests instead
 * of agreeing with itself. Data sections are zeros, made sparse with ftruncate: a 600 MB file costs
 * no disk and no time.
 */
import { open } from 'node:fs/promises';

export interface TestTensor {
  name: string;
  dtype: string;
  shape: number[];
  /** Bytes of this tensor; zeros when omitted. */
  data?: Buffer;
}

const BYTES: Record<string, number> = { BF16: 2, F16: 2, F32: 4, F64: 8, U8: 1, I64: 8 };

export function tensorBytes(t: Pick<TestTensor, 'dtype' | 'shape'>): number {
  return t.shape.reduce((a, b) => a * b, 1) * (BYTES[t.dtype] ?? 1);
}

/** Header as the Rust writer makes it: sorted by name, compact JSON, space-padded to 8 bytes. */
export function buildHeader(tensors: TestTensor[], metadata?: Record<string, string>): { header: Buffer; dataSize: number } {
  const sorted = [...tensors].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const json: Record<string, unknown> = {};
  if (metadata) json.__metadata__ = metadata;
  let offset = 0;
  for (const t of sorted) {
    const size = tensorBytes(t);
    json[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + size] };
    offset += size;
  }
  let text = JSON.stringify(json);
  while ((8 + Buffer.byteLength(text)) % 8 !== 0) text += ' ';
  const body = Buffer.from(text);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(body.length));
  return { header: Buffer.concat([len, body]), dataSize: offset };
}

/** Writes the file; returns its size. Tensor data with `data` is written at its offset. */
export async function writeSafetensors(
  path: string,
  tensors: TestTensor[],
  metadata?: Record<string, string>,
): Promise<number> {
  const { header, dataSize } = buildHeader(tensors, metadata);
  const fh = await open(path, 'w');
  try {
    await fh.write(header, 0, header.length, 0);
    const sorted = [...tensors].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    let offset = header.length;
    for (const t of sorted) {
      if (t.data) await fh.write(t.data, 0, t.data.length, offset);
      offset += tensorBytes(t);
    }
    await fh.truncate(header.length + dataSize);
  } finally {
    await fh.close();
  }
  return header.length + dataSize;
}

/** In memory, for small files. */
export function buildSafetensors(tensors: TestTensor[], metadata?: Record<string, string>): Buffer {
  const { header, dataSize } = buildHeader(tensors, metadata);
  const data = Buffer.alloc(dataSize);
  const sorted = [...tensors].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  let offset = 0;
  for (const t of sorted) {
    t.data?.copy(data, offset);
    offset += tensorBytes(t);
  }
  return Buffer.concat([header, data]);
}

type Linear = [module: string, inFeatures: number, outFeatures: number];

function peft(prefix: string, modules: Linear[], rank: number, dtype = 'BF16'): TestTensor[] {
  return modules.flatMap(([m, inF, outF]) => [
    { name: `${prefix}${m}.lora_A.weight`, dtype, shape: [rank, inF] },
    { name: `${prefix}${m}.lora_B.weight`, dtype, shape: [outF, rank] },
  ]);
}

function times(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

/** lora-formats §2.1: 19 double blocks x 14 + 38 single blocks x 6 = 494 modules. */
export function fluxLora(rank: number): TestTensor[] {
  const h = 3072;
  const double = times(19).flatMap((i): Linear[] => {
    const b = `transformer_blocks.${i}.`;
    return [
      [`${b}norm1.linear`, h, 6 * h],
      [`${b}norm1_context.linear`, h, 6 * h],
      ...['to_q', 'to_k', 'to_v', 'add_q_proj', 'add_k_proj', 'add_v_proj', 'to_out.0', 'to_add_out'].map(
        (p): Linear => [`${b}attn.${p}`, h, h],
      ),
      [`${b}ff.net.0.proj`, h, 4 * h],
      [`${b}ff_context.net.0.proj`, h, 4 * h],
      [`${b}ff.net.2`, 4 * h, h],
      [`${b}ff_context.net.2`, 4 * h, h],
    ];
  });
  const single = times(38).flatMap((i): Linear[] => {
    const b = `single_transformer_blocks.${i}.`;
    return [
      [`${b}norm.linear`, h, 3 * h],
      [`${b}proj_mlp`, h, 4 * h],
      [`${b}proj_out`, 5 * h, h],
      [`${b}attn.to_q`, h, h],
      [`${b}attn.to_k`, h, h],
      [`${b}attn.to_v`, h, h],
    ];
  });
  return peft('transformer.', [...double, ...single], rank);
}

/** §2.2: 30 layers x 8 modules, dim 3840, ffn 10240, adaLN 256 -> 15360. */
export function zimageLora(rank: number): TestTensor[] {
  const d = 3840;
  const mods = times(30).flatMap((i): Linear[] => {
    const b = `layers.${i}.`;
    return [
      ...['to_q', 'to_k', 'to_v', 'to_out.0'].map((p): Linear => [`${b}attention.${p}`, d, d]),
      [`${b}feed_forward.w1`, d, 10240],
      [`${b}feed_forward.w3`, d, 10240],
      [`${b}feed_forward.w2`, 10240, d],
      [`${b}adaLN_modulation.0`, 256, 4 * d],
    ];
  });
  return peft('diffusion_model.', mods, rank);
}

/** §2.3: 10 modules per block; 14B: 40 blocks D 5120 F 13824; 1.3B: 30 blocks D 1536 F 8960. */
export function wanLora(rank: number, size: '14b' | '1.3b', prefix = 'diffusion_model.'): TestTensor[] {
  const [blocks, d, f] = size === '14b' ? [40, 5120, 13824] : [30, 1536, 8960];
  const mods = times(blocks).flatMap((i): Linear[] => {
    const b = `blocks.${i}.`;
    return [
      ...['self_attn', 'cross_attn'].flatMap((a) => ['q', 'k', 'v', 'o'].map((p): Linear => [`${b}${a}.${p}`, d, d])),
      [`${b}ffn.0`, d, f],
      [`${b}ffn.2`, f, d],
    ];
  });
  return peft(prefix, mods, rank);
}

/** §2.5: 60 blocks x 14 modules, dim 3072. */
export function qwenImageLora(rank: number): TestTensor[] {
  const h = 3072;
  const mods = times(60).flatMap((i): Linear[] => {
    const b = `transformer_blocks.${i}.`;
    return [
      [`${b}img_mod.1`, h, 6 * h],
      [`${b}txt_mod.1`, h, 6 * h],
      ...['to_q', 'to_k', 'to_v', 'add_q_proj', 'add_k_proj', 'add_v_proj', 'to_out.0', 'to_add_out'].map(
        (p): Linear => [`${b}attn.${p}`, h, h],
      ),
      [`${b}img_mlp.net.0.proj`, h, 4 * h],
      [`${b}txt_mlp.net.0.proj`, h, 4 * h],
      [`${b}img_mlp.net.2`, 4 * h, h],
      [`${b}txt_mlp.net.2`, 4 * h, h],
    ];
  });
  return peft('diffusion_model.', mods, rank);
}

/** A kohya-style SDXL LoRA excerpt: UNet cross-attention over 2048-wide text, TE2, F32 alphas. */
export function sdxlLora(rank: number, alpha: number): TestTensor[] {
  const mods: Linear[] = [
    ['lora_unet_input_blocks_4_1_transformer_blocks_0_attn2_to_k', 2048, 640],
    ['lora_unet_input_blocks_4_1_transformer_blocks_0_attn2_to_q', 640, 640],
    ['lora_unet_output_blocks_0_1_transformer_blocks_0_attn1_to_v', 1280, 1280],
    ['lora_te2_text_model_encoder_layers_0_self_attn_q_proj', 1280, 1280],
  ];
  const alphaBytes = Buffer.alloc(4);
  alphaBytes.writeFloatLE(alpha);
  return mods.flatMap(([m, inF, outF]) => [
    { name: `${m}.lora_down.weight`, dtype: 'F16', shape: [rank, inF] },
    { name: `${m}.lora_up.weight`, dtype: 'F16', shape: [outF, rank] },
    { name: `${m}.alpha`, dtype: 'F32', shape: [], data: alphaBytes },
  ]);
}

/** `__metadata__` as AI Toolkit writes it (lora-formats §1.8). */
export function aitkMetadata(job: string, ssBaseModelVersion: string, step = 250): Record<string, string> {
  return {
    name: job,
    version: '1.0',
    training_info: JSON.stringify({ step, epoch: 3 }),
    ss_base_model_version: ssBaseModelVersion,
    ss_output_name: job,
    ss_tag_frequency: JSON.stringify({ '1_ohwx': { ohwx: 1 } }),
    software: JSON.stringify({ name: 'ai-toolkit', repo: 'https://github.com/ostris/ai-toolkit', version: '0.12.26' }),
    format: 'pt',
  };
}
