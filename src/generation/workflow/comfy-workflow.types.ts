/**
 * ComfyUI "API format" workflows: what POST /prompt takes and what "Save (API)" exports.
 * node id -> { class_type, inputs, _meta? }. An input is either a literal (string, number, boolean,
 * object) or a link `[sourceNodeId, outputIndex]` to another node's output.
 *
 * Node ids are strings; most are numeric ("12") but subgraph exports use "178:2" and hand-written
 * graphs use names ("unet"), so nothing here assumes ids are numbers.
 */

/** A reference to output `outputIndex` of node `nodeId`. */
export type Link = readonly [nodeId: string, outputIndex: number];

export interface ComfyNode {
  class_type: string;
  inputs: Record<string, unknown>;
  _meta?: { title?: string; [key: string]: unknown };
}

export type ComfyWorkflow = Record<string, ComfyNode>;

/**
 * Exactly ComfyUI's own test (execution.py `is_link`): a two-element array of a string id and an
 * integer output index. Numbers-as-ids or three-element arrays are literals to ComfyUI, so they are
 * literals here too.
 */
export function isLink(value: unknown): value is Link {
  return (
    Array.isArray(value) &&
    value.length === 2 &&
    typeof value[0] === 'string' &&
    Number.isInteger(value[1]) &&
    (value[1] as number) >= 0
  );
}

export function linkKey(link: Link): string {
  return `${link[0]}#${link[1]}`;
}

/** An output as people read it in --explain: "node 4 output 0". */
export function outputText(output: Link): string {
  return `node ${output[0]} output ${output[1]}`;
}

/** The links a node reads, with the input names that hold them. */
export function linkInputs(node: ComfyNode): Array<{ input: string; link: Link }> {
  const out: Array<{ input: string; link: Link }> = [];
  for (const [input, value] of Object.entries(node.inputs)) {
    if (isLink(value)) out.push({ input, link: value });
  }
  return out;
}

export type WorkflowShapeProblem =
  | { kind: 'not_an_object' }
  | { kind: 'ui_format' }
  | { kind: 'empty' }
  | { kind: 'bad_node'; nodeId: string };

/**
 * Checks the shape of an untrusted value. Links to missing nodes and cycles are checked separately
 * (workflow-graph.util.ts) because they need the whole graph.
 */
export function checkWorkflowShape(value: unknown): WorkflowShapeProblem | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { kind: 'not_an_object' };
  const record = value as Record<string, unknown>;
  // The editor's format has a node array and a link table; people paste it by mistake.
  if (Array.isArray(record.nodes) && Array.isArray(record.links)) return { kind: 'ui_format' };
  const entries = Object.entries(record);
  if (entries.length === 0) return { kind: 'empty' };
  for (const [nodeId, node] of entries) {
    if (typeof node !== 'object' || node === null || Array.isArray(node)) return { kind: 'bad_node', nodeId };
    const n = node as Record<string, unknown>;
    if (typeof n.class_type !== 'string' || n.class_type.length === 0) return { kind: 'bad_node', nodeId };
    if (typeof n.inputs !== 'object' || n.inputs === null || Array.isArray(n.inputs)) {
      return { kind: 'bad_node', nodeId };
    }
  }
  return null;
}
