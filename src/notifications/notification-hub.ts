/**
 * Live delivery of stored notifications to connected SSE clients of this process. Rows are the
 * source of truth (written in the business transaction); the hub only pushes after commit. Clients
 * connected to another process (scale-out) catch up from the table (see the SSE route).
 */
import { EventEmitter } from 'node:events';

export interface NotificationRecord {
  id: string;
  userId: string;
  type: string;
  title: string;
  body: string;
  link: string | null;
  data: Record<string, unknown>;
  readAt: Date | null;
  createdAt: Date;
}

export class NotificationHub {
  private readonly emitter = new EventEmitter();

  constructor() {
    this.emitter.setMaxListeners(0);
  }

  publish(n: NotificationRecord): void {
    this.emitter.emit(`user:${n.userId}`, n);
  }

  subscribe(userId: string, fn: (n: NotificationRecord) => void): () => void {
    const event = `user:${userId}`;
    this.emitter.on(event, fn);
    return () => this.emitter.off(event, fn);
  }
}
