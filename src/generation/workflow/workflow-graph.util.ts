/**
 * Graph utilities over API-format workflows: who reads an output, whether every link resolves,
 * whether the graph is acyclic, and node ids that cannot collide. Pure functions; none mutates.
 */
import { type ComfyWorkflow, type Link, linkInputs, linkKey } from './comfy-workflow.types.js';

export interface Consumer {
  nodeId: string;
  input: string;
}

/** Every (node, input) that reads each output, keyed by `linkKey`. Built once per analysis. */
export function buildConsumerIndex(workflow: ComfyWorkflow): Map<string, Consumer[]> {
  const index = new Map<string, Consumer[]>();
  for (const [nodeId, node] of Object.entries(workflow)) {
    for (const { input, link } of linkInputs(node)) {
      const key = linkKey(link);
      const list = index.get(key);
      if (list) list.push({ nodeId, input });
      else index.set(key, [{ nodeId, input }]);
    }
  }
  return index;
}

export function consumersOf(workflow: ComfyWorkflow, output: Link): Consumer[] {
  return buildConsumerIndex(workflow).get(linkKey(output)) ?? [];
}

/** The first link whose source node does not exist, or null. */
export function findDanglingLink(workflow: ComfyWorkflow): (Consumer & { link: Link }) | null {
  for (const [nodeId, node] of Object.entries(workflow)) {
    for (const { input, link } of linkInputs(node)) {
      if (!Object.hasOwn(workflow, link[0])) return { nodeId, input, link };
    }
  }
  return null;
}

/**
 * Node ids in dependency order (sources first), or null when the graph has a cycle. Kahn's
 * algorithm; ties keep insertion order so the result is deterministic.
 */
export function topologicalOrder(workflow: ComfyWorkflow): string[] | null {
  const ids = Object.keys(workflow);
  const indegree = new Map<string, number>(ids.map((id) => [id, 0]));
  const readers = new Map<string, string[]>();
  for (const id of ids) {
    // A node reading the same source twice still depends on it once.
    const sources = new Set(linkInputs(workflow[id]!).map(({ link }) => link[0]));
    for (const source of sources) {
      if (!indegree.has(source)) continue; // dangling links are findDanglingLink's concern
      indegree.set(id, (indegree.get(id) ?? 0) + 1);
      const list = readers.get(source);
      if (list) list.push(id);
      else readers.set(source, [id]);
    }
  }
  const queue = ids.filter((id) => indegree.get(id) === 0);
  const order: string[] = [];
  for (let i = 0; i < queue.length; i++) {
    const id = queue[i]!;
    order.push(id);
    for (const reader of readers.get(id) ?? []) {
      const left = (indegree.get(reader) ?? 0) - 1;
      indegree.set(reader, left);
      if (left === 0) queue.push(reader);
    }
  }
  return order.length === ids.length ? order : null;
}

export function isAcyclic(workflow: ComfyWorkflow): boolean {
  return topologicalOrder(workflow) !== null;
}

/**
 * Hands out node ids that collide with nothing in the workflow nor with each other: numeric ids
 * above the largest numeric id present, so they read like ComfyUI's own. Safe by construction:
 * every existing all-digit id is below `next`, and `String(n)` never equals a non-canonical id
 * ("07", "12:3", "unet").
 */
export function createIdAllocator(workflow: ComfyWorkflow): () => string {
  let next = 1;
  for (const id of Object.keys(workflow)) {
    if (/^\d+$/.test(id)) next = Math.max(next, Number(id) + 1);
  }
  return () => String(next++);
}

/** For each node, the nodes that read any of its outputs. */
export function buildReaderIndex(workflow: ComfyWorkflow): Map<string, string[]> {
  const readers = new Map<string, string[]>();
  for (const [nodeId, node] of Object.entries(workflow)) {
    for (const source of new Set(linkInputs(node).map(({ link }) => link[0]))) {
      const list = readers.get(source);
      if (list) list.push(nodeId);
      else readers.set(source, [nodeId]);
    }
  }
  return readers;
}

/** True when `to` can be reached from `from` by following links downstream. */
export function reachesDownstream(readers: Map<string, string[]>, from: string, to: string): boolean {
  const seen = new Set<string>([from]);
  const stack = [from];
  while (stack.length > 0) {
    for (const reader of readers.get(stack.pop()!) ?? []) {
      if (reader === to) return true;
      if (!seen.has(reader)) {
        seen.add(reader);
        stack.push(reader);
      }
    }
  }
  return false;
}
