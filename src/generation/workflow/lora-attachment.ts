/**
 * Puts LoRA nodes after one model loader, the way each loader family needs it. Invariant for the
 * MODEL-output families: the new chain reads the loader's output and every node that read that
 * output before now reads the chain's end, so every path from the loader to a sampler carries the
 * LoRA and whatever sat between (ModelSampling*, PuLID, TeaCache, older LoRAs) keeps its place.
 */
import type { LoraAttachment } from './comfy-node.catalog.js';
import { type ComfyWorkflow, type Link, isLink, linkKey, outputText } from './comfy-workflow.types.js';
import type { InjectedLora, InjectionChanges } from './lora-injection.types.js';
import type { Consumer } from './workflow-graph.util.js';

export interface AttachContext {
  workflow: ComfyWorkflow;
  changes: InjectionChanges;
  consumers: Map<string, Consumer[]>;
  newId: () => string;
}

export function attachLoras(
  ctx: AttachContext,
  kind: LoraAttachment,
  loaderId: string,
  outputIndex: number,
  loras: InjectedLora[],
): void {
  if (loras.length === 0) return;
  switch (kind) {
    case 'model-only':
      return chainOnModel(ctx, loaderId, outputIndex, loras, 'LoraLoaderModelOnly', (lora, model) => ({
        lora_name: lora.name,
        strength_model: lora.strength,
        model,
      }));
    case 'nunchaku-flux':
      return chainOnModel(ctx, loaderId, outputIndex, loras, 'NunchakuFluxLoraLoader', (lora, model) => ({
        lora_name: lora.name,
        lora_strength: lora.strength,
        model,
      }));
    case 'model-clip':
      return chainOnCheckpoint(ctx, loaderId, loras);
    case 'wanvideo':
      return chainOnWanVideoLoader(ctx, loaderId, loras);
  }
}

function addNode(ctx: AttachContext, classType: string, inputs: Record<string, unknown>, lora: InjectedLora, after: string) {
  const nodeId = ctx.newId();
  ctx.workflow[nodeId] = { class_type: classType, inputs, _meta: { title: `Likeness LoRA (${lora.name})` } };
  ctx.changes.addedNodes.push({ nodeId, classType, loraName: lora.name, strength: lora.strength, after });
  return nodeId;
}

/** Points every former reader of `from` (captured before any node was added) at `to`. */
function rewireReaders(ctx: AttachContext, from: Link, to: Link): void {
  for (const { nodeId, input } of ctx.consumers.get(linkKey(from)) ?? []) {
    ctx.workflow[nodeId]!.inputs[input] = [to[0], to[1]];
    ctx.changes.rewired.push({ nodeId, input, from, to });
  }
}

function chainOnModel(
  ctx: AttachContext,
  loaderId: string,
  outputIndex: number,
  loras: InjectedLora[],
  classType: string,
  inputsFor: (lora: InjectedLora, model: Link) => Record<string, unknown>,
): void {
  const source: Link = [loaderId, outputIndex];
  let previous: Link = source;
  for (const lora of loras) {
    const nodeId = addNode(ctx, classType, inputsFor(lora, previous), lora, outputText(previous));
    previous = [nodeId, 0];
  }
  rewireReaders(ctx, source, previous);
}

/** LoraLoader patches MODEL (output 0) and CLIP (output 1) of a checkpoint; both are rewired. */
function chainOnCheckpoint(ctx: AttachContext, loaderId: string, loras: InjectedLora[]): void {
  let model: Link = [loaderId, 0];
  let clip: Link = [loaderId, 1];
  for (const lora of loras) {
    const nodeId = addNode(
      ctx,
      'LoraLoader',
      { lora_name: lora.name, strength_model: lora.strength, strength_clip: lora.strength, model, clip },
      lora,
      outputText(model),
    );
    model = [nodeId, 0];
    clip = [nodeId, 1];
  }
  rewireReaders(ctx, [loaderId, 0], model);
  rewireReaders(ctx, [loaderId, 1], clip);
}

/**
 * ComfyUI-WanVideoWrapper applies LoRAs inside its model loader: WanVideoLoraSelect nodes form a
 * chain through `prev_lora` into the loader's `lora` input. The existing chain is kept whole; the
 * character's LoRA is appended to it.
 */
function chainOnWanVideoLoader(ctx: AttachContext, loaderId: string, loras: InjectedLora[]): void {
  const loader = ctx.workflow[loaderId]!;
  const existing = isLink(loader.inputs.lora) ? loader.inputs.lora : null;
  let previous: Link | null = existing;
  for (const lora of loras) {
    const inputs: Record<string, unknown> = { lora: lora.name, strength: lora.strength };
    if (previous) inputs.prev_lora = previous;
    const nodeId = addNode(ctx, 'WanVideoLoraSelect', inputs, lora, previous ? outputText(previous) : `the lora input of loader ${loaderId}`);
    previous = [nodeId, 0];
  }
  loader.inputs.lora = previous;
  ctx.changes.rewired.push({ nodeId: loaderId, input: 'lora', from: existing, to: previous! });
}

/** LoRA files already in a WanVideo loader's chain (walks WanVideoLoraSelect.prev_lora). */
export function wanVideoChainLoras(workflow: ComfyWorkflow, loaderId: string): Set<string> {
  const names = new Set<string>();
  let cursor: unknown = workflow[loaderId]!.inputs.lora;
  for (let guard = 0; isLink(cursor) && guard < 256; guard++) {
    const node: { inputs: Record<string, unknown> } | undefined = workflow[cursor[0]];
    if (!node) break;
    if (typeof node.inputs.lora === 'string') names.add(node.inputs.lora);
    cursor = node.inputs.prev_lora;
  }
  return names;
}
