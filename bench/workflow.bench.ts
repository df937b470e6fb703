/**
 * Injection throughput: `injectLora` on the largest real workflow Likeness has (the test fixtures and,
 * when present, ../shared/data/workflows), and on a synthetic 1,000-node graph for headroom.
 * Rows are {name, value, unit}, printed by `npm run bench`.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ComfyWorkflow } from '../src/generation/workflow/comfy-workflow.types.js';
import { injectLora } from '../src/generation/workflow/lora-injection.service.js';

export interface BenchRow {
  name: string;
  value: number;
  unit: string;
}

const here = path.dirname(fileURLToPath(import.meta.url));
const DIRS = [path.resolve(here, '../tests/fixtures/workflows'), path.resolve(here, '../../shared/data/workflows')];
const OPTIONS = { loras: [{ name: 'bench.safetensors', strength: 1 }], triggerWord: 'ohwx' };

function largestWorkflow(): { file: string; workflow: ComfyWorkflow } {
  let best: { file: string; workflow: ComfyWorkflow } | undefined;
  for (const dir of DIRS.filter((d) => existsSync(d))) {
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.api.json'))) {
      const workflow = JSON.parse(readFileSync(path.join(dir, file), 'utf8')) as ComfyWorkflow;
      if (!injectLora(workflow, OPTIONS).ok) continue;
      if (!best || Object.keys(workflow).length > Object.keys(best.workflow).length) best = { file, workflow };
    }
  }
  if (!best) throw new Error('no injectable workflow found for the benchmark');
  return best;
}

/** 1 loader -> 100 samplers, each with its own pass-through node and prompt pair: ~1,000 nodes. */
function syntheticWorkflow(samplers = 100): ComfyWorkflow {
  const wf: ComfyWorkflow = {
    '1': { class_type: 'UNETLoader', inputs: { unet_name: 'm.safetensors', weight_dtype: 'default' } },
    '2': { class_type: 'CLIPLoader', inputs: { clip_name: 'c.safetensors', type: 'wan' } },
    '3': { class_type: 'EmptySD3LatentImage', inputs: { width: 1024, height: 1024, batch_size: 1 } },
    '4': { class_type: 'VAELoader', inputs: { vae_name: 'v.safetensors' } },
  };
  let id = 10;
  for (let i = 0; i < samplers; i++) {
    const [patch, shift, pos, neg, guide, zero, ks, dec, save, note] = Array.from({ length: 10 }, () => String(id++));
    wf[patch!] = { class_type: 'ModelSamplingAuraFlow', inputs: { shift: 3, model: ['1', 0] } };
    wf[shift!] = { class_type: 'CFGNorm', inputs: { strength: 1, model: [patch!, 0] } };
    wf[pos!] = { class_type: 'CLIPTextEncode', inputs: { text: `prompt ${i}`, clip: ['2', 0] } };
    wf[neg!] = { class_type: 'CLIPTextEncode', inputs: { text: 'blurry', clip: ['2', 0] } };
    wf[guide!] = { class_type: 'FluxGuidance', inputs: { guidance: 3.5, conditioning: [pos!, 0] } };
    wf[zero!] = { class_type: 'ConditioningZeroOut', inputs: { conditioning: [neg!, 0] } };
    wf[ks!] = {
      class_type: 'KSampler',
      inputs: { seed: i, steps: 8, cfg: 1, sampler_name: 'euler', scheduler: 'simple', denoise: 1, model: [shift!, 0], positive: [guide!, 0], negative: [zero!, 0], latent_image: ['3', 0] },
    };
    wf[dec!] = { class_type: 'VAEDecode', inputs: { samples: [ks!, 0], vae: ['4', 0] } };
    wf[save!] = { class_type: 'SaveImage', inputs: { filename_prefix: `b${i}`, images: [dec!, 0] } };
    wf[note!] = { class_type: 'Note', inputs: { text: '' } };
  }
  return wf;
}

function injectionsPerSecond(workflow: ComfyWorkflow, budgetMs: number): number {
  for (let i = 0; i < 50; i++) injectLora(workflow, OPTIONS); // warm-up (JIT)
  let runs = 0;
  const start = performance.now();
  let elapsed = 0;
  while (elapsed < budgetMs) {
    for (let i = 0; i < 20; i++) injectLora(workflow, OPTIONS);
    runs += 20;
    elapsed = performance.now() - start;
  }
  return Math.round((runs / elapsed) * 1000);
}

export async function runWorkflowBench(opts: { quick?: boolean } = {}): Promise<BenchRow[]> {
  const budgetMs = opts.quick ? 500 : 1000;
  const largest = largestWorkflow();
  const synthetic = syntheticWorkflow();
  return [
    {
      name: `workflow injection, largest real workflow (${largest.file}, ${Object.keys(largest.workflow).length} nodes)`,
      value: injectionsPerSecond(largest.workflow, budgetMs),
      unit: 'injections/s',
    },
    {
      name: `workflow injection, synthetic ${Object.keys(synthetic).length}-node graph (100 samplers)`,
      value: injectionsPerSecond(synthetic, budgetMs),
      unit: 'injections/s',
    },
  ];
}

export default runWorkflowBench;

