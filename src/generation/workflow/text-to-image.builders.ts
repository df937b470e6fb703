/**
 * Text-to-image graphs per base model family, in ComfyUI's API format. Each takes the texts to
 * encode and a `patchModel` hook that workflow.builder.ts fills with the method's nodes (a LoRA,
 * PuLID, or nothing), applied right after each model loader. File names and sampler settings come
 * from base-model-recipes.catalog.ts.
 */
import { FLUX_DEV, OUTPUT_PREFIX, QWEN_IMAGE, WAN, ZIMAGE_TURBO } from './base-model-recipes.catalog.js';
import type { Link } from './comfy-workflow.types.js';
import type { FamilyInput, FamilyOutput } from './workflow-builder.types.js';
import { WorkflowGraphBuilder } from './workflow-graph.builder.js';

/**
 * Z-Image Turbo: UNETLoader -> (patch) -> ModelSamplingAuraFlow -> KSampler, the Qwen3
 * text encoder through CLIPLoader type lumina2, negative = the positive zeroed (cfg 1).
 */
export function buildZImageTurbo(input: FamilyInput): FamilyOutput {
  const b = new WorkflowGraphBuilder();
  const unet = b.add('UNETLoader', { unet_name: ZIMAGE_TURBO.unet, weight_dtype: 'default' }, 'Load Diffusion Model');
  const clip = b.add('CLIPLoader', { clip_name: ZIMAGE_TURBO.clip, type: ZIMAGE_TURBO.clipType, device: 'default' }, 'Load CLIP');
  const vae = b.add('VAELoader', { vae_name: ZIMAGE_TURBO.vae }, 'Load VAE');
  const patched = input.patchModel(b, b.out(unet), 'main');
  const model = b.add('ModelSamplingAuraFlow', { shift: ZIMAGE_TURBO.shift, model: patched });
  const positive = b.add('CLIPTextEncode', { text: input.positive, clip: b.out(clip) }, 'Positive Prompt');
  const negative = b.add('ConditioningZeroOut', { conditioning: b.out(positive) }, 'Negative (zeroed)');
  const latent = b.add('EmptySD3LatentImage', { width: input.width, height: input.height, batch_size: 1 });
  const sampler = b.add('KSampler', {
    seed: input.seed,
    ...ZIMAGE_TURBO.sampler,
    denoise: 1,
    model: b.out(model),
    positive: b.out(positive),
    negative: b.out(negative),
    latent_image: b.out(latent),
  });
  const decode = b.add('VAEDecode', { samples: b.out(sampler), vae: b.out(vae) });
  const save = b.add('SaveImage', { filename_prefix: OUTPUT_PREFIX, images: b.out(decode) });
  return { workflow: b.build(), outputNodeIds: [save] };
}

/**
 * FLUX.1-dev: UNETLoader -> (patch: LoRA or PuLID) -> ModelSamplingFlux -> KSampler,
 * DualCLIPLoader (clip_l + t5xxl), FluxGuidance on the positive, the negative zeroed (cfg 1).
 */
export function buildFluxDev(input: FamilyInput): FamilyOutput {
  const b = new WorkflowGraphBuilder();
  const unet = b.add('UNETLoader', { unet_name: FLUX_DEV.unet, weight_dtype: 'default' }, 'Load Diffusion Model');
  const clip = b.add(
    'DualCLIPLoader',
    { clip_name1: FLUX_DEV.clipL, clip_name2: FLUX_DEV.t5, type: 'flux', device: 'default' },
    'DualCLIPLoader',
  );
  const vae = b.add('VAELoader', { vae_name: FLUX_DEV.vae }, 'Load VAE');
  const patched = input.patchModel(b, b.out(unet), 'main');
  const model = b.add('ModelSamplingFlux', {
    max_shift: 1.15,
    base_shift: 0.5,
    width: input.width,
    height: input.height,
    model: patched,
  });
  const text = b.add('CLIPTextEncode', { text: input.positive, clip: b.out(clip) }, 'Positive Prompt');
  const guided = b.add('FluxGuidance', { guidance: FLUX_DEV.guidance, conditioning: b.out(text) });
  const negative = b.add('ConditioningZeroOut', { conditioning: b.out(text) }, 'Negative (zeroed)');
  const latent = b.add('EmptySD3LatentImage', { width: input.width, height: input.height, batch_size: 1 });
  const sampler = b.add('KSampler', {
    seed: input.seed,
    ...FLUX_DEV.sampler,
    denoise: 1,
    model: b.out(model),
    positive: b.out(guided),
    negative: b.out(negative),
    latent_image: b.out(latent),
  });
  const decode = b.add('VAEDecode', { samples: b.out(sampler), vae: b.out(vae) });
  const save = b.add('SaveImage', { filename_prefix: OUTPUT_PREFIX, images: b.out(decode) });
  return { workflow: b.build(), outputNodeIds: [save] };
}

/**
 * Wan 2.1 and Wan 2.2 text-to-image: the video models asked for a single frame
 * (EmptyHunyuanLatentVideo length 1), with the umt5 encoder through CLIPLoader type wan.
 * Wan 2.2 14B is two experts: the high-noise model denoises the first half of the schedule and
 * hands its latent (with leftover noise) to the low-noise model, each through its own
 * KSamplerAdvanced; each expert is patched on its own (its own LoRA file).
 */
interface Shared {
  b: WorkflowGraphBuilder;
  positive: Link;
  negative: Link;
  latent: Link;
  vae: Link;
}

function common(input: FamilyInput): Shared {
  const b = new WorkflowGraphBuilder();
  const clip = b.add('CLIPLoader', { clip_name: WAN.clip, type: 'wan', device: 'default' }, 'Load CLIP');
  const vae = b.add('VAELoader', { vae_name: WAN.vae }, 'Load VAE');
  const positive = b.add('CLIPTextEncode', { text: input.positive, clip: b.out(clip) }, 'Positive Prompt');
  const negative = b.add('CLIPTextEncode', { text: input.negative, clip: b.out(clip) }, 'Negative Prompt');
  const latent = b.add('EmptyHunyuanLatentVideo', { width: input.width, height: input.height, length: 1, batch_size: 1 });
  return { b, positive: b.out(positive), negative: b.out(negative), latent: b.out(latent), vae: b.out(vae) };
}

function finish(s: Shared, samples: Link): FamilyOutput {
  const decode = s.b.add('VAEDecode', { samples, vae: s.vae });
  const save = s.b.add('SaveImage', { filename_prefix: OUTPUT_PREFIX, images: s.b.out(decode) });
  return { workflow: s.b.build(), outputNodeIds: [save] };
}

function expertModel(s: Shared, input: FamilyInput, unetName: string, part: 'main' | 'high_noise' | 'low_noise', title: string): Link {
  const unet = s.b.add('UNETLoader', { unet_name: unetName, weight_dtype: 'default' }, title);
  const patched = input.patchModel(s.b, s.b.out(unet), part);
  return s.b.out(s.b.add('ModelSamplingSD3', { shift: WAN.shift, model: patched }));
}

export function buildWan21(input: FamilyInput): FamilyOutput {
  const s = common(input);
  const model = expertModel(s, input, WAN.wan21Unet, 'main', 'Load Diffusion Model');
  const sampler = s.b.add('KSampler', {
    seed: input.seed,
    ...WAN.wan21Sampler,
    denoise: 1,
    model,
    positive: s.positive,
    negative: s.negative,
    latent_image: s.latent,
  });
  return finish(s, s.b.out(sampler));
}

export function buildWan22(input: FamilyInput): FamilyOutput {
  const s = common(input);
  const high = expertModel(s, input, WAN.wan22HighUnet, 'high_noise', 'Load Diffusion Model (high noise)');
  const low = expertModel(s, input, WAN.wan22LowUnet, 'low_noise', 'Load Diffusion Model (low noise)');
  const { steps, switchAtStep, cfg, sampler_name, scheduler } = WAN.wan22Sampler;
  const common2 = { steps, cfg, sampler_name, scheduler, positive: s.positive, negative: s.negative };
  const first = s.b.add(
    'KSamplerAdvanced',
    {
      add_noise: 'enable',
      noise_seed: input.seed,
      ...common2,
      start_at_step: 0,
      end_at_step: switchAtStep,
      return_with_leftover_noise: 'enable',
      model: high,
      latent_image: s.latent,
    },
    'KSampler (high noise)',
  );
  const second = s.b.add(
    'KSamplerAdvanced',
    {
      add_noise: 'disable',
      noise_seed: 0,
      ...common2,
      start_at_step: switchAtStep,
      end_at_step: 10000,
      return_with_leftover_noise: 'disable',
      model: low,
      latent_image: s.b.out(first),
    },
    'KSampler (low noise)',
  );
  return finish(s, s.b.out(second));
}

/**
 * Qwen-Image: UNETLoader -> (patch) -> ModelSamplingAuraFlow -> KSampler, Qwen2.5-VL
 * through CLIPLoader type qwen_image; real negative prompt (cfg 2.5).
 */
export function buildQwenImage(input: FamilyInput): FamilyOutput {
  const b = new WorkflowGraphBuilder();
  const unet = b.add('UNETLoader', { unet_name: QWEN_IMAGE.unet, weight_dtype: 'default' }, 'Load Diffusion Model');
  const clip = b.add('CLIPLoader', { clip_name: QWEN_IMAGE.clip, type: 'qwen_image', device: 'default' }, 'Load CLIP');
  const vae = b.add('VAELoader', { vae_name: QWEN_IMAGE.vae }, 'Load VAE');
  const patched = input.patchModel(b, b.out(unet), 'main');
  const model = b.add('ModelSamplingAuraFlow', { shift: QWEN_IMAGE.shift, model: patched });
  const positive = b.add('CLIPTextEncode', { text: input.positive, clip: b.out(clip) }, 'Positive Prompt');
  // Qwen-Image's encoder is given a space rather than an empty string for an empty negative, as
  // ComfyUI's template does.
  const negative = b.add('CLIPTextEncode', { text: input.negative || ' ', clip: b.out(clip) }, 'Negative Prompt');
  const latent = b.add('EmptySD3LatentImage', { width: input.width, height: input.height, batch_size: 1 });
  const sampler = b.add('KSampler', {
    seed: input.seed,
    ...QWEN_IMAGE.sampler,
    denoise: 1,
    model: b.out(model),
    positive: b.out(positive),
    negative: b.out(negative),
    latent_image: b.out(latent),
  });
  const decode = b.add('VAEDecode', { samples: b.out(sampler), vae: b.out(vae) });
  const save = b.add('SaveImage', { filename_prefix: OUTPUT_PREFIX, images: b.out(decode) });
  return { workflow: b.build(), outputNodeIds: [save] };
}
