/**
 * Body of POST /v1/workflows/inject: the platform's own API-format workflow plus either the
 * character (the route resolves its active LoRA) or the LoRA given directly. Wan 2.2 LoRAs are two
 * files; `loraName` takes both, and each file's part comes from its `_high_noise` / `_low_noise` name.
 */
import { z } from 'zod';
import type { InjectLoraOptions } from './lora-injection.types.js';
import { loraPartFromFileName } from './lora-file-names.util.js';

const nodeSchema = z.looseObject({
  class_type: z.string().min(1),
  inputs: z.record(z.string(), z.unknown()),
});

/** Shape only; links, cycles and what can be injected are `injectLora`'s to judge (422, not 400). */
export const apiWorkflowSchema = z
  .record(z.string(), nodeSchema)
  .refine((wf) => Object.keys(wf).length > 0, { message: 'workflow has no nodes' });

const loraFileSchema = z
  .string()
  .min(1)
  .max(255)
  .refine((name) => !/[\u0000-\u001f]/.test(name) && !name.split(/[\\/]/).includes('..'), {
    message: 'not a LoRA file name',
  });

export const triggerWordSchema = z
  .string()
  .min(1)
  .max(100)
  .refine((word) => word.trim() === word && !/[\u0000-\u001f]/.test(word), { message: 'not a trigger word' });

export const loraStrengthSchema = z.number().finite().min(-10).max(10);

export const injectByCharacterSchema = z.object({
  workflow: apiWorkflowSchema,
  characterId: z.string().min(1),
});

export const injectByLoraSchema = z.object({
  workflow: apiWorkflowSchema,
  loraName: z.union([loraFileSchema, z.array(loraFileSchema).min(1).max(4)]),
  strength: loraStrengthSchema,
  triggerWord: triggerWordSchema,
});

export const injectRequestSchema = z.union([injectByCharacterSchema, injectByLoraSchema]);
export type InjectRequest = z.infer<typeof injectRequestSchema>;

/** The injection options for LoRA file names given directly (the API body or the CLI flags). */
export function injectOptionsFromNames(names: string | string[], strength: number, triggerWord: string): InjectLoraOptions {
  const list = Array.isArray(names) ? names : [names];
  return {
    triggerWord,
    loras: list.map((name) => {
      const part = loraPartFromFileName(name);
      return part === 'main' ? { name, strength } : { name, strength, part };
    }),
  };
}
