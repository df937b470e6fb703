/**
 * The events Likeness sends to the platform's webhook endpoint, and the body they travel in. The
 * body follows the Standard Webhooks payload shape ({type, timestamp, data}); the headers and the
 * signature are the sender's business (webhook.sender.ts). One list: nothing else spells these names.
 */
import type { NotificationType } from '../notifications/notification-types.js';

export const PLATFORM_EVENT_TYPES = ['platform.gpu_budget.reached'] as const;
export type PlatformEventType = (typeof PLATFORM_EVENT_TYPES)[number];

/** Every user notification is also a webhook event of the same name. */
export type WebhookEventType = NotificationType | PlatformEventType;

export interface WebhookEvent {
  /**
   * Makes the event idempotent: the same key is recorded (and sent) once, however often the code
   * that raises it runs (a retried step, two workers).
   */
  key: string;
  type: WebhookEventType;
  /** The user the event is about; null for platform events. */
  userId: string | null;
  data: Record<string, unknown>;
}

export interface WebhookBody {
  type: WebhookEventType;
  /** When the event happened (ISO 8601); the signature's timestamp is the attempt's. */
  timestamp: string;
  data: Record<string, unknown>;
}

export function webhookBody(event: WebhookEvent, at: Date): WebhookBody {
  return { type: event.type, timestamp: at.toISOString(), data: { ...(event.userId ? { userId: event.userId } : {}), ...event.data } };
}
