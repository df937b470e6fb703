import { createReadStream } from 'node:fs';
import { mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BaseModel, LoraPart } from '../../src/domain/base-models.js';
import { inspectLora, inspectLoraSource, verifyLora } from '../../src/lora/lora-inspect.js';
import {
  parseSafetensorsHeader,
  readSafetensorsFile,
  readSafetensorsStream,
  SafetensorsError,
} from '../../src/lora/safetensors.reader.js';
import {
  aitkMetadata,
  buildSafetensors,
  fluxLora,
  qwenImageLora,
  sdxlLora,
  wanLora,
  writeSafetensors,
  zimageLora,
  type TestTensor,
} from './helpers/safetensors-test-writer.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'likeness-lora-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

interface Case {
  label: string;
  file: string;
  tensors: () => TestTensor[];
  ss: string;
  family: string;
  baseModel?: BaseModel;
  part?: LoraPart;
  count: number;
}

// Counts are the contract's (lora-formats.md §3), typed here, not taken from src/.
const CASES: Case[] = [
  { label: 'FLUX', file: 'job.safetensors', tensors: () => fluxLora(2), ss: 'flux.1', family: 'flux', baseModel: 'flux-dev', part: 'main', count: 988 },
  { label: 'Z-Image', file: 'job_000000250.safetensors', tensors: () => zimageLora(2), ss: 'zimage', family: 'zimage', baseModel: 'zimage-turbo', part: 'main', count: 480 },
  { label: 'Wan 2.1 14B', file: 'job.safetensors', tensors: () => wanLora(2, '14b'), ss: 'wan_2.1', family: 'wan21-14b', baseModel: 'wan21', part: 'main', count: 800 },
  { label: 'Wan 2.1 1.3B', file: 'job.safetensors', tensors: () => wanLora(2, '1.3b'), ss: 'wan_2.1', family: 'wan21-1.3b', part: 'main', count: 600 },
  { label: 'Wan 2.2 high', file: 'job_000000500_high_noise.safetensors', tensors: () => wanLora(2, '14b'), ss: 'wan_2.2_14b', family: 'wan22', baseModel: 'wan22', part: 'high_noise', count: 800 },
  { label: 'Wan 2.2 low', file: 'job_low_noise.safetensors', tensors: () => wanLora(2, '14b'), ss: 'wan_2.2_14b', family: 'wan22', baseModel: 'wan22', part: 'low_noise', count: 800 },
  { label: 'Qwen-Image', file: 'job.safetensors', tensors: () => qwenImageLora(2), ss: 'qwen_image', family: 'qwen-image', baseModel: 'qwen-image', part: 'main', count: 1680 },
];

describe('inspectLora on AI Toolkit layouts at rank 2', () => {
  for (const c of CASES) {
    it(`recognises ${c.label}`, async () => {
      const file = path.join(dir, `${c.label.replace(/\W+/g, '_')}-${c.file}`);
      const tensors = c.tensors();
      expect(tensors).toHaveLength(c.count);
      const size = await writeSafetensors(file, tensors, aitkMetadata('job', c.ss));
      const info = await inspectLoraSource(file, { fileName: c.file });
      expect(info.family).toBe(c.family);
      expect(info.baseModel).toBe(c.baseModel);
      expect(info.part).toBe(c.part);
      expect(info.rank).toBe(2);
      expect(info.ranks).toEqual([2]);
      expect(info.alpha).toBeUndefined();
      expect(info.dtype).toBe('BF16');
      expect(info.tensorCount).toBe(c.count);
      expect(info.moduleCount).toBe(c.count / 2);
      expect(info.keyStyle).toBe('peft');
      expect(info.fileSize).toBe(size);
      expect(info.ssBaseModelVersion).toBe(c.ss);
      expect(info.trainingStep).toBe(250);
      expect(info.brokenModules).toEqual([]);
      if (c.baseModel && c.part) {
        expect(verifyLora(info, { baseModel: c.baseModel, part: c.part, rank: 2 })).toEqual([]);
        expect(verifyLora(info, { baseModel: c.baseModel, part: c.part, rank: 16 }).join(' ')).toMatch(/rank is 2, expected 16/);
      }
      const wrong: BaseModel = c.baseModel === 'flux-dev' ? 'qwen-image' : 'flux-dev';
      expect(verifyLora(info, { baseModel: wrong, part: 'main' }).join(' ')).toMatch(/not one for/);
    });
  }

  it('reads the same header from a Buffer prefix and from a stream', async () => {
    const file = path.join(dir, 'prefix.safetensors');
    const size = await writeSafetensors(file, zimageLora(2), aitkMetadata('job', 'zimage'));
    const fromFile = await readSafetensorsFile(file);
    const prefix = (await readFile(file)).subarray(0, fromFile.dataOffset);
    const fromPrefix = parseSafetensorsHeader(prefix, { fileSize: size });
    const fromStream = await readSafetensorsStream(createReadStream(file, { highWaterMark: 4096 }));
    expect(fromPrefix.tensors).toEqual(fromFile.tensors);
    expect(fromStream.tensors).toEqual(fromFile.tensors);
    expect(fromStream.fileSize).toBe(size);
    expect(fromStream.metadata).toEqual(fromFile.metadata);
    // Stopping after the header, with the size known, is allowed for streams too.
    const early = await readSafetensorsStream(createReadStream(file), { fileSize: size, drain: false });
    expect(early.tensors).toHaveLength(480);
  });

  it('reads a 590 MB LoRA by its header without loading it', async () => {
    const file = path.join(dir, 'big.safetensors');
    // Qwen-Image at rank 32 in bf16 is ~590 MB: the sparse file costs nothing on disk.
    const size = await writeSafetensors(file, qwenImageLora(32), aitkMetadata('job', 'qwen_image'));
    expect(size).toBeGreaterThan(500_000_000);
    const before = process.memoryUsage().rss;
    const info = await inspectLoraSource(file);
    const viaStream = await readSafetensorsStream(createReadStream(file, { highWaterMark: 1 << 20 }));
    expect(process.memoryUsage().rss - before).toBeLessThan(150 * 1024 * 1024);
    expect(info.rank).toBe(32);
    expect(info.family).toBe('qwen-image');
    expect(viaStream.fileSize).toBe(size);
  });

  it('recognises SDXL and reads kohya alphas from the data section', async () => {
    const buf = buildSafetensors(sdxlLora(4, 2), { ss_network_dim: '4' });
    const info = inspectLora(parseSafetensorsHeader(buf));
    expect(info.family).toBe('sdxl');
    expect(info.keyStyle).toBe('kohya');
    expect(info.rank).toBe(4);
    expect(info.alpha).toBe(2);
    expect(info.dtype).toBe('F16');
    const streamed = await readSafetensorsStream(Readable_from(buf, 7));
    expect(inspectLora(streamed).alpha).toBe(2);
    expect(verifyLora(info, { baseModel: 'flux-dev', part: 'main' })[0]).toMatch(/SDXL LoRA, not one for FLUX\.1-dev/);
  });

  it('tells Wan 2.1 from a Wan 2.2 expert only by metadata or name, and says so when it cannot', async () => {
    const buf = buildSafetensors(wanLora(2, '14b').slice(0, 20));
    const bare = inspectLora(parseSafetensorsHeader(buf));
    expect(bare.family).toBe('wan-14b');
    expect(bare.part).toBeUndefined();
    const problems = verifyLora(bare, { baseModel: 'wan22', part: 'high_noise' });
    expect(problems.join(' ')).toMatch(/high- or low-noise/);
    expect(problems.join(' ')).toMatch(/20 tensors; a complete/);
    // The same keys are accepted as the single Wan 2.1 LoRA.
    expect(verifyLora(bare, { baseModel: 'wan21', part: 'main' })).toEqual([expect.stringMatching(/20 tensors/)]);
    const named = inspectLora(parseSafetensorsHeader(buf), { fileName: 'x_high_noise.safetensors' });
    expect(named.family).toBe('wan22');
    expect(verifyLora(named, { baseModel: 'wan22', part: 'low_noise' }).join(' ')).toMatch(/high_noise LoRA, expected the low_noise/);
  });

  it('flags an unsplit Wan 2.2 file, mismatched metadata and broken modules', () => {
    const combined = [
      ...wanLora(2, '14b', 'diffusion_model.transformer_1.').slice(0, 4),
      ...wanLora(2, '14b', 'diffusion_model.transformer_2.').slice(0, 4),
    ];
    const info = inspectLora(parseSafetensorsHeader(buildSafetensors(combined, { ss_base_model_version: 'wan_2.2_14b' })));
    expect(info.combinedExperts).toBe(true);
    expect(verifyLora(info, { baseModel: 'wan22', part: 'high_noise' }).join(' ')).toMatch(/one file/);

    const lying = inspectLora(parseSafetensorsHeader(buildSafetensors(zimageLora(2), { ss_base_model_version: 'flux.1' })));
    expect(verifyLora(lying, { baseModel: 'zimage-turbo', part: 'main' })).toEqual([
      expect.stringMatching(/metadata names base model "flux.1"/),
    ]);

    const broken = zimageLora(2).filter((t) => t.name !== 'diffusion_model.layers.3.attention.to_k.lora_B.weight');
    const b = inspectLora(parseSafetensorsHeader(buildSafetensors(broken)));
    expect(b.brokenModules).toEqual(['layers.3.attention.to_k']);
    expect(verifyLora(b, { baseModel: 'zimage-turbo', part: 'main' }).join(' ')).toMatch(/lack a matrix/);
  });
});

describe('invalid and truncated files', () => {
  async function cutCopy(name: string, keep: (full: number, dataOffset: number) => number): Promise<string> {
    const src = path.join(dir, `${name}-src.safetensors`);
    const size = await writeSafetensors(src, zimageLora(2), aitkMetadata('job', 'zimage'));
    const { dataOffset } = await readSafetensorsFile(src);
    const out = path.join(dir, `${name}.safetensors`);
    const fh = await open(src, 'r');
    const bytes = Buffer.alloc(keep(size, dataOffset));
    await fh.read(bytes, 0, bytes.length, 0);
    await fh.close();
    await writeFile(out, bytes);
    return out;
  }

  it('reports a file cut in its data section as truncated, from a path and from a stream', async () => {
    const file = await cutCopy('half', (full) => Math.floor(full / 2));
    await expect(readSafetensorsFile(file)).rejects.toMatchObject({ code: 'truncated', message: expect.stringMatching(/truncated: \d+ bytes of the \d+/) });
    await expect(readSafetensorsStream(createReadStream(file))).rejects.toMatchObject({ code: 'truncated' });
  });

  it('reports a file cut inside its header, or shorter than 8 bytes, as truncated', async () => {
    const inHeader = await cutCopy('inheader', (_f, dataOffset) => dataOffset - 100);
    await expect(readSafetensorsFile(inHeader)).rejects.toMatchObject({ code: 'truncated' });
    await expect(readSafetensorsStream(createReadStream(inHeader))).rejects.toMatchObject({ code: 'truncated' });
    const tiny = path.join(dir, 'tiny.safetensors');
    await writeFile(tiny, Buffer.from([1, 2, 3, 4, 5]));
    await expect(readSafetensorsFile(tiny)).rejects.toMatchObject({ code: 'truncated' });
    expect(() => parseSafetensorsHeader(Buffer.alloc(0))).toThrow(SafetensorsError);
  });

  it('rejects garbage, bad JSON, trailing bytes and overlapping offsets as invalid', async () => {
    const garbage = path.join(dir, 'garbage.safetensors');
    await writeFile(garbage, Buffer.from('PK\u0003\u0004 this is a zip file, not safetensors at all'));
    await expect(readSafetensorsFile(garbage)).rejects.toMatchObject({ code: 'invalid' });

    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(16n);
    const badJson = Buffer.concat([len, Buffer.from('{"a": nope     ')]);
    expect(() => parseSafetensorsHeader(Buffer.concat([badJson, Buffer.alloc(1)]))).toThrow(/not valid JSON/);

    const good = buildSafetensors(zimageLora(2).slice(0, 4));
    expect(() => parseSafetensorsHeader(Buffer.concat([good, Buffer.alloc(3)]))).toThrow(/3 bytes after the last tensor/);

    const overlapping = JSON.stringify({
      a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
      b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] },
    });
    const olen = Buffer.alloc(8);
    olen.writeBigUInt64LE(BigInt(overlapping.length));
    expect(() => parseSafetensorsHeader(Buffer.concat([olen, Buffer.from(overlapping), Buffer.alloc(12)]))).toThrow(/overlap or leave a gap/);

    const wrongSize = JSON.stringify({ a: { dtype: 'BF16', shape: [2, 2], data_offsets: [0, 4] } });
    const wlen = Buffer.alloc(8);
    wlen.writeBigUInt64LE(BigInt(wrongSize.length));
    expect(() => parseSafetensorsHeader(Buffer.concat([wlen, Buffer.from(wrongSize), Buffer.alloc(4)]))).toThrow(/shape needs 8/);
  });
});

/** A Readable that hands out `buf` in chunks of `size` bytes (exercises headers split across chunks). */
function Readable_from(buf: Buffer, size: number): AsyncIterable<Uint8Array> {
  return {
    async *[Symbol.asyncIterator]() {
      for (let i = 0; i < buf.length; i += size) yield buf.subarray(i, i + size);
    },
  };
}
