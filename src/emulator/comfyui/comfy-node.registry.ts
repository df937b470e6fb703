/**
 * The node classes the emulated ComfyUI has "installed": ComfyUI core nodes the text-to-image
 * graphs use, and the ComfyUI-PuLID-Flux pack for face swap. Each entry mirrors the class's
 * INPUT_TYPES / RETURN_TYPES / OUTPUT_NODE in its own source (COMFY `nodes.py`, `comfy_extras/`,
 * balazik/ComfyUI-PuLID-Flux `pulidflux.py`), because /prompt validation is done from exactly these.
 *
 * A class not listed here is answered the way a ComfyUI without that custom node answers:
 * "Cannot execute because node X does not exist." Model-file combos (unet_name, ckpt_name ...) accept
 * any name: the emulator pretends every base model is installed. The two combos that matter to
 * Likeness are checked for real: `lora_name` against the loras folder, `image` against the input folder.
 */

/** A combo whose options come from a folder of the emulated host. */
export type DynamicCombo = 'loras' | 'input_images' | 'installed_models';

export type InputSpec =
  | { type: string; min?: number; max?: number }
  | { combo: readonly string[] }
  | { dynamic: DynamicCombo };

export interface NodeClass {
  required: Readonly<Record<string, InputSpec>>;
  optional?: Readonly<Record<string, InputSpec>>;
  returnTypes: readonly string[];
  outputNode?: boolean;
  /** Sampler-like: sends `progress` for each of its `steps`. */
  sampler?: boolean;
}

const t = (type: string, min?: number, max?: number): InputSpec => {
  const spec: { type: string; min?: number; max?: number } = { type };
  if (min !== undefined) spec.min = min;
  if (max !== undefined) spec.max = max;
  return spec;
};
const models: InputSpec = { dynamic: 'installed_models' };
const SEED_MAX = 0xffffffffffffffff;
const SAMPLERS = ['euler', 'euler_ancestral', 'heun', 'dpmpp_2m', 'dpmpp_2m_sde', 'dpmpp_sde', 'uni_pc', 'uni_pc_bh2', 'lcm', 'ddim', 'res_multistep'];
const SCHEDULERS = ['normal', 'karras', 'exponential', 'sgm_uniform', 'simple', 'ddim_uniform', 'beta', 'linear_quadratic', 'kl_optimal'];

export const NODE_CLASSES: Readonly<Record<string, NodeClass>> = {
  CheckpointLoaderSimple: { required: { ckpt_name: models }, returnTypes: ['MODEL', 'CLIP', 'VAE'] },
  UNETLoader: {
    required: { unet_name: models, weight_dtype: { combo: ['default', 'fp8_e4m3fn', 'fp8_e4m3fn_fast', 'fp8_e5m2'] } },
    returnTypes: ['MODEL'],
  },
  CLIPLoader: {
    required: { clip_name: models, type: { combo: ['stable_diffusion', 'stable_cascade', 'sd3', 'stable_audio', 'mochi', 'ltxv', 'pixart', 'cosmos', 'lumina2', 'wan', 'hidream', 'chroma', 'ace', 'omnigen2', 'qwen_image', 'hunyuan_image'] } },
    optional: { device: { combo: ['default', 'cpu'] } },
    returnTypes: ['CLIP'],
  },
  DualCLIPLoader: {
    required: { clip_name1: models, clip_name2: models, type: { combo: ['sdxl', 'sd3', 'flux', 'hunyuan_video', 'hidream', 'hunyuan_image'] } },
    optional: { device: { combo: ['default', 'cpu'] } },
    returnTypes: ['CLIP'],
  },
  VAELoader: { required: { vae_name: models }, returnTypes: ['VAE'] },
  LoraLoader: {
    required: {
      model: t('MODEL'),
      clip: t('CLIP'),
      lora_name: { dynamic: 'loras' },
      strength_model: t('FLOAT', -100, 100),
      strength_clip: t('FLOAT', -100, 100),
    },
    returnTypes: ['MODEL', 'CLIP'],
  },
  LoraLoaderModelOnly: {
    required: { model: t('MODEL'), lora_name: { dynamic: 'loras' }, strength_model: t('FLOAT', -100, 100) },
    returnTypes: ['MODEL'],
  },
  CLIPTextEncode: { required: { text: t('STRING'), clip: t('CLIP') }, returnTypes: ['CONDITIONING'] },
  ConditioningZeroOut: { required: { conditioning: t('CONDITIONING') }, returnTypes: ['CONDITIONING'] },
  FluxGuidance: { required: { conditioning: t('CONDITIONING'), guidance: t('FLOAT', 0, 100) }, returnTypes: ['CONDITIONING'] },
  ModelSamplingAuraFlow: { required: { model: t('MODEL'), shift: t('FLOAT', 0, 100) }, returnTypes: ['MODEL'] },
  ModelSamplingSD3: { required: { model: t('MODEL'), shift: t('FLOAT', 0, 100) }, returnTypes: ['MODEL'] },
  ModelSamplingFlux: {
    required: { model: t('MODEL'), max_shift: t('FLOAT', 0, 100), base_shift: t('FLOAT', 0, 100), width: t('INT', 16, 16384), height: t('INT', 16, 16384) },
    returnTypes: ['MODEL'],
  },
  EmptyLatentImage: { required: { width: t('INT', 16, 16384), height: t('INT', 16, 16384), batch_size: t('INT', 1, 4096) }, returnTypes: ['LATENT'] },
  EmptySD3LatentImage: { required: { width: t('INT', 16, 16384), height: t('INT', 16, 16384), batch_size: t('INT', 1, 4096) }, returnTypes: ['LATENT'] },
  EmptyHunyuanLatentVideo: {
    required: { width: t('INT', 16, 16384), height: t('INT', 16, 16384), length: t('INT', 1, 16384), batch_size: t('INT', 1, 4096) },
    returnTypes: ['LATENT'],
  },
  KSampler: {
    required: {
      model: t('MODEL'),
      seed: t('INT', 0, SEED_MAX),
      steps: t('INT', 1, 10000),
      cfg: t('FLOAT', 0, 100),
      sampler_name: { combo: SAMPLERS },
      scheduler: { combo: SCHEDULERS },
      positive: t('CONDITIONING'),
      negative: t('CONDITIONING'),
      latent_image: t('LATENT'),
      denoise: t('FLOAT', 0, 1),
    },
    returnTypes: ['LATENT'],
    sampler: true,
  },
  KSamplerAdvanced: {
    required: {
      model: t('MODEL'),
      add_noise: { combo: ['enable', 'disable'] },
      noise_seed: t('INT', 0, SEED_MAX),
      steps: t('INT', 1, 10000),
      cfg: t('FLOAT', 0, 100),
      sampler_name: { combo: SAMPLERS },
      scheduler: { combo: SCHEDULERS },
      positive: t('CONDITIONING'),
      negative: t('CONDITIONING'),
      latent_image: t('LATENT'),
      start_at_step: t('INT', 0, 10000),
      end_at_step: t('INT', 0, 10000),
      return_with_leftover_noise: { combo: ['disable', 'enable'] },
    },
    returnTypes: ['LATENT'],
    sampler: true,
  },
  VAEDecode: { required: { samples: t('LATENT'), vae: t('VAE') }, returnTypes: ['IMAGE'] },
  SaveImage: { required: { images: t('IMAGE'), filename_prefix: t('STRING') }, returnTypes: [], outputNode: true },
  PreviewImage: { required: { images: t('IMAGE') }, returnTypes: [], outputNode: true },
  LoadImage: { required: { image: { dynamic: 'input_images' } }, returnTypes: ['IMAGE', 'MASK'] },
  // ComfyUI-PuLID-Flux
  PulidFluxModelLoader: { required: { pulid_file: models }, returnTypes: ['PULIDFLUX'] },
  PulidFluxEvaClipLoader: { required: {}, returnTypes: ['EVA_CLIP'] },
  PulidFluxInsightFaceLoader: { required: { provider: { combo: ['CPU', 'CUDA', 'ROCM', 'CoreML'] } }, returnTypes: ['FACEANALYSIS'] },
  ApplyPulidFlux: {
    required: {
      model: t('MODEL'),
      pulid_flux: t('PULIDFLUX'),
      eva_clip: t('EVA_CLIP'),
      face_analysis: t('FACEANALYSIS'),
      image: t('IMAGE'),
      weight: t('FLOAT', -1, 5),
      start_at: t('FLOAT', 0, 1),
      end_at: t('FLOAT', 0, 1),
    },
    optional: { attn_mask: t('MASK') },
    returnTypes: ['MODEL'],
  },
};

/** ComfyUI's `validate_node_input`: equal types, `*` on either side, or comma-separated unions. */
export function typesCompatible(received: string, expected: string): boolean {
  if (received === expected || received === '*' || expected === '*') return true;
  const a = new Set(received.split(','));
  return expected.split(',').some((x) => a.has(x));
}
