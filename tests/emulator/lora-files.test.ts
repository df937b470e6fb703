/**
 * The emulated LoRA files without HTTP: key counts, parameter counts and sizes per arch against
 * contracts/lora-formats.md, the safetensors layout rules, and deterministic, range-readable data.
 */
import { describe, expect, it } from 'vitest';
import { LoraRenderer, type LoraDescriptor } from '../../src/emulator/lora-artifact.js';
import { loraTensors, type LoraArch } from '../../src/emulator/lora-layouts.js';
import { PatternData, planSafetensors, safetensorsStream } from '../../src/emulator/safetensors.writer.js';
import { parseSafetensors } from './emulator-test-kit.js';

/** From contracts/lora-formats.md §2-3: tensors per file, parameters per unit of rank, r16 bf16 file size. */
const FACTS: Record<LoraArch, { tensors: number; paramsPerRank: number; r16Bytes: number }> = {
  flux: { tensors: 988, paramsPerRank: 5_369_856, r16Bytes: 171_970_384 },
  zimage: { tensors: 480, paramsPerRank: 2_657_280, r16Bytes: 85_094_808 },
  wan21_14b: { tensors: 800, paramsPerRank: 4_792_320, r16Bytes: 153_453_552 },
  wan21_1b: { tensors: 600, paramsPerRank: 1_367_040, r16Bytes: 43_819_128 },
  wan22_14b: { tensors: 800, paramsPerRank: 4_792_320, r16Bytes: 153_453_560 },
  qwen_image: { tensors: 1680, paramsPerRank: 9_216_000, r16Bytes: 295_146_176 },
};

function desc(arch: LoraArch, over: Partial<LoraDescriptor> = {}): LoraDescriptor {
  const parts = arch === 'wan22_14b' ? (['high_noise', 'low_noise'] as const) : (['main'] as const);
  return {
    arch,
    part: parts[0],
    parts: [...parts],
    rank: 16,
    dtype: 'BF16',
    jobName: 'my_lora_v1',
    step: 250,
    epoch: 3,
    final: false,
    triggerWord: 'ohwx',
    meta: { name: '[name]', version: '1.0' },
    ...over,
  };
}

describe('LoRA layouts per arch', () => {
  for (const arch of Object.keys(FACTS) as LoraArch[]) {
    it(`${arch}: tensor count, parameters and file size match AI Toolkit's`, () => {
      const tensors = loraTensors(arch, 16);
      expect(tensors).toHaveLength(FACTS[arch].tensors);
      expect(new Set(tensors.map((t) => t.name)).size).toBe(tensors.length);
      const params = tensors.reduce((s, t) => s + t.shape[0] * t.shape[1], 0);
      expect(params).toBe(FACTS[arch].paramsPerRank * 16);
      for (const t of tensors) {
        if (t.name.endsWith('lora_A.weight')) expect(t.shape[0]).toBe(16);
        else expect(t.name.endsWith('lora_B.weight') && t.shape[1] === 16).toBe(true);
      }
      // The real size varies with the job name and metadata by a few bytes; ours adds
      // likeness_emulated.
      const size = new LoraRenderer().sizeOf(desc(arch));
      expect(Math.abs(size - FACTS[arch].r16Bytes)).toBeLessThan(200);
    });
  }

  it('uses each arch’s key style', () => {
    expect(loraTensors('flux', 4)[0]!.name).toMatch(/^transformer\.(single_)?transformer_blocks\.\d+\./);
    expect(loraTensors('flux', 4).some((t) => t.name === 'transformer.single_transformer_blocks.37.proj_out.lora_A.weight' && t.shape[1] === 15360)).toBe(true);
    expect(loraTensors('qwen_image', 4).some((t) => t.name === 'diffusion_model.transformer_blocks.59.img_mod.1.lora_B.weight' && t.shape[0] === 18432)).toBe(true);
    expect(loraTensors('wan21_1b', 4).some((t) => t.name === 'diffusion_model.blocks.29.cross_attn.o.lora_A.weight' && t.shape[1] === 1536)).toBe(true);
  });
});

describe('safetensors writer', () => {
  it('lays out a header padded to 8 bytes, tensors sorted by name, contiguous offsets', () => {
    const plan = planSafetensors(
      [
        { name: 'b', shape: [2, 3] },
        { name: 'a', shape: [4] },
      ],
      'F16',
      { k: 'v' },
    );
    const parsed = parseSafetensors(plan.head);
    expect(parsed.headerLength % 8).toBe(0);
    expect(plan.head.subarray(8).toString()).toMatch(/^\{"__metadata__":\{"k":"v"\},"a":\{"dtype":"F16","shape":\[4\],"data_offsets":\[0,8\]\},"b":/);
    expect(parsed.tensors.get('b')!.offsets).toEqual([8, 20]);
    expect(plan.totalLength).toBe(plan.head.length + 20);
  });

  it('produces the same bytes whichever way a file is read, different per checkpoint', async () => {
    const r = new LoraRenderer();
    const d = desc('wan21_1b', { rank: 2 });
    const whole = await r.render(d);
    const all: Buffer[] = [];
    for await (const c of safetensorsStream(whole.head, whole.data, 0, whole.totalLength - 1)) all.push(c as Buffer);
    const full = Buffer.concat(all);
    expect(full.length).toBe(r.sizeOf(d));
    const slices: Buffer[] = [];
    for (const [s, e] of [[0, 3], [4, 99_999], [100_000, whole.totalLength - 1]] as const) {
      for await (const c of safetensorsStream(whole.head, whole.data, s, e)) slices.push(c as Buffer);
    }
    expect(Buffer.concat(slices).equals(full)).toBe(true);
    expect(whole.data.read(1001, 7).equals(whole.data.read(1000, 9).subarray(1, 8))).toBe(true);

    const other = await r.render({ ...d, step: 500 });
    expect(other.data.read(0, 256).equals(whole.data.read(0, 256))).toBe(false);
    const parsed = parseSafetensors(full);
    expect(parsed.metadata.training_info).toBe('{"step": 250, "epoch": 3}');
    expect(parsed.metadata.sshs_legacy_hash).toMatch(/^[0-9a-f]{8}$/);
  });

  it('writes finite, small, non-zero values for every dtype', () => {
    // |x| in [2^-12, 2^-4): the emulated weights look like trained LoRA weights.
    const bf16 = new PatternData(7, 'BF16', 4096).read(0, 4096);
    const f32 = new PatternData(7, 'F32', 4096).read(0, 4096);
    for (let i = 0; i < 4096; i += 2) {
      const v = new Float32Array(new Uint32Array([bf16.readUInt16LE(i) << 16]).buffer)[0]!;
      expect(Number.isFinite(v) && v !== 0 && Math.abs(v) < 0.0625).toBe(true);
    }
    for (let i = 0; i < 4096; i += 4) {
      const v = f32.readFloatLE(i);
      expect(Number.isFinite(v) && v !== 0 && Math.abs(v) < 0.0625).toBe(true);
    }
    const f8 = new PatternData(7, 'F8_E4M3', 64).read(0, 64);
    expect([...f8].every((b) => (b & 0x7f) !== 0x7f)).toBe(true);
  });
});
