/**
 * The face-swap fallback per base model (used while a character has no LoRA). PuLID for FLUX with
 * the ComfyUI-PuLID-Flux nodes: the character's reference face goes through InsightFace + EVA-CLIP
 * into ApplyPulidFlux, which patches the FLUX model before sampling. The other families have no
 * face-ID adapter node that fits their architecture (IPAdapter FaceID and InstantID exist for
 * SD1.5/SDXL only; PuLID-Flux patches FLUX's double/single blocks), so they report "unsupported"
 * and the planner falls back to plain.
 */
import type { BaseModel, LoraPart } from '../../domain/base-models.js';
import { PULID_FLUX as P } from './base-model-recipes.catalog.js';
import type { Link } from './comfy-workflow.types.js';
import type { WorkflowGraphBuilder } from './workflow-graph.builder.js';

export type FaceSwapMethod = 'pulid-flux';

export type FaceSwapSupport = { method: FaceSwapMethod } | { method: null; reason: string };

const NO_ADAPTER = 'IPAdapter FaceID and InstantID exist for SD1.5/SDXL only, and PuLID-Flux patches FLUX blocks';

export const FACE_SWAP_SUPPORT: Readonly<Record<BaseModel, FaceSwapSupport>> = {
  'flux-dev': { method: 'pulid-flux' },
  'zimage-turbo': { method: null, reason: `no face-swap node exists for Z-Image Turbo (${NO_ADAPTER})` },
  wan21: { method: null, reason: `no face-swap node exists for Wan 2.1 text-to-image (${NO_ADAPTER})` },
  wan22: { method: null, reason: `no face-swap node exists for Wan 2.2 text-to-image (${NO_ADAPTER})` },
  'qwen-image': { method: null, reason: `no face-swap node exists for Qwen-Image (${NO_ADAPTER})` },
};

/** A `patchModel` hook that applies PuLID-Flux with the face in `referenceImage` (a LoadImage file). */
export function pulidFluxPatch(referenceImage: string) {
  return (b: WorkflowGraphBuilder, model: Link, _part: LoraPart): Link => {
    const pulid = b.add('PulidFluxModelLoader', { pulid_file: P.pulidFile }, 'Load PuLID Flux Model');
    const eva = b.add('PulidFluxEvaClipLoader', {}, 'Load Eva Clip (PuLID Flux)');
    const face = b.add('PulidFluxInsightFaceLoader', { provider: P.insightFaceProvider }, 'Load InsightFace (PuLID Flux)');
    const image = b.add('LoadImage', { image: referenceImage }, 'Reference face');
    const apply = b.add(
      'ApplyPulidFlux',
      {
        weight: P.weight,
        start_at: P.startAt,
        end_at: P.endAt,
        model,
        pulid_flux: b.out(pulid),
        eva_clip: b.out(eva),
        face_analysis: b.out(face),
        image: b.out(image),
      },
      'Apply PuLID Flux',
    );
    return b.out(apply);
  };
}
