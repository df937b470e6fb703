/**
 * `buildWorkflow`: the ComfyUI API-format workflow for one base model and one method.
 * - lora: LoraLoaderModelOnly right after each model loader (Wan 2.2: the high-noise file on the
 *   high-noise expert, the low-noise file on the low-noise one), trigger word first in the prompt.
 * - faceswap: PuLID for FLUX; a typed `method_unsupported` elsewhere, so the planner falls back.
 * - plain: the base model alone.
 */
import { BASE_MODEL_LABELS, LORA_PARTS, type BaseModel, type LoraPart } from '../../domain/base-models.js';
import type { Link } from './comfy-workflow.types.js';
import { FACE_SWAP_SUPPORT, pulidFluxPatch } from './face-swap.builder.js';
import { buildFluxDev, buildQwenImage, buildWan21, buildWan22, buildZImageTurbo } from './text-to-image.builders.js';
import { prependTrigger } from './trigger-word.util.js';
import type {
  BuildWorkflowRequest,
  BuildWorkflowResult,
  FamilyInput,
  FamilyOutput,
  LoraSpec,
} from './workflow-builder.types.js';
import type { WorkflowGraphBuilder } from './workflow-graph.builder.js';

const FAMILY_BUILDERS: Readonly<Record<BaseModel, (input: FamilyInput) => FamilyOutput>> = {
  'zimage-turbo': buildZImageTurbo,
  'flux-dev': buildFluxDev,
  wan21: buildWan21,
  wan22: buildWan22,
  'qwen-image': buildQwenImage,
};

const invalid = (message: string): BuildWorkflowResult => ({ ok: false, code: 'invalid_request', message });

export function buildWorkflow(request: BuildWorkflowRequest): BuildWorkflowResult {
  const { baseModel } = request;
  if (!Number.isInteger(request.seed) || request.seed < 0) return invalid('seed must be a non-negative integer');
  if (!validSide(request.width) || !validSide(request.height)) {
    return invalid('width and height must be multiples of 16 between 256 and 2048');
  }
  let positive = request.prompt;
  let patchModel: FamilyInput['patchModel'] = (_b, model) => model;

  if (request.method === 'lora') {
    const missing = LORA_PARTS[baseModel].filter((part) => !request.lora.fileNames[part]);
    if (missing.length > 0) {
      return invalid(`a ${BASE_MODEL_LABELS[baseModel]} LoRA needs its ${missing.join(' and ')} file`);
    }
    positive = prependTrigger(request.prompt, request.lora.triggerWord);
    patchModel = loraPatch(request.lora);
  } else if (request.method === 'faceswap') {
    const support = FACE_SWAP_SUPPORT[baseModel];
    if (support.method === null) return { ok: false, code: 'method_unsupported', message: support.reason };
    if (request.referenceImage.trim() === '') return invalid('face swap needs the reference face image');
    patchModel = pulidFluxPatch(request.referenceImage);
  }

  const built = FAMILY_BUILDERS[baseModel]({
    positive,
    negative: request.negativePrompt ?? '',
    seed: request.seed,
    width: request.width,
    height: request.height,
    patchModel,
  });
  return { ok: true, ...built };
}

function validSide(value: number): boolean {
  return Number.isInteger(value) && value >= 256 && value <= 2048 && value % 16 === 0;
}

/** LoraLoaderModelOnly with the file for the model's part; AI Toolkit LoRAs patch the transformer only. */
function loraPatch(lora: LoraSpec) {
  return (b: WorkflowGraphBuilder, model: Link, part: LoraPart): Link => {
    const fileName = lora.fileNames[part]!;
    const node = b.add(
      'LoraLoaderModelOnly',
      { lora_name: fileName, strength_model: lora.strength, model },
      `Likeness LoRA (${fileName})`,
    );
    return b.out(node);
  };
}
