/**
 * Storage retention: old LoRA versions (files and record, the active one never) and training
 * datasets (runs/<id>/dataset) of runs finished long ago. `planRetention` lists what would go and
 * how many bytes, changing nothing (the dry run); `applyRetention` removes exactly that, re-checking
 * under a transaction that a LoRA is still not active, so a switch made meanwhile wins.
 */
import { and, eq, inArray, isNotNull, isNull, lt } from 'drizzle-orm';
import { activeLoras, loraModels, trainingRuns } from '../db/schema.js';
import { inTransaction } from '../db/transaction.js';
import { datasetCutoff, loraVersionsToDelete, type RetentionSettings } from '../domain/retention-policy.js';
import { TERMINAL_STATES } from '../domain/run-states.js';
import { datasetFileNames } from '../jobs/prepare.step.js';
import type { ServiceContext } from './context.js';

export interface RetentionPlan {
  settings: RetentionSettings;
  loras: { id: string; characterId: string; baseModel: string; version: number; files: string[]; bytes: number }[];
  datasets: { runId: string; finishedAt: string; files: string[]; bytes: number }[];
  totalBytes: number;
}

export async function planRetention(ctx: Pick<ServiceContext, 'db' | 'store'>, settings: RetentionSettings, now = new Date()): Promise<RetentionPlan> {
  const versions = await ctx.db.select().from(loraModels).where(isNull(loraModels.deletedAt));
  const active = new Set((await ctx.db.select({ id: activeLoras.loraModelId }).from(activeLoras)).map((r) => r.id));
  const doomed = new Set(loraVersionsToDelete(versions, active, settings.loraVersions));
  const loras = versions
    .filter((v) => doomed.has(v.id))
    .map((v) => ({ id: v.id, characterId: v.characterId, baseModel: v.baseModel, version: v.version, files: v.files.map((f) => f.storageKey), bytes: v.files.reduce((a, f) => a + f.size, 0) }));

  const runs = await ctx.db
    .select({ id: trainingRuns.id, datasetKey: trainingRuns.datasetKey, imageIds: trainingRuns.imageIds, finishedAt: trainingRuns.finishedAt })
    .from(trainingRuns)
    .where(and(inArray(trainingRuns.status, [...TERMINAL_STATES]), isNotNull(trainingRuns.datasetKey), lt(trainingRuns.finishedAt, datasetCutoff(now, settings.datasetDays))));
  const datasets: RetentionPlan['datasets'] = [];
  for (const r of runs) {
    const files: string[] = [];
    let bytes = 0;
    // The dataset's file names are fixed by the run's images (prepare.step.ts), so no listing is needed.
    for (let i = 0; i < r.imageIds.length; i++) {
      for (const name of Object.values(datasetFileNames(i))) {
        const key = `${r.datasetKey}/${name}`;
        const head = await ctx.store.head(key);
        if (head) {
          files.push(key);
          bytes += head.size;
        }
      }
    }
    datasets.push({ runId: r.id, finishedAt: r.finishedAt!.toISOString(), files, bytes });
  }
  const totalBytes = loras.reduce((a, l) => a + l.bytes, 0) + datasets.reduce((a, d) => a + d.bytes, 0);
  return { settings, loras, datasets, totalBytes };
}

/** Removes what the plan lists; returns the plan of what was actually removed. */
export async function applyRetention(ctx: Pick<ServiceContext, 'db' | 'store'>, plan: RetentionPlan): Promise<RetentionPlan> {
  const removedLoras: RetentionPlan['loras'] = [];
  for (const l of plan.loras) {
    const removed = await inTransaction(ctx.db, async (tx) => {
      const stillActive = await tx.select().from(activeLoras).where(eq(activeLoras.loraModelId, l.id)).limit(1);
      if (stillActive.length) return false;
      const rows = await tx.update(loraModels).set({ deletedAt: new Date() }).where(and(eq(loraModels.id, l.id), isNull(loraModels.deletedAt))).returning({ id: loraModels.id });
      return rows.length > 0;
    });
    if (!removed) continue;
    // Files go after the commit (as deleteLora does): a crash leaves an orphan file, never a record without its file.
    for (const key of l.files) await ctx.store.delete(key);
    removedLoras.push(l);
  }
  for (const d of plan.datasets) {
    for (const key of d.files) await ctx.store.delete(key);
    // The run keeps its history; only the pointer to the dataset goes, so the next pass skips it.
    await ctx.db.update(trainingRuns).set({ datasetKey: null }).where(eq(trainingRuns.id, d.runId));
  }
  return { ...plan, loras: removedLoras, totalBytes: removedLoras.reduce((a, l) => a + l.bytes, 0) + plan.datasets.reduce((a, d) => a + d.bytes, 0) };
}
