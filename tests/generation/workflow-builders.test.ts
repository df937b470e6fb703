/**
 * buildWorkflow for every base model x method: a valid graph with a model loader, a sampler, the
 * LoRA wired right after each loader with its file and strength, the trigger word first, PuLID for
 * FLUX face swap and a typed "unsupported" where no face-swap node exists.
 */
import { describe, expect, it } from 'vitest';
import { BASE_MODELS, type BaseModel } from '../../src/domain/base-models.js';
import type { ComfyWorkflow } from '../../src/generation/workflow/comfy-workflow.types.js';
import { FACE_SWAP_SUPPORT } from '../../src/generation/workflow/face-swap.builder.js';
import { loraFileNames } from '../../src/generation/workflow/lora-file-names.util.js';
import { injectLora } from '../../src/generation/workflow/lora-injection.service.js';
import type { BuildWorkflowRequest } from '../../src/generation/workflow/workflow-builder.types.js';
import { buildWorkflow } from '../../src/generation/workflow/workflow.builder.js';
import { expectValidGraph, modelPaths } from './workflow-test-kit.js';

const common = { prompt: 'a portrait in soft light', negativePrompt: 'blurry', seed: 42, width: 1024, height: 1024 };
const lora = (baseModel: BaseModel) => ({ fileNames: loraFileNames('lora_123', baseModel), strength: 0.9, triggerWord: 'ohwx' });

function build(request: BuildWorkflowRequest): { workflow: ComfyWorkflow; outputNodeIds: string[] } {
  const result = buildWorkflow(request);
  if (!result.ok) throw new Error(result.message);
  return result;
}

const LOADERS = new Set(['UNETLoader']);
const SAMPLERS = new Set(['KSampler', 'KSamplerAdvanced']);
const byClass = (wf: ComfyWorkflow, cls: string) => Object.entries(wf).filter(([, n]) => n.class_type === cls);
const samplers = (wf: ComfyWorkflow) => Object.entries(wf).filter(([, n]) => SAMPLERS.has(n.class_type));
const positiveText = (wf: ComfyWorkflow, samplerId: string): string => {
  let link = wf[samplerId]!.inputs.positive as [string, number];
  while (wf[link[0]]!.class_type !== 'CLIPTextEncode') link = wf[link[0]]!.inputs.conditioning as [string, number];
  return wf[link[0]]!.inputs.text as string;
};

describe.each(BASE_MODELS)('%s', (baseModel) => {
  it('plain: loader(s), sampler(s), the prompt as given, an image output, no LoRA', () => {
    const { workflow, outputNodeIds } = build({ ...common, baseModel, method: 'plain' });
    expectValidGraph(workflow);
    expect(Object.values(workflow).filter((n) => LOADERS.has(n.class_type))).toHaveLength(baseModel === 'wan22' ? 2 : 1);
    expect(samplers(workflow).length).toBeGreaterThan(0);
    for (const [id] of samplers(workflow)) expect(positiveText(workflow, id)).toBe(common.prompt);
    expect(outputNodeIds.map((id) => workflow[id]!.class_type)).toEqual(['SaveImage']);
    expect(byClass(workflow, 'LoraLoaderModelOnly')).toEqual([]);
  });

  it('lora: LoraLoaderModelOnly right after each loader on every sampler path, file and strength, trigger first', () => {
    const { workflow } = build({ ...common, baseModel, method: 'lora', lora: lora(baseModel) });
    expectValidGraph(workflow);
    const loraNodes = byClass(workflow, 'LoraLoaderModelOnly');
    expect(loraNodes).toHaveLength(baseModel === 'wan22' ? 2 : 1);
    for (const [, node] of loraNodes) {
      expect(workflow[(node.inputs.model as [string, number])[0]]!.class_type).toBe('UNETLoader');
      expect(node.inputs.strength_model).toBe(0.9);
    }
    for (const [id, node] of samplers(workflow)) {
      const paths = modelPaths(workflow, node.inputs.model);
      expect(paths).toHaveLength(1);
      const unet = workflow[paths[0]!.root]!.inputs.unet_name as string;
      const expected = baseModel !== 'wan22' ? 'lora_123.safetensors' : unet.includes('high_noise') ? 'lora_123_high_noise.safetensors' : 'lora_123_low_noise.safetensors';
      expect(paths[0]!.loras).toEqual([expected]);
      expect(positiveText(workflow, id)).toBe('ohwx, a portrait in soft light');
    }
  });

  it('lora: the same graph as injecting the LoRA into the plain one', () => {
    const plain = build({ ...common, baseModel, method: 'plain' }).workflow;
    const names = Object.entries(lora(baseModel).fileNames).map(([part, name]) => ({ name: name!, strength: 0.9, ...(part === 'main' ? {} : { part: part as 'high_noise' | 'low_noise' }) }));
    const injected = injectLora(plain, { loras: names, triggerWord: 'ohwx' });
    if (!injected.ok) throw new Error(injected.message);
    const built = build({ ...common, baseModel, method: 'lora', lora: lora(baseModel) }).workflow;
    const shape = (wf: ComfyWorkflow) =>
      samplers(wf).map(([id, n]) => ({ loras: modelPaths(wf, n.inputs.model).map((p) => p.loras), text: positiveText(wf, id) }));
    expect(shape(injected.workflow)).toEqual(shape(built));
  });

  it('faceswap: PuLID for FLUX with the reference face, a typed unsupported elsewhere', () => {
    const result = buildWorkflow({ ...common, baseModel, method: 'faceswap', referenceImage: 'face_ref_01.png' });
    if (baseModel !== 'flux-dev') {
      expect(result).toEqual({ ok: false, code: 'method_unsupported', message: expect.stringMatching(/^no face-swap node exists for/) });
      expect(FACE_SWAP_SUPPORT[baseModel].method).toBeNull();
      return;
    }
    if (!result.ok) throw new Error(result.message);
    const wf = result.workflow;
    expectValidGraph(wf);
    const source = (link: unknown) => wf[(link as [string, number])[0]]!;
    const [[applyId, apply]] = byClass(wf, 'ApplyPulidFlux') as [[string, ComfyWorkflow[string]]];
    expect(source(apply.inputs.image)).toMatchObject({ class_type: 'LoadImage', inputs: { image: 'face_ref_01.png' } });
    expect(source(apply.inputs.pulid_flux).class_type).toBe('PulidFluxModelLoader');
    expect(source(apply.inputs.eva_clip).class_type).toBe('PulidFluxEvaClipLoader');
    expect(source(apply.inputs.face_analysis).class_type).toBe('PulidFluxInsightFaceLoader');
    for (const [, node] of samplers(wf)) expect(modelPaths(wf, node.inputs.model)[0]!.nodes).toContain(applyId);
  });
});

describe('requests buildWorkflow turns down', () => {
  it('a Wan 2.2 LoRA without its low-noise file', () => {
    const result = buildWorkflow({ ...common, baseModel: 'wan22', method: 'lora', lora: { fileNames: { high_noise: 'x_high_noise.safetensors' }, strength: 1, triggerWord: 'ohwx' } });
    expect(result).toEqual({ ok: false, code: 'invalid_request', message: 'a Wan 2.2 LoRA needs its low_noise file' });
  });

  it('sizes ComfyUI latents cannot take, and negative seeds', () => {
    expect(buildWorkflow({ ...common, width: 1000, baseModel: 'flux-dev', method: 'plain' }).ok).toBe(false);
    expect(buildWorkflow({ ...common, seed: -1, baseModel: 'flux-dev', method: 'plain' }).ok).toBe(false);
  });

  it('does not double a trigger word the prompt already starts with', () => {
    const { workflow } = build({ ...common, prompt: 'ohwx, smiling', baseModel: 'qwen-image', method: 'lora', lora: lora('qwen-image') });
    expect(positiveText(workflow, samplers(workflow)[0]![0])).toBe('ohwx, smiling');
  });
});
