/**
 * Decides which prompt texts are positive and which negative by following conditioning edges from
 * each sampler's/guider's inputs upstream to the text encoders (through FluxGuidance, ReferenceLatent,
 * ControlNetApplyAdvanced, InstructPixToPixConditioning, WanImageToVideo, StyleModelApply ...), then
 * from each encoder's text field to the node that holds the string. Titles like "Negative Prompt" are
 * never trusted: only the wiring is.
 */
import {
  DISCARDING_CONDITIONING,
  NON_CONDITIONING_INPUTS,
  STRING_JOINERS,
  TEXT_ENCODERS,
  conditioningOutputSide,
  literalStringField,
} from './comfy-node.catalog.js';
import { type ComfyWorkflow, type Link, isLink, linkInputs, linkKey } from './comfy-workflow.types.js';
import type { SamplerSite } from './model-path.analysis.js';

/** `mixed` is an input carrying both prompts (WanVideoWrapper text_embeds): the encoder splits them. */
export type Side = 'positive' | 'negative' | 'mixed';

export interface EncoderReach {
  nodeId: string;
  /** sampler id -> sides through which that sampler reads this encoder */
  bySampler: Map<string, Set<Side>>;
}

export interface PromptScan {
  encoders: Map<string, EncoderReach>;
  /** Nodes on a conditioning path that read a CLIP but are not encoders Likeness knows. */
  unknownEncoders: Array<{ nodeId: string; samplerId: string }>;
}

export function scanPrompts(workflow: ComfyWorkflow, samplers: SamplerSite[]): PromptScan {
  const encoders = new Map<string, EncoderReach>();
  const unknownEncoders: PromptScan['unknownEncoders'] = [];

  for (const site of samplers) {
    const sampler = workflow[site.nodeId]!;
    const seen = new Set<string>();
    const visit = (from: Link, side: Side): void => {
      const key = `${linkKey(from)}#${side}`;
      if (seen.has(key)) return;
      seen.add(key);
      const node = workflow[from[0]]!;
      if (TEXT_ENCODERS[node.class_type]) {
        const reach = encoders.get(from[0]) ?? { nodeId: from[0], bySampler: new Map() };
        const sides = reach.bySampler.get(site.nodeId) ?? new Set<Side>();
        sides.add(side);
        reach.bySampler.set(site.nodeId, sides);
        encoders.set(from[0], reach);
        return;
      }
      if (DISCARDING_CONDITIONING.has(node.class_type)) return;
      const positive = node.inputs.positive;
      const negative = node.inputs.negative;
      if (isLink(positive) && isLink(negative)) {
        if (side === 'mixed') {
          visit(positive, 'positive');
          visit(negative, 'negative');
          return;
        }
        const which = conditioningOutputSide(node, from[1]);
        if (which) visit(which === 'positive' ? positive : negative, side);
        return;
      }
      if (isLink(node.inputs.clip)) {
        unknownEncoders.push({ nodeId: from[0], samplerId: site.nodeId });
        return;
      }
      for (const { input, link } of linkInputs(node)) {
        if (!NON_CONDITIONING_INPUTS.has(input)) visit(link, side);
      }
    };
    const follow = (inputs: string[], side: Side) => {
      for (const input of inputs) {
        const value = sampler.inputs[input];
        if (isLink(value)) visit(value, side);
      }
    };
    follow(site.spec.positive, 'positive');
    follow(site.spec.negative, 'negative');
    follow(site.spec.mixed, 'mixed');
  }
  return { encoders, unknownEncoders };
}

/** Where the text of one encoder field lives. */
export type TextSource =
  | { kind: 'literal'; nodeId: string; field: string }
  /** Computed upstream (a switch, a prompt generator): the trigger is prepended by a new node. */
  | { kind: 'computed'; output: Link }
  | { kind: 'missing' };

/**
 * Follows an encoder field to the node holding its string: the field itself when it is a literal,
 * else the upstream primitive/text node (edited once, whoever reads it), the first part of a string
 * join, or a computed output.
 */
export function resolveTextSource(workflow: ComfyWorkflow, nodeId: string, field: string): TextSource {
  let holderId = nodeId;
  let holderField = field;
  for (let depth = 0; depth < 64; depth++) {
    const value = workflow[holderId]!.inputs[holderField];
    if (typeof value === 'string') return { kind: 'literal', nodeId: holderId, field: holderField };
    if (!isLink(value)) return { kind: 'missing' };
    const source = workflow[value[0]]!;
    const joinerField = STRING_JOINERS[source.class_type];
    if (joinerField && value[1] === 0) {
      holderId = value[0];
      holderField = joinerField;
      continue;
    }
    const literal = value[1] === 0 ? literalStringField(source) : null;
    if (literal) return { kind: 'literal', nodeId: value[0], field: literal };
    return { kind: 'computed', output: value };
  }
  return { kind: 'missing' };
}
