/**
 * The job queue: pg-boss on the application's own database, so a business row and the job that
 * continues it are written in one transaction (pass the transaction as `executor`).
 *
 * Every Likeness queue uses pg-boss's "stately" policy keyed by the subject (e.g. the run id):
 * at most one queued and one active job per subject. That is what makes the pipeline safe under
 * duplicate sends (a reconciler, a webhook and a poll all asking to advance the same run) and
 * under several workers: one run is never advanced by two handlers at once.
 */
import PgBoss from 'pg-boss';
import type { Executor, SqlExecutor } from '../db/database.js';
import { txExecutor } from '../db/database.js';

export interface QueueDefinition {
  name: string;
  /** Upper bound of one handler run; a crashed worker's job is retried after this. */
  expireInSeconds: number;
  /** Retries of unexpected errors (bugs, database hiccups); provider faults are handled inside. */
  retryLimit: number;
  retryDelaySeconds: number;
}

export interface SendOptions {
  key: string;
  startAfterSeconds?: number;
  expireInSeconds?: number;
  /** Run the insert inside this transaction. */
  executor?: Executor;
}

export interface JobContext<T> {
  id: string;
  data: T;
  retryCount: number;
  retryLimit: number;
}

export class JobQueue {
  private boss: PgBoss;
  private started = false;
  private readonly workerIds = new Map<string, string[]>();
  private readonly wakeTimers = new Set<NodeJS.Timeout>();

  constructor(
    connection: SqlExecutor | { connectionString: string },
    private readonly opts: { pollingIntervalSeconds?: number; maintenanceIntervalSeconds?: number } = {},
  ) {
    const common = {
      schema: 'pgboss',
      // Poll every second: a training step advances within a second of becoming due.
      pollingIntervalSeconds: opts.pollingIntervalSeconds ?? 1,
      maintenanceIntervalSeconds: opts.maintenanceIntervalSeconds ?? 30,
      // Our own scheduling needs no cron; the monitor only emits events we do not use.
      schedule: false,
      supervise: true,
    };
    this.boss =
      'connectionString' in connection
        ? new PgBoss({ ...common, connectionString: connection.connectionString, max: 5 })
        : new PgBoss({ ...common, db: connection });
    this.boss.on('error', (err: Error) => {
      // pg-boss reports its own background errors here; they must never crash the process.
      console.error(`[queue] ${err.message}`);
    });
  }

  async start(queues: readonly QueueDefinition[]): Promise<void> {
    await this.boss.start();
    for (const q of queues) {
      const options: PgBoss.Queue = {
        name: q.name,
        policy: 'stately',
        retryLimit: q.retryLimit,
        retryDelay: q.retryDelaySeconds,
        retryBackoff: true,
        expireInSeconds: q.expireInSeconds,
      };
      const existing = await this.boss.getQueue(q.name);
      if (existing) await this.boss.updateQueue(q.name, options);
      else await this.boss.createQueue(q.name, options);
    }
    this.started = true;
  }

  async send<T extends object>(name: string, data: T, opts: SendOptions): Promise<string | null> {
    // pg-boss checks option keys by presence, so absent options must be absent, not undefined.
    const options: PgBoss.SendOptions & { db?: SqlExecutor } = { singletonKey: opts.key };
    if (opts.startAfterSeconds && opts.startAfterSeconds > 0) options.startAfter = opts.startAfterSeconds;
    if (opts.expireInSeconds) options.expireInSeconds = Math.max(1, Math.ceil(opts.expireInSeconds));
    if (opts.executor) options.db = txExecutor(opts.executor);
    const id = await this.boss.send(name, data, options);
    this.wakeWhenDue(name, opts.startAfterSeconds ?? 0);
    return id;
  }

  /**
   * pg-boss workers poll on an interval; a job due sooner than that (a training poll every few
   * hundred ms, the next step right after a commit) would wait for the next poll. Wake this
   * process's workers for the queue when the job becomes due. Other processes still find it on
   * their own poll. (If the send rolls back with its transaction, the wake-up finds nothing.)
   */
  private wakeWhenDue(name: string, delaySeconds: number): void {
    const ids = this.workerIds.get(name);
    if (!ids?.length || !this.started) return;
    const timer = setTimeout(() => {
      this.wakeTimers.delete(timer);
      if (this.started) for (const id of ids) this.boss.notifyWorker(id);
    }, Math.max(0, delaySeconds * 1000) + 5);
    timer.unref();
    this.wakeTimers.add(timer);
  }

  /** Starts `concurrency` pollers for a queue, each handling one job at a time. */
  async work<T>(name: string, concurrency: number, handler: (job: JobContext<T>) => Promise<void>): Promise<void> {
    const ids: string[] = [];
    for (let i = 0; i < concurrency; i++) {
      // Set once work() answers; the first fetch is a query, so it cannot finish before that.
      let poller: string | undefined;
      ids.push(
        (poller = await this.boss.work<T>(name, { batchSize: 1, includeMetadata: true }, async (jobs) => {
          try {
            for (const job of jobs as PgBoss.JobWithMetadata<T>[]) {
              await handler({ id: job.id, data: job.data, retryCount: job.retryCount, retryLimit: job.retryLimit });
            }
          } finally {
            // pg-boss sleeps a polling interval after every job, even with more due: one job a
            // second per handler, so a restarted worker took 50 s to take over 200 runs. A
            // handler that found a job asks again at once; only an empty fetch sleeps.
            if (this.started && poller) this.boss.notifyWorker(poller);
          }
        })),
      );
    }
    this.workerIds.set(name, ids);
  }

  /**
   * Jobs left `active` by a process that died. With the embedded database only one process can
   * own the data, so at start-up every active job is an orphan: fail it now so pg-boss retries it
   * at once, instead of waiting for its expiry. (With a shared PostgreSQL, expiry does this.)
   */
  async recoverOrphans(names: readonly string[]): Promise<number> {
    let recovered = 0;
    for (const name of names) {
      const ids = await this.activeJobIds(name);
      if (ids.length) {
        for (const id of ids) {
          await this.boss.fail(name, id, { message: 'worker process ended while the job was active' });
        }
        recovered += ids.length;
      }
    }
    return recovered;
  }

  /** Fails the active job of a key (its worker is gone), so pg-boss retries it now. */
  async failActive(name: string, key: string, reason: string): Promise<number> {
    const db = (this.boss as unknown as { getDb(): SqlExecutor }).getDb();
    const { rows } = await db.executeSql(`SELECT id FROM pgboss.job WHERE name = $1 AND singleton_key = $2 AND state = 'active'`, [name, key]);
    for (const r of rows as { id: string }[]) await this.boss.fail(name, r.id, { message: reason });
    if (rows.length) this.wakeWhenDue(name, 0);
    return rows.length;
  }

  /** Keys of the queue's jobs that have been active for more than `seconds`. */
  async keysActiveLongerThan(name: string, seconds: number): Promise<string[]> {
    const db = (this.boss as unknown as { getDb(): SqlExecutor }).getDb();
    const { rows } = await db.executeSql(
      `SELECT DISTINCT singleton_key AS key FROM pgboss.job WHERE name = $1 AND state = 'active' AND started_on < now() - make_interval(secs => $2)`,
      [name, seconds],
    );
    return rows.map((r: { key: string }) => r.key).filter(Boolean);
  }

  private async activeJobIds(name: string): Promise<string[]> {
    const db = (this.boss as unknown as { getDb(): SqlExecutor }).getDb();
    const { rows } = await db.executeSql(`SELECT id FROM pgboss.job WHERE name = $1 AND state = 'active'`, [name]);
    return rows.map((r: { id: string }) => r.id);
  }

  /**
   * Makes a key's waiting job (a poll scheduled for later) due now, and wakes this process's
   * workers. Returns how many jobs it moved; 0 when none was waiting (the caller may send one).
   * A provider webhook uses it: under the stately policy a second send would be dropped while the
   * scheduled poll waits, so the only way to act on the news sooner is to move that poll.
   */
  async hurry(name: string, key: string): Promise<number> {
    const db = (this.boss as unknown as { getDb(): SqlExecutor }).getDb();
    const { rows } = await db.executeSql(
      `UPDATE pgboss.job SET start_after = now() WHERE name = $1 AND singleton_key = $2 AND state IN ('created', 'retry') AND start_after > now() RETURNING id`,
      [name, key],
    );
    if (rows.length) this.wakeWhenDue(name, 0);
    return rows.length;
  }

  /**
   * Which of `keys` have a job not yet finished (created, retry, active), in one statement: the
   * reconciler asks this for every active run, so a thousand runs must not cost a thousand queries.
   */
  async keysWithPendingJobs(name: string, keys: readonly string[]): Promise<Set<string>> {
    if (keys.length === 0) return new Set();
    const db = (this.boss as unknown as { getDb(): SqlExecutor }).getDb();
    const { rows } = await db.executeSql(
      `SELECT DISTINCT singleton_key AS key FROM pgboss.job WHERE name = $1 AND singleton_key = ANY($2::text[]) AND state < 'completed'`,
      [name, keys],
    );
    return new Set(rows.map((r: { key: string }) => r.key));
  }

  /** Jobs not yet finished for a key (created, retry, active): for tests and the tracker. */
  async pendingCount(name: string, key: string): Promise<number> {
    const db = (this.boss as unknown as { getDb(): SqlExecutor }).getDb();
    const { rows } = await db.executeSql(
      `SELECT count(*)::int AS n FROM pgboss.job WHERE name = $1 AND singleton_key = $2 AND state < 'completed'`,
      [name, key],
    );
    return rows[0]?.n ?? 0;
  }

  async stop(opts: { graceful: boolean; timeoutSeconds?: number } = { graceful: true }): Promise<void> {
    if (!this.started) return;
    this.started = false;
    for (const t of this.wakeTimers) clearTimeout(t);
    this.wakeTimers.clear();
    await this.boss.stop({ graceful: opts.graceful, timeout: (opts.timeoutSeconds ?? 20) * 1000, wait: true, close: true });
  }
}
