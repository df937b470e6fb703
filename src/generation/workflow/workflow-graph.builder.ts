/**
 * Builds API-format graphs node by node with sequential ids ("1", "2", ...), so generated workflows
 * are deterministic and readable in ComfyUI's queue and history.
 */
import type { ComfyWorkflow, Link } from './comfy-workflow.types.js';

export class WorkflowGraphBuilder {
  private readonly nodes: ComfyWorkflow = {};
  private next = 1;

  add(classType: string, inputs: Record<string, unknown>, title?: string): string {
    const id = String(this.next++);
    this.nodes[id] = { class_type: classType, inputs, _meta: { title: title ?? classType } };
    return id;
  }

  /** The link to output `index` of node `id`. */
  out(id: string, index = 0): Link {
    return [id, index];
  }

  build(): ComfyWorkflow {
    return structuredClone(this.nodes);
  }
}
