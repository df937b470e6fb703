/**
 * Training time estimates for quotes and ETAs. Seconds per step are typical figures for an
 * RTX 4090 / 5090 with AI Toolkit's defaults for each model (quantised, gradient checkpointing);
 * the overhead covers pod boot, model download and load, and the final save.
 */
import type { BaseModel } from './base-models.js';

export const SECONDS_PER_STEP: Record<BaseModel, number> = {
  'zimage-turbo': 1.2,
  'flux-dev': 2.5,
  wan21: 2.0,
  wan22: 2.6,
  'qwen-image': 3.0,
};

export const OVERHEAD_SECONDS = 600;

/** Remaining seconds from the trainer's own rate when it reports one, else from the observed rate. */
export function etaSeconds(p: {
  step: number;
  totalSteps: number;
  secondsPerStep?: number | null;
  elapsedSeconds?: number | null;
}): number | null {
  const remaining = Math.max(0, p.totalSteps - p.step);
  if (p.totalSteps <= 0) return null;
  if (remaining === 0) return 0;
  let rate = p.secondsPerStep ?? null;
  if (!rate && p.elapsedSeconds && p.step > 0) rate = p.elapsedSeconds / p.step;
  return rate ? Math.round(remaining * rate) : null;
}
