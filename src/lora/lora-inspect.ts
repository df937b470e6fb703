/**
 * What a LoRA file is, from its safetensors header alone: the base-model family (from key names
 * and shapes, then metadata and file name where keys cannot tell, e.g. Wan 2.1 14B vs a Wan 2.2
 * expert), rank (lora_A / lora_down rows), alpha (kohya `.alpha` or `ss_network_alpha`; AI Toolkit
 * writes none, meaning scale 1.0), dtype, counts and metadata. `verifyLora` compares that with what a
 * run expected and returns every problem found, in sentences; an empty list means usable.
 */
import path from 'node:path';
import type { Readable } from 'node:stream';
import { BASE_MODEL_LABELS, LORA_PARTS, type BaseModel, type LoraPart } from '../domain/base-models.js';
import { baseModelOfFamily, FAMILIES_FOR_BASE_MODEL, LORA_FAMILIES, type LoraFamily } from './lora-families.js';
import { readSafetensorsHeader, type SafetensorsHeader, type SafetensorsTensor } from './safetensors.reader.js';

export interface LoraInfo {
  family: LoraFamily;
  familyLabel: string;
  /** The platform base model this family belongs to, when it is one. */
  baseModel?: BaseModel;
  /** From the file name (`*_high_noise`, `*_low_noise`), else `main` for single-file families. */
  part?: LoraPart;
  /** The most common rank; `ranks` lists every rank seen. */
  rank?: number;
  ranks: number[];
  alpha?: number;
  /** The most common tensor dtype; `dtypes` lists all. */
  dtype?: string;
  dtypes: string[];
  tensorCount: number;
  moduleCount: number;
  keyStyle: 'peft' | 'kohya' | 'mixed' | 'none';
  /** The prefix of the module names (`transformer.`, `diffusion_model.`, `lora_unet_`), if one. */
  keyPrefix?: string;
  /** Wan 2.2 saved unsplit (`transformer_1.`/`transformer_2.` keys): ComfyUI loads none of them. */
  combinedExperts: boolean;
  /** Modules missing their A or B matrix, or whose two matrices disagree on the rank (first 5). */
  brokenModules: string[];
  /** Keys that are no LoRA matrix or alpha (e.g. `.diff`, `.dora_scale`). */
  otherKeys: number;
  fileSize: number;
  headerLength: number;
  metadata: Record<string, string>;
  ssBaseModelVersion?: string;
  /** `training_info.step` written by AI Toolkit. */
  trainingStep?: number;
  fileName?: string;
}

export interface LoraExpectation {
  baseModel: BaseModel;
  part: LoraPart;
  rank?: number;
}

type Role = 'down' | 'up' | 'alpha';
const SUFFIXES: Array<[string, Role, 'peft' | 'kohya' | null]> = [
  ['.lora_A.weight', 'down', 'peft'],
  ['.lora_B.weight', 'up', 'peft'],
  ['.lora_A.default.weight', 'down', 'peft'],
  ['.lora_B.default.weight', 'up', 'peft'],
  ['.lora_down.weight', 'down', 'kohya'],
  ['.lora_up.weight', 'up', 'kohya'],
  ['.alpha', 'alpha', null],
];
const PREFIXES = ['base_model.model.', 'model.diffusion_model.', 'diffusion_model.', 'transformer.', 'unet.'];

interface Module {
  down?: SafetensorsTensor;
  up?: SafetensorsTensor;
  alpha?: SafetensorsTensor;
}

export function partFromFileName(fileName: string | undefined): LoraPart | undefined {
  if (!fileName) return undefined;
  if (/_high_noise\.safetensors$/i.test(fileName)) return 'high_noise';
  if (/_low_noise\.safetensors$/i.test(fileName)) return 'low_noise';
  return undefined;
}

function mostCommon<T>(values: T[]): T | undefined {
  const counts = new Map<T, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  let best: T | undefined;
  let bestCount = 0;
  for (const [v, c] of counts) if (c > bestCount) [best, bestCount] = [v, c];
  return best;
}

export function inspectLora(header: SafetensorsHeader, options: { fileName?: string } = {}): LoraInfo {
  const modules = new Map<string, Module>();
  const styles = new Set<'peft' | 'kohya'>();
  const prefixes: string[] = [];
  let otherKeys = 0;
  for (const t of header.tensors) {
    const hit = SUFFIXES.find(([suffix]) => t.name.endsWith(suffix));
    if (!hit) {
      otherKeys += 1;
      continue;
    }
    const [suffix, role, style] = hit;
    if (style) styles.add(style);
    let name = t.name.slice(0, -suffix.length);
    const prefix = PREFIXES.find((p) => name.startsWith(p)) ?? (name.startsWith('lora_unet_') ? 'lora_unet_' : undefined);
    if (prefix && prefix !== 'lora_unet_') name = name.slice(prefix.length);
    if (prefix) prefixes.push(prefix);
    const m = modules.get(name) ?? {};
    m[role] = t;
    modules.set(name, m);
  }

  const ranks: number[] = [];
  const brokenModules: string[] = [];
  for (const [name, m] of modules) {
    const rank = m.down?.shape[0];
    if (rank !== undefined) ranks.push(rank);
    const upRank = m.up?.shape[1];
    if (!m.down || !m.up || rank !== upRank) {
      if (m.down || m.up) brokenModules.push(name);
    }
  }

  const metadata = header.metadata;
  const ssBaseModelVersion = metadata.ss_base_model_version;
  const { family, combinedExperts } = detectFamily(modules, header.tensors, ssBaseModelVersion, options.fileName);
  const metaAlpha = Number(metadata.ss_network_alpha);
  const tensorAlphas = [...modules.values()]
    .map((m) => (m.alpha ? header.scalars[m.alpha.name] : undefined))
    .filter((a): a is number => a !== undefined);
  let trainingStep: number | undefined;
  try {
    const step = (JSON.parse(metadata.training_info ?? 'null') as { step?: unknown } | null)?.step;
    if (typeof step === 'number') trainingStep = step;
  } catch {
    // Not AI Toolkit's JSON: no step.
  }
  const singlePart = family !== 'wan22' && family !== 'wan-14b' ? 'main' : undefined;
  const style = styles.size === 0 ? 'none' : styles.size === 2 ? 'mixed' : [...styles][0]!;

  return {
    family,
    familyLabel: LORA_FAMILIES[family].label,
    baseModel: baseModelOfFamily(family),
    part: partFromFileName(options.fileName) ?? singlePart,
    rank: mostCommon(ranks),
    ranks: [...new Set(ranks)].sort((a, b) => a - b),
    alpha: Number.isFinite(metaAlpha) && metadata.ss_network_alpha !== undefined ? metaAlpha : mostCommon(tensorAlphas),
    dtype: mostCommon(header.tensors.map((t) => t.dtype)),
    dtypes: [...new Set(header.tensors.map((t) => t.dtype))].sort(),
    tensorCount: header.tensors.length,
    moduleCount: modules.size,
    keyStyle: style,
    keyPrefix: mostCommon(prefixes),
    combinedExperts,
    brokenModules: brokenModules.slice(0, 5),
    otherKeys,
    fileSize: header.fileSize,
    headerLength: header.headerLength,
    metadata,
    ssBaseModelVersion,
    trainingStep,
    fileName: options.fileName,
  };
}

/** In-features of the first matching module's lora_A (its hidden size for attention projections). */
function inFeatures(modules: Map<string, Module>, pattern: RegExp): number | undefined {
  for (const [name, m] of modules) if (pattern.test(name) && m.down) return m.down.shape[1];
  return undefined;
}

function detectFamily(
  modules: Map<string, Module>,
  tensors: SafetensorsTensor[],
  ssVersion: string | undefined,
  fileName: string | undefined,
): { family: LoraFamily; combinedExperts: boolean } {
  const names = [...modules.keys()];
  const any = (re: RegExp) => names.some((n) => re.test(n));

  // Wan 2.2 saved without the split: the expert index sits before `blocks`.
  if (any(/^transformer_[12]\.blocks\.\d+\./)) return { family: 'wan22', combinedExperts: true };

  if (any(/^blocks\.\d+\.(self_attn|cross_attn|ffn)\./)) {
    const dim = inFeatures(modules, /^blocks\.\d+\.self_attn\.q$/) ?? inFeatures(modules, /^blocks\.\d+\.(self_attn|cross_attn)\./);
    if (dim === 1536) return { family: 'wan21-1.3b', combinedExperts: false };
    if (dim !== 5120) return { family: 'unknown', combinedExperts: false };
    // Wan 2.1 14B and each Wan 2.2 expert have the same keys: metadata, then the file name decide.
    if (ssVersion?.startsWith('wan_2.2')) return { family: 'wan22', combinedExperts: false };
    if (ssVersion?.startsWith('wan_2.1')) return { family: 'wan21-14b', combinedExperts: false };
    if (partFromFileName(fileName)) return { family: 'wan22', combinedExperts: false };
    return { family: 'wan-14b', combinedExperts: false };
  }

  if (any(/^layers\.\d+\.(attention|feed_forward|adaLN_modulation)\./)) {
    // Lumina 2 shares these names at hidden size 2304; Z-Image is 3840.
    const dim = inFeatures(modules, /^layers\.\d+\.attention\.to_[qkv]$/);
    return { family: dim === 3840 ? 'zimage' : 'unknown', combinedExperts: false };
  }

  if (any(/^transformer_blocks\.\d+\.(img_mod|txt_mod|img_mlp|txt_mlp)\./)) {
    return { family: 'qwen-image', combinedExperts: false };
  }

  if (
    any(/^single_transformer_blocks\.\d+\./) ||
    any(/^transformer_blocks\.\d+\.(ff_context|norm1_context)\./) ||
    any(/^lora_unet_(double|single)_blocks_\d+_/)
  ) {
    return { family: 'flux', combinedExperts: false };
  }

  // SDXL: a UNet with a second text encoder, or cross-attention over 2048-wide text features.
  const unet = any(/^lora_unet_(input_blocks|down_blocks|output_blocks|up_blocks|middle_block|mid_block)_/) ||
    any(/^(down_blocks|up_blocks|mid_block)\.\d*/);
  if (unet) {
    const te2 = tensors.some((t) => t.name.startsWith('lora_te2_'));
    const ctx = inFeatures(modules, /attn2[._]to_k$/);
    if (te2 || ctx === 2048) return { family: 'sdxl', combinedExperts: false };
  }
  return { family: 'unknown', combinedExperts: false };
}

/** Reads only the header of a file, buffer or stream and inspects it. */
export async function inspectLoraSource(
  source: Uint8Array | string | Readable,
  options: { fileName?: string; fileSize?: number } = {},
): Promise<LoraInfo> {
  const header = await readSafetensorsHeader(source, { fileSize: options.fileSize });
  const fileName = options.fileName ?? (typeof source === 'string' ? path.basename(source) : undefined);
  return inspectLora(header, { fileName });
}

/** Every reason the file does not fit the expectation, as sentences; empty when it does. */
export function verifyLora(info: LoraInfo, expected: LoraExpectation): string[] {
  const problems: string[] = [];
  const wanted = BASE_MODEL_LABELS[expected.baseModel];
  if (info.tensorCount === 0) return ['The file contains no tensors.'];
  if (info.moduleCount === 0) return ['The file contains no LoRA weights (no lora_A/lora_B or lora_down/lora_up keys).'];

  const families = FAMILIES_FOR_BASE_MODEL[expected.baseModel];
  const familyOk = families.includes(info.family);
  if (!familyOk) problems.push(`This is a ${info.familyLabel} LoRA, not one for ${wanted}.`);

  if (info.combinedExperts) {
    problems.push('Both Wan 2.2 experts are in one file (transformer_1/transformer_2 keys); ComfyUI loads neither, it needs separate high- and low-noise files.');
  }

  // A Wan 14B file without a suffix is the single Wan 2.1 LoRA when that is what was expected.
  const parts = LORA_PARTS[expected.baseModel];
  const part = info.part ?? (parts.length === 1 ? 'main' : undefined);
  if (!parts.includes(expected.part)) {
    problems.push(`${wanted} has no "${expected.part}" LoRA part.`);
  } else if (part === undefined) {
    problems.push(`Cannot tell whether this is the high- or low-noise ${wanted} LoRA (the file name carries no _high_noise/_low_noise suffix).`);
  } else if (part !== expected.part) {
    problems.push(`This is the ${part} LoRA, expected the ${expected.part} one.`);
  }

  if (info.ranks.length > 1) problems.push(`The modules have different ranks (${info.ranks.join(', ')}).`);
  if (expected.rank !== undefined && info.rank !== expected.rank) {
    problems.push(`The rank is ${info.rank ?? 'unknown'}, expected ${expected.rank}.`);
  }
  if (info.brokenModules.length > 0) {
    problems.push(`Some modules lack a matrix or disagree on the rank (e.g. ${info.brokenModules[0]}).`);
  }

  const facts = LORA_FAMILIES[info.family];
  if (familyOk && facts.tensorCount !== undefined && info.tensorCount !== facts.tensorCount) {
    problems.push(`It has ${info.tensorCount} tensors; a complete ${facts.label} LoRA has ${facts.tensorCount}.`);
  }
  if (familyOk && info.ssBaseModelVersion !== undefined && facts.ssBaseModelVersion !== undefined &&
      info.ssBaseModelVersion !== facts.ssBaseModelVersion) {
    problems.push(`Its metadata names base model "${info.ssBaseModelVersion}", its weights are ${facts.label}.`);
  }
  const declared = info.metadata.likeness_base_model;
  if (declared !== undefined && declared !== expected.baseModel) {
    problems.push(`Its metadata says it was trained for ${declared}, expected ${expected.baseModel}.`);
  }
  return problems;
}
