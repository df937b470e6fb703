/**
 * The consistency metric behind "face match > 95%", as pure functions over scored images, plus the
 * copy-paste guard. A claim needs the lower bound of the Wilson 95% interval, not the raw rate:
 * 19/20 is 95% but its interval starts near 76%.
 */
import type { ImageScore } from './identity.types.js';
import { hammingDistance } from './image-quality.js';

// Moved to src/domain/statistics.ts so the success metrics can use them without importing identity.
import { percentile, wilsonInterval, type Interval } from '../domain/statistics.js';
export { percentile, wilsonInterval, type Interval };

export interface ConsistencySummary {
  /** Images evaluated (each scored once). */
  evaluated: number;
  matched: number;
  /** Share of evaluated images with exactly one face at or above tau. */
  matchRate: number;
  matchRateInterval: Interval;
  /** Over images with exactly one face. */
  meanSimilarity: number | null;
  p5Similarity: number | null;
  noFaceRate: number;
  multiFaceRate: number;
  /** Outputs flagged as copies of a reference; they count as evaluated but never as matched. */
  copyPasteFlagged: number;
}

export function summarizeConsistency(scores: readonly (ImageScore & { copyPaste?: boolean })[]): ConsistencySummary {
  const recognizers = new Set(scores.map((s) => s.recognizerId));
  if (recognizers.size > 1) throw new Error(`scores of several recognisers cannot be summarised together: ${[...recognizers].join(', ')}`);
  const evaluated = scores.length;
  const matched = scores.filter((s) => s.match && !s.copyPaste).length;
  const single = scores.filter((s) => s.faceCount === 1 && s.similarity !== null).map((s) => s.similarity!).sort((a, b) => a - b);
  return {
    evaluated,
    matched,
    matchRate: evaluated ? matched / evaluated : 0,
    matchRateInterval: wilsonInterval(matched, evaluated),
    meanSimilarity: single.length ? single.reduce((a, b) => a + b, 0) / single.length : null,
    p5Similarity: percentile(single, 0.05),
    noFaceRate: evaluated ? scores.filter((s) => s.faceCount === 0).length / evaluated : 0,
    multiFaceRate: evaluated ? scores.filter((s) => s.faceCount > 1).length / evaluated : 0,
    copyPasteFlagged: scores.filter((s) => s.copyPaste).length,
  };
}

export interface CopyPasteRules {
  /** Similarity to one reference at or above this is a copy whatever the others say. */
  nearIdentical: number;
  /** ...or: best reference this far above the median of the others (one reference reproduced). */
  margin: number;
  /** Perceptual-hash distance at or below this is a copy of that training image. */
  maxHashDistance: number;
}

/**
 * Measured on faces-bbt with the shipped recogniser: copies of a photo (re-encoded, resized,
 * mirrored, relit) sit at 0.97-1.0 of it and median 0.03-0.045 above the other references, while a
 * genuinely different photo of the person reached at most 0.980 and 0.029 above the rest.
 */
export const DEFAULT_COPY_PASTE_RULES: CopyPasteRules = { nearIdentical: 0.985, margin: 0.035, maxHashDistance: 8 };

export interface CopyPasteVerdict {
  copyPaste: boolean;
  reason: 'hash' | 'near_identical' | 'one_reference' | null;
  /** Index of the reference it copies, when known. */
  referenceIndex: number | null;
}

/**
 * An output that reproduces a training image is not a success of the LoRA: flag it when its
 * perceptual hash matches a reference's, or when its face is far closer to one reference than to
 * all the others (a generic good likeness is close to all of them).
 */
export function detectCopyPaste(
  score: Pick<ImageScore, 'perReference'>,
  outputHash: string | null,
  referenceHashes: readonly (string | null)[],
  rules: CopyPasteRules = DEFAULT_COPY_PASTE_RULES,
): CopyPasteVerdict {
  if (outputHash) {
    const i = referenceHashes.findIndex((h) => h !== null && hammingDistance(h, outputHash) <= rules.maxHashDistance);
    if (i >= 0) return { copyPaste: true, reason: 'hash', referenceIndex: i };
  }
  const sims = score.perReference;
  if (sims.length === 0) return { copyPaste: false, reason: null, referenceIndex: null };
  const best = Math.max(...sims);
  const bestIndex = sims.indexOf(best);
  if (best >= rules.nearIdentical) return { copyPaste: true, reason: 'near_identical', referenceIndex: bestIndex };
  const others = sims.filter((_, i) => i !== bestIndex).sort((a, b) => a - b);
  const median = percentile(others, 0.5);
  if (median !== null && best - median >= rules.margin) return { copyPaste: true, reason: 'one_reference', referenceIndex: bestIndex };
  return { copyPaste: false, reason: null, referenceIndex: null };
}
