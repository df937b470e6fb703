import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { BASE_MODELS, type BaseModel } from '../../src/domain/base-models.js';
import { buildAitkJobConfig, type AitkJobConfig } from '../../src/training/aitoolkit-config.builder.js';
import { defaultRecipe } from '../../src/training/training-recipes.js';

const documented = JSON.parse(
  readFileSync(new URL('./fixtures/aitk-ui-default-job-config.json', import.meta.url), 'utf8'),
).job_config as Record<string, unknown>;

const PATHS = {
  jobName: 'likeness_run42_a1',
  datasetFolder: '/app/ai-toolkit/datasets/likeness_run42_a1',
  trainingFolder: '/app/ai-toolkit/output',
};

/**
 * Per base model, what the contract (README §3.5 notes and the UI's options.tsx / YAML examples it
 * cites) says the model block and sampling must be. Typed here from the sources, not from src/.
 */
const EXPECTED: Record<
  BaseModel,
  { model: Record<string, unknown>; timestep: string; guidance: number; steps: number; side: number }
> = {
  'zimage-turbo': {
    model: {
      name_or_path: 'Tongyi-MAI/Z-Image-Turbo',
      arch: 'zimage:turbo',
      quantize: true,
      quantize_te: true,
      qtype: 'qfloat8',
      low_vram: true,
      assistant_lora_path: 'ostris/zimage_turbo_training_adapter/zimage_turbo_training_adapter_v2.safetensors',
    },
    timestep: 'weighted',
    guidance: 1,
    steps: 9,
    side: 1024,
  },
  'flux-dev': {
    model: { name_or_path: 'black-forest-labs/FLUX.1-dev', arch: 'flux', quantize: true, quantize_te: true },
    timestep: 'sigmoid',
    guidance: 4,
    steps: 20,
    side: 1024,
  },
  wan21: {
    model: { name_or_path: 'Wan-AI/Wan2.1-T2V-14B-Diffusers', arch: 'wan21:14b', quantize: true, low_vram: true },
    timestep: 'sigmoid',
    guidance: 5,
    steps: 25,
    side: 512,
  },
  wan22: {
    model: {
      name_or_path: 'ai-toolkit/Wan2.2-T2V-A14B-Diffusers-bf16',
      arch: 'wan22_14b:t2v',
      quantize: true,
      low_vram: true,
      model_kwargs: { train_high_noise: true, train_low_noise: true },
    },
    timestep: 'linear',
    guidance: 3.5,
    steps: 25,
    side: 512,
  },
  'qwen-image': {
    model: {
      name_or_path: 'Qwen/Qwen-Image',
      arch: 'qwen_image',
      quantize: true,
      qtype: 'uint3|ostris/accuracy_recovery_adapters/qwen_image_torchao_uint3.safetensors',
      quantize_te: true,
      qtype_te: 'qfloat8',
      low_vram: true,
    },
    timestep: 'weighted',
    guidance: 3,
    steps: 25,
    side: 1328,
  },
};

/** Dotted paths of every key in `value` (array elements as `[]`). */
function keyPaths(value: unknown, prefix = ''): string[] {
  if (Array.isArray(value)) return value.flatMap((v) => keyPaths(v, `${prefix}[]`));
  if (value && typeof value === 'object') {
    return Object.entries(value).flatMap(([k, v]) => {
      const p = prefix ? `${prefix}.${k}` : k;
      return [p, ...keyPaths(v, p)];
    });
  }
  return [];
}

// Keys the builder adds beyond the UI's default config, each on purpose (see the builder).
const ALLOWED_EXTRA = new Set([
  'config.process[].model.assistant_lora_path',
  'config.process[].model.model_kwargs.train_high_noise',
  'config.process[].model.model_kwargs.train_low_noise',
  'meta.likeness_base_model',
  'meta.likeness_trigger_word',
]);

describe('buildAitkJobConfig', () => {
  for (const baseModel of BASE_MODELS) {
    describe(baseModel, () => {
      const recipe = defaultRecipe(baseModel, 'ohwx');
      const cfg: AitkJobConfig = buildAitkJobConfig(recipe, PATHS);
      const p = cfg.config.process[0];
      const want = EXPECTED[baseModel];

      it('has the UI API invariants: name, type, folders', () => {
        expect(cfg.job).toBe('extension');
        expect(cfg.config.name).toBe(PATHS.jobName);
        expect(cfg.config.process).toHaveLength(1);
        expect(p.type).toBe('diffusion_trainer');
        expect(p.training_folder).toBe(PATHS.trainingFolder);
        expect(p.sqlite_db_path).toBe('./aitk_db.db');
        expect(p.device).toBe('cuda');
        expect(p.datasets).toHaveLength(1);
        expect(p.datasets[0]!.folder_path).toBe(PATHS.datasetFolder);
        expect(p.trigger_word).toBe('ohwx');
        expect(cfg.meta).toMatchObject({ name: '[name]', version: '1.0' });
      });

      it('uses only keys the UI documents (plus the intended extras)', () => {
        const known = new Set(keyPaths(documented));
        const unknown = keyPaths(cfg).filter((k) => !known.has(k) && !ALLOWED_EXTRA.has(k));
        expect(unknown).toEqual([]);
        // And keeps the documented top-level sections.
        for (const section of ['network', 'save', 'datasets', 'train', 'logging', 'model', 'sample']) {
          expect(p).toHaveProperty(section);
        }
      });

      it('carries the recipe into network, save, dataset, train and sample', () => {
        expect(p.network).toEqual({ type: 'lora', linear: recipe.rank, linear_alpha: recipe.alpha });
        expect(p.save).toMatchObject({ dtype: 'bf16', save_every: recipe.saveEvery });
        expect(p.save.max_step_saves_to_keep).toBeGreaterThanOrEqual(Math.ceil(recipe.steps / recipe.saveEvery));
        expect(p.datasets[0]).toMatchObject({
          caption_ext: 'txt',
          caption_dropout_rate: 0.05,
          cache_latents_to_disk: true,
          resolution: recipe.resolutions,
        });
        expect(p.train).toMatchObject({
          steps: recipe.steps,
          lr: recipe.learningRate,
          optimizer: 'adamw8bit',
          noise_scheduler: 'flowmatch',
          timestep_type: want.timestep,
          gradient_checkpointing: true,
          dtype: 'bf16',
          batch_size: 1,
        });
        expect(p.sample).toMatchObject({
          sampler: 'flowmatch',
          sample_every: recipe.sampleEvery,
          guidance_scale: want.guidance,
          sample_steps: want.steps,
          width: want.side,
          height: want.side,
          num_frames: 1,
        });
        expect(p.sample.samples.length).toBeGreaterThan(0);
        for (const s of p.sample.samples) expect(s.prompt).toContain('ohwx');
      });

      it('selects the base model as the UI does', () => {
        expect(p.model).toMatchObject(want.model);
        if (baseModel !== 'zimage-turbo') expect(p.model.assistant_lora_path).toBeUndefined();
      });

      it('is plain JSON', () => {
        expect(JSON.parse(JSON.stringify(cfg))).toEqual(cfg);
      });
    });
  }

  it('refuses names, folders and prompts the UI could not use', () => {
    const recipe = defaultRecipe('flux-dev', 'ohwx');
    expect(() => buildAitkJobConfig(recipe, { ...PATHS, jobName: 'likeness-run' })).toThrow(/letters, digits and underscores/);
    expect(() => buildAitkJobConfig(recipe, { ...PATHS, datasetFolder: 'datasets/x' })).toThrow(/absolute/);
    expect(() => buildAitkJobConfig({ ...recipe, samplePrompts: ['a photo of a man'] }, PATHS)).toThrow(/trigger word/);
  });
});

describe('defaultRecipe', () => {
  it('follows the platform plan per base model', () => {
    expect(defaultRecipe('zimage-turbo', 'tw')).toMatchObject({ resolutions: [1024], learningRate: 1e-4, rank: 16, steps: 2500 });
    expect(defaultRecipe('flux-dev', 'tw')).toMatchObject({
      resolutions: [512, 768, 1024],
      steps: 1000,
      saveEvery: 100,
      learningRate: 1e-4,
      rank: 16,
    });
    for (const wan of ['wan21', 'wan22'] as const) {
      expect(defaultRecipe(wan, 'tw')).toMatchObject({ resolutions: [512], steps: 2500, saveEvery: 500 });
    }
    const qwen = defaultRecipe('qwen-image', 'tw');
    expect(qwen).toMatchObject({ steps: 3000, rank: 32 });
    expect(qwen.resolutions).toEqual(expect.arrayContaining([1024, 1328]));
  });

  it('applies overrides and keeps the trigger word in every prompt', () => {
    const r = defaultRecipe('flux-dev', 'zxq', { steps: 700, rank: 8, alpha: 8 });
    expect(r).toMatchObject({ baseModel: 'flux-dev', triggerWord: 'zxq', steps: 700, rank: 8, alpha: 8 });
    expect(r.samplePrompts.every((s) => s.includes('zxq'))).toBe(true);
    expect(() => defaultRecipe('flux-dev', 'zxq', { samplePrompts: ['no trigger'] })).toThrow(/trigger word/);
    expect(() => defaultRecipe('flux-dev', 'zxq', { steps: 0 })).toThrow(/steps/);
    expect(() => defaultRecipe('flux-dev', ' ')).toThrow(/trigger word/);
  });
});
