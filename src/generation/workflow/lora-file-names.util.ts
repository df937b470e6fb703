/**
 * LoRA file names as the generator uses them in ComfyUI's loras folder: `<loraId>.safetensors`, and
 * for Wan 2.2 `<loraId>_high_noise.safetensors` / `<loraId>_low_noise.safetensors` (the two files AI
 * Toolkit writes, contracts/lora-formats.md §2.4). Trainer and generator must agree on these names.
 */
import { type BaseModel, LORA_PARTS, type LoraPart } from '../../domain/base-models.js';

export function loraFileName(loraId: string, part: LoraPart): string {
  return part === 'main' ? `${loraId}.safetensors` : `${loraId}_${part}.safetensors`;
}

/** Every file a base model's LoRA consists of, by part. */
export function loraFileNames(loraId: string, baseModel: BaseModel): Partial<Record<LoraPart, string>> {
  const files: Partial<Record<LoraPart, string>> = {};
  for (const part of LORA_PARTS[baseModel]) files[part] = loraFileName(loraId, part);
  return files;
}

/** The part a file name says it is (`..._high_noise.safetensors`), else `main`. */
export function loraPartFromFileName(fileName: string): LoraPart {
  const stem = fileName.replace(/\.[A-Za-z0-9]+$/, '');
  if (/[_-]high[_-]noise$/i.test(stem)) return 'high_noise';
  if (/[_-]low[_-]noise$/i.test(stem)) return 'low_noise';
  return 'main';
}
