/**
 * The generation planner (pure): which method a generation for a character and a base model uses,
 * and why, in words the user can read.
 *
 *   LoRA      the character's active LoRA for the requested base model exists and LoRA use is on:
 *             its file(s), the character's strength, its trigger word;
 *   face swap otherwise, when the base model has a face-swap node and the character has an accepted
 *             reference face (the best one: liked first, then the largest face, then the oldest);
 *   plain     otherwise.
 * The plan also names the fallback the pipeline takes when the LoRA path fails at run time (the file
 * cannot reach ComfyUI): face swap when possible, else plain, so a generation never fails for it.
 *
 * What the generation part knows (which base models have a face-swap node, how LoRA files are named)
 * comes in as `PlannerDeps`: the domain imports nothing from generation/.
 */
import { BASE_MODEL_LABELS, type BaseModel, type LoraPart } from './base-models.js';

export type GenerationMethod = 'lora' | 'faceswap' | 'plain';

export type PlanCode =
  | 'lora_ready'
  | 'lora_disabled'
  | 'lora_training'
  | 'no_lora_for_base_model'
  | 'no_lora'
  /** Set by the caller: the platform's own workflow could not take the LoRA (it runs as sent). */
  | 'lora_not_injectable';

export interface PlannerLora {
  id: string;
  baseModel: BaseModel;
  version: number;
  triggerWord: string;
}

/** An accepted character-sheet image with a face. */
export interface PlannerReference {
  imageId: string;
  liked: boolean;
  /** Face box area in pixels; null when the check found no box. */
  faceArea: number | null;
  createdAt: Date;
}

export interface PlanInput {
  baseModel: BaseModel;
  character: { loraEnabled: boolean; loraStrength: number; triggerWord: string };
  /** Active LoRA per base model (records that are not deleted). */
  activeLoras: Partial<Record<BaseModel, PlannerLora>>;
  /** A training run for this base model is in progress. */
  trainingInProgress: boolean;
  references: readonly PlannerReference[];
}

export type FaceSwapAvailability = { method: string } | { method: null; reason: string };

export interface PlannerDeps {
  faceSwapSupport: Readonly<Record<BaseModel, FaceSwapAvailability>>;
  loraFileNames: (loraId: string, baseModel: BaseModel) => Partial<Record<LoraPart, string>>;
}

export interface PlannedLora {
  loraModelId: string;
  version: number;
  fileNames: Partial<Record<LoraPart, string>>;
  strength: number;
  triggerWord: string;
}

export interface PlannedFaceSwap {
  /** The face-swap node family, e.g. `pulid-flux`. */
  method: string;
  referenceImageId: string;
}

export interface GenerationPlan {
  method: GenerationMethod;
  /** Why the LoRA is or is not used. */
  code: PlanCode;
  /** The decision in one or two sentences. */
  reason: string;
  lora: PlannedLora | null;
  /** Face swap when the base model and the references allow it (the method, or the fallback). */
  faceSwap: PlannedFaceSwap | null;
  /** What the LoRA path falls back to when it fails at run time; null unless method is lora. */
  fallback: { method: 'faceswap' | 'plain'; reason: string } | null;
}

/** The reference a face swap uses: liked first, then the largest face, then the earliest upload. */
export function bestReference(references: readonly PlannerReference[]): PlannerReference | null {
  const withFace = references.filter((r) => r.faceArea !== null && r.faceArea > 0);
  const pool = withFace.length ? withFace : [...references];
  const sorted = [...pool].sort(
    (a, b) =>
      Number(b.liked) - Number(a.liked) ||
      (b.faceArea ?? 0) - (a.faceArea ?? 0) ||
      a.createdAt.getTime() - b.createdAt.getTime() ||
      a.imageId.localeCompare(b.imageId),
  );
  return sorted[0] ?? null;
}

export function planGeneration(input: PlanInput, deps: PlannerDeps): GenerationPlan {
  const label = BASE_MODEL_LABELS[input.baseModel];
  const reference = bestReference(input.references);
  const support = deps.faceSwapSupport[input.baseModel];
  const faceSwap: PlannedFaceSwap | null = support.method && reference ? { method: support.method, referenceImageId: reference.imageId } : null;
  const withoutLora = faceSwap
    ? { method: 'faceswap' as const, reason: `Using face swap (${faceSwap.method}) with reference image ${faceSwap.referenceImageId}.` }
    : {
        method: 'plain' as const,
        reason:
          support.method === null
            ? `Generating without identity conditioning: ${support.reason}.`
            : 'Generating without identity conditioning: the character has no accepted reference face for face swap.',
      };

  const active = input.activeLoras[input.baseModel];
  if (active && input.character.loraEnabled) {
    const strength = input.character.loraStrength;
    return {
      method: 'lora',
      code: 'lora_ready',
      reason: `The active LoRA (v${active.version}) for ${label} is ready and LoRA use is on: applied at strength ${strength} with trigger word "${active.triggerWord}".`,
      lora: {
        loraModelId: active.id,
        version: active.version,
        fileNames: deps.loraFileNames(active.id, input.baseModel),
        strength,
        triggerWord: active.triggerWord,
      },
      faceSwap,
      fallback: withoutLora,
    };
  }

  const others = (Object.keys(input.activeLoras) as BaseModel[]).filter((m) => m !== input.baseModel && input.activeLoras[m]);
  let code: PlanCode;
  let why: string;
  if (active) {
    code = 'lora_disabled';
    why = 'LoRA use is turned off for this character.';
  } else if (input.trainingInProgress) {
    code = 'lora_training';
    why = `The character's LoRA for ${label} is still training.`;
  } else if (others.length) {
    code = 'no_lora_for_base_model';
    why = `The character has a LoRA for ${others.map((m) => BASE_MODEL_LABELS[m]).join(', ')} but none for ${label}.`;
  } else {
    code = 'no_lora';
    why = 'The character has no trained LoRA yet.';
  }
  return { method: withoutLora.method, code, reason: `${why} ${withoutLora.reason}`, lora: null, faceSwap, fallback: null };
}
