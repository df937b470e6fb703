/**
 * The LoRA layouts Likeness recognises, as AI Toolkit 0.12.26 writes them with its UI defaults
 * (contracts/lora-formats.md §2-3: peft keys `.lora_A.weight`/`.lora_B.weight`, no `.alpha`,
 * `transformer_only`). One table, used by detection and verification (lora-inspect.ts).
 */
import type { BaseModel } from '../domain/base-models.js';

export type LoraFamily =
  | 'flux'
  | 'zimage'
  | 'wan21-14b'
  | 'wan21-1.3b'
  | 'wan22'
  /** Wan 14B keys without metadata or file name saying whether it is 2.1 or a 2.2 expert. */
  | 'wan-14b'
  | 'qwen-image'
  | 'sdxl'
  | 'unknown';

export interface LoraFamilyFacts {
  label: string;
  /** Tensors in a complete AI Toolkit LoRA of this family (per file for Wan 2.2). */
  tensorCount?: number;
  /** `__metadata__.ss_base_model_version` AI Toolkit writes. */
  ssBaseModelVersion?: string;
  /** Hidden size: in-features of the first attention projection's lora_A. */
  hiddenSize?: number;
}

export const LORA_FAMILIES: Record<LoraFamily, LoraFamilyFacts> = {
  flux: { label: 'FLUX.1', tensorCount: 988, ssBaseModelVersion: 'flux.1', hiddenSize: 3072 },
  zimage: { label: 'Z-Image', tensorCount: 480, ssBaseModelVersion: 'zimage', hiddenSize: 3840 },
  'wan21-14b': { label: 'Wan 2.1 14B', tensorCount: 800, ssBaseModelVersion: 'wan_2.1', hiddenSize: 5120 },
  'wan21-1.3b': { label: 'Wan 2.1 1.3B', tensorCount: 600, ssBaseModelVersion: 'wan_2.1', hiddenSize: 1536 },
  wan22: { label: 'Wan 2.2 14B', tensorCount: 800, ssBaseModelVersion: 'wan_2.2_14b', hiddenSize: 5120 },
  'wan-14b': { label: 'Wan 14B (2.1 or 2.2 undetermined)', tensorCount: 800, hiddenSize: 5120 },
  'qwen-image': { label: 'Qwen-Image', tensorCount: 1680, ssBaseModelVersion: 'qwen_image', hiddenSize: 3072 },
  sdxl: { label: 'SDXL' },
  unknown: { label: 'unknown' },
};

/** Which detected families a finished training for a base model may produce. */
export const FAMILIES_FOR_BASE_MODEL: Record<BaseModel, readonly LoraFamily[]> = {
  'zimage-turbo': ['zimage'],
  'flux-dev': ['flux'],
  // The platform trains Wan 2.1 at 14B; a 1.3B file is the wrong model.
  wan21: ['wan21-14b', 'wan-14b'],
  wan22: ['wan22', 'wan-14b'],
  'qwen-image': ['qwen-image'],
};

/** The base model a family is for, when it is one of the platform's. */
export function baseModelOfFamily(family: LoraFamily): BaseModel | undefined {
  switch (family) {
    case 'flux':
      return 'flux-dev';
    case 'zimage':
      return 'zimage-turbo';
    case 'wan21-14b':
      return 'wan21';
    case 'wan22':
      return 'wan22';
    case 'qwen-image':
      return 'qwen-image';
    default:
      return undefined;
  }
}
