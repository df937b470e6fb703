/**
 * Property tests: random graphs of 1-3 model loaders (UNET, GGUF, checkpoint, Nunchaku, an SDXL
 * refiner), random chains of pass-through nodes and existing LoRAs, several consumers per output,
 * shared encoders, zeroed negatives and odd node ids. The same rules as on the real workflows.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ComfyWorkflow } from '../../src/generation/workflow/comfy-workflow.types.js';
import { injectLora } from '../../src/generation/workflow/lora-injection.service.js';
import { expectOnlyRecordedChanges, expectValidGraph, modelPaths } from './workflow-test-kit.js';

const LORA = 'character.safetensors';
const TRIGGER = 'ohwx';

const passThrough = fc.oneof(
  fc.constant({ class_type: 'ModelSamplingSD3', inputs: { shift: 8 } }),
  fc.constant({ class_type: 'CFGNorm', inputs: { strength: 1 } }),
  fc.constant({ class_type: 'ApplyTeaCachePatch', inputs: { rel_l1_thresh: 0.4 } }),
  fc.constantFrom('style_a.safetensors', 'style_b.safetensors').map((name) => ({
    class_type: 'LoraLoaderModelOnly',
    inputs: { lora_name: name, strength_model: 0.6 },
  })),
  fc.constant({
    class_type: 'Power Lora Loader (rgthree)',
    inputs: { lora_1: { on: true, lora: 'detail.safetensors', strength: 0.4 }, '➕ Add Lora': '' },
  }),
);

const samplerShape = fc.record({
  kind: fc.constantFrom('KSampler', 'CFGGuider', 'BasicGuider'),
  ownPatch: fc.boolean(),
  positiveVia: fc.constantFrom('direct', 'FluxGuidance', 'ConditioningCombine'),
  negative: fc.constantFrom('encoder', 'zeroed', 'shared'),
  prompt: fc.constantFrom('a portrait', 'ohwx, already there', '', 'ohwxman in a hat', '  spaced'),
  shareEncoder: fc.boolean(),
});

const loaderShape = fc.record({
  kind: fc.constantFrom('UNETLoader', 'UnetLoaderGGUF', 'CheckpointLoaderSimple', 'NunchakuFluxDiTLoader', 'refiner'),
  chain: fc.array(passThrough, { maxLength: 4 }),
  samplers: fc.array(samplerShape, { minLength: 1, maxLength: 3 }),
  schedulerOnLoader: fc.boolean(),
});

const graphShape = fc.record({
  loaders: fc.array(loaderShape, { minLength: 1, maxLength: 3 }).filter((ls) => ls.some((l) => l.kind !== 'refiner')),
  ids: fc.constantFrom('sequential', 'sparse', 'subgraph'),
});

interface Generated {
  workflow: ComfyWorkflow;
  positives: string[];
  negatives: string[];
  refinerSamplers: string[];
  refinerPositives: string[];
  samplers: string[];
  schedulers: string[];
}

type ValueOf<A> = A extends fc.Arbitrary<infer T> ? T : never;

function generate(shape: ValueOf<typeof graphShape>): Generated {
  let counter = 0;
  const id = () => {
    counter++;
    if (shape.ids === 'sparse') return String(counter * 7 + 3);
    if (shape.ids === 'subgraph') return counter % 2 === 0 ? `${counter}:${counter % 5}` : String(counter);
    return String(counter);
  };
  const wf: ComfyWorkflow = {};
  const add = (node: { class_type: string; inputs: Record<string, unknown> }) => {
    const nodeId = id();
    wf[nodeId] = structuredClone(node);
    return nodeId;
  };
  const out: Generated = { workflow: wf, positives: [], negatives: [], refinerSamplers: [], refinerPositives: [], samplers: [], schedulers: [] };
  const latent = add({ class_type: 'EmptyLatentImage', inputs: { width: 512, height: 512, batch_size: 1 } });

  for (const l of shape.loaders) {
    const refiner = l.kind === 'refiner';
    const checkpoint = l.kind === 'CheckpointLoaderSimple' || refiner;
    const loader = add({
      class_type: refiner ? 'CheckpointLoaderSimple' : l.kind,
      inputs: refiner ? { ckpt_name: 'sd_xl_refiner_1.0.safetensors' } : checkpoint ? { ckpt_name: 'base.safetensors' } : { unet_name: 'base.safetensors' },
    });
    const clip: [string, number] = checkpoint ? [loader, 1] : [add({ class_type: 'CLIPLoader', inputs: { clip_name: 'te.safetensors', type: 'wan' } }), 0];
    let model: [string, number] = [loader, 0];
    for (const step of l.chain) model = [add({ ...step, inputs: { ...step.inputs, model } }), 0];
    if (l.schedulerOnLoader && !refiner) {
      out.schedulers.push(add({ class_type: 'BasicScheduler', inputs: { scheduler: 'simple', steps: 8, denoise: 1, model: [loader, 0] } }));
    }
    let sharedPositive: string | undefined;
    let sharedNegative: string | undefined;
    for (const s of l.samplers) {
      const samplerModel: [string, number] = s.ownPatch ? [add({ class_type: 'ModelSamplingAuraFlow', inputs: { shift: 3, model } }), 0] : model;
      const encoder =
        s.shareEncoder && sharedPositive ? sharedPositive : add({ class_type: 'CLIPTextEncode', inputs: { text: s.prompt, clip } });
      sharedPositive ??= encoder;
      (refiner ? out.refinerPositives : out.positives).push(encoder);
      let positive: [string, number] = [encoder, 0];
      if (s.positiveVia === 'FluxGuidance') positive = [add({ class_type: 'FluxGuidance', inputs: { guidance: 3.5, conditioning: positive } }), 0];
      if (s.positiveVia === 'ConditioningCombine') {
        const second = add({ class_type: 'CLIPTextEncode', inputs: { text: 'extra detail', clip } });
        (refiner ? out.refinerPositives : out.positives).push(second);
        positive = [add({ class_type: 'ConditioningCombine', inputs: { conditioning_1: positive, conditioning_2: [second, 0] } }), 0];
      }
      let negative: [string, number];
      if (s.negative === 'zeroed') negative = [add({ class_type: 'ConditioningZeroOut', inputs: { conditioning: [encoder, 0] } }), 0];
      else {
        const neg = s.negative === 'shared' && sharedNegative ? sharedNegative : add({ class_type: 'CLIPTextEncode', inputs: { text: 'blurry', clip } });
        sharedNegative ??= neg;
        out.negatives.push(neg);
        negative = [neg, 0];
      }
      let samplerId: string;
      if (s.kind === 'KSampler') {
        samplerId = add({ class_type: 'KSampler', inputs: { seed: 1, steps: 8, cfg: 1, sampler_name: 'euler', scheduler: 'simple', denoise: 1, model: samplerModel, positive, negative, latent_image: [latent, 0] } });
      } else {
        const guider =
          s.kind === 'CFGGuider'
            ? add({ class_type: 'CFGGuider', inputs: { cfg: 4, model: samplerModel, positive, negative } })
            : add({ class_type: 'BasicGuider', inputs: { model: samplerModel, conditioning: positive } });
        samplerId = guider;
        add({ class_type: 'SamplerCustomAdvanced', inputs: { guider: [guider, 0], latent_image: [latent, 0] } });
      }
      (refiner ? out.refinerSamplers : out.samplers).push(samplerId);
    }
  }
  return out;
}

const expectedText = (before: string) => {
  const trimmed = before.trimStart();
  if (trimmed.startsWith(TRIGGER) && !/[\p{L}\p{N}_]/u.test(trimmed.charAt(TRIGGER.length))) return before;
  return before.trim() === '' ? TRIGGER : `${TRIGGER}, ${before}`;
};

describe('injectLora on generated graphs', () => {
  it('keeps every rule on random loader/pass-through/sampler graphs', () => {
    fc.assert(
      fc.property(graphShape, (shape) => {
        const g = generate(shape);
        const before = structuredClone(g.workflow);
        const result = injectLora(g.workflow, { loras: [{ name: LORA, strength: 0.8 }], triggerWord: TRIGGER });
        if (!result.ok) throw new Error(result.message);
        const after = result.workflow;

        expect(g.workflow).toEqual(before);
        expectValidGraph(after);
        expectOnlyRecordedChanges(before, after, result.changes);

        for (const samplerId of [...g.samplers, ...g.schedulers]) {
          const pathsBefore = modelPaths(before, before[samplerId]!.inputs.model);
          const pathsAfter = modelPaths(after, after[samplerId]!.inputs.model);
          expect(pathsAfter).toHaveLength(pathsBefore.length);
          pathsAfter.forEach((p, i) => {
            expect(p.loras.filter((name) => name === LORA)).toHaveLength(1);
            // Existing LoRAs and pass-through nodes keep their order; the new LoRA sits next to the loader.
            expect(p.loras.slice(0, -1)).toEqual(pathsBefore[i]!.loras);
            expect(p.loras.at(-1)).toBe(LORA);
            expect(p.nodes.filter((n) => n in before)).toEqual(pathsBefore[i]!.nodes);
          });
        }
        for (const samplerId of g.refinerSamplers) {
          for (const p of modelPaths(after, after[samplerId]!.inputs.model)) expect(p.loras).not.toContain(LORA);
        }
        for (const enc of new Set(g.positives)) {
          expect(after[enc]!.inputs.text).toBe(expectedText(before[enc]!.inputs.text as string));
        }
        for (const enc of new Set([...g.negatives, ...g.refinerPositives.filter((e) => !g.positives.includes(e))])) {
          expect(after[enc]!.inputs.text).toBe(before[enc]!.inputs.text);
        }

        const again = injectLora(after, { loras: [{ name: LORA, strength: 0.8 }], triggerWord: TRIGGER });
        expect(again.ok && again.workflow).toEqual(after);
      }),
      { numRuns: 300 },
    );
  });

  it('gives new nodes ids that collide with nothing, whatever ids the graph uses', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.oneof(fc.nat({ max: 60 }).map(String), fc.constantFrom('a', '12:3', '61', 'unet')), { minLength: 1, maxLength: 12 }), (extraIds) => {
        const wf: ComfyWorkflow = {
          loader: { class_type: 'UNETLoader', inputs: { unet_name: 'm.safetensors' } },
          enc: { class_type: 'CLIPTextEncode', inputs: { text: 'x', clip: ['clip', 0] } },
          clip: { class_type: 'CLIPLoader', inputs: { clip_name: 'c' } },
          s: { class_type: 'KSampler', inputs: { model: ['loader', 0], positive: ['enc', 0], negative: ['enc2', 0] } },
          enc2: { class_type: 'CLIPTextEncode', inputs: { text: '', clip: ['clip', 0] } },
        };
        for (const extra of extraIds) wf[extra] ??= { class_type: 'Note', inputs: {} };
        const result = injectLora(wf, { loras: [{ name: 'a.safetensors', strength: 1 }, { name: 'b.safetensors', strength: 1 }], triggerWord: TRIGGER });
        if (!result.ok) throw new Error(result.message);
        const added = result.changes.addedNodes.map((n) => n.nodeId);
        expect(new Set(added).size).toBe(added.length);
        for (const nodeId of added) expect(Object.hasOwn(wf, nodeId)).toBe(false);
      }),
      { numRuns: 200 },
    );
  });
});
