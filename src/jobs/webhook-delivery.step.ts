/**
 * The webhook-delivery queue's handler: one attempt per job. It sends the stored body, records
 * the attempt, and either marks the delivery done, schedules the next attempt (a new job, keyed by
 * the delivery, after the backoff of domain/webhook-retry.ts) or gives up. The webhook's target is
 * the one configured now: an operator who fixes a wrong URL gets the pending events delivered.
 */
import { decideWebhookRetry } from '../domain/webhook-retry.js';
import { inTransaction } from '../db/transaction.js';
import type { JobContext } from '../queue/job-queue.js';
import type { ServiceContext } from '../services/context.js';
import { sendWebhook } from '../webhooks/webhook.sender.js';
import { enqueueDelivery, getDelivery, overdueDeliveryIds, recordAttempt, type WebhookDeliveryData } from '../webhooks/webhook-outbox.repo.js';

export async function deliverWebhook(ctx: ServiceContext, job: JobContext<WebhookDeliveryData>): Promise<void> {
  const row = await getDelivery(ctx.db, job.data.deliveryId);
  if (!row || row.status !== 'pending') return;
  const target = ctx.webhooks;
  if (!target) {
    // Webhooks were turned off after the event was recorded: keep it pending for when they return.
    return;
  }
  const outcome = await sendWebhook(target, row.id, JSON.stringify(row.payload));
  const decision = decideWebhookRetry(outcome, row.attempts + 1, Math.random());
  const httpStatus = outcome.status;
  const error = outcome.ok ? null : outcome.error;
  await inTransaction(ctx.db, async (tx) => {
    if (decision.action === 'delivered') {
      await recordAttempt(tx, row, { status: 'delivered', httpStatus, error: null, nextAttemptAt: null });
    } else if (decision.action === 'give_up') {
      const done = await recordAttempt(tx, row, { status: 'failed', httpStatus, error: `${error}; gave up: ${decision.reason}`, nextAttemptAt: null });
      if (done) ctx.log(`[webhooks] ${row.type} ${row.id} not delivered: ${decision.reason}`);
    } else {
      const next = new Date(Date.now() + decision.delaySeconds * 1000);
      const saved = await recordAttempt(tx, row, { status: 'pending', httpStatus, error, nextAttemptAt: next });
      if (saved) {
        await enqueueDelivery(ctx.queue, row.id, { executor: tx, startAfterSeconds: decision.delaySeconds });
      }
    }
  });
}

/** Maintenance: a pending delivery whose job was lost gets one again (sends are deduplicated by key). */
export async function resendOverdueWebhooks(ctx: ServiceContext): Promise<number> {
  if (!ctx.webhooks) return 0;
  const ids = await overdueDeliveryIds(ctx.db, 300);
  for (const id of ids) await enqueueDelivery(ctx.queue, id);
  return ids.length;
}
