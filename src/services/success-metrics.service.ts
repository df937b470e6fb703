/**
 * The platform's six success metrics over a time window, read from the database; the math is in
 * src/domain/success-metrics.ts. Emulated runs, generations and images are kept out (the GPU
 * emulator says nothing about the real feature); with the emulator alone those rows read
 * value null, n = 0.
 *
 * Which timestamp puts a row in the window: adoption, the sheet's completion; completion and
 * training time, when the run finished; generation success, when the generation was requested;
 * face consistency and satisfaction, when the image was delivered.
 */
import { and, eq, gte, inArray, isNotNull, lt, sql, type SQL } from 'drizzle-orm';
import type { PgColumn } from 'drizzle-orm/pg-core';
import type { Executor } from '../db/database.js';
import { characters, generations, images, trainingRuns } from '../db/schema.js';
import {
  rateMetric,
  satisfactionReport,
  trainingTimeMetric,
  type DurationMetric,
  type Metric,
  type SatisfactionReport,
} from '../domain/success-metrics.js';
import { summarize } from './consistency.service.js';

export interface MetricsWindow {
  from?: Date;
  to?: Date;
}

export interface SuccessMetricsSummary {
  window: { from: string | null; to: string | null };
  recognizerId: string | null;
  metrics: Metric[];
  trainingTime: { p50: number | null; p95: number | null; n: number };
  satisfaction: Omit<SatisfactionReport, 'metric'>;
}

function inWindow(column: PgColumn, w: MetricsWindow): SQL[] {
  const out: SQL[] = [];
  if (w.from) out.push(gte(column, w.from));
  if (w.to) out.push(lt(column, w.to));
  return out;
}

/** Characters with a completed sheet; adopted = the owner left automatic training on. */
async function adoption(db: Executor, w: MetricsWindow): Promise<Metric> {
  const [row] = await db
    .select({ n: sql<number>`count(*)::int`, adopted: sql<number>`count(*) filter (where ${characters.autoTrain})::int` })
    .from(characters)
    .where(and(isNotNull(characters.sheetCompletedAt), ...inWindow(characters.sheetCompletedAt, w)));
  return rateMetric('adoption', row?.adopted ?? 0, row?.n ?? 0);
}

/** ready / (ready + failed) runs; cancelled runs are the user's choice and count neither way. */
async function completion(db: Executor, w: MetricsWindow): Promise<Metric> {
  const [row] = await db
    .select({ n: sql<number>`count(*)::int`, ready: sql<number>`count(*) filter (where ${trainingRuns.status} = 'ready')::int` })
    .from(trainingRuns)
    .where(and(inArray(trainingRuns.status, ['ready', 'failed']), eq(trainingRuns.emulated, false), ...inWindow(trainingRuns.finishedAt, w)));
  return rateMetric('completion', row?.ready ?? 0, row?.n ?? 0);
}

/**
 * Sheet complete -> ready, per character: its first ready run after the sheet completed (later
 * retrains start long after the sheet and would measure the user's patience, not the pipeline).
 */
async function trainingTime(db: Executor, w: MetricsWindow): Promise<DurationMetric> {
  const rows = await db
    .select({
      seconds: sql<number>`extract(epoch from (min(${trainingRuns.finishedAt}) - ${characters.sheetCompletedAt}))::float8`,
      finishedAt: sql<Date>`min(${trainingRuns.finishedAt})`,
    })
    .from(trainingRuns)
    .innerJoin(characters, eq(characters.id, trainingRuns.characterId))
    .where(
      and(
        eq(trainingRuns.status, 'ready'),
        eq(trainingRuns.emulated, false),
        isNotNull(characters.sheetCompletedAt),
        sql`${trainingRuns.finishedAt} >= ${characters.sheetCompletedAt}`,
      ),
    )
    .groupBy(characters.id, characters.sheetCompletedAt);
  const from = w.from?.getTime() ?? -Infinity;
  const to = w.to?.getTime() ?? Infinity;
  const durations = rows
    .filter((r) => {
      const t = new Date(r.finishedAt).getTime();
      return t >= from && t < to;
    })
    .map((r) => Number(r.seconds));
  return trainingTimeMetric(durations);
}

/**
 * Generations planned with a LoRA that ended (completed or failed; in-flight ones are not judged
 * yet): successful when at least one image was delivered.
 */
async function generationSuccess(db: Executor, w: MetricsWindow): Promise<Metric> {
  const delivered = sql`exists (select 1 from ${images} where ${images.generationId} = ${generations.id})`;
  const [row] = await db
    .select({ n: sql<number>`count(*)::int`, ok: sql<number>`count(*) filter (where ${delivered})::int` })
    .from(generations)
    .where(
      and(
        eq(generations.method, 'lora'),
        inArray(generations.status, ['completed', 'failed']),
        eq(generations.emulated, false),
        ...inWindow(generations.createdAt, w),
      ),
    );
  return rateMetric('generationSuccess', row?.ok ?? 0, row?.n ?? 0);
}

/** Delivered, non-emulated generated images in the window (scored by one recogniser). */
async function deliveredImages(db: Executor, w: MetricsWindow) {
  return db
    .select({
      method: images.method,
      similarity: images.identitySimilarity,
      match: images.identityMatch,
      faceCount: images.faceCount,
      copyPaste: images.copyPaste,
      recognizerId: images.recognizerId,
      looksLikeCharacter: images.looksLikeCharacter,
    })
    .from(images)
    .where(and(eq(images.source, 'generated'), eq(images.emulated, false), ...inWindow(images.createdAt, w)));
}

function mostCommon(values: readonly string[]): string | null {
  const counts = new Map<string, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  let best: string | null = null;
  for (const [v, n] of counts) if (best === null || n > counts.get(best)!) best = v;
  return best;
}

export async function successMetrics(db: Executor, w: MetricsWindow, currentRecognizerId: string | null): Promise<SuccessMetricsSummary> {
  const [adopt, complete, time, genSuccess, delivered] = await Promise.all([
    adoption(db, w),
    completion(db, w),
    trainingTime(db, w),
    generationSuccess(db, w),
    deliveredImages(db, w),
  ]);

  // Face consistency: the consistency report's definition (match rate with copy-paste never a
  // match), over delivered LoRA images scored by one recogniser (scores of two are not comparable).
  const recognizerId = currentRecognizerId ?? mostCommon(delivered.map((r) => r.recognizerId).filter((x): x is string => x !== null));
  const loraScored = delivered.filter((r) => r.method === 'lora' && r.recognizerId !== null && r.recognizerId === recognizerId);
  const c = summarize(
    loraScored.map((r) => ({ ...r, emulated: false, method: 'lora', baseModel: '', characterId: '', loraModelId: null, loraVersion: null })),
  );
  const face = rateMetric('faceConsistency', c.matched, c.n);

  const answered = delivered.filter((r): r is typeof r & { looksLikeCharacter: boolean } => r.looksLikeCharacter !== null);
  const sat = satisfactionReport(
    answered.map((r) => ({
      method: r.method ?? 'plain',
      yes: r.looksLikeCharacter,
      // Only scores of the reported recogniser enter the AUC and the above/below-tau split.
      similarity: r.recognizerId === recognizerId ? r.similarity : null,
      identityMatch: r.recognizerId === recognizerId ? r.match : null,
    })),
  );

  const { metric: satisfaction, ...satisfactionDetail } = sat;
  const { p50, p95, ...timeMetric } = time;
  return {
    window: { from: w.from?.toISOString() ?? null, to: w.to?.toISOString() ?? null },
    recognizerId,
    metrics: [adopt, complete, timeMetric, face, satisfaction, genSuccess],
    trainingTime: { p50, p95, n: time.n },
    satisfaction: satisfactionDetail,
  };
}
