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
