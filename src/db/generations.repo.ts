/**
 * Generations and their attempts. Status changes are guarded updates (`WHERE status IN (...)`), so a
 * retried job never moves a finished generation again; counters are incremented in SQL, so two
 * slots finishing at once both count.
 */
import { and, asc, eq, inArray, sql } from 'drizzle-orm';
import type { Executor } from './database.js';
import { generationAttempts, generations, images } from './schema.js';

export type GenerationRow = typeof generations.$inferSelect;
export type GenerationAttemptRow = typeof generationAttempts.$inferSelect;
export type GenerationStatusValue = 'queued' | 'running' | 'completed' | 'failed';

export const FINISHED_GENERATION: readonly GenerationStatusValue[] = ['completed', 'failed'];

export async function getGeneration(db: Executor, id: string): Promise<GenerationRow | null> {
  const rows = await db.select().from(generations).where(eq(generations.id, id)).limit(1);
  return rows[0] ?? null;
}

export async function transitionGeneration(
  db: Executor,
  id: string,
  from: readonly GenerationStatusValue[],
  to: GenerationStatusValue,
  patch: Partial<GenerationRow> = {},
): Promise<GenerationRow | null> {
  const rows = await db
    .update(generations)
    .set({ ...patch, status: to, updatedAt: new Date() })
    .where(and(eq(generations.id, id), inArray(generations.status, [...from])))
    .returning();
  return rows[0] ?? null;
}

/** Adds one attempt's cost to the generation (and marks it emulated when the output was). */
export async function countAttempt(db: Executor, id: string, gpuSeconds: number, usdPerGpuSecond: number | undefined, emulated: boolean): Promise<void> {
  await db
    .update(generations)
    .set({
      attempts: sql`${generations.attempts} + 1`,
      gpuSeconds: sql`${generations.gpuSeconds} + ${gpuSeconds}`,
      costUsd: usdPerGpuSecond === undefined ? sql`${generations.costUsd}` : sql`coalesce(${generations.costUsd}, 0) + ${gpuSeconds * usdPerGpuSecond}`,
      emulated: emulated ? true : sql`${generations.emulated}`,
      updatedAt: new Date(),
    })
    .where(eq(generations.id, id));
}

export async function recordFallback(db: Executor, id: string, entry: { slot: number; from: string; to: string; reason: string }): Promise<void> {
  await db
    .update(generations)
    .set({ fallbacks: sql`${generations.fallbacks} || ${JSON.stringify([entry])}::jsonb`, updatedAt: new Date() })
    .where(eq(generations.id, id));
}

export async function insertAttempt(db: Executor, row: typeof generationAttempts.$inferInsert): Promise<void> {
  await db.insert(generationAttempts).values(row).onConflictDoNothing();
}

export async function attemptsOf(db: Executor, generationId: string): Promise<GenerationAttemptRow[]> {
  return db
    .select()
    .from(generationAttempts)
    .where(eq(generationAttempts.generationId, generationId))
    .orderBy(asc(generationAttempts.slot), asc(generationAttempts.attempt));
}

export async function deliveredImages(db: Executor, generationId: string) {
  return db.select().from(images).where(eq(images.generationId, generationId)).orderBy(asc(images.generationSlot));
}
