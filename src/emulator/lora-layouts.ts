/**
 * The tensors AI Toolkit saves in a character LoRA (network.type lora, transformer_only, no conv),
 * per arch, exactly as contracts/lora-formats.md §2 lists them: key names after AITK's per-arch
 * conversion, `lora_A` [rank, in] and `lora_B` [out, rank], no `.alpha`, and the
 * `ss_base_model_version` each model class reports.
 */

export type LoraArch = 'flux' | 'zimage' | 'wan21_14b' | 'wan21_1b' | 'wan22_14b' | 'qwen_image';

/** One saved file: Wan 2.2 14B writes a high-noise and a low-noise file, the others one. */
export type LoraFilePart = 'main' | 'high_noise' | 'low_noise';

export interface LoraModule {
  /** Key prefix of the module; the file holds `<name>.lora_A.weight` and `<name>.lora_B.weight`. */
  name: string;
  inFeatures: number;
  outFeatures: number;
}

export interface TensorSpec {
  name: string;
  shape: [number, number];
}

export const BASE_MODEL_VERSION: Record<LoraArch, string> = {
  flux: 'flux.1',
  zimage: 'zimage',
  wan21_14b: 'wan_2.1',
  wan21_1b: 'wan_2.1',
  wan22_14b: 'wan_2.2_14b',
  qwen_image: 'qwen_image',
};

function blocks(count: number, prefix: string, modules: Array<[string, number, number]>): LoraModule[] {
  const out: LoraModule[] = [];
  for (let i = 0; i < count; i++) {
    for (const [name, inF, outF] of modules) out.push({ name: `${prefix}.${i}.${name}`, inFeatures: inF, outFeatures: outF });
  }
  return out;
}

function fluxModules(): LoraModule[] {
  const d = 3072;
  const double: Array<[string, number, number]> = [
    ['norm1.linear', d, 6 * d],
    ['norm1_context.linear', d, 6 * d],
    ['attn.to_q', d, d],
    ['attn.to_k', d, d],
    ['attn.to_v', d, d],
    ['attn.add_q_proj', d, d],
    ['attn.add_k_proj', d, d],
    ['attn.add_v_proj', d, d],
    ['attn.to_out.0', d, d],
    ['attn.to_add_out', d, d],
    ['ff.net.0.proj', d, 4 * d],
    ['ff.net.2', 4 * d, d],
    ['ff_context.net.0.proj', d, 4 * d],
    ['ff_context.net.2', 4 * d, d],
  ];
  const single: Array<[string, number, number]> = [
    ['norm.linear', d, 3 * d],
    ['proj_mlp', d, 4 * d],
    ['proj_out', 5 * d, d],
    ['attn.to_q', d, d],
    ['attn.to_k', d, d],
    ['attn.to_v', d, d],
  ];
  return [...blocks(19, 'transformer.transformer_blocks', double), ...blocks(38, 'transformer.single_transformer_blocks', single)];
}

function zimageModules(): LoraModule[] {
  const d = 3840;
  const ffn = 10240;
  return blocks(30, 'diffusion_model.layers', [
    ['attention.to_q', d, d],
    ['attention.to_k', d, d],
    ['attention.to_v', d, d],
    ['attention.to_out.0', d, d],
    ['feed_forward.w1', d, ffn],
    ['feed_forward.w2', ffn, d],
    ['feed_forward.w3', d, ffn],
    ['adaLN_modulation.0', 256, 4 * d],
  ]);
}

function wanModules(count: number, d: number, ffn: number): LoraModule[] {
  return blocks(count, 'diffusion_model.blocks', [
    ['self_attn.q', d, d],
    ['self_attn.k', d, d],
    ['self_attn.v', d, d],
    ['self_attn.o', d, d],
    ['cross_attn.q', d, d],
    ['cross_attn.k', d, d],
    ['cross_attn.v', d, d],
    ['cross_attn.o', d, d],
    ['ffn.0', d, ffn],
    ['ffn.2', ffn, d],
  ]);
}

function qwenModules(): LoraModule[] {
  const d = 3072;
  return blocks(60, 'diffusion_model.transformer_blocks', [
    ['img_mod.1', d, 6 * d],
    ['txt_mod.1', d, 6 * d],
    ['attn.to_q', d, d],
    ['attn.to_k', d, d],
    ['attn.to_v', d, d],
    ['attn.add_q_proj', d, d],
    ['attn.add_k_proj', d, d],
    ['attn.add_v_proj', d, d],
    ['attn.to_out.0', d, d],
    ['attn.to_add_out', d, d],
    ['img_mlp.net.0.proj', d, 4 * d],
    ['img_mlp.net.2', 4 * d, d],
    ['txt_mlp.net.0.proj', d, 4 * d],
    ['txt_mlp.net.2', 4 * d, d],
  ]);
}

const cache = new Map<LoraArch, LoraModule[]>();

/** The LoRA modules of one file of `arch` (for Wan 2.2, of each of its two files). */
export function loraModules(arch: LoraArch): LoraModule[] {
  let mods = cache.get(arch);
  if (!mods) {
    switch (arch) {
      case 'flux':
        mods = fluxModules();
        break;
      case 'zimage':
        mods = zimageModules();
        break;
      case 'wan21_14b':
      case 'wan22_14b':
        mods = wanModules(40, 5120, 13824);
        break;
      case 'wan21_1b':
        mods = wanModules(30, 1536, 8960);
        break;
      case 'qwen_image':
        mods = qwenModules();
        break;
    }
    cache.set(arch, mods);
  }
  return mods;
}

/**
 * Tensors of one saved file. `stagePrefix` re-inserts Wan 2.2's `transformer_1.`/`transformer_2.`
 * to describe the combined dict AITK hashes before splitting it.
 */
export function loraTensors(arch: LoraArch, rank: number, stagePrefix?: string): TensorSpec[] {
  const out: TensorSpec[] = [];
  for (const m of loraModules(arch)) {
    const name = stagePrefix ? m.name.replace(/^diffusion_model\./, `diffusion_model.${stagePrefix}.`) : m.name;
    out.push({ name: `${name}.lora_A.weight`, shape: [rank, m.inFeatures] });
    out.push({ name: `${name}.lora_B.weight`, shape: [m.outFeatures, rank] });
  }
  return out;
}
