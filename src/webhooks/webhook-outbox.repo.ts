/**
 * The outbox of outgoing webhooks. An event is recorded in the business transaction that raised
 * it, together with the queue job that delivers it: if the transaction rolls back nothing is sent,
 * if it commits the event is sent even when the process dies right after. Delivery is at least
 * once (a crash between the receiver's 2xx and our bookkeeping sends it again, with the same
 * `webhook-id`), and the table is the delivery log an operator reads.
 */
import { randomUUID } from 'node:crypto';
import { and, desc, eq, lt, sql } from 'drizzle-orm';
import type { Executor } from '../db/database.js';
import { webhookDeliveries } from '../db/schema.js';
import type { JobQueue } from '../queue/job-queue.js';
import { webhookBody, type WebhookEvent } from './webhook-events.js';
import type { WebhookTarget } from './webhook.sender.js';

export const WEBHOOK_DELIVERY = 'webhook-delivery';

export interface WebhookDeliveryData {
  deliveryId: string;
}

export type WebhookDeliveryRow = typeof webhookDeliveries.$inferSelect;

/** Queues one delivery attempt (keyed by the delivery, so at most one waits per delivery). */
export async function enqueueDelivery(queue: JobQueue, id: string, opts: { executor?: Executor; startAfterSeconds?: number } = {}): Promise<void> {
  await queue.send(WEBHOOK_DELIVERY, { deliveryId: id } satisfies WebhookDeliveryData, { key: id, ...opts });
}

/** What recording needs: where webhooks go (null = not configured) and the queue. */
export interface WebhookSink {
  webhooks?: WebhookTarget | null;
  queue: JobQueue;
}

/** Records the event for delivery, once per key. Returns the delivery id, or null (not configured, or already recorded). */
export async function recordWebhookEvent(tx: Executor, sink: WebhookSink, event: WebhookEvent, now = new Date()): Promise<string | null> {
  if (!sink.webhooks) return null;
  const id = `msg_${randomUUID().replace(/-/g, '')}`;
  const rows = await tx
    .insert(webhookDeliveries)
    .values({
      id,
      eventKey: event.key,
      type: event.type,
      userId: event.userId,
      url: sink.webhooks.url,
      payload: webhookBody(event, now),
      status: 'pending',
      nextAttemptAt: now,
    })
    .onConflictDoNothing()
    .returning({ id: webhookDeliveries.id });
  if (!rows[0]) return null;
  await enqueueDelivery(sink.queue, id, { executor: tx });
  return id;
}

export async function getDelivery(db: Executor, id: string): Promise<WebhookDeliveryRow | null> {
  const rows = await db.select().from(webhookDeliveries).where(eq(webhookDeliveries.id, id)).limit(1);
  return rows[0] ?? null;
}

export async function listDeliveries(
  db: Executor,
  opts: { status?: 'pending' | 'delivered' | 'failed'; limit?: number } = {},
): Promise<WebhookDeliveryRow[]> {
  return db
    .select()
    .from(webhookDeliveries)
    .where(opts.status ? eq(webhookDeliveries.status, opts.status) : undefined)
    .orderBy(desc(webhookDeliveries.createdAt), desc(webhookDeliveries.id))
    .limit(opts.limit ?? 50);
}

/**
 * Records one attempt's result. Guarded by the attempt count the caller saw, so a duplicate
 * handler run (a job retried after its worker died) cannot count an attempt twice.
 */
export async function recordAttempt(
  db: Executor,
  row: WebhookDeliveryRow,
  result: { status: 'pending' | 'delivered' | 'failed'; httpStatus: number | null; error: string | null; nextAttemptAt: Date | null },
  now = new Date(),
): Promise<WebhookDeliveryRow | null> {
  const rows = await db
    .update(webhookDeliveries)
    .set({
      status: result.status,
      attempts: row.attempts + 1,
      lastStatus: result.httpStatus,
      lastError: result.error,
      lastAttemptAt: now,
      nextAttemptAt: result.nextAttemptAt,
      deliveredAt: result.status === 'delivered' ? now : null,
    })
    .where(and(eq(webhookDeliveries.id, row.id), eq(webhookDeliveries.attempts, row.attempts), eq(webhookDeliveries.status, 'pending')))
    .returning();
  return rows[0] ?? null;
}

/** An admin's "send it again": a failed (or delivered) delivery becomes pending with a fresh attempt budget. */
export async function requeueDelivery(tx: Executor, queue: JobQueue, id: string): Promise<WebhookDeliveryRow | null> {
  const rows = await tx
    .update(webhookDeliveries)
    .set({ status: 'pending', attempts: 0, nextAttemptAt: new Date(), lastError: null })
    .where(eq(webhookDeliveries.id, id))
    .returning();
  if (!rows[0]) return null;
  await enqueueDelivery(queue, id, { executor: tx });
  return rows[0];
}

/** Pending deliveries overdue by more than `graceSeconds` (their job was lost, e.g. a purged queue). */
export async function overdueDeliveryIds(db: Executor, graceSeconds: number): Promise<string[]> {
  const rows = await db
    .select({ id: webhookDeliveries.id })
    .from(webhookDeliveries)
    .where(and(eq(webhookDeliveries.status, 'pending'), lt(webhookDeliveries.nextAttemptAt, sql`now() - make_interval(secs => ${graceSeconds})`)))
    .limit(500);
  return rows.map((r) => r.id);
}
