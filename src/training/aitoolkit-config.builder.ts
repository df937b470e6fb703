/**
 * Turns a TrainingRecipe plus the trainer's paths into the `job_config` object AI Toolkit's UI
 * takes on POST /api/jobs (contracts/README.md §3.5). Pure: no I/O, no clock, no randomness.
 *
 * Checked against ostris/ai-toolkit 27a03a9 (0.12.26): the UI's `defaultJobConfig`
 * (ui/src/app/jobs/new/jobConfig.ts), the per-arch defaults in ui/src/app/jobs/new/options.tsx and
 * config/examples/train_lora_{flux,wan21_14b,wan22_14b,qwen_image}_24gb.yaml. Invariants the UI API
 * depends on (§3.5 notes): `config.name` === the job name and `training_folder` === the UI's
 * TRAINING_FOLDER, or the files/samples routes cannot see the outputs; `process[0].type` is
 * `diffusion_trainer`, the only type that reports progress to the UI database; `folder_path` is
 * absolute on the trainer.
 */
import type { BaseModel } from '../domain/base-models.js';
import type { TrainingRecipe } from './training-backend.js';
import { assertValidRecipe } from './training-recipes.js';

export interface AitkPaths {
  /** The AI Toolkit job name; also `config.name`, so outputs land in `<trainingFolder>/<jobName>/`. */
  jobName: string;
  /** Absolute dataset folder on the trainer (`DATASETS_FOLDER/<dataset>`). */
  datasetFolder: string;
  /** The UI's TRAINING_FOLDER setting, verbatim. */
  trainingFolder: string;
}

export interface AitkModelConfig {
  name_or_path: string;
  arch: string;
  quantize: boolean;
  qtype: string;
  quantize_te: boolean;
  qtype_te: string;
  low_vram: boolean;
  model_kwargs: Record<string, unknown>;
  assistant_lora_path?: string;
}

export interface AitkSample {
  prompt: string;
}

export interface AitkProcessConfig {
  type: 'diffusion_trainer';
  training_folder: string;
  sqlite_db_path: string;
  device: string;
  trigger_word: string;
  performance_log_every: number;
  network: { type: 'lora'; linear: number; linear_alpha: number };
  save: {
    dtype: 'bf16';
    save_every: number;
    max_step_saves_to_keep: number;
    save_format: 'diffusers';
    push_to_hub: false;
  };
  datasets: Array<{
    folder_path: string;
    caption_ext: 'txt';
    caption_dropout_rate: number;
    cache_latents_to_disk: boolean;
    resolution: number[];
    num_frames: number;
    is_reg: false;
    network_weight: number;
    default_caption: string;
    flip_x: false;
    flip_y: false;
    num_repeats: number;
  }>;
  train: {
    batch_size: number;
    steps: number;
    gradient_accumulation: number;
    train_unet: true;
    train_text_encoder: false;
    gradient_checkpointing: true;
    noise_scheduler: 'flowmatch';
    optimizer: 'adamw8bit';
    optimizer_params: { weight_decay: number };
    timestep_type: string;
    content_or_style: 'balanced';
    lr: number;
    dtype: 'bf16';
    ema_config: { use_ema: boolean; ema_decay: number };
    unload_text_encoder: boolean;
    cache_text_embeddings: boolean;
    bypass_guidance_embedding: boolean;
    switch_boundary_every: number;
    skip_first_sample: boolean;
    disable_sampling: false;
    loss_type: 'mse';
  };
  logging: { log_every: number; use_ui_logger: true };
  model: AitkModelConfig;
  sample: {
    sampler: 'flowmatch';
    sample_every: number;
    sample_start_step: number;
    width: number;
    height: number;
    samples: AitkSample[];
    neg: string;
    seed: number;
    walk_seed: boolean;
    guidance_scale: number;
    sample_steps: number;
    num_frames: number;
    fps: number;
  };
}

export interface AitkJobConfig {
  job: 'extension';
  config: { name: string; process: [AitkProcessConfig] };
  /** Copied by AI Toolkit into every saved LoRA's safetensors `__metadata__` (lora-formats §1.8). */
  meta: Record<string, string>;
}

/** What differs per base model. Values mirror the UI's arch defaults unless a comment says why not. */
interface ModelProfile {
  model: AitkModelConfig;
  timestepType: string;
  /** Per-caption text embeddings cached once; lets the big text encoders leave 24 GB cards. */
  cacheTextEmbeddings: boolean;
  switchBoundaryEvery: number;
  guidanceScale: number;
  sampleSteps: number;
}

const QFLOAT8 = 'qfloat8';

export const AITK_MODEL_PROFILES: Record<BaseModel, ModelProfile> = {
  // UI arch `zimage:turbo`: the training adapter v2 keeps the distilled model from losing its
  // few-step ability while the LoRA trains; samples use Turbo's own 9 steps at guidance 1.
  'zimage-turbo': {
    model: {
      name_or_path: 'Tongyi-MAI/Z-Image-Turbo',
      arch: 'zimage:turbo',
      quantize: true,
      qtype: QFLOAT8,
      quantize_te: true,
      qtype_te: QFLOAT8,
      low_vram: true,
      model_kwargs: {},
      assistant_lora_path: 'ostris/zimage_turbo_training_adapter/zimage_turbo_training_adapter_v2.safetensors',
    },
    timestepType: 'weighted',
    cacheTextEmbeddings: false,
    switchBoundaryEvery: 1,
    guidanceScale: 1,
    sampleSteps: 9,
  },
  // UI arch `flux`, quantized so FLUX.1-dev trains on 24 GB. Samples at 20 steps (the FLUX YAML
  // example) rather than the UI's 30: FLUX samples every 100 steps here, and sampling time is paid
  // GPU time.
  'flux-dev': {
    model: {
      name_or_path: 'black-forest-labs/FLUX.1-dev',
      arch: 'flux',
      quantize: true,
      qtype: QFLOAT8,
      quantize_te: true,
      qtype_te: QFLOAT8,
      low_vram: false,
      model_kwargs: {},
    },
    timestepType: 'sigmoid',
    cacheTextEmbeddings: false,
    switchBoundaryEvery: 1,
    guidanceScale: 4,
    sampleSteps: 20,
  },
  // UI arch `wan21:14b` (T2V 14B, the size the platform generates with); low VRAM as planned.
  // Guidance 5 as the Wan 2.1 14B example.
  wan21: {
    model: {
      name_or_path: 'Wan-AI/Wan2.1-T2V-14B-Diffusers',
      arch: 'wan21:14b',
      quantize: true,
      qtype: QFLOAT8,
      quantize_te: true,
      qtype_te: QFLOAT8,
      low_vram: true,
      model_kwargs: {},
    },
    timestepType: 'sigmoid',
    cacheTextEmbeddings: true,
    switchBoundaryEvery: 1,
    guidanceScale: 5,
    sampleSteps: 25,
  },
  // UI arch `wan22_14b:t2v`, AI Toolkit's own bf16 Diffusers copy of Wan 2.2 T2V A14B (the UI's
  // default path). Both experts are trained (two LoRA files). 4-bit with the accuracy recovery
  // adapter as the 24 GB example does: two 14B experts do not fit a 24 GB card at qfloat8.
  // switch_boundary_every 10 also follows that example (alternate experts every 10 steps).
  wan22: {
    model: {
      name_or_path: 'ai-toolkit/Wan2.2-T2V-A14B-Diffusers-bf16',
      arch: 'wan22_14b:t2v',
      quantize: true,
      qtype: 'uint4|ostris/accuracy_recovery_adapters/wan22_14b_t2i_torchao_uint4.safetensors',
      quantize_te: true,
      qtype_te: QFLOAT8,
      low_vram: true,
      model_kwargs: { train_high_noise: true, train_low_noise: true },
    },
    timestepType: 'linear',
    cacheTextEmbeddings: true,
    switchBoundaryEvery: 10,
    guidanceScale: 3.5,
    sampleSteps: 25,
  },
  // UI arch `qwen_image` with its "3 bit with ARA" option (the 24 GB example): the 20B transformer
  // only fits a 24-32 GB card at 3 bits, and the accuracy recovery adapter restores the quality.
  'qwen-image': {
    model: {
      name_or_path: 'Qwen/Qwen-Image',
      arch: 'qwen_image',
      quantize: true,
      qtype: 'uint3|ostris/accuracy_recovery_adapters/qwen_image_torchao_uint3.safetensors',
      quantize_te: true,
      qtype_te: QFLOAT8,
      low_vram: true,
      model_kwargs: {},
    },
    timestepType: 'weighted',
    cacheTextEmbeddings: true,
    switchBoundaryEvery: 1,
    guidanceScale: 3,
    sampleSteps: 25,
  },
};

/** The UI's default; the trainer's startJob overwrites it with TOOLKIT_ROOT/aitk_db.db anyway. */
const SQLITE_DB_PATH = './aitk_db.db';

export function buildAitkJobConfig(recipe: TrainingRecipe, paths: AitkPaths): AitkJobConfig {
  assertValidRecipe(recipe);
  if (!/^[A-Za-z0-9_]+$/.test(paths.jobName)) {
    throw new RangeError(`AI Toolkit job name "${paths.jobName}" must be letters, digits and underscores.`);
  }
  if (!paths.datasetFolder.startsWith('/')) {
    throw new RangeError(`datasetFolder must be absolute on the trainer, got "${paths.datasetFolder}".`);
  }
  if (!paths.trainingFolder) throw new RangeError('trainingFolder is required.');

  const profile = AITK_MODEL_PROFILES[recipe.baseModel];
  const side = Math.max(...recipe.resolutions);
  const checkpoints = Math.ceil(recipe.steps / recipe.saveEvery);

  const process: AitkProcessConfig = {
    type: 'diffusion_trainer',
    training_folder: paths.trainingFolder,
    sqlite_db_path: SQLITE_DB_PATH,
    // GPU choice is the job's gpu_ids (CUDA_VISIBLE_DEVICES), so the device is plain `cuda`.
    device: 'cuda',
    trigger_word: recipe.triggerWord,
    performance_log_every: 10,
    // AI Toolkit ignores linear_alpha for these transformer archs (peft format, scale 1.0;
    // lora-formats §1.3); it is still sent so the config records the recipe.
    network: { type: 'lora', linear: recipe.rank, linear_alpha: recipe.alpha },
    save: {
      dtype: 'bf16',
      save_every: recipe.saveEvery,
      // Keep every intermediate checkpoint: finalize scores all of them and keeps the best.
      max_step_saves_to_keep: checkpoints,
      save_format: 'diffusers',
      push_to_hub: false,
    },
    datasets: [
      {
        folder_path: paths.datasetFolder,
        caption_ext: 'txt',
        // Ignored by AI Toolkit when text embeddings are cached (dataloader_mixins.py), harmless.
        caption_dropout_rate: 0.05,
        // 5-10 images: caching latents once saves a VAE pass per step for a few MB of disk.
        cache_latents_to_disk: true,
        resolution: [...recipe.resolutions],
        // Image LoRAs, also for the Wan video models: one frame per item.
        num_frames: 1,
        is_reg: false,
        network_weight: 1,
        default_caption: '',
        flip_x: false,
        flip_y: false,
        num_repeats: 1,
      },
    ],
    train: {
      batch_size: 1,
      steps: recipe.steps,
      gradient_accumulation: 1,
      train_unet: true,
      train_text_encoder: false,
      gradient_checkpointing: true,
      noise_scheduler: 'flowmatch',
      optimizer: 'adamw8bit',
      optimizer_params: { weight_decay: 1e-4 },
      timestep_type: profile.timestepType,
      content_or_style: 'balanced',
      lr: recipe.learningRate,
      dtype: 'bf16',
      ema_config: { use_ema: false, ema_decay: 0.99 },
      unload_text_encoder: false,
      cache_text_embeddings: profile.cacheTextEmbeddings,
      // False as in the YAML examples (the trainer's default); the UI's `true` is meant for Flex.
      bypass_guidance_embedding: false,
      switch_boundary_every: profile.switchBoundaryEvery,
      // The step-0 baseline sample is what the checkpoint scores are compared against.
      skip_first_sample: false,
      disable_sampling: false,
      loss_type: 'mse',
    },
    logging: { log_every: 1, use_ui_logger: true },
    model: { ...profile.model, model_kwargs: { ...profile.model.model_kwargs } },
    sample: {
      sampler: 'flowmatch',
      sample_every: recipe.sampleEvery,
      sample_start_step: 0,
      // Samples are scored for identity at the resolution the LoRA was trained at.
      width: side,
      height: side,
      samples: recipe.samplePrompts.map((prompt) => ({ prompt })),
      neg: '',
      seed: 42,
      walk_seed: true,
      guidance_scale: profile.guidanceScale,
      sample_steps: profile.sampleSteps,
      num_frames: 1,
      fps: 1,
    },
  };

  return {
    job: 'extension',
    config: { name: paths.jobName, process: [process] },
    meta: {
      name: '[name]',
      version: '1.0',
      likeness_base_model: recipe.baseModel,
      likeness_trigger_word: recipe.triggerWord,
    },
  };
}
