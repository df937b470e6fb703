/**
 * Test helpers for workflow injection and builders: fixture loading, and checkers written
 * independently of src/generation/workflow's analysis (a bug shared by both would otherwise pass).
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import type { ComfyWorkflow } from '../../src/generation/workflow/comfy-workflow.types.js';
import type { InjectionChanges } from '../../src/generation/workflow/lora-injection.types.js';

const here = path.dirname(fileURLToPath(import.meta.url));
export const FIXTURE_DIR = path.resolve(here, '../fixtures/workflows');
export const SHARED_DIR = path.resolve(here, '../../../shared/data/workflows');
export const sharedAvailable = existsSync(SHARED_DIR);

export function loadWorkflow(source: 'fixture' | 'shared', file: string): ComfyWorkflow {
  const dir = source === 'fixture' ? FIXTURE_DIR : SHARED_DIR;
  return JSON.parse(readFileSync(path.join(dir, file), 'utf8')) as ComfyWorkflow;
}

export function fixtureFiles(): string[] {
  return readdirSync(FIXTURE_DIR).filter((f) => f.endsWith('.api.json')).sort();
}

type Link = [string, number];
const isLinkValue = (v: unknown): v is Link =>
  Array.isArray(v) && v.length === 2 && typeof v[0] === 'string' && Number.isInteger(v[1]);

const LORA_NAME_INPUTS: Record<string, string> = {
  LoraLoader: 'lora_name',
  LoraLoaderModelOnly: 'lora_name',
  NunchakuFluxLoraLoader: 'lora_name',
};

/** LoRA names of one node, in order (rgthree's Power Lora Loader holds several). */
function lorasOf(node: { class_type: string; inputs: Record<string, unknown> }): string[] {
  const field = LORA_NAME_INPUTS[node.class_type];
  if (field) return [String(node.inputs[field])];
  if (node.class_type === 'Power Lora Loader (rgthree)') {
    return Object.keys(node.inputs)
      .filter((k) => /^lora_\d+$/.test(k))
      .sort()
      .map((k) => (node.inputs[k] as { lora: string }).lora);
  }
  return [];
}

/**
 * Every model path from `link` up to a node with no model-ish input, as the ordered list of LoRA
 * names on it (sampler side first) and the node id it ends at. WanVideo loaders contribute their
 * `lora` chain.
 */
export function modelPaths(wf: ComfyWorkflow, link: unknown): Array<{ loras: string[]; root: string; nodes: string[] }> {
  if (!isLinkValue(link)) return [];
  const node = wf[link[0]];
  if (!node) throw new Error(`dangling link to ${link[0]}`);
  const upstream = Object.entries(node.inputs).filter(([k, v]) => /^model\d*$/.test(k) && isLinkValue(v));
  if (upstream.length === 0) {
    const loras: string[] = [];
    let cursor: unknown = node.class_type === 'WanVideoModelLoader' ? node.inputs.lora : undefined;
    while (isLinkValue(cursor)) {
      const sel = wf[cursor[0]]!;
      loras.push(String(sel.inputs.lora));
      cursor = sel.inputs.prev_lora;
    }
    return [{ loras, root: link[0], nodes: [link[0]] }];
  }
  const own = lorasOf(node);
  return upstream.flatMap(([, v]) =>
    modelPaths(wf, v).map((p) => ({ loras: [...own, ...p.loras], root: p.root, nodes: [link[0], ...p.nodes] })),
  );
}

/** No link points at a missing node, and the graph has no cycle. */
export function expectValidGraph(wf: ComfyWorkflow): void {
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (id: string): void => {
    const s = state.get(id);
    if (s === 'done') return;
    expect(s, `cycle through node ${id}`).not.toBe('visiting');
    state.set(id, 'visiting');
    for (const [input, value] of Object.entries(wf[id]!.inputs)) {
      if (!isLinkValue(value)) continue;
      expect(wf[value[0]], `${id}.${input} -> missing ${value[0]}`).toBeDefined();
      visit(value[0]);
    }
    state.set(id, 'done');
  };
  for (const id of Object.keys(wf)) visit(id);
}

/**
 * "Nothing else changes": every original node keeps its class and every input its value, except
 * the inputs `changes` says were rewired (now pointing where it says) and the prompt fields it says
 * were edited. New nodes are exactly the added ones, with ids that did not exist.
 */
export function expectOnlyRecordedChanges(before: ComfyWorkflow, after: ComfyWorkflow, changes: InjectionChanges): void {
  const rewired = new Map(changes.rewired.map((r) => [`${r.nodeId}.${r.input}`, r.to]));
  const edited = new Set(changes.prompts.filter((p) => p.action === 'prepended').map((p) => `${p.nodeId}.${p.field}`));
  for (const [id, node] of Object.entries(before)) {
    const now = after[id];
    expect(now, `node ${id} kept`).toBeDefined();
    expect(now!.class_type).toBe(node.class_type);
    const expectedInputs = new Set(Object.keys(node.inputs));
    for (const r of changes.rewired) if (r.nodeId === id) expectedInputs.add(r.input);
    expect(Object.keys(now!.inputs).sort(), `inputs of ${id}`).toEqual([...expectedInputs].sort());
    for (const [input, value] of Object.entries(now!.inputs)) {
      const key = `${id}.${input}`;
      if (rewired.has(key)) expect(value, key).toEqual(rewired.get(key));
      else if (edited.has(key)) expect(typeof value).toBe('string');
      else expect(value, key).toEqual(node.inputs[input]);
    }
  }
  const added = Object.keys(after).filter((id) => !(id in before)).sort();
  expect(added).toEqual(changes.addedNodes.map((n) => n.nodeId).sort());
}
