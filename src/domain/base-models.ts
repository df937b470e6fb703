/**
 * The base models Likeness trains and generates for. One list, used by config, pricing, the
 * AI Toolkit config builder, the LoRA verifier and the generation planner.
 */
export const BASE_MODELS = ['zimage-turbo', 'flux-dev', 'wan21', 'wan22', 'qwen-image'] as const;
export type BaseModel = (typeof BASE_MODELS)[number];

export const DEFAULT_BASE_MODEL: BaseModel = 'zimage-turbo';

export function isBaseModel(value: unknown): value is BaseModel {
  return typeof value === 'string' && (BASE_MODELS as readonly string[]).includes(value);
}

/** Human names, as the platform's pricing file and UI spell them. */
export const BASE_MODEL_LABELS: Record<BaseModel, string> = {
  'zimage-turbo': 'Z-Image Turbo',
  'flux-dev': 'FLUX.1-dev',
  wan21: 'Wan 2.1',
  wan22: 'Wan 2.2',
  'qwen-image': 'Qwen-Image',
};

/**
 * The LoRA files a finished training produces for a base model. Wan 2.2 is a two-expert model:
 * AI Toolkit splits its LoRA into a high-noise and a low-noise file (contracts/lora-formats.md §2.4).
 */
export const LORA_PARTS: Record<BaseModel, readonly LoraPart[]> = {
  'zimage-turbo': ['main'],
  'flux-dev': ['main'],
  wan21: ['main'],
  wan22: ['high_noise', 'low_noise'],
  'qwen-image': ['main'],
};
export type LoraPart = 'main' | 'high_noise' | 'low_noise';
