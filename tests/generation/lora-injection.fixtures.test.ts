/**
 * injectLora on real public workflows (tests/fixtures/workflows, cited in its README, and the
 * shared set in ../shared/data/workflows, read in place): every rule of issue 11's "What correct
 * means", one expectation row per workflow.
 */
import { describe, expect, it } from 'vitest';
import type { ComfyWorkflow } from '../../src/generation/workflow/comfy-workflow.types.js';
import { injectLora } from '../../src/generation/workflow/lora-injection.service.js';
import {
  expectOnlyRecordedChanges,
  expectValidGraph,
  fixtureFiles,
  loadWorkflow,
  modelPaths,
  sharedAvailable,
} from './workflow-test-kit.js';

const LORA = 'likeness_char_7f3a.safetensors';
const TRIGGER = 'ohwx';

interface Row {
  file: string;
  source: 'fixture' | 'shared';
  family: 'FLUX' | 'FLUX GGUF' | 'Nunchaku FLUX' | 'Z-Image Turbo' | 'Qwen-Image' | 'Wan 2.1' | 'Wan 2.2' | 'WanVideoWrapper' | 'SDXL' | 'SD1.5' | 'HiDream';
  /** Loader ids that must carry the LoRA, and the LoRA node class expected after them. */
  loaders?: string[];
  loraClass?: string;
  /** Loaders that must stay without it (refiners). */
  untouchedLoaders?: string[];
  /** "node.field" texts that must start with the trigger word after injection. */
  positive?: string[];
  /** "node.field" texts that must not change. */
  unchanged?: string[];
  /** Nodes that must stay on the model path between loader and sampler. */
  between?: string[];
  /** LoRA files already in the graph that must stay on every path, in order. */
  existingLoras?: string[];
  refusal?: RegExp;
}

const ROWS: Row[] = [
  { file: 'nunchaku-flux1-dev.api.json', source: 'fixture', family: 'Nunchaku FLUX', loaders: ['45'], loraClass: 'NunchakuFluxLoraLoader', positive: ['6.text'], between: ['30', '46', '47'], existingLoras: ['flux.1-dev-ghibsky.safetensors', 'flux.1-turbo-alpha.safetensors'] },
  { file: 'nunchaku-flux1-dev-pulid.api.json', source: 'fixture', family: 'Nunchaku FLUX', loaders: ['50'], loraClass: 'NunchakuFluxLoraLoader', positive: ['6.text'], between: ['30', '52', '53'] },
  { file: 'nunchaku-flux1-canny-lora.api.json', source: 'fixture', family: 'Nunchaku FLUX', loaders: ['42'], loraClass: 'NunchakuFluxLoraLoader', positive: ['23.text'], unchanged: ['7.text'], between: ['43'], existingLoras: ['flux.1-canny-dev-lora.safetensors'] },
  { file: 'nunchaku-flux1-kontext-dev-turbo-lora.api.json', source: 'fixture', family: 'Nunchaku FLUX', loaders: ['22'], loraClass: 'NunchakuFluxLoraLoader', positive: ['25.text'], between: ['26'], existingLoras: ['flux.1-turbo-alpha.safetensors'] },
  { file: 'nunchaku-flux1-dev-controlnet-union-pro2.api.json', source: 'fixture', family: 'Nunchaku FLUX', loaders: ['26'], loraClass: 'NunchakuFluxLoraLoader', positive: ['1.text'], unchanged: ['18.text'], between: ['11'] },
  { file: 'nunchaku-flux1-redux-dev.api.json', source: 'fixture', family: 'Nunchaku FLUX', loaders: ['45'], loraClass: 'NunchakuFluxLoraLoader', positive: ['6.text'], between: ['30'] },
  { file: 'nunchaku-qwen-image.api.json', source: 'fixture', family: 'Qwen-Image', refusal: /^no LoRA loader exists for Nunchaku Qwen-Image models$/ },
  { file: 'nunchaku-qwen-image-edit-2509.api.json', source: 'fixture', family: 'Qwen-Image', refusal: /Nunchaku Qwen-Image/ },
  { file: 'salad-sd15-txt2img.api.json', source: 'fixture', family: 'SD1.5', loaders: ['4'], loraClass: 'LoraLoader', positive: ['6.text'], unchanged: ['7.text'] },
  { file: 'salad-sd15-parallel-3.api.json', source: 'fixture', family: 'SD1.5', loaders: ['20', '28', '35'], loraClass: 'LoraLoader', positive: ['22.text', '30.text', '37.text'], unchanged: ['23.text', '31.text', '38.text'] },
  { file: 'salad-sdxl-txt2img-with-refiner.api.json', source: 'fixture', family: 'SDXL', loaders: ['4'], loraClass: 'LoraLoader', untouchedLoaders: ['12'], positive: ['6.text'], unchanged: ['7.text', '15.text', '16.text'] },
  { file: 'salad-flux-schnell-checkpoint.api.json', source: 'fixture', family: 'FLUX', loaders: ['30'], loraClass: 'LoraLoader', positive: ['6.text'], unchanged: ['33.text'] },
  { file: 'mimpi-sdxl-power-lora-cfgguider.api.json', source: 'fixture', family: 'SDXL', loaders: ['4'], loraClass: 'LoraLoader', unchanged: ['103.text', '178:0.text'], between: ['84', '106', '193'], existingLoras: ['SDXL/add-detail-xl.safetensors', 'SDXL/Breast Slider - Pony_alpha1.0_rank4_noxattn_last.safetensors', 'SDXL/Beautify-Supermodel-SDXL.safetensors'] },
  { file: 'mimpi-zimage-turbo-hires.api.json', source: 'fixture', family: 'Z-Image Turbo', loaders: ['188'], loraClass: 'LoraLoaderModelOnly', positive: ['186.text'], between: ['190', '196'] },
  { file: 'comfy-templates-qwen-image.api.json', source: 'fixture', family: 'Qwen-Image', loaders: ['37'], loraClass: 'LoraLoaderModelOnly', positive: ['6.text'], unchanged: ['7.text'], between: ['66'] },
  { file: 'comfy-templates-wan22-14b-t2v.api.json', source: 'fixture', family: 'Wan 2.2', loaders: ['37', '56'], loraClass: 'LoraLoaderModelOnly', positive: ['6.text'], unchanged: ['7.text'], between: ['54', '55'] },
  { file: 'kijai-wanvideo-t2v-example.api.json', source: 'fixture', family: 'WanVideoWrapper', loaders: ['22'], loraClass: 'WanVideoLoraSelect', positive: ['16.positive_prompt'], unchanged: ['16.negative_prompt'] },
  { file: 'z_image_turbo.api.json', source: 'shared', family: 'Z-Image Turbo', loaders: ['1'], loraClass: 'LoraLoaderModelOnly', positive: ['4.text'], unchanged: ['5.text'] },
  { file: 'flux_dev_t5fp16.api.json', source: 'shared', family: 'FLUX', loaders: ['48'], loraClass: 'LoraLoaderModelOnly', positive: ['43.text'], between: ['46'] },
  { file: 'flux_kontext_dev_gguf.api.json', source: 'shared', family: 'FLUX GGUF', loaders: ['189'], loraClass: 'LoraLoaderModelOnly', positive: ['6.text'] },
  { file: 'native-hidream-i1-dev-fp8.api.json', source: 'shared', family: 'HiDream', loaders: ['76'], loraClass: 'LoraLoaderModelOnly', positive: ['16.text'], unchanged: ['40.text'], between: ['70'] },
  { file: 'wan2.1_t2v.api.json', source: 'shared', family: 'Wan 2.1', loaders: ['37'], loraClass: 'LoraLoaderModelOnly', positive: ['6.text'], unchanged: ['7.text'], between: ['48'] },
  { file: 'wan2.1_T2V.api.json', source: 'shared', family: 'Wan 2.1', loaders: ['50'], loraClass: 'LoraLoaderModelOnly', positive: ['6.text'], unchanged: ['7.text'], between: ['48'] },
  { file: 'wan2.1_lora_comfyui_native.api.json', source: 'shared', family: 'Wan 2.1', loaders: ['37'], loraClass: 'LoraLoaderModelOnly', positive: ['6.text'], unchanged: ['7.text'], between: ['54', '56'], existingLoras: ['squish_18.safetensors'] },
  { file: 'wan2.1_T2V_2.api.json', source: 'shared', family: 'WanVideoWrapper', refusal: /node 16 \(WanVideoTextEncode\) has no positive_prompt text/ },
];

const FAMILY_GROUP: Record<Row['family'], string> = {
  FLUX: 'FLUX',
  'FLUX GGUF': 'FLUX',
  'Nunchaku FLUX': 'FLUX',
  'Z-Image Turbo': 'Z-Image Turbo',
  'Qwen-Image': 'Qwen-Image',
  'Wan 2.1': 'Wan',
  'Wan 2.2': 'Wan',
  WanVideoWrapper: 'Wan',
  SDXL: 'SDXL/SD1.5',
  'SD1.5': 'SDXL/SD1.5',
  HiDream: 'HiDream',
};

const field = (wf: ComfyWorkflow, ref: string) => {
  const dot = ref.lastIndexOf('.');
  return wf[ref.slice(0, dot)]?.inputs[ref.slice(dot + 1)];
};

/** The sampler-side model inputs of every sampler/guider in a graph (independent of src). */
function samplerModelLinks(wf: ComfyWorkflow): Array<{ id: string; link: unknown }> {
  return Object.entries(wf)
    .filter(([, n]) => 'model' in n.inputs && ('positive' in n.inputs || 'conditioning' in n.inputs || 'text_embeds' in n.inputs))
    .map(([id, n]) => ({ id, link: n.inputs.model }));
}

describe('the fixture set', () => {
  it('covers at least 15 real public workflows of at least five base-model families', () => {
    const files = new Set(ROWS.filter((r) => r.source === 'fixture').map((r) => r.file));
    expect([...files].sort()).toEqual(fixtureFiles());
    const available = ROWS.filter((r) => r.source === 'fixture' || sharedAvailable);
    expect(available.length).toBeGreaterThanOrEqual(15);
    const families = new Set(available.map((r) => FAMILY_GROUP[r.family]));
    for (const required of ['FLUX', 'Z-Image Turbo', 'Qwen-Image', 'Wan', 'SDXL/SD1.5']) expect(families).toContain(required);
    expect(available.some((r) => r.family === 'FLUX GGUF')).toBe(true);
    expect(available.some((r) => r.family === 'WanVideoWrapper')).toBe(true);
    expect(families.size).toBeGreaterThanOrEqual(5);
  });
});

describe.each(ROWS)('$family: $file', (row) => {
  const run = row.source === 'shared' && !sharedAvailable ? it.skip : it;
  const load = () => loadWorkflow(row.source, row.file);

  if (row.refusal) {
    run('refuses with one sentence and returns no workflow', () => {
      const result = injectLora(load(), { loras: [{ name: LORA, strength: 1 }], triggerWord: TRIGGER });
      expect(result.ok).toBe(false);
      if (result.ok) return;
      expect(result.code).toBe('workflow_unsupported');
      expect(result.message).toMatch(row.refusal!);
      expect(result.message).not.toMatch(/\n/);
      expect(result).not.toHaveProperty('workflow');
    });
    return;
  }

  const inject = () => {
    const before = load();
    const result = injectLora(before, { loras: [{ name: LORA, strength: 0.85 }], triggerWord: TRIGGER });
    if (!result.ok) throw new Error(`refused: ${result.message}`);
    return { before, after: result.workflow, changes: result.changes };
  };

  run('puts the LoRA on every path from each base loader to its samplers, after the loader', () => {
    const { after } = inject();
    const samplers = samplerModelLinks(after);
    expect(samplers.length).toBeGreaterThan(0);
    for (const loaderId of row.loaders!) {
      const paths = samplers.flatMap((s) => modelPaths(after, s.link)).filter((p) => p.root === loaderId);
      expect(paths.length, `paths from loader ${loaderId}`).toBeGreaterThan(0);
      for (const p of paths) expect(p.loras.filter((l) => l === LORA)).toHaveLength(1);
      if (row.loraClass === 'WanVideoLoraSelect') {
        const select = after[(after[loaderId]!.inputs.lora as [string, number])[0]]!;
        expect(select).toMatchObject({ class_type: 'WanVideoLoraSelect', inputs: { lora: LORA, strength: 0.85 } });
      } else {
        // The LoRA node reads the loader's output directly: it sits right after the loader.
        const loraNodes = Object.values(after).filter((n) => n.class_type === row.loraClass && Object.values(n.inputs).includes(LORA));
        expect(loraNodes.some((n) => JSON.stringify(n.inputs.model) === JSON.stringify([loaderId, 0]))).toBe(true);
      }
    }
  });

  run('leaves refiners, intermediate nodes and existing LoRA chains in place', () => {
    const { before, after } = inject();
    for (const id of row.untouchedLoaders ?? []) {
      const paths = samplerModelLinks(after).flatMap((s) => modelPaths(after, s.link)).filter((p) => p.root === id);
      expect(paths.length).toBeGreaterThan(0);
      for (const p of paths) expect(p.loras).not.toContain(LORA);
    }
    const pathsAfter = samplerModelLinks(after).flatMap((s) => modelPaths(after, s.link));
    for (const id of row.between ?? []) {
      expect(pathsAfter.some((p) => p.nodes.includes(id)), `node ${id} still on a model path`).toBe(true);
    }
    if (row.existingLoras) {
      const pathsBefore = samplerModelLinks(before).flatMap((s) => modelPaths(before, s.link));
      for (const p of pathsBefore) expect(p.loras).toEqual(expect.arrayContaining(row.existingLoras));
      for (const p of pathsAfter) expect(p.loras.filter((l) => l !== LORA)).toEqual(pathsBefore[0]!.loras);
    }
  });

  run('puts the trigger word first in every positive prompt and leaves negatives alone', () => {
    const { before, after } = inject();
    for (const ref of row.positive ?? []) {
      expect(field(after, ref)).toBe(`${TRIGGER}, ${field(before, ref) as string}`);
    }
    for (const ref of row.unchanged ?? []) expect(field(after, ref)).toEqual(field(before, ref));
  });

  run('changes nothing else; the graph stays valid and acyclic; new ids are fresh', () => {
    const { before, after, changes } = inject();
    expectValidGraph(after);
    expectOnlyRecordedChanges(before, after, changes);
    expect(changes.loaders.filter((l) => l.action === 'lora_added').map((l) => l.nodeId).sort()).toEqual([...row.loaders!].sort());
  });

  run('does not double anything when injected twice', () => {
    const { after } = inject();
    const again = injectLora(after, { loras: [{ name: LORA, strength: 0.85 }], triggerWord: TRIGGER });
    expect(again.ok).toBe(true);
    if (!again.ok) return;
    expect(again.workflow).toEqual(after);
    expect(again.changes.addedNodes).toEqual([]);
    expect(again.changes.loaders.every((l) => l.action !== 'lora_added')).toBe(true);
  });
});
