/**
 * Puts the trigger word at the start of every positive prompt the LoRA'd samplers see. A text that
 * lives upstream of its encoder (a primitive, a text box) is edited once, at its source, however
 * many encoders read it; a text computed at run time (a switch, a prompt generator) gets a core
 * StringConcatenate node in front of its readers. Negative prompts are never touched: a text that
 * feeds both sides is refused rather than half-edited.
 */
import { TEXT_ENCODERS } from './comfy-node.catalog.js';
import { type ComfyWorkflow, type Link, linkKey, outputText } from './comfy-workflow.types.js';
import { type InjectionChanges, refuse } from './lora-injection.types.js';
import { type PromptScan, type TextSource, resolveTextSource } from './prompt-path.analysis.js';
import { TRIGGER_DELIMITER, prependTrigger, startsWithTrigger } from './trigger-word.util.js';

interface TriggerContext {
  workflow: ComfyWorkflow;
  changes: InjectionChanges;
  newId: () => string;
  triggerWord: string;
}

interface LiteralTarget {
  nodeId: string;
  field: string;
  encoders: string[];
}

interface ComputedTarget {
  output: Link;
  readers: Array<{ encoderId: string; field: string }>;
}

const describe = (workflow: ComfyWorkflow, id: string) => `node ${id} (${workflow[id]!.class_type})`;

function sourceKey(source: TextSource): string | null {
  if (source.kind === 'literal') return `${source.nodeId}.${source.field}`;
  if (source.kind === 'computed') return linkKey(source.output);
  return null;
}

export function addTriggerWord(ctx: TriggerContext, scan: PromptScan, loraSamplers: Set<string>): void {
  const { workflow } = ctx;
  for (const unknown of scan.unknownEncoders) {
    if (loraSamplers.has(unknown.samplerId)) {
      refuse(
        `${describe(workflow, unknown.nodeId)} encodes a prompt for sampler ${unknown.samplerId}, ` +
          'and Likeness does not know which of its inputs holds the text',
      );
    }
  }

  const literals = new Map<string, LiteralTarget>();
  const computed = new Map<string, ComputedTarget>();
  const negativeSources = new Map<string, string>(); // source key -> encoder id, for conflict messages
  const samplersWithPrompt = new Set<string>();

  for (const reach of scan.encoders.values()) {
    const spec = TEXT_ENCODERS[workflow[reach.nodeId]!.class_type]!;
    let positive = false;
    let negative = false;
    for (const [samplerId, sides] of reach.bySampler) {
      if (loraSamplers.has(samplerId) && (sides.has('positive') || sides.has('mixed'))) {
        positive = true;
        samplersWithPrompt.add(samplerId);
      }
      if (sides.has('negative')) negative = true;
    }
    const splitsSides = spec.negativeFields.length > 0;
    if (positive && negative && !splitsSides) {
      refuse(
        `the prompt of ${describe(workflow, reach.nodeId)} feeds both the positive and the negative conditioning, ` +
          'so the trigger word cannot be added to one without changing the other',
      );
    }
    const negativeFields = splitsSides ? spec.negativeFields : negative ? spec.fields : [];
    for (const field of negativeFields) {
      const key = sourceKey(resolveTextSource(workflow, reach.nodeId, field));
      if (key) negativeSources.set(key, reach.nodeId);
    }
    if (!positive) continue;
    for (const field of spec.fields) {
      const source = resolveTextSource(workflow, reach.nodeId, field);
      if (source.kind === 'missing') {
        refuse(`${describe(workflow, reach.nodeId)} has no ${field} text to put the trigger word in`);
      } else if (source.kind === 'literal') {
        const key = `${source.nodeId}.${source.field}`;
        const target = literals.get(key) ?? { nodeId: source.nodeId, field: source.field, encoders: [] };
        if (!target.encoders.includes(reach.nodeId)) target.encoders.push(reach.nodeId);
        literals.set(key, target);
      } else {
        const key = linkKey(source.output);
        const target = computed.get(key) ?? { output: source.output, readers: [] };
        target.readers.push({ encoderId: reach.nodeId, field });
        computed.set(key, target);
      }
    }
  }

  for (const key of [...literals.keys(), ...computed.keys()]) {
    const negativeEncoder = negativeSources.get(key);
    if (negativeEncoder !== undefined) {
      const holder = literals.get(key)?.nodeId ?? computed.get(key)!.output[0];
      refuse(
        `the text in ${describe(workflow, holder)} is used by a positive prompt and by the negative prompt of ` +
          `${describe(workflow, negativeEncoder)}, so adding the trigger word would change the negative prompt too`,
      );
    }
  }

  for (const target of literals.values()) editLiteral(ctx, target);
  for (const target of computed.values()) joinComputed(ctx, target);

  for (const samplerId of loraSamplers) {
    if (!samplersWithPrompt.has(samplerId)) {
      ctx.changes.warnings.push(`sampler ${samplerId} has no positive text prompt, so the trigger word was not added for it`);
    }
  }
}

function editLiteral(ctx: TriggerContext, target: LiteralTarget): void {
  const node = ctx.workflow[target.nodeId]!;
  const text = node.inputs[target.field] as string;
  const already = startsWithTrigger(text, ctx.triggerWord);
  if (!already) node.inputs[target.field] = prependTrigger(text, ctx.triggerWord);
  ctx.changes.prompts.push({
    nodeId: target.nodeId,
    classType: node.class_type,
    field: target.field,
    action: already ? 'already_starts_with_trigger' : 'prepended',
    forEncoders: target.encoders.filter((id) => id !== target.nodeId),
  });
}

function joinComputed(ctx: TriggerContext, target: ComputedTarget): void {
  const nodeId = ctx.newId();
  ctx.workflow[nodeId] = {
    class_type: 'StringConcatenate',
    inputs: { string_a: ctx.triggerWord, string_b: [target.output[0], target.output[1]], delimiter: TRIGGER_DELIMITER },
    _meta: { title: 'Likeness trigger word' },
  };
  ctx.changes.addedNodes.push({ nodeId, classType: 'StringConcatenate', after: outputText(target.output) });
  for (const { encoderId, field } of target.readers) {
    ctx.workflow[encoderId]!.inputs[field] = [nodeId, 0];
    ctx.changes.rewired.push({ nodeId: encoderId, input: field, from: target.output, to: [nodeId, 0] });
  }
  ctx.changes.prompts.push({
    nodeId,
    classType: 'StringConcatenate',
    field: 'string_a',
    action: 'joined_upstream_text',
    forEncoders: [...new Set(target.readers.map((r) => r.encoderId))],
  });
}
