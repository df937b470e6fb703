/**
 * One delivery attempt of an outgoing webhook: POST the stored body, signed the Standard Webhooks
 * way (headers `webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64 HMAC-SHA256 of
 * "id.timestamp.body">`) with the `standardwebhooks` library, so any receiver can verify it with
 * that library or its ports in other languages. The timestamp is the attempt's own: receivers
 * reject signatures older than their replay window (5 minutes by default), and the id stays the
 * same across retries so they can drop a duplicate.
 */
import { Webhook } from 'standardwebhooks';
import type { WebhookAttemptOutcome } from '../domain/webhook-retry.js';

export interface WebhookTarget {
  url: string;
  /** `whsec_` + base64 of the key bytes (the Standard Webhooks form). */
  secret: string;
}

const ATTEMPT_TIMEOUT_MS = 10_000;
/** Enough of a receiver's error body to tell what it said, no more. */
const ERROR_BODY_CHARS = 300;

export function signWebhook(secret: string, msgId: string, at: Date, body: string): Record<string, string> {
  return {
    'webhook-id': msgId,
    'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
    'webhook-signature': new Webhook(secret).sign(msgId, at, body),
  };
}

export async function sendWebhook(target: WebhookTarget, msgId: string, body: string, now = new Date()): Promise<WebhookAttemptOutcome> {
  try {
    const res = await fetch(target.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': 'Likeness-Webhooks/1', ...signWebhook(target.secret, msgId, now, body) },
      body,
      redirect: 'manual',
      signal: AbortSignal.timeout(ATTEMPT_TIMEOUT_MS),
    });
    if (res.status >= 200 && res.status < 300) {
      await res.body?.cancel().catch(() => undefined);
      return { ok: true, status: res.status };
    }
    const text = (await res.text().catch(() => '')).slice(0, ERROR_BODY_CHARS);
    return { ok: false, status: res.status, error: `HTTP ${res.status}${text ? `: ${text}` : ''}` };
  } catch (err) {
    const e = err as Error & { cause?: { code?: string } };
    const reason = e.name === 'TimeoutError' ? `no answer within ${ATTEMPT_TIMEOUT_MS / 1000} s` : (e.cause?.code ?? e.message);
    return { ok: false, status: null, error: reason };
  }
}
