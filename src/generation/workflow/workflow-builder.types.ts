/**
 * The contract of `buildWorkflow`: the generation planner's request for one base model and one
 * method, and the family builders' shared input. Method-specific fields are required by type where
 * the method needs them, so a "lora" request without a LoRA does not compile.
 */
import type { BaseModel, LoraPart } from '../../domain/base-models.js';
import type { ComfyWorkflow, Link } from './comfy-workflow.types.js';
import type { WorkflowGraphBuilder } from './workflow-graph.builder.js';

export type GenerationMethod = 'lora' | 'faceswap' | 'plain';

export interface LoraSpec {
  /** File per part, as `loraFileNames(loraId, baseModel)` gives them. Wan 2.2 needs both experts. */
  fileNames: Partial<Record<LoraPart, string>>;
  strength: number;
  triggerWord: string;
}

interface CommonRequest {
  baseModel: BaseModel;
  prompt: string;
  negativePrompt?: string;
  seed: number;
  width: number;
  height: number;
}

export type BuildWorkflowRequest = CommonRequest &
  (
    | { method: 'plain' }
    | { method: 'lora'; lora: LoraSpec }
    /** `referenceImage`: the LoadImage file name of the face, uploaded to ComfyUI's input folder by the caller. */
    | { method: 'faceswap'; referenceImage: string }
  );

export type BuildWorkflowResult =
  | { ok: true; workflow: ComfyWorkflow; outputNodeIds: string[] }
  | { ok: false; code: 'method_unsupported' | 'invalid_request'; message: string };

/** What a family builder gets: the texts to encode and a hook that patches each expert's model. */
export interface FamilyInput {
  positive: string;
  negative: string;
  seed: number;
  width: number;
  height: number;
  /**
   * Wraps a base model on its way to the sampler (LoRA or face-swap nodes). `part` says which model:
   * `main`, or Wan 2.2's `high_noise` / `low_noise` expert.
   */
  patchModel: (builder: WorkflowGraphBuilder, model: Link, part: LoraPart) => Link;
}

export interface FamilyOutput {
  workflow: ComfyWorkflow;
  outputNodeIds: string[];
}
