import { describe, expect, it } from 'vitest';
import { injectOptionsFromNames, injectRequestSchema } from '../../src/generation/workflow/index.js';
import { loraFileNames, loraPartFromFileName } from '../../src/generation/workflow/lora-file-names.util.js';
import { loadWorkflow } from './workflow-test-kit.js';

const workflow = loadWorkflow('fixture', 'salad-sd15-txt2img.api.json');

describe('POST /v1/workflows/inject body', () => {
  it('takes a character id or the LoRA given directly', () => {
    expect(injectRequestSchema.safeParse({ workflow, characterId: 'chr_1' }).success).toBe(true);
    expect(injectRequestSchema.safeParse({ workflow, loraName: 'a.safetensors', strength: 0.8, triggerWord: 'ohwx' }).success).toBe(true);
    expect(
      injectRequestSchema.safeParse({ workflow, loraName: ['a_high_noise.safetensors', 'a_low_noise.safetensors'], strength: 1, triggerWord: 'ohwx' }).success,
    ).toBe(true);
  });

  it('turns down bodies that are not a workflow plus one way to name the LoRA', () => {
    for (const body of [
      { characterId: 'chr_1' },
      { workflow: {}, characterId: 'chr_1' },
      { workflow: { 1: { inputs: {} } }, characterId: 'chr_1' },
      { workflow, loraName: '../../etc/passwd', strength: 1, triggerWord: 'ohwx' },
      { workflow, loraName: 'a.safetensors', strength: Number.NaN, triggerWord: 'ohwx' },
      { workflow, loraName: 'a.safetensors', strength: 1, triggerWord: ' ohwx' },
      { workflow, loraName: 'a.safetensors', strength: 1 },
    ]) {
      expect(injectRequestSchema.safeParse(body).success, JSON.stringify(body).slice(0, 80)).toBe(false);
    }
  });
});

describe('LoRA file names', () => {
  it('are <loraId>.safetensors, and for Wan 2.2 one file per expert', () => {
    expect(loraFileNames('lora_9', 'flux-dev')).toEqual({ main: 'lora_9.safetensors' });
    expect(loraFileNames('lora_9', 'wan22')).toEqual({
      high_noise: 'lora_9_high_noise.safetensors',
      low_noise: 'lora_9_low_noise.safetensors',
    });
  });

  it('say their part, which injection options carry', () => {
    expect(loraPartFromFileName('lora_9_high_noise.safetensors')).toBe('high_noise');
    expect(loraPartFromFileName('lora_9_low_noise.safetensors')).toBe('low_noise');
    expect(loraPartFromFileName('noise.safetensors')).toBe('main');
    expect(injectOptionsFromNames(['x_high_noise.safetensors', 'y.safetensors'], 0.5, 'ohwx')).toEqual({
      triggerWord: 'ohwx',
      loras: [
        { name: 'x_high_noise.safetensors', strength: 0.5, part: 'high_noise' },
        { name: 'y.safetensors', strength: 0.5 },
      ],
    });
  });
});
