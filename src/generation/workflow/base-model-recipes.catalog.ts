/**
 * Model files and sampler settings per base model, as the Comfy-Org repackaged releases name the
 * files and as ComfyUI's own templates sample them (Comfy-Org/workflow_templates; the Z-Image
 * Turbo, FLUX.1-dev, Wan 2.1/2.2 and Qwen-Image text-to-image graphs). Operators who keep other
 * files can rename them here; nothing else names a model file.
 */

export const ZIMAGE_TURBO = {
  unet: 'z_image_turbo_bf16.safetensors',
  clip: 'qwen_3_4b.safetensors',
  clipType: 'lumina2',
  vae: 'ae.safetensors',
  shift: 3,
  // Turbo is distilled for 8 steps at cfg 1: the negative prompt has no effect and is zeroed.
  sampler: { steps: 8, cfg: 1, sampler_name: 'euler', scheduler: 'simple' },
} as const;

export const FLUX_DEV = {
  unet: 'flux1-dev.safetensors',
  clipL: 'clip_l.safetensors',
  t5: 't5xxl_fp16.safetensors',
  vae: 'ae.safetensors',
  guidance: 3.5,
  // FLUX.1-dev is guidance-distilled: cfg 1 and FluxGuidance; a negative prompt has no effect.
  sampler: { steps: 20, cfg: 1, sampler_name: 'euler', scheduler: 'simple' },
} as const;

export const WAN = {
  wan21Unet: 'wan2.1_t2v_14B_fp8_e4m3fn.safetensors',
  wan22HighUnet: 'wan2.2_t2v_high_noise_14B_fp8_scaled.safetensors',
  wan22LowUnet: 'wan2.2_t2v_low_noise_14B_fp8_scaled.safetensors',
  clip: 'umt5_xxl_fp8_e4m3fn_scaled.safetensors',
  vae: 'wan_2.1_vae.safetensors',
  shift: 8,
  wan21Sampler: { steps: 30, cfg: 6, sampler_name: 'uni_pc', scheduler: 'simple' },
  // Wan 2.2: the high-noise expert runs the first half of the schedule, the low-noise one the rest.
  wan22Sampler: { steps: 20, switchAtStep: 10, cfg: 3.5, sampler_name: 'euler', scheduler: 'simple' },
} as const;

export const QWEN_IMAGE = {
  unet: 'qwen_image_fp8_e4m3fn.safetensors',
  clip: 'qwen_2.5_vl_7b_fp8_scaled.safetensors',
  vae: 'qwen_image_vae.safetensors',
  shift: 3.1,
  sampler: { steps: 20, cfg: 2.5, sampler_name: 'euler', scheduler: 'simple' },
} as const;

/** PuLID for FLUX (ComfyUI-PuLID-Flux): weights and the face analyser's execution provider. */
export const PULID_FLUX = {
  pulidFile: 'pulid_flux_v0.9.1.safetensors',
  insightFaceProvider: 'CUDA',
  weight: 1,
  startAt: 0,
  endAt: 1,
} as const;

export const OUTPUT_PREFIX = 'likeness';
