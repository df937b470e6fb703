/**
 * The workflow of one generation attempt: the builders' graph for the base model and method, or the
 * platform's own API-format workflow with the LoRA injected (`injectLora`) and its seeds set. Also
 * the plan adjustments a platform workflow needs: face swap cannot be added to an arbitrary graph,
 * and a graph that cannot take the LoRA correctly runs as sent (never a failed generation).
 */
import type { BaseModel } from '../domain/base-models.js';
import type { GenerationMethod, GenerationPlan } from '../domain/generation-planner.js';
import { buildWorkflow, injectLora, injectOptionsFromNames, type ComfyWorkflow } from '../generation/workflow/index.js';

export interface WorkflowRequest {
  baseModel: BaseModel;
  prompt: string;
  negativePrompt: string;
  width: number;
  height: number;
  /** The platform's own workflow, when it sent one. */
  sourceWorkflow: ComfyWorkflow | null;
}

export interface AttemptSpec {
  method: GenerationMethod;
  seed: number;
  /** LoRA strength of this attempt (the gate raises it on retries). */
  strength: number | null;
}

/** The LoadImage name of a character's reference face in ComfyUI's input folder. */
export function referenceInputName(imageId: string): string {
  return `likeness_ref_${imageId}.png`;
}

export type AttemptWorkflow = { ok: true; workflow: ComfyWorkflow } | { ok: false; message: string };

export function attemptWorkflow(request: WorkflowRequest, plan: GenerationPlan, attempt: AttemptSpec): AttemptWorkflow {
  if (request.sourceWorkflow) return platformWorkflow(request.sourceWorkflow, plan, attempt);
  const common = {
    baseModel: request.baseModel,
    prompt: request.prompt,
    negativePrompt: request.negativePrompt,
    seed: attempt.seed,
    width: request.width,
    height: request.height,
  };
  let built;
  if (attempt.method === 'lora') {
    if (!plan.lora) return { ok: false, message: 'the plan has no LoRA' };
    built = buildWorkflow({ ...common, method: 'lora', lora: { fileNames: plan.lora.fileNames, strength: attempt.strength ?? plan.lora.strength, triggerWord: plan.lora.triggerWord } });
  } else if (attempt.method === 'faceswap') {
    if (!plan.faceSwap) return { ok: false, message: 'the plan has no face-swap reference' };
    built = buildWorkflow({ ...common, method: 'faceswap', referenceImage: referenceInputName(plan.faceSwap.referenceImageId) });
  } else {
    built = buildWorkflow({ ...common, method: 'plain' });
  }
  return built.ok ? { ok: true, workflow: built.workflow } : { ok: false, message: built.message };
}

function platformWorkflow(source: ComfyWorkflow, plan: GenerationPlan, attempt: AttemptSpec): AttemptWorkflow {
  let workflow = source;
  if (attempt.method === 'lora' && plan.lora) {
    const names = Object.values(plan.lora.fileNames).filter((n): n is string => typeof n === 'string');
    const injected = injectLora(source, injectOptionsFromNames(names, attempt.strength ?? plan.lora.strength, plan.lora.triggerWord));
    if (!injected.ok) return { ok: false, message: injected.message };
    workflow = injected.workflow;
  }
  return { ok: true, workflow: withSeed(workflow, attempt.seed) };
}

/**
 * Sets every literal `seed` / `noise_seed` input (samplers, RandomNoise, seed primitives), so each
 * attempt of a platform's workflow draws new noise as a builder workflow does.
 */
export function withSeed(workflow: ComfyWorkflow, seed: number): ComfyWorkflow {
  const out = structuredClone(workflow);
  for (const node of Object.values(out)) {
    for (const key of ['seed', 'noise_seed']) {
      if (typeof node.inputs[key] === 'number') node.inputs[key] = seed;
    }
  }
  return out;
}

/**
 * A plan for a platform's own workflow: the LoRA when it can be injected (checked now, so the
 * reason is stored), else the workflow as sent; face swap never (it cannot be added to any graph).
 */
export function adaptPlanToPlatformWorkflow(plan: GenerationPlan, source: ComfyWorkflow): GenerationPlan {
  const asSent = 'Face swap cannot be added to a platform workflow, so it runs as sent.';
  if (plan.method === 'lora' && plan.lora) {
    const probe = platformWorkflow(source, plan, { method: 'lora', seed: 0, strength: plan.lora.strength });
    if (probe.ok) return { ...plan, faceSwap: null, fallback: { method: 'plain', reason: 'The LoRA path failed; the workflow runs as sent.' } };
    return {
      ...plan,
      method: 'plain',
      code: 'lora_not_injectable',
      reason: `The active LoRA could not be put into this workflow (${probe.message}); it runs as sent.`,
      lora: null,
      faceSwap: null,
      fallback: null,
    };
  }
  return { ...plan, method: 'plain', reason: plan.method === 'faceswap' ? `${plan.reason} ${asSent}` : plan.reason, faceSwap: null, fallback: null };
}
