import { describe, expect, it } from 'vitest';
import type { ComfyWorkflow } from '../../src/generation/workflow/comfy-workflow.types.js';
import { checkWorkflowShape, isLink } from '../../src/generation/workflow/comfy-workflow.types.js';
import { roleFromFileName } from '../../src/generation/workflow/model-path.analysis.js';
import { prependTrigger, startsWithTrigger } from '../../src/generation/workflow/trigger-word.util.js';
import {
  buildReaderIndex,
  consumersOf,
  createIdAllocator,
  findDanglingLink,
  isAcyclic,
  reachesDownstream,
  topologicalOrder,
} from '../../src/generation/workflow/workflow-graph.util.js';

const wf: ComfyWorkflow = {
  a: { class_type: 'UNETLoader', inputs: { unet_name: 'm' } },
  '12:3': { class_type: 'ModelSamplingSD3', inputs: { model: ['a', 0] } },
  '7': { class_type: 'KSampler', inputs: { model: ['12:3', 0], seed: [1, 0], other: ['a', 0, 1] } },
  '9': { class_type: 'BasicScheduler', inputs: { model: ['a', 0] } },
};

describe('links and graph utilities', () => {
  it('recognises links exactly as ComfyUI does', () => {
    expect(isLink(['a', 0])).toBe(true);
    expect(isLink([1, 0])).toBe(false);
    expect(isLink(['a', 0, 1])).toBe(false);
    expect(isLink(['a', 1.5])).toBe(false);
    expect(isLink(['a', -1])).toBe(false);
  });

  it('lists every consumer of an output', () => {
    const consumers = consumersOf(wf, ['a', 0]);
    expect(consumers).toHaveLength(2);
    expect(consumers).toEqual(expect.arrayContaining([{ nodeId: '12:3', input: 'model' }, { nodeId: '9', input: 'model' }]));
    expect(consumersOf(wf, ['a', 1])).toEqual([]);
  });

  it('orders nodes topologically and detects cycles and dangling links', () => {
    const order = topologicalOrder(wf)!;
    expect(order.indexOf('a')).toBeLessThan(order.indexOf('12:3'));
    expect(order.indexOf('12:3')).toBeLessThan(order.indexOf('7'));
    const cyclic: ComfyWorkflow = { ...wf, a: { class_type: 'X', inputs: { model: ['7', 0] } } };
    expect(isAcyclic(cyclic)).toBe(false);
    expect(findDanglingLink(wf)).toBeNull();
    expect(findDanglingLink({ x: { class_type: 'X', inputs: { model: ['nope', 0] } } })).toEqual({
      nodeId: 'x',
      input: 'model',
      link: ['nope', 0],
    });
  });

  it('follows links downstream', () => {
    const readers = buildReaderIndex(wf);
    expect(reachesDownstream(readers, 'a', '7')).toBe(true);
    expect(reachesDownstream(readers, '9', '7')).toBe(false);
  });

  it('hands out fresh ids above the numeric ones, never reusing one', () => {
    const next = createIdAllocator({ ...wf, '07': { class_type: 'Note', inputs: {} }, '41': { class_type: 'Note', inputs: {} } });
    expect([next(), next()]).toEqual(['42', '43']);
    expect(createIdAllocator({ unet: { class_type: 'UNETLoader', inputs: {} } })()).toBe('1');
  });

  it('tells API format from the editor format', () => {
    expect(checkWorkflowShape(wf)).toBeNull();
    expect(checkWorkflowShape({ nodes: [], links: [] })).toEqual({ kind: 'ui_format' });
    expect(checkWorkflowShape({})).toEqual({ kind: 'empty' });
    expect(checkWorkflowShape({ 1: { class_type: 'X' } })).toEqual({ kind: 'bad_node', nodeId: '1' });
  });
});

describe('trigger word', () => {
  it('is found only as a whole first word', () => {
    expect(startsWithTrigger('ohwx, a woman', 'ohwx')).toBe(true);
    expect(startsWithTrigger('  ohwx woman', 'ohwx')).toBe(true);
    expect(startsWithTrigger('ohwx', 'ohwx')).toBe(true);
    expect(startsWithTrigger('ohwxman', 'ohwx')).toBe(false);
    expect(startsWithTrigger('a ohwx', 'ohwx')).toBe(false);
  });

  it('is prepended once, with a comma', () => {
    expect(prependTrigger('a woman', 'ohwx')).toBe('ohwx, a woman');
    expect(prependTrigger('ohwx, a woman', 'ohwx')).toBe('ohwx, a woman');
    expect(prependTrigger('', 'ohwx')).toBe('ohwx');
    expect(prependTrigger('   ', 'ohwx')).toBe('ohwx');
  });
});

describe('loader roles from file names', () => {
  it('recognises refiners and both spellings of the Wan 2.2 experts', () => {
    expect(roleFromFileName('sd_xl_refiner_1.0.safetensors')).toBe('refiner');
    expect(roleFromFileName('wan2.2_t2v_high_noise_14B_fp8_scaled.safetensors')).toBe('high_noise');
    expect(roleFromFileName('wan2.2_t2v_low_noise_14B_fp8_scaled.safetensors')).toBe('low_noise');
    expect(roleFromFileName('WanVideo/Wan2_2-T2V-A14B-HIGH_fp8_e4m3fn_scaled_KJ.safetensors')).toBe('high_noise');
    expect(roleFromFileName('Wan2_2-T2V-A14B-LOW_fp8_e4m3fn_scaled_KJ.safetensors')).toBe('low_noise');
    expect(roleFromFileName('flux1-dev-highres.safetensors')).toBe('main');
    expect(roleFromFileName('lowvram_model.safetensors')).toBe('main');
    expect(roleFromFileName(undefined)).toBe('main');
  });
});
