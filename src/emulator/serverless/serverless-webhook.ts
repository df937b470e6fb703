/**
 * RunPod's webhook call for a finished serverless job (contracts §2.3): POST of the status body
 * plus `input` and `webhook`, JSON; "if the call fails, Runpod retries up to 2 more times with a
 * 10-second delay" (a non-200 answer or no answer). No signature header is documented, so none is
 * sent: the receiver must authenticate the URL itself.
 *
 * Injected faults (faults.ts `forWebhook`): `lose` sends nothing, `duplicate` delivers the same
 * body twice (each delivery with its own retries).
 */
import type { WebhookFate } from '../faults.js';
import type { TimerSet } from '../timer-set.js';

const ATTEMPTS = 3;
const CALL_TIMEOUT_MS = 10_000;

export interface WebhookDeliveryOptions {
  fate: WebhookFate;
  retryMs: number;
  timers: TimerSet;
  log: (msg: string) => void;
}

async function postOnce(url: string, body: string): Promise<number | string> {
  try {
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body, signal: AbortSignal.timeout(CALL_TIMEOUT_MS) });
    await res.body?.cancel().catch(() => undefined);
    return res.status;
  } catch (err) {
    return (err as Error).message;
  }
}

/** Resolves once every delivery has ended (delivered or out of retries). */
export async function deliverWebhook(url: string, payload: unknown, opts: WebhookDeliveryOptions): Promise<void> {
  const shown = url.split('?')[0];
  if (opts.fate === 'lose') {
    opts.log(`serverless: webhook to ${shown} lost (injected fault)`);
    return;
  }
  const body = JSON.stringify(payload);
  const deliverOnce = async () => {
    for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
      const result = await postOnce(url, body);
      if (result === 200) return;
      opts.log(`serverless: webhook to ${shown} answered ${result} (attempt ${attempt}/${ATTEMPTS})`);
      if (attempt === ATTEMPTS) return;
      // A closed timer set never fires: the retries end with the emulator.
      await new Promise<void>((resolve) => opts.timers.after(opts.retryMs, resolve));
    }
  };
  await deliverOnce();
  if (opts.fate === 'duplicate') await deliverOnce();
}
