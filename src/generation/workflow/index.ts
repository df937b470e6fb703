/**
 * Public surface of the workflow part: LoRA injection into a platform's own ComfyUI workflows,
 * the per-base-model builders, and the schema of POST /v1/workflows/inject.
 */
export type { ComfyNode, ComfyWorkflow, Link } from './comfy-workflow.types.js';
export { isLink } from './comfy-workflow.types.js';
export { injectLora } from './lora-injection.service.js';
export type {
  InjectLoraOptions,
  InjectedLora,
  InjectionChanges,
  InjectionRefusal,
  InjectionResult,
} from './lora-injection.types.js';
export { formatInjectionChanges } from './injection-changes.format.js';
export {
  apiWorkflowSchema,
  injectByCharacterSchema,
  injectByLoraSchema,
  injectOptionsFromNames,
  injectRequestSchema,
  type InjectRequest,
} from './inject.schema.js';
export { buildWorkflow } from './workflow.builder.js';
export type { BuildWorkflowRequest, BuildWorkflowResult, GenerationMethod, LoraSpec } from './workflow-builder.types.js';
export { FACE_SWAP_SUPPORT, type FaceSwapMethod, type FaceSwapSupport } from './face-swap.builder.js';
export { loraFileName, loraFileNames, loraPartFromFileName } from './lora-file-names.util.js';
export { prependTrigger, startsWithTrigger } from './trigger-word.util.js';
