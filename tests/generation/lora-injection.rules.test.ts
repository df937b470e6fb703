/**
 * injectLora rule by rule, on real fixtures and on small variations of them (a node class swapped,
 * a text moved into a primitive) where no public workflow shows the case by itself.
 */
import { describe, expect, it } from 'vitest';
import type { ComfyWorkflow } from '../../src/generation/workflow/comfy-workflow.types.js';
import { injectOptionsFromNames } from '../../src/generation/workflow/inject.schema.js';
import { formatInjectionChanges } from '../../src/generation/workflow/injection-changes.format.js';
import { injectLora } from '../../src/generation/workflow/lora-injection.service.js';
import type { InjectLoraOptions, InjectionResult } from '../../src/generation/workflow/lora-injection.types.js';
import { expectOnlyRecordedChanges, expectValidGraph, loadWorkflow, modelPaths } from './workflow-test-kit.js';

const one = (name = 'char.safetensors', strength = 1): InjectLoraOptions => ({ loras: [{ name, strength }], triggerWord: 'ohwx' });

function ok(result: InjectionResult) {
  if (!result.ok) throw new Error(`refused: ${result.message}`);
  return result;
}

function refusal(result: InjectionResult): string {
  if (result.ok) throw new Error('expected a refusal');
  expect(result.code).toBe('workflow_unsupported');
  return result.message;
}

const wan22 = () => loadWorkflow('fixture', 'comfy-templates-wan22-14b-t2v.api.json');
const wan22Options = injectOptionsFromNames(['char_high_noise.safetensors', 'char_low_noise.safetensors'], 0.9, 'ohwx');

describe('Wan 2.2: each expert gets its own file', () => {
  it('puts the high-noise file on the high-noise loader and the low-noise file on the low-noise one', () => {
    const { workflow } = ok(injectLora(wan22(), wan22Options));
    const lorasOf = (samplerId: string) => modelPaths(workflow, workflow[samplerId]!.inputs.model);
    expect(lorasOf('57')).toEqual([expect.objectContaining({ root: '37', loras: ['char_high_noise.safetensors'] })]);
    expect(lorasOf('58')).toEqual([expect.objectContaining({ root: '56', loras: ['char_low_noise.safetensors'] })]);
  });

  it('tells the experts apart by sampling order when the file names do not', () => {
    const wf = wan22();
    wf['37']!.inputs.unet_name = 'expert_a.safetensors';
    wf['56']!.inputs.unet_name = 'expert_b.safetensors';
    const { workflow, changes } = ok(injectLora(wf, wan22Options));
    expect(changes.loaders.map((l) => [l.nodeId, l.role])).toEqual([['37', 'high_noise'], ['56', 'low_noise']]);
    expect(modelPaths(workflow, workflow['57']!.inputs.model)[0]!.loras).toEqual(['char_high_noise.safetensors']);
  });

  it('refuses a two-file LoRA for a graph with one model loader', () => {
    const message = refusal(injectLora(loadWorkflow('fixture', 'comfy-templates-qwen-image.api.json'), wan22Options));
    expect(message).toMatch(/one model loader.*high-noise and low-noise/);
  });

  it('gives a single-file LoRA to both experts', () => {
    const { changes } = ok(injectLora(wan22(), one()));
    expect(changes.loaders.filter((l) => l.action === 'lora_added').map((l) => l.nodeId)).toEqual(['37', '56']);
  });

  it('leaves an expert without a file for it alone', () => {
    const { changes } = ok(injectLora(wan22(), injectOptionsFromNames(['char_high_noise.safetensors'], 1, 'ohwx')));
    expect(changes.loaders.map((l) => `${l.nodeId}:${l.action}`)).toEqual(['37:lora_added', '56:skipped_other_expert']);
  });

  it('gives each WanVideoWrapper expert loader its own WanVideoLoraSelect', () => {
    const wf = loadWorkflow('fixture', 'kijai-wanvideo-t2v-example.api.json');
    wf['22']!.inputs.model = 'WanVideo/Wan2_2-T2V-A14B-HIGH_fp8_e4m3fn_scaled_KJ.safetensors';
    wf['122'] = { class_type: 'WanVideoModelLoader', inputs: { ...wf['22']!.inputs, model: 'WanVideo/Wan2_2-T2V-A14B-LOW_fp8_e4m3fn_scaled_KJ.safetensors' } };
    wf['127'] = { class_type: 'WanVideoSampler', inputs: { ...wf['27']!.inputs, model: ['122', 0], samples: ['27', 0] } };
    wf['28']!.inputs.samples = ['127', 0];
    const { workflow } = ok(injectLora(wf, wan22Options));
    const chainOf = (loaderId: string) => workflow[(workflow[loaderId]!.inputs.lora as [string, number])[0]]!.inputs.lora;
    expect(chainOf('22')).toBe('char_high_noise.safetensors');
    expect(chainOf('122')).toBe('char_low_noise.safetensors');
    expect(workflow['16']!.inputs.positive_prompt).toMatch(/^ohwx, high quality nature video/);
  });
});

describe('loader families', () => {
  it('rewires MODEL and CLIP of a checkpoint through one LoraLoader', () => {
    const { workflow, changes } = ok(injectLora(loadWorkflow('fixture', 'salad-sd15-txt2img.api.json'), one('c.safetensors', 0.7)));
    const [added] = changes.addedNodes;
    expect(workflow[added!.nodeId]).toMatchObject({
      class_type: 'LoraLoader',
      inputs: { lora_name: 'c.safetensors', strength_model: 0.7, strength_clip: 0.7, model: ['4', 0], clip: ['4', 1] },
    });
    expect(workflow['3']!.inputs.model).toEqual([added!.nodeId, 0]);
    expect(workflow['6']!.inputs.clip).toEqual([added!.nodeId, 1]);
    expect(workflow['7']!.inputs.clip).toEqual([added!.nodeId, 1]);
    expect(workflow['8']!.inputs.vae).toEqual(['4', 2]);
  });

  it('appends to an existing WanVideoLoraSelect chain without dropping it', () => {
    const wf = loadWorkflow('fixture', 'kijai-wanvideo-t2v-example.api.json');
    wf['90'] = { class_type: 'WanVideoLoraSelect', inputs: { lora: 'style.safetensors', strength: 0.5 } };
    wf['22']!.inputs.lora = ['90', 0];
    const { workflow, changes } = ok(injectLora(wf, one()));
    const select = workflow[(workflow['22']!.inputs.lora as [string, number])[0]]!;
    expect(select.inputs).toEqual({ lora: 'char.safetensors', strength: 1, prev_lora: ['90', 0] });
    expect(workflow['90']).toEqual(wf['90']);
    expect(changes.rewired).toEqual([{ nodeId: '22', input: 'lora', from: ['90', 0], to: [changes.addedNodes[0]!.nodeId, 0] }]);
  });

  it('chains several LoRAs in the order given', () => {
    const options: InjectLoraOptions = { loras: [{ name: 'a.safetensors', strength: 1 }, { name: 'b.safetensors', strength: 0.5 }], triggerWord: 'ohwx' };
    const { workflow } = ok(injectLora(loadWorkflow('fixture', 'comfy-templates-qwen-image.api.json'), options));
    expect(modelPaths(workflow, workflow['3']!.inputs.model)[0]!.loras).toEqual(['b.safetensors', 'a.safetensors']);
  });

  it('sees a LoRA that ComfyUI-Lora-Manager already applies, and only when it is active', () => {
    const wf = loadWorkflow('fixture', 'mimpi-zimage-turbo-hires.api.json');
    const active = ok(injectLora(wf, one('REDZ15_DetailDaemonZ_lora_v1.1.safetensors')));
    expect(active.changes.loaders.map((l) => l.action)).toEqual(['lora_already_present']);
    expect(active.changes.addedNodes).toEqual([]);
    const inactive = ok(injectLora(wf, one('Kook_Zimage_Turbo.safetensors')));
    expect(inactive.changes.loaders.map((l) => l.action)).toEqual(['lora_added']);
  });

  it('refuses a model loader it has no LoRA node for, naming it', () => {
    const wf = loadWorkflow('fixture', 'salad-sd15-txt2img.api.json');
    wf['4']!.class_type = 'CheckpointLoaderNF4';
    expect(refusal(injectLora(wf, one()))).toBe(
      'the model of sampler 3 comes from node 4 (CheckpointLoaderNF4), which is not a model loader Likeness can put a LoRA after',
    );
  });
});

describe('trigger word', () => {
  it('does not double a prompt that already starts with it, but does prefix a longer word', () => {
    const wf = loadWorkflow('fixture', 'salad-sd15-txt2img.api.json');
    wf['6']!.inputs.text = '  ohwx, a portrait';
    expect(ok(injectLora(wf, one())).workflow['6']!.inputs.text).toBe('  ohwx, a portrait');
    wf['6']!.inputs.text = 'ohwxman portrait';
    expect(ok(injectLora(wf, one())).workflow['6']!.inputs.text).toBe('ohwx, ohwxman portrait');
  });

  it('edits both fields of CLIPTextEncodeFlux', () => {
    const wf = loadWorkflow('fixture', 'salad-flux-schnell-checkpoint.api.json');
    wf['6'] = { class_type: 'CLIPTextEncodeFlux', inputs: { clip_l: 'a cat', t5xxl: 'a cat on a mat', guidance: 3.5, clip: ['30', 1] } };
    const { workflow } = ok(injectLora(wf, one()));
    expect(workflow['6']!.inputs).toMatchObject({ clip_l: 'ohwx, a cat', t5xxl: 'ohwx, a cat on a mat' });
    expect(workflow['33']!.inputs.text).toBe('');
  });

  it('edits TextEncodeQwenImageEditPlus.prompt, not the negative one', () => {
    const wf = loadWorkflow('fixture', 'nunchaku-qwen-image-edit-2509.api.json');
    wf['115'] = { class_type: 'UNETLoader', inputs: { unet_name: 'qwen_image_edit_2509_fp8_e4m3fn.safetensors', weight_dtype: 'default' } };
    const before = structuredClone(wf);
    const { workflow } = ok(injectLora(wf, one()));
    expect(workflow['111']!.inputs.prompt).toBe(`ohwx, ${before['111']!.inputs.prompt as string}`);
    expect(workflow['110']!.inputs.prompt).toBe('');
  });

  it('edits an upstream primitive once, however many encoders read it', () => {
    const wf = loadWorkflow('fixture', 'salad-sd15-parallel-3.api.json');
    wf['90'] = { class_type: 'PrimitiveStringMultiline', inputs: { value: 'a beautiful girl' } };
    for (const id of ['22', '30', '37']) wf[id]!.inputs.text = ['90', 0];
    const { workflow, changes } = ok(injectLora(wf, one()));
    expect(workflow['90']!.inputs.value).toBe('ohwx, a beautiful girl');
    for (const id of ['22', '30', '37']) expect(workflow[id]!.inputs.text).toEqual(['90', 0]);
    expect(changes.prompts).toEqual([
      { nodeId: '90', classType: 'PrimitiveStringMultiline', field: 'value', action: 'prepended', forEncoders: ['22', '30', '37'] },
    ]);
  });

  it('joins the trigger before text computed at run time (a switch between prompt sources)', () => {
    const before = loadWorkflow('fixture', 'mimpi-sdxl-power-lora-cfgguider.api.json');
    const { workflow, changes } = ok(injectLora(before, one()));
    const joinId = (workflow['178:2']!.inputs.text as [string, number])[0];
    expect(workflow[joinId]).toMatchObject({
      class_type: 'StringConcatenate',
      inputs: { string_a: 'ohwx', string_b: ['178:1', 0], delimiter: ', ' },
    });
    expect(workflow['178:0']).toEqual(before['178:0']);
    expectOnlyRecordedChanges(before, workflow, changes);
  });

  it('refuses a text that feeds both a positive and a negative prompt', () => {
    const wf = loadWorkflow('fixture', 'salad-sd15-txt2img.api.json');
    wf['90'] = { class_type: 'PrimitiveString', inputs: { value: 'shared text' } };
    wf['6']!.inputs.text = ['90', 0];
    wf['7']!.inputs.text = ['90', 0];
    expect(refusal(injectLora(wf, one()))).toMatch(/node 90 \(PrimitiveString\) is used by a positive prompt and by the negative prompt of node 7/);
  });

  it('follows multi-output conditioning nodes to the right side (InstructPixToPixConditioning outputs 0 and 1)', () => {
    const wf = loadWorkflow('fixture', 'nunchaku-flux1-canny-lora.api.json');
    wf['90'] = { class_type: 'PrimitiveString', inputs: { value: 'shared text' } };
    wf['23']!.inputs.text = ['90', 0];
    wf['7']!.inputs.text = ['90', 0];
    expect(refusal(injectLora(wf, one()))).toMatch(/negative prompt of node 7 \(CLIPTextEncode\)/);
    wf['7']!.inputs.text = 'low quality';
    const { workflow } = ok(injectLora(wf, one()));
    expect(workflow['90']!.inputs.value).toBe('ohwx, shared text');
    expect(workflow['7']!.inputs.text).toBe('low quality');
  });

  it('refuses an encoder wired into both the positive and the negative input', () => {
    const wf = loadWorkflow('fixture', 'salad-sd15-txt2img.api.json');
    wf['3']!.inputs.negative = ['6', 0];
    expect(refusal(injectLora(wf, one()))).toMatch(/node 6 \(CLIPTextEncode\) feeds both the positive and the negative/);
  });

  it('refuses a positive prompt encoded by a node it does not know', () => {
    const wf = loadWorkflow('fixture', 'salad-sd15-txt2img.api.json');
    wf['6']!.class_type = 'FancyPromptEncoder';
    expect(refusal(injectLora(wf, one()))).toMatch(/node 6 \(FancyPromptEncoder\) encodes a prompt for sampler 3/);
  });
});

describe('graphs that cannot be injected', () => {
  const sd15 = () => loadWorkflow('fixture', 'salad-sd15-txt2img.api.json');
  it.each<[string, () => unknown, RegExp]>([
    ['an editor-format workflow', () => ({ nodes: [], links: [] }), /editor \(UI-format\) workflow/],
    ['a non-object', () => [1, 2], /not an API-format ComfyUI workflow/],
    ['a node without class_type', () => ({ 1: { inputs: {} } }), /node 1 has no class_type/],
    ['a dangling link', () => ({ ...sd15(), 3: { ...sd15()['3']!, inputs: { ...sd15()['3']!.inputs, model: ['99', 0] } } }), /node 3 reads its model input from node 99, which does not exist/],
    ['a cycle', () => ({ ...sd15(), 4: { class_type: 'CheckpointLoaderSimple', inputs: { ckpt_name: 'x', loop: ['8', 0] } } }), /cycle/],
    ['no sampler', () => ({ 1: { class_type: 'UNETLoader', inputs: { unet_name: 'x' } } }), /no sampler or guider/],
  ])('refuses %s', (_name, make, message) => {
    expect(refusal(injectLora(make(), one()))).toMatch(message);
  });
});

describe('purity and reporting', () => {
  it('never mutates its input', () => {
    const wf = loadWorkflow('fixture', 'mimpi-zimage-turbo-hires.api.json');
    const copy = structuredClone(wf);
    ok(injectLora(Object.freeze(wf), one()));
    expect(wf).toEqual(copy);
  });

  it('explains loaders, added nodes, rewires and prompts', () => {
    const { changes, workflow } = ok(injectLora(loadWorkflow('fixture', 'salad-sdxl-txt2img-with-refiner.api.json'), one()));
    expectValidGraph(workflow);
    const lines = formatInjectionChanges(changes);
    expect(lines).toEqual([
      'loader 4 (CheckpointLoaderSimple, sd_xl_base_1.0.safetensors): adds char.safetensors',
      'loader 12 (CheckpointLoaderSimple, sd_xl_refiner_1.0.safetensors) [refiner]: refiner, a different architecture, left without the LoRA',
      'added 20 (LoraLoader) char.safetensors at strength 1, after node 4 output 0',
      'rewired 10.model: [4, 0] -> [20, 0]',
      'rewired 6.clip: [4, 1] -> [20, 1]',
      'rewired 7.clip: [4, 1] -> [20, 1]',
      'prompt 6.text (CLIPTextEncode): trigger word prepended',
    ]);
  });
});
