/**
 * Training-run rows. Every state change is a single UPDATE guarded by the expected current state
 * (and, where the caller knows it, the version it saw): 0 rows updated means "not allowed", so a
 * duplicate or late event — a poll after a webhook, a worker that died and came back — changes
 * nothing twice. The allowed transitions come from domain/run-states.ts.
 */
import { and, eq, inArray, sql } from 'drizzle-orm';
import type { Executor } from './database.js';
import { runEvents, trainingRuns } from './schema.js';
import { sourcesOf, type RunState } from '../domain/run-states.js';

export type TrainingRunRow = typeof trainingRuns.$inferSelect;
export type TrainingRunPatch = Partial<Omit<typeof trainingRuns.$inferInsert, 'id' | 'status' | 'version'>>;

/**
 * The most frequent query of all (every status read, every step of every run): built once per
 * database as a prepared statement. Building it anew each time cost more CPU than the query
 * (drizzle assembles the 50-column select per call); on PostgreSQL the server also keeps its plan.
 * A transaction gets a statement of its own, as prepared ones are bound to their executor.
 */
const runById = (db: Executor) => db.select().from(trainingRuns).where(eq(trainingRuns.id, sql.placeholder('id'))).limit(1).prepare('likeness_run_by_id');
const preparedRunById = new WeakMap<Executor, ReturnType<typeof runById>>();

export async function getRun(db: Executor, id: string): Promise<TrainingRunRow | null> {
  let query = preparedRunById.get(db);
  if (!query) preparedRunById.set(db, (query = runById(db)));
  const rows = await query.execute({ id });
  return rows[0] ?? null;
}

/**
 * Moves a run to `to` if it is in a state that may go there (and at `expectVersion`, when given).
 * Returns the updated row, or null when the guard did not match.
 */
export async function transitionRun(
  tx: Executor,
  id: string,
  to: RunState,
  patch: TrainingRunPatch = {},
  opts: { expectVersion?: number; from?: RunState[]; detail?: string } = {},
): Promise<TrainingRunRow | null> {
  const from = opts.from ?? sourcesOf(to);
  if (from.length === 0) return null;
  const conditions = [eq(trainingRuns.id, id), inArray(trainingRuns.status, from)];
  if (opts.expectVersion !== undefined) conditions.push(eq(trainingRuns.version, opts.expectVersion));
  const before = await tx
    .select({ status: trainingRuns.status })
    .from(trainingRuns)
    .where(and(...conditions))
    .limit(1);
  if (!before[0]) return null;
  const rows = await tx
    .update(trainingRuns)
    .set({ ...patch, status: to, version: sql`${trainingRuns.version} + 1`, updatedAt: new Date() })
    .where(and(...conditions))
    .returning();
  const row = rows[0];
  if (!row) return null;
  await tx.insert(runEvents).values({ runId: id, fromStatus: before[0].status, toStatus: to, detail: opts.detail ?? null });
  return row;
}

/** Updates fields without a state change, only while the run is still in `status` (or one of them). */
export async function patchRun(
  tx: Executor,
  id: string,
  status: RunState | readonly RunState[],
  patch: TrainingRunPatch,
): Promise<TrainingRunRow | null> {
  const inStatus = typeof status === 'string' ? eq(trainingRuns.status, status) : inArray(trainingRuns.status, [...status]);
  const rows = await tx
    .update(trainingRuns)
    .set({ ...patch, version: sql`${trainingRuns.version} + 1`, updatedAt: new Date() })
    .where(and(eq(trainingRuns.id, id), inStatus))
    .returning();
  return rows[0] ?? null;
}

export async function runEventsOf(db: Executor, runId: string) {
  return db.select().from(runEvents).where(eq(runEvents.runId, runId)).orderBy(runEvents.id);
}

/** What the batched tracker needs of a run it polls: narrow, so a tick over 1,000 runs is cheap. */
export interface TrackedRun {
  id: string;
  attempt: number;
  providerHandle: unknown;
  totalSteps: number;
  trainingStartedAt: Date | null;
  loss: number | null;
  progressMessage: string | null;
}

/**
 * Runs training with the provider that this worker holds and that nothing else is working on: a
 * run asked to cancel, or in a transient fault's backoff, is its step job's business, not the
 * tracker's (polling it would cut the backoff short). Runs in backoff are left out; a run asked
 * to cancel comes with `handOver`, for the tracker to wake its step job.
 */
export async function listTrackedRuns(db: Executor, workerId: string): Promise<Array<TrackedRun & { handOver: boolean }>> {
  const rows = await db
    .select({
      id: trainingRuns.id,
      attempt: trainingRuns.attempt,
      providerHandle: trainingRuns.providerHandle,
      totalSteps: trainingRuns.totalSteps,
      trainingStartedAt: trainingRuns.trainingStartedAt,
      loss: trainingRuns.loss,
      progressMessage: trainingRuns.progressMessage,
      cancelRequested: trainingRuns.cancelRequested,
    })
    .from(trainingRuns)
    .where(and(eq(trainingRuns.status, 'training'), eq(trainingRuns.workerId, workerId), eq(trainingRuns.transientRetries, 0)));
  return rows.map(({ cancelRequested, ...r }) => ({ ...r, handOver: cancelRequested }));
}

export interface ProgressUpdate {
  id: string;
  attempt: number;
  step: number;
  totalSteps: number;
  secondsPerStep: number | null;
  etaSeconds: number | null;
  loss: number | null;
  progressMessage: string | null;
}

/**
 * Writes many runs' progress in one statement. Progress is bookkeeping, not a state change: the
 * version is left alone so a step that read the run before this write still passes its guard.
 * A row that moved on meanwhile (left `training`, or began a new attempt on another machine) is
 * not touched: what was read from the old job must not land on the new one. The transient-fault
 * count is the step job's: a step may have begun a backoff since the tracker read the run, and
 * resetting the count here would let a failing provider be retried forever. Returns rows written.
 */
export async function recordProgress(db: Executor, updates: readonly ProgressUpdate[]): Promise<number> {
  if (updates.length === 0) return 0;
  const rows = await db.execute(sql`
    update ${trainingRuns} as t set
      step = v.step, total_steps = v.total_steps, seconds_per_step = v.seconds_per_step,
      eta_seconds = v.eta_seconds, loss = v.loss, progress_message = v.progress_message,
      updated_at = now()
    from jsonb_to_recordset(${JSON.stringify(updates.map((u) => ({ ...u, total_steps: u.totalSteps, seconds_per_step: u.secondsPerStep, eta_seconds: u.etaSeconds, progress_message: u.progressMessage })))}::jsonb)
      as v(id text, attempt integer, step integer, total_steps integer, seconds_per_step double precision,
           eta_seconds integer, loss double precision, progress_message text)
    where t.id = v.id and t.status = 'training' and t.attempt = v.attempt
    returning t.id`);
  // node-postgres and PGlite both answer {rows}.
  return (rows as unknown as { rows: unknown[] }).rows.length;
}
