/**
 * Emulated LoRA files. On disk a checkpoint is a small descriptor (what AITK would have saved: arch,
 * rank, dtype, job, step); the bytes of the real-sized .safetensors are produced from it when the
 * file is listed or downloaded. Everything about the bytes is deterministic, so a Range download in
 * pieces equals a whole download, and each checkpoint step has different tensor data.
 *
 * `__metadata__` follows AITK's save path (contracts/lora-formats.md §1.8): the job's `meta` with
 * `[name]` replaced, training_info, ss_base_model_version, ss_output_name, ss_tag_frequency (with a
 * trigger word), software, format, and the sshs hashes computed the way AITK computes them, over
 * the combined state dict (for Wan 2.2 both stages before the split, so they match neither file
 * alone). `likeness_emulated: "true"` marks the file as made here.
 */
import { readFile, open, writeFile, mkdir } from 'node:fs/promises';
import type { TrainPlan } from './aitoolkit-job-config.js';
import path from 'node:path';
import { BASE_MODEL_VERSION, loraTensors, type LoraArch, type LoraFilePart } from './lora-layouts.js';
import { headLength, legacyHash, PatternData, planSafetensors, sha256OfData, type SafetensorsDtype } from './safetensors.writer.js';

const MAGIC = 'LIKENESS-EMULATED-SAFETENSORS\n';
const AITK_SOFTWARE = { name: 'ai-toolkit', repo: 'https://github.com/ostris/ai-toolkit', version: '0.12.26' };

export interface LoraDescriptor {
  arch: LoraArch;
  /** Which file of the save this is. */
  part: LoraFilePart;
  /** The parts saved together (Wan 2.2 with both stages: high_noise and low_noise). */
  parts: LoraFilePart[];
  rank: number;
  dtype: SafetensorsDtype;
  jobName: string;
  /** training_info.step: the checkpoint's step, or the total steps for the final save. */
  step: number;
  epoch: number;
  /** True for the final save (`<name>.safetensors`), which has no step in its name. */
  final: boolean;
  triggerWord: string | null;
  /** The job config's top-level `meta` (the UI sends {"name":"[name]","version":"1.0"}). */
  meta: Record<string, unknown>;
}

/** The descriptor of one file of a save of `plan` (what BaseSDTrainProcess.save() writes). */
export function descriptorForSave(
  plan: TrainPlan & { arch: { ok: true; arch: LoraArch } },
  saveDtype: SafetensorsDtype,
  part: LoraFilePart,
  save: { step: number; epoch: number; final: boolean },
): LoraDescriptor {
  return {
    arch: plan.arch.arch,
    part,
    parts: plan.parts as LoraFilePart[],
    rank: plan.rank,
    dtype: saveDtype,
    jobName: plan.name,
    ...save,
    triggerWord: plan.triggerWord,
    meta: plan.meta,
  };
}

/** Python's json.dumps (default separators, ensure_ascii) for metadata values. */
export function pyJson(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : value > 0 ? 'Infinity' : value < 0 ? '-Infinity' : 'NaN';
  if (typeof value === 'string') return JSON.stringify(value).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  if (Array.isArray(value)) return `[${value.map(pyJson).join(', ')}]`;
  return `{${Object.entries(value as Record<string, unknown>)
    .map(([k, v]) => `${pyJson(k)}: ${pyJson(v)}`)
    .join(', ')}}`;
}

function seedOf(desc: LoraDescriptor, part: LoraFilePart): number {
  // FNV-1a over what distinguishes one saved tensor set from another.
  const key = `${desc.jobName}|${desc.final ? 'final' : desc.step}|${part}|${desc.arch}|${desc.rank}`;
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** The `ss_*` entries, which are also the only metadata AITK includes when computing the hashes. */
function ssMetadata(desc: LoraDescriptor): Record<string, string> {
  const ss: Record<string, string> = {
    ss_base_model_version: BASE_MODEL_VERSION[desc.arch],
    ss_output_name: desc.jobName,
  };
  if (desc.triggerWord !== null) ss.ss_tag_frequency = pyJson({ [`1_${desc.triggerWord}`]: { [desc.triggerWord]: 1 } });
  return ss;
}

function metadata(desc: LoraDescriptor, modelHash: string, legacy: string): Record<string, string> {
  const meta: Record<string, string> = {};
  for (const [k, v] of Object.entries(desc.meta)) {
    meta[k] = (typeof v === 'string' ? v : pyJson(v)).split('[name]').join(desc.jobName);
  }
  meta.training_info = pyJson({ step: desc.step, epoch: desc.epoch });
  Object.assign(meta, ssMetadata(desc));
  meta.software = pyJson(AITK_SOFTWARE);
  meta.format = 'pt';
  meta.sshs_model_hash = modelHash;
  meta.sshs_legacy_hash = legacy;
  meta.likeness_emulated = 'true';
  return meta;
}

function tensorsOf(desc: LoraDescriptor) {
  return loraTensors(desc.arch, desc.rank);
}

function dataOf(desc: LoraDescriptor, part: LoraFilePart, dataLength: number): PatternData {
  return new PatternData(seedOf(desc, part), desc.dtype, dataLength);
}

export interface RenderedLora {
  head: Buffer;
  data: PatternData;
  totalLength: number;
}

/** Turns descriptors into file bytes; remembers the (costly) hashes per saved tensor set. */
export class LoraRenderer {
  private readonly hashes = new Map<string, Promise<{ model: string; legacy: string }>>();

  /** True size of the file, without computing any hash (they have fixed lengths). */
  sizeOf(desc: LoraDescriptor): number {
    const plan = planSafetensors(tensorsOf(desc), desc.dtype, metadata(desc, '0'.repeat(64), '0'.repeat(8)));
    return plan.totalLength;
  }

  async render(desc: LoraDescriptor): Promise<RenderedLora> {
    const tensors = tensorsOf(desc);
    const dataLength = planSafetensors(tensors, desc.dtype).dataLength;
    const { model, legacy } = await this.hashesOf(desc, dataLength);
    const plan = planSafetensors(tensors, desc.dtype, metadata(desc, model, legacy));
    return { head: plan.head, data: dataOf(desc, desc.part, dataLength), totalLength: plan.totalLength };
  }

  private hashesOf(desc: LoraDescriptor, dataLength: number): Promise<{ model: string; legacy: string }> {
    const key = `${desc.parts.map((p) => seedOf(desc, p)).join(',')}|${desc.dtype}|${JSON.stringify(ssMetadata(desc))}`;
    let pending = this.hashes.get(key);
    if (!pending) {
      pending = (async () => {
        // The combined dict: for Wan 2.2 with both stages, transformer_1 (high) keys sort before
        // transformer_2 (low), so its data is the high file's data followed by the low file's.
        const parts = desc.parts.map((p) => dataOf(desc, p, dataLength));
        const combined =
          desc.parts.length > 1
            ? [
                ...loraTensors(desc.arch, desc.rank, 'transformer_1'),
                ...loraTensors(desc.arch, desc.rank, 'transformer_2'),
              ]
            : tensorsOf(desc);
        const ssHead = headLength(combined, desc.dtype, ssMetadata(desc));
        return { model: await sha256OfData(parts), legacy: legacyHash(ssHead, parts) };
      })();
      this.hashes.set(key, pending);
      if (this.hashes.size > 64) this.hashes.delete(this.hashes.keys().next().value as string);
    }
    return pending;
  }
}

export async function writeLoraDescriptor(realPath: string, desc: LoraDescriptor): Promise<void> {
  await mkdir(path.dirname(realPath), { recursive: true });
  await writeFile(realPath, MAGIC + JSON.stringify(desc));
}

/** The descriptor if `realPath` is an emulated LoRA, else null (a real file a client uploaded). */
export async function readLoraDescriptor(realPath: string): Promise<LoraDescriptor | null> {
  let fh;
  try {
    fh = await open(realPath, 'r');
    const probe = Buffer.alloc(MAGIC.length);
    const { bytesRead } = await fh.read(probe, 0, MAGIC.length, 0);
    if (bytesRead !== MAGIC.length || probe.toString('utf8') !== MAGIC) return null;
  } catch {
    return null;
  } finally {
    await fh?.close();
  }
  const text = await readFile(realPath, 'utf8');
  return JSON.parse(text.slice(MAGIC.length)) as LoraDescriptor;
}
