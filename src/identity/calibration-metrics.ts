/**
 * Verification metrics over labelled pairs: false-accept / false-reject rates at a threshold, the
 * ROC, true-accept rate at a fixed false-accept rate, and the choice of tau. Pure functions.
 *
 * A pair whose image had no face has similarity null: it counts as wrong whatever its label (the
 * product cannot verify what it cannot see), so misses lower accuracy instead of hiding.
 */

export interface ScoredPair {
  same: boolean;
  similarity: number | null;
}

export interface OperatingPoint {
  tau: number;
  /** Share of different-person pairs accepted as the same person. */
  far: number;
  /** Share of same-person pairs not accepted (a missing face counts as a rejection). */
  frr: number;
  /**
   * Balanced accuracy: mean of the two per-label rates of correct decisions, so the many negative
   * pairs do not dominate; a pair with a missing face is wrong whatever its label.
   */
  accuracy: number;
  /** Share of all pairs decided correctly (missing faces wrong). */
  pairAccuracy: number;
}

export function operatingPoint(pairs: readonly ScoredPair[], tau: number): OperatingPoint {
  let pos = 0, neg = 0, falseAccept = 0, falseReject = 0, missingNeg = 0;
  for (const p of pairs) {
    if (p.same) {
      pos++;
      if (p.similarity === null || p.similarity < tau) falseReject++;
    } else {
      neg++;
      if (p.similarity === null) missingNeg++;
      else if (p.similarity >= tau) falseAccept++;
    }
  }
  const far = neg ? falseAccept / neg : 0;
  const frr = pos ? falseReject / pos : 0;
  const negCorrect = neg ? (neg - falseAccept - missingNeg) / neg : 1;
  return {
    tau,
    far,
    frr,
    accuracy: (negCorrect + 1 - frr) / 2,
    pairAccuracy: pos + neg ? (pos + neg - falseAccept - falseReject - missingNeg) / (pos + neg) : 0,
  };
}

/** Smallest threshold whose FAR is <= target (over all negative pairs). */
export function tauAtFar(pairs: readonly ScoredPair[], targetFar: number): number {
  const negatives = pairs.filter((p) => !p.same);
  const scores = negatives.flatMap((p) => (p.similarity === null ? [] : [p.similarity])).sort((a, b) => b - a);
  if (negatives.length === 0) return -Infinity;
  const allowed = Math.floor(targetFar * negatives.length);
  // Accepting `allowed` negatives: tau must sit just above the (allowed+1)-th highest score.
  const bar = scores[allowed];
  return bar === undefined ? -Infinity : nextUp(bar);
}

function nextUp(x: number): number {
  return x + Math.max(Math.abs(x) * 1e-9, 1e-9);
}

/** True-accept rate (1 - FRR) at the threshold where FAR first falls to the target. */
export function tarAtFar(pairs: readonly ScoredPair[], targetFar: number): { tar: number; tau: number } {
  const tau = tauAtFar(pairs, targetFar);
  return { tar: 1 - operatingPoint(pairs, tau).frr, tau };
}

/** Min and max without spreading (calibration sets hold hundreds of thousands of pairs). */
function range(xs: readonly number[]): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (const x of xs) {
    if (x < lo) lo = x;
    if (x > hi) hi = x;
  }
  return [lo, hi];
}

/** ROC points (FAR, TAR) at `steps` thresholds across the observed similarity range. */
export function rocCurve(pairs: readonly ScoredPair[], steps = 50): OperatingPoint[] {
  const scores = pairs.flatMap((p) => (p.similarity === null ? [] : [p.similarity]));
  if (scores.length === 0) return [];
  const [lo, hi] = range(scores);
  return Array.from({ length: steps + 1 }, (_, i) => operatingPoint(pairs, lo + ((hi - lo) * i) / steps));
}

/** Equal error rate: where FAR (falling with tau) and FRR (rising) cross, found by bisection. */
export function equalErrorRate(pairs: readonly ScoredPair[]): OperatingPoint {
  const scores = pairs.flatMap((p) => (p.similarity === null ? [] : [p.similarity]));
  if (scores.length === 0) return operatingPoint(pairs, 0);
  let [lo, hi] = range(scores);
  for (let i = 0; i < 40; i++) {
    const mid = (lo + hi) / 2;
    const op = operatingPoint(pairs, mid);
    if (op.far > op.frr) lo = mid;
    else hi = mid;
  }
  return operatingPoint(pairs, (lo + hi) / 2);
}

export interface CalibrationReport {
  recognizerId: string;
  pairs: { same: number; different: number; missingFace: number };
  images: { total: number; noFace: number };
  chosen: OperatingPoint;
  tarAtFar1: { tar: number; tau: number };
  tarAtFar01: { tar: number; tau: number };
  eer: OperatingPoint;
  roc: OperatingPoint[];
}

export function calibrationReport(
  recognizerId: string,
  pairs: readonly ScoredPair[],
  images: { total: number; noFace: number },
  targetFar = 0.01,
): CalibrationReport {
  const tau = tauAtFar(pairs, targetFar);
  return {
    recognizerId,
    pairs: {
      same: pairs.filter((p) => p.same).length,
      different: pairs.filter((p) => !p.same).length,
      missingFace: pairs.filter((p) => p.similarity === null).length,
    },
    images,
    chosen: operatingPoint(pairs, tau),
    tarAtFar1: tarAtFar(pairs, 0.01),
    tarAtFar01: tarAtFar(pairs, 0.001),
    eer: equalErrorRate(pairs),
    roc: rocCurve(pairs),
  };
}
