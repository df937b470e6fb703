/**
 * A worker process's heartbeat. Steps record which worker runs them (training_runs.worker_id);
 * the reconciler hands a run whose worker stopped beating to another worker at once, instead of
 * waiting for the queue's expiry of the dead worker's job.
 */
import { randomUUID } from 'node:crypto';
import { eq, sql } from 'drizzle-orm';
import type { Db } from '../db/database.js';
import { workerHeartbeats } from '../db/schema.js';

export const HEARTBEAT_EVERY_MS = 5_000;
/** A worker that has not beaten for this long is taken for dead. */
export const HEARTBEAT_STALE_SECONDS = 20;

/**
 * Forgets every worker's beat. Only for the embedded database, where one process owns the data:
 * at its start every other worker is dead, however recently it beat, and the reconciler's first
 * pass must hand its runs on at once rather than after HEARTBEAT_STALE_SECONDS.
 */
export async function forgetAllWorkers(db: Db): Promise<void> {
  await db.delete(workerHeartbeats);
}

export class WorkerHeartbeat {
  readonly id = randomUUID();
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly db: Db) {}

  async start(): Promise<void> {
    await this.beat();
    this.timer = setInterval(() => {
      this.beat().catch(() => undefined);
    }, HEARTBEAT_EVERY_MS);
    this.timer.unref();
  }

  private async beat(): Promise<void> {
    await this.db
      .insert(workerHeartbeats)
      .values({ id: this.id })
      .onConflictDoUpdate({ target: workerHeartbeats.id, set: { lastSeen: sql`now()` } });
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.db.delete(workerHeartbeats).where(eq(workerHeartbeats.id, this.id)).catch(() => undefined);
  }
}
