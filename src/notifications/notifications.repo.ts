/**
 * Stored notifications: created idempotently (dedupe key), listed, marked read. Creating one is
 * the fan-out point of a user-facing event: the row, its live push (after commit) and, when
 * webhooks are configured, the outgoing webhook of the same name, recorded in the same transaction.
 */
import { randomUUID } from 'node:crypto';
import { and, desc, eq, gt, isNull, sql } from 'drizzle-orm';
import type { Executor } from '../db/database.js';
import { notifications } from '../db/schema.js';
import type { AfterCommit } from '../db/transaction.js';
import { recordWebhookEvent, type WebhookSink } from '../webhooks/webhook-outbox.repo.js';
import type { NotificationHub, NotificationRecord } from './notification-hub.js';
import { notificationContent, type NotificationType } from './notification-types.js';

export async function createNotification(
  tx: Executor,
  afterCommit: AfterCommit,
  sinks: WebhookSink & { hub: NotificationHub },
  input: {
    userId: string;
    type: NotificationType;
    dedupeKey: string;
    context: Parameters<typeof notificationContent>[1];
    data?: Record<string, unknown>;
  },
): Promise<NotificationRecord | null> {
  const content = notificationContent(input.type, input.context);
  const rows = await tx
    .insert(notifications)
    .values({
      id: randomUUID(),
      userId: input.userId,
      type: input.type,
      ...content,
      data: input.data ?? {},
      dedupeKey: input.dedupeKey,
    })
    .onConflictDoNothing()
    .returning();
  const row = rows[0];
  if (!row) return null;
  await recordWebhookEvent(tx, sinks, {
    key: `notification:${row.id}`,
    type: input.type,
    userId: input.userId,
    data: { ...row.data, notification: { id: row.id, title: row.title, body: row.body, link: row.link } },
  });
  afterCommit(() => sinks.hub.publish(row));
  return row;
}

export async function listNotifications(db: Executor, userId: string, opts: { unreadOnly?: boolean; limit?: number } = {}) {
  const where = opts.unreadOnly
    ? and(eq(notifications.userId, userId), isNull(notifications.readAt))
    : eq(notifications.userId, userId);
  const items = await db
    .select()
    .from(notifications)
    .where(where)
    .orderBy(desc(notifications.createdAt), desc(notifications.id))
    .limit(opts.limit ?? 50);
  const [count] = await db
    .select({ n: sql<number>`count(*)::int` })
    .from(notifications)
    .where(and(eq(notifications.userId, userId), isNull(notifications.readAt)));
  return { items, unread: count?.n ?? 0 };
}

export async function notificationsSince(db: Executor, userId: string, since: Date) {
  return db
    .select()
    .from(notifications)
    .where(and(eq(notifications.userId, userId), gt(notifications.createdAt, since)))
    .orderBy(notifications.createdAt);
}

export async function markRead(db: Executor, userId: string, id: string): Promise<boolean> {
  const rows = await db
    .update(notifications)
    .set({ readAt: sql`coalesce(${notifications.readAt}, now())` })
    .where(and(eq(notifications.id, id), eq(notifications.userId, userId)))
    .returning({ id: notifications.id });
  return rows.length > 0;
}
