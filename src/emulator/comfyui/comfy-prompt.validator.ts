/**
 * POST /prompt validation, ported from COMFY `execution.py` (`_validate_prompt`, `validate_inputs`)
 * so the emulator refuses exactly what ComfyUI refuses, with the same error objects:
 * - every node needs `class_type`, and the class must be installed (top-level `invalid_prompt`);
 * - at least one output node (`prompt_no_outputs`);
 * - from each output, recursively: required inputs present, links `[id, slot]` to an existing node
 *   whose RETURN_TYPES[slot] fits, numbers convertible and within min/max, combo values in their list
 *   (`value_not_in_list` for a `lora_name` ComfyUI cannot see), LoadImage's file present
 *   (`custom_validation_failed`). Errors are grouped in `node_errors` with `dependent_outputs`.
 * A link to a missing node raises a KeyError inside ComfyUI; it surfaces as
 * `exception_during_inner_validation` (or `exception_during_validation` on an output), as here.
 */
import { NODE_CLASSES, typesCompatible, type InputSpec, type NodeClass } from './comfy-node.registry.js';
import { pyRepr } from './python-repr.js';

export interface ValidationError {
  type: string;
  message: string;
  details: string;
  extra_info: Record<string, unknown>;
}

export interface NodeErrors {
  errors: ValidationError[];
  dependent_outputs: string[];
  class_type: string;
}

export type PromptGraph = Record<string, { class_type: string; inputs: Record<string, unknown> }>;

export type ValidationResult =
  | { ok: true; graph: PromptGraph; outputs: string[]; nodeErrors: Record<string, NodeErrors> }
  | { ok: false; error: ValidationError; nodeErrors: Record<string, NodeErrors> };

export interface HostLists {
  loras(): string[];
  inputImages(): string[];
}

type Verdict = { valid: boolean; errors: ValidationError[] };

class PyException extends Error {
  constructor(
    readonly pyType: string,
    message: string,
  ) {
    super(message);
  }
}

const err = (type: string, message: string, details: string, extra: Record<string, unknown> = {}): ValidationError => ({
  type,
  message,
  details,
  extra_info: extra,
});

export function validatePrompt(prompt: unknown, host: HostLists): ValidationResult {
  const graph = (prompt && typeof prompt === 'object' && !Array.isArray(prompt) ? prompt : {}) as Record<string, unknown>;
  const outputs: string[] = [];
  for (const [id, node] of Object.entries(graph)) {
    if (!node || typeof node !== 'object' || !('class_type' in node)) {
      return {
        ok: false,
        error: err('invalid_prompt', 'Cannot execute because a node is missing the class_type property.', `Node ID '#${id}'`),
        nodeErrors: {},
      };
    }
    const classType = String((node as { class_type: unknown }).class_type);
    const cls = NODE_CLASSES[classType];
    if (!cls) {
      return { ok: false, error: err('invalid_prompt', `Cannot execute because node ${classType} does not exist.`, `Node ID '#${id}'`), nodeErrors: {} };
    }
    if (cls.outputNode) outputs.push(id);
  }
  if (outputs.length === 0) return { ok: false, error: err('prompt_no_outputs', 'Prompt has no outputs', ''), nodeErrors: {} };

  const typed = graph as PromptGraph;
  const validated = new Map<string, Verdict>();
  const good: string[] = [];
  const failed: Array<[string, ValidationError[]]> = [];
  const nodeErrors: Record<string, NodeErrors> = {};
  for (const o of outputs) {
    let verdict: Verdict;
    try {
      verdict = validateInputs(typed, o, validated, host);
    } catch (ex) {
      const e = ex as PyException;
      verdict = {
        valid: false,
        errors: [err('exception_during_validation', 'Exception when validating node', e.message, { exception_type: e.pyType ?? 'Exception', traceback: [] })],
      };
      validated.set(o, verdict);
    }
    if (verdict.valid) {
      good.push(o);
      continue;
    }
    failed.push([o, verdict.errors]);
    for (const [nodeId, v] of validated) {
      if (v.valid || v.errors.length === 0) continue;
      nodeErrors[nodeId] ??= { errors: v.errors, dependent_outputs: [], class_type: typed[nodeId]?.class_type ?? '' };
      nodeErrors[nodeId]!.dependent_outputs.push(o);
    }
  }
  if (good.length === 0) {
    const details = failed.flatMap(([, errors]) => errors.map((e) => `${e.message}: ${e.details}`)).join('\n');
    return { ok: false, error: err('prompt_outputs_failed_validation', 'Prompt outputs failed validation', details), nodeErrors };
  }
  return { ok: true, graph: typed, outputs: good, nodeErrors };
}

function validateInputs(graph: PromptGraph, id: string, validated: Map<string, Verdict>, host: HostLists): Verdict {
  const seen = validated.get(id);
  if (seen) return seen;
  const node = graph[id]!;
  const cls: NodeClass = NODE_CLASSES[node.class_type]!;
  const inputs = (node.inputs ?? {}) as Record<string, unknown>;
  const errors: ValidationError[] = [];
  let valid = true;
  const specs: Array<[string, InputSpec, boolean]> = [
    ...Object.entries(cls.required).map(([k, s]) => [k, s, true] as [string, InputSpec, boolean]),
    ...Object.entries(cls.optional ?? {}).map(([k, s]) => [k, s, false] as [string, InputSpec, boolean]),
  ];
  for (const [name, spec, required] of specs) {
    if (!(name in inputs)) {
      if (required) errors.push(err('required_input_missing', 'Required input is missing', name, { input_name: name }));
      continue;
    }
    const val = inputs[name];
    if (Array.isArray(val)) {
      if (val.length !== 2) {
        errors.push(err('bad_linked_input', 'Bad linked input, must be a length-2 list of [node_id, slot_index]', name, { input_name: name, received_value: val }));
        continue;
      }
      const [sourceId, slot] = val as [unknown, unknown];
      const source = typeof sourceId === 'string' ? graph[sourceId] : undefined;
      if (!source) throw new PyException('KeyError', pyRepr(sourceId));
      const returns = NODE_CLASSES[source.class_type]!.returnTypes;
      const received = typeof slot === 'number' ? returns[slot] : undefined;
      if (received === undefined) throw new PyException('IndexError', 'tuple index out of range');
      if ('type' in spec && !typesCompatible(received, spec.type)) {
        errors.push(
          err('return_type_mismatch', 'Return type mismatch between linked nodes', `${name}, ${received} != ${spec.type}`, {
            input_name: name,
            received_type: received,
            linked_node: val,
          }),
        );
        continue;
      }
      try {
        if (!validateInputs(graph, sourceId as string, validated, host).valid) valid = false;
      } catch (ex) {
        const e = ex as PyException;
        valid = false;
        validated.set(sourceId as string, {
          valid: false,
          errors: [
            err('exception_during_inner_validation', 'Exception when validating inner node', e.message, {
              input_name: name,
              exception_message: e.message,
              exception_type: e.pyType ?? 'Exception',
              traceback: [],
              linked_node: val,
            }),
          ],
        });
      }
      continue;
    }
    const literal = checkLiteral(node.class_type, name, spec, val, host);
    if (literal) errors.push(literal);
  }
  const verdict = { valid: valid && errors.length === 0, errors };
  validated.set(id, verdict);
  return verdict;
}

function checkLiteral(classType: string, name: string, spec: InputSpec, raw: unknown, host: HostLists): ValidationError | null {
  if ('type' in spec) {
    let val: unknown = raw;
    if (spec.type === 'INT' || spec.type === 'FLOAT') {
      const n = typeof raw === 'boolean' ? Number(raw) : typeof raw === 'number' ? raw : typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : NaN;
      if (!Number.isFinite(n)) {
        return err('invalid_input_type', `Failed to convert an input value to a ${spec.type} value`, `${name}, ${pyRepr(raw)}, could not convert`, {
          input_name: name,
          received_value: raw,
        });
      }
      val = spec.type === 'INT' ? Math.trunc(n) : n;
      if (spec.min !== undefined && (val as number) < spec.min) {
        return err('value_smaller_than_min', `Value ${val} smaller than min of ${spec.min}`, name, { input_name: name, received_value: val });
      }
      if (spec.max !== undefined && (val as number) > spec.max) {
        return err('value_bigger_than_max', `Value ${val} bigger than max of ${spec.max}`, name, { input_name: name, received_value: val });
      }
    }
    return null;
  }
  if ('dynamic' in spec && spec.dynamic === 'installed_models') return null;
  if ('dynamic' in spec && spec.dynamic === 'input_images' && classType === 'LoadImage') {
    // LoadImage has VALIDATE_INPUTS(image): the combo check is skipped and its own check runs.
    if (typeof raw === 'string' && host.inputImages().includes(raw)) return null;
    return err('custom_validation_failed', 'Custom validation failed for node', `${name} - Invalid image file: ${String(raw)}`, { input_name: name });
  }
  const options = 'combo' in spec ? [...spec.combo] : spec.dynamic === 'loras' ? host.loras() : host.inputImages();
  const val = typeof raw === 'string' ? raw.replace(/\\/g, '/') : raw;
  if (options.includes(val as string)) return null;
  const long = options.length > 20;
  return err('value_not_in_list', 'Value not in list', `${name}: ${pyRepr(val)} not in ${long ? `(list of length ${options.length})` : pyRepr(options)}`, {
    input_name: name,
    input_config: long ? null : [options, {}],
    received_value: val,
  });
}
