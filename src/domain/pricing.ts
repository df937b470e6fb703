/**
 * Training prices in credits (1 credit ~ $0.001), per base model: base + per image. Defaults come
 * from the platform's pricing file (DESIGN.md, "Facts from the platform's own specs"); operators
 * override them through configuration.
 */
import type { BaseModel } from './base-models.js';

export interface Price {
  base: number;
  perImage: number;
}
export type PriceTable = Record<BaseModel, Price>;

export const DEFAULT_PRICES: PriceTable = {
  'zimage-turbo': { base: 15_000, perImage: 1_000 },
  'flux-dev': { base: 25_000, perImage: 1_000 },
  wan21: { base: 25_000, perImage: 1_000 },
  wan22: { base: 25_000, perImage: 1_000 },
  'qwen-image': { base: 25_000, perImage: 1_000 },
};

export interface Quote {
  baseModel: BaseModel;
  imageCount: number;
  base: number;
  perImage: number;
  imagesTotal: number;
  total: number;
  /** A retry after a failed run is free: the quote then shows what it would have cost and charges 0. */
  free: boolean;
  charge: number;
}

export function quote(prices: PriceTable, baseModel: BaseModel, imageCount: number, free = false): Quote {
  if (!Number.isInteger(imageCount) || imageCount < 0) throw new RangeError('imageCount must be a non-negative integer');
  const { base, perImage } = prices[baseModel];
  const imagesTotal = perImage * imageCount;
  const total = base + imagesTotal;
  return { baseModel, imageCount, base, perImage, imagesTotal, total, free, charge: free ? 0 : total };
}

/** Expected wall time of a training, for quotes and the wizard: steps x seconds per step + overhead. */
export function estimateMinutes(steps: number, secondsPerStep: number, overheadSeconds: number): number {
  return Math.max(1, Math.round((steps * secondsPerStep + overheadSeconds) / 60));
}
