/**
 * The identity gate (pure; decide here, act in jobs/generation-pipeline.ts): what to do with one
 * scored output image.
 *
 *   match                                  -> accept
 *   below tau, retries of this method left -> retry with a new seed (a LoRA one step stronger:
 *                                             a stronger LoRA reproduces the learned face more)
 *   retries used, face swap possible and
 *   not already tried                      -> one face-swap attempt
 *   otherwise                              -> deliver the best attempt, flagged
 *
 * Bounded: at most 1 + retries + 1 runs per image. An output that could not be scored (no
 * identity engine, no reference faces) is accepted unscored: the gate cannot judge it.
 */
import type { GenerationMethod } from './generation-planner.js';

export interface GatePolicy {
  /** Regenerations of the planned method (LIKENESS_GATE_RETRIES). */
  retries: number;
  /** LoRA strength added per retry, and its ceiling. */
  strengthStep: number;
  maxStrength: number;
  faceSwapAvailable: boolean;
}

/** Past ~1.5 AI Toolkit LoRAs start to burn colours and override the prompt; 0.15 a step stays clear of it. */
export const DEFAULT_STRENGTH_STEP = 0.15;
export const DEFAULT_MAX_STRENGTH = 1.5;

export interface GateState {
  /** Method of the attempt just scored. */
  method: GenerationMethod;
  /** `planned`: the generation's method (with its retries); `faceswap_fallback`: the one extra attempt. */
  phase: 'planned' | 'faceswap_fallback';
  /** Retries of the planned method so far (0 after its first attempt). */
  retriesUsed: number;
  /** LoRA strength of the attempt just scored (null for other methods). */
  strength: number | null;
}

export type GateDecision =
  | { action: 'accept' }
  | { action: 'retry'; strength: number | null; reason: string }
  | { action: 'switch_to_faceswap'; reason: string }
  | { action: 'flag'; reason: string };

export function decideGate(score: { scored: boolean; match: boolean }, state: GateState, policy: GatePolicy): GateDecision {
  if (!score.scored || score.match) return { action: 'accept' };
  if (state.phase === 'planned' && state.retriesUsed < policy.retries) {
    const strength =
      state.method === 'lora' && state.strength !== null ? roundStrength(Math.min(policy.maxStrength, state.strength + policy.strengthStep)) : state.strength;
    return { action: 'retry', strength, reason: `identity below threshold: retry ${state.retriesUsed + 1} of ${policy.retries} with a new seed` };
  }
  if (state.phase === 'planned' && state.method !== 'faceswap' && policy.faceSwapAvailable) {
    return { action: 'switch_to_faceswap', reason: `identity still below threshold after ${policy.retries} ${state.method} retries: trying face swap` };
  }
  return { action: 'flag', reason: 'identity below threshold after every allowed attempt: delivered flagged' };
}

function roundStrength(x: number): number {
  return Math.round(x * 100) / 100;
}

export interface ScoredAttempt {
  similarity: number | null;
  match: boolean;
}

/** The attempt to deliver when none matched: the highest similarity; faceless attempts last. */
export function bestAttempt<T extends ScoredAttempt>(attempts: readonly T[]): T | null {
  let best: T | null = null;
  for (const a of attempts) {
    if (!best) best = a;
    else if (a.match && !best.match) best = a;
    else if (a.match === best.match && (a.similarity ?? -Infinity) > (best.similarity ?? -Infinity)) best = a;
  }
  return best;
}
