/**
 * What Likeness knows about ComfyUI node classes, core and custom: which nodes load a base model
 * (and which LoRA node goes after each), which sample, which encode prompts, which carry prompt text.
 * Class and input names are the public node packs' own (ComfyUI core, ComfyUI-GGUF, ComfyUI-nunchaku,
 * ComfyUI-WanVideoWrapper, rgthree-comfy, ComfyUI-PuLID-Flux, ComfyUI_InstantID, ComfyUI-Lora-Manager).
 * Unknown nodes are handled by rules (a node with a `model` input passes the model through), so a
 * graph full of custom nodes still works; only unknown *loaders* and *encoders* are refused.
 */
import type { ComfyNode } from './comfy-workflow.types.js';
import { isLink } from './comfy-workflow.types.js';

/** How a LoRA is attached after a model loader. */
export type LoraAttachment =
  | 'model-only' // LoraLoaderModelOnly on the MODEL output
  | 'model-clip' // LoraLoader on MODEL (output 0) and CLIP (output 1) of a checkpoint
  | 'nunchaku-flux' // NunchakuFluxLoraLoader on the MODEL output
  | 'wanvideo'; // WanVideoLoraSelect into the loader's own `lora` input

export const MODEL_LOADERS: Readonly<Record<string, LoraAttachment>> = {
  UNETLoader: 'model-only',
  UnetLoaderGGUF: 'model-only',
  UnetLoaderGGUFAdvanced: 'model-only',
  LoaderGGUF: 'model-only',
  UNETLoaderMultiGPU: 'model-only',
  UnetLoaderGGUFMultiGPU: 'model-only',
  UnetLoaderGGUFDisTorchMultiGPU: 'model-only',
  DiffusionModelLoaderKJ: 'model-only',
  CheckpointLoaderSimple: 'model-clip',
  CheckpointLoader: 'model-clip',
  CheckpointLoaderSimpleMultiGPU: 'model-clip',
  NunchakuFluxDiTLoader: 'nunchaku-flux',
  WanVideoModelLoader: 'wanvideo',
};

/** Loaders with no LoRA node at all: refusing beats a LoRA that silently does nothing. */
export const LOADERS_WITHOUT_LORA: Readonly<Record<string, string>> = {
  NunchakuQwenImageDiTLoader: 'no LoRA loader exists for Nunchaku Qwen-Image models',
};

/** Inputs that name the weights file a loader reads (for refiner and Wan 2.2 expert detection). */
const MODEL_FILE_INPUTS = ['unet_name', 'ckpt_name', 'model_path', 'model_name', 'model'];

export function modelFileName(node: ComfyNode): string | undefined {
  for (const input of MODEL_FILE_INPUTS) {
    const value = node.inputs[input];
    if (typeof value === 'string' && value.length > 0) return value;
  }
  return undefined;
}

/**
 * Inputs through which a node receives a MODEL it passes on (ModelSamplingFlux.model, rgthree's
 * Power Lora Loader.model, ModelMergeSimple.model1/model2 ...). The wrapper's graphs use `model` too.
 */
export function modelPassInputs(node: ComfyNode): string[] {
  return Object.keys(node.inputs).filter((name) => /^model\d*$/.test(name) && isLink(node.inputs[name]));
}

/** A sampler or guider: where a model meets its conditioning. */
export interface SamplerSpec {
  model: string;
  positive: string[];
  negative: string[];
  /** Inputs that carry both prompts at once (WanVideoWrapper's text_embeds). */
  mixed: string[];
}

const SAMPLERS: Readonly<Record<string, SamplerSpec>> = {
  KSampler: { model: 'model', positive: ['positive'], negative: ['negative'], mixed: [] },
  KSamplerAdvanced: { model: 'model', positive: ['positive'], negative: ['negative'], mixed: [] },
  SamplerCustom: { model: 'model', positive: ['positive'], negative: ['negative'], mixed: [] },
  CFGGuider: { model: 'model', positive: ['positive'], negative: ['negative'], mixed: [] },
  BasicGuider: { model: 'model', positive: ['conditioning'], negative: [], mixed: [] },
  DualCFGGuider: { model: 'model', positive: ['cond1', 'cond2'], negative: ['negative'], mixed: [] },
  PerpNegGuider: { model: 'model', positive: ['positive'], negative: ['negative', 'empty_conditioning'], mixed: [] },
  WanVideoSampler: { model: 'model', positive: [], negative: [], mixed: ['text_embeds'] },
};

/** Nodes that read a model and both prompts but only patch them for the real sampler downstream. */
const NOT_SAMPLERS = new Set(['ApplyInstantID', 'ApplyInstantIDAdvanced']);

/**
 * The sampler spec for a node, from the table or, for custom samplers (RES4LYF's ClownsharKSampler,
 * AdaptiveGuidance ...), from the ComfyUI convention of `model` + `positive` (+ `negative`) inputs.
 */
export function samplerSpec(node: ComfyNode): SamplerSpec | null {
  const known = SAMPLERS[node.class_type];
  if (known) return isLink(node.inputs[known.model]) ? known : null;
  if (NOT_SAMPLERS.has(node.class_type)) return null;
  if (isLink(node.inputs.model) && isLink(node.inputs.positive)) {
    return { model: 'model', positive: ['positive'], negative: isLink(node.inputs.negative) ? ['negative'] : [], mixed: [] };
  }
  return null;
}

/** A text encoder: the fields that hold prompt text, and, for two-prompt nodes, the negative ones. */
export interface EncoderSpec {
  fields: string[];
  negativeFields: string[];
}

const enc = (fields: string[], negativeFields: string[] = []): EncoderSpec => ({ fields, negativeFields });

export const TEXT_ENCODERS: Readonly<Record<string, EncoderSpec>> = {
  CLIPTextEncode: enc(['text']),
  CLIPTextEncodeFlux: enc(['clip_l', 't5xxl']),
  CLIPTextEncodeSDXL: enc(['text_g', 'text_l']),
  CLIPTextEncodeSDXLRefiner: enc(['text']),
  CLIPTextEncodeSD3: enc(['clip_l', 'clip_g', 't5xxl']),
  CLIPTextEncodeHiDream: enc(['clip_l', 'clip_g', 't5xxl', 'llama']),
  CLIPTextEncodeLumina2: enc(['user_prompt']),
  CLIPTextEncodeHunyuanDiT: enc(['bert', 'mt5xl']),
  TextEncodeQwenImageEdit: enc(['prompt']),
  TextEncodeQwenImageEditPlus: enc(['prompt']),
  WanVideoTextEncode: enc(['positive_prompt'], ['negative_prompt']),
  WanVideoTextEncodeCached: enc(['positive_prompt'], ['negative_prompt']),
  WanVideoTextEncodeSingle: enc(['prompt']),
  'smZ CLIPTextEncode': enc(['text']),
  BNK_CLIPTextEncodeAdvanced: enc(['text']),
};

/** Conditioning that is discarded: what feeds it is neither positive nor negative text. */
export const DISCARDING_CONDITIONING = new Set(['ConditioningZeroOut']);

/**
 * Multi-output conditioning nodes whose outputs are not (positive, negative, ...). The convention
 * (ControlNetApplyAdvanced, InstructPixToPixConditioning, WanImageToVideo ...) is output 0 = the
 * `positive` input transformed, output 1 = the `negative` one.
 */
const CONDITIONING_OUTPUTS: Readonly<Record<string, Readonly<Record<number, 'positive' | 'negative'>>>> = {
  ApplyInstantID: { 1: 'positive', 2: 'negative' },
  ApplyInstantIDAdvanced: { 1: 'positive', 2: 'negative' },
};

export function conditioningOutputSide(node: ComfyNode, outputIndex: number): 'positive' | 'negative' | null {
  const table = CONDITIONING_OUTPUTS[node.class_type];
  if (table) return table[outputIndex] ?? null;
  if (outputIndex === 0) return 'positive';
  if (outputIndex === 1) return 'negative';
  return null;
}

/** Inputs that never carry conditioning; not followed when tracing prompts (faster, and safer). */
export const NON_CONDITIONING_INPUTS = new Set([
  'model', 'clip', 'vae', 'clip_vision', 'clip_vision_output', 'control_net', 'style_model', 'image', 'images',
  'pixels', 'samples', 'latent', 'latent_image', 'mask', 'attn_mask', 'noise', 'sampler', 'sigmas', 'upscale_model',
  't5', 'start_image', 'end_image', 'ipadapter', 'insightface', 'instantid', 'faceanalysis', 'face_analysis',
]);

/** Nodes that join strings with their first part first: the trigger goes into that part. */
export const STRING_JOINERS: Readonly<Record<string, string>> = {
  StringConcatenate: 'string_a',
};

/**
 * The field of a string source node that holds its text: a node with no links and exactly one string
 * literal (PrimitiveString.value, PrimitiveStringMultiline.value, Textbox.text, "Text Multiline".text,
 * "CR Text".text ...). Null for computed strings (switches, generators, translators).
 */
export function literalStringField(node: ComfyNode): string | null {
  const entries = Object.entries(node.inputs);
  if (entries.some(([, value]) => isLink(value))) return null;
  const strings = entries.filter(([, value]) => typeof value === 'string');
  return strings.length === 1 ? strings[0]![0] : null;
}

/** LoRA files a node already applies, so injecting twice does not apply the character's LoRA twice. */
export function loraNamesOnNode(node: ComfyNode): string[] {
  const inputs = node.inputs;
  switch (node.class_type) {
    case 'LoraLoader':
    case 'LoraLoaderModelOnly':
    case 'NunchakuFluxLoraLoader':
      return typeof inputs.lora_name === 'string' ? [inputs.lora_name] : [];
    case 'WanVideoLoraSelect':
      return typeof inputs.lora === 'string' ? [inputs.lora] : [];
    case 'Power Lora Loader (rgthree)':
      return Object.entries(inputs)
        .filter(([key]) => /^lora_\d+$/.test(key))
        .map(([, value]) => value as { on?: unknown; lora?: unknown })
        .filter((slot) => slot && slot.on === true && typeof slot.lora === 'string')
        .map((slot) => slot.lora as string);
    case 'Lora Loader Stack (rgthree)':
      return Object.entries(inputs)
        .filter(([key, value]) => /^lora_\d+$/.test(key) && typeof value === 'string' && value !== 'None')
        .map(([, value]) => value as string);
    case 'Lora Loader (LoraManager)': {
      // ComfyUI-Lora-Manager keeps {name, active} entries without the file extension.
      const entries = (inputs.loras as { __value__?: unknown } | undefined)?.__value__;
      if (!Array.isArray(entries)) return [];
      return entries
        .filter((e): e is { name: string; active?: unknown } => typeof e?.name === 'string' && e.active !== false)
        .map((e) => (/\.(safetensors|ckpt|pt|pth|bin)$/i.test(e.name) ? e.name : `${e.name}.safetensors`));
    }
    default:
      return [];
  }
}
