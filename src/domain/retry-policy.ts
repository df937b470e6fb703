/**
 * Decide, then do: given what went wrong and how often, return what to do next. The caller
 * performs it. Attempts are capped; delays grow exponentially with jitter supplied by the caller
 * (so this stays pure and testable).
 */
import type { ProviderFaultKind } from './errors.js';

export interface RetryLimits {
  /** Retries of a single provider call (transient faults) within one step. */
  maxTransientRetries: number;
  /** New provider attempts (pods) after preemption. */
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_RETRY_LIMITS: RetryLimits = {
  maxTransientRetries: 8,
  maxAttempts: 3,
  baseDelayMs: 1_000,
  maxDelayMs: 60_000,
};

export type RetryDecision =
  | { action: 'retry'; delayMs: number }
  | { action: 'new_attempt'; delayMs: number }
  | { action: 'fail'; reason: string };

export function backoff(limits: RetryLimits, n: number, jitter01: number): number {
  const exp = Math.min(limits.maxDelayMs, limits.baseDelayMs * 2 ** Math.max(0, n));
  // Full jitter in [exp/2, exp]: spreads retries of many runs hitting the same outage.
  return Math.round(exp / 2 + (exp / 2) * Math.min(1, Math.max(0, jitter01)));
}

export function decideRetry(
  limits: RetryLimits,
  fault: { kind: ProviderFaultKind; message: string },
  counts: { transientRetries: number; attempts: number },
  jitter01: number,
): RetryDecision {
  switch (fault.kind) {
    case 'transient':
      if (counts.transientRetries >= limits.maxTransientRetries) {
        return { action: 'fail', reason: `Provider kept failing: ${fault.message}` };
      }
      return { action: 'retry', delayMs: backoff(limits, counts.transientRetries, jitter01) };
    case 'preempted':
      if (counts.attempts >= limits.maxAttempts) {
        return { action: 'fail', reason: `Training was interrupted ${counts.attempts} times: ${fault.message}` };
      }
      return { action: 'new_attempt', delayMs: backoff(limits, counts.attempts - 1, jitter01) };
    case 'fatal':
      return { action: 'fail', reason: fault.message };
  }
}
