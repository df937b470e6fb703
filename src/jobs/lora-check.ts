/**
 * Verifies a stored LoRA file before it becomes a character's LoRA: a complete safetensors file
 * (header offsets inside the file), the base model's family and key set, the part (Wan 2.2 high /
 * low noise) and the rank the run asked for. Reads the header only, never the tensors.
 */
import type { BaseModel, LoraPart } from '../domain/base-models.js';
import { inspectLoraSource, verifyLora } from '../lora/lora-inspect.js';
import { SafetensorsError } from '../lora/safetensors.reader.js';
import type { ObjectStore } from '../storage/object-store.js';

export async function verifyStoredLora(
  store: ObjectStore,
  key: string,
  expected: { baseModel: BaseModel; part: LoraPart; rank?: number },
): Promise<{ problems: string[]; emulated: boolean }> {
  const head = await store.head(key);
  if (!head) return { problems: ['The file is missing from storage.'], emulated: false };
  // The stored name says which part it is, as AI Toolkit's own names do.
  const fileName = expected.part === 'main' ? 'lora.safetensors' : `lora_${expected.part}.safetensors`;
  try {
    const info = await inspectLoraSource(await store.get(key), { fileName, fileSize: head.size });
    // Files the GPU emulator made say so in their metadata: they never count as real results.
    return { problems: verifyLora(info, expected), emulated: info.metadata.likeness_emulated === 'true' };
  } catch (err) {
    if (err instanceof SafetensorsError) return { problems: [err.message], emulated: false };
    throw err;
  }
}
