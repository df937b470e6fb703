/**
 * When to try an outgoing webhook again, decided purely. A receiver that answers 2xx has it; any
 * other answer or no answer is retried with growing delays (about 10 s, 30 s, 2 min, 10 min,
 * 30 min, 1 h, 3 h, 6 h: a receiver down for most of a day still gets every event), with jitter so
 * many deliveries to one recovering receiver do not arrive together. A 410 Gone means the receiver
 * asked us to stop.
 */

export const WEBHOOK_DELAYS_SECONDS = [10, 30, 120, 600, 1800, 3600, 3 * 3600, 6 * 3600] as const;
export const WEBHOOK_MAX_ATTEMPTS = WEBHOOK_DELAYS_SECONDS.length + 1;

export type WebhookAttemptOutcome = { ok: true; status: number } | { ok: false; status: number | null; error: string };

export type WebhookRetryDecision = { action: 'delivered' } | { action: 'retry'; delaySeconds: number } | { action: 'give_up'; reason: string };

/** `attempts` counts the attempt just made (1 for the first). `random` in [0, 1). */
export function decideWebhookRetry(outcome: WebhookAttemptOutcome, attempts: number, random: number): WebhookRetryDecision {
  if (outcome.ok) return { action: 'delivered' };
  if (outcome.status === 410) return { action: 'give_up', reason: 'the receiver answered 410 Gone' };
  if (attempts >= WEBHOOK_MAX_ATTEMPTS) return { action: 'give_up', reason: `no 2xx answer after ${attempts} attempts (last: ${outcome.error})` };
  const base = WEBHOOK_DELAYS_SECONDS[Math.max(0, attempts - 1)]!;
  // +-20% jitter, never below one second.
  return { action: 'retry', delaySeconds: Math.max(1, Math.round(base * (0.8 + 0.4 * random))) };
}
