/**
 * The consistency report behind "face match > 95% with a LoRA": over every scored output of every
 * generation attempt (not only the delivered ones, so a method's failures count against it), the
 * face-match rate with its Wilson 95% interval, mean and 5th-percentile similarity, no-face and
 * multi-face rates, per method, base model, LoRA version and character; plus the delivered images.
 *
 * Kept out: emulated output (the GPU emulator's images say nothing about a real model: with the
 * emulator the report has n = 0 and null rates, never 0%), and scores of another recogniser than
 * the one reported (scores of two models are not comparable). Copy-paste outputs count as
 * evaluated, never as matched.
 */
import { and, eq, type SQL } from 'drizzle-orm';
import type { Executor } from '../db/database.js';
import { generationAttempts, generations, images, loraModels } from '../db/schema.js';
import { BASE_MODELS } from '../domain/base-models.js';
import { summarizeConsistency, tauFor, type ImageScore } from '../identity/index.js';

export interface ConsistencySummaryView {
  n: number;
  matched: number;
  matchRate: number | null;
  matchRateInterval: { low: number; high: number } | null;
  meanSimilarity: number | null;
  p5Similarity: number | null;
  noFaceRate: number | null;
  multiFaceRate: number | null;
  copyPasteFlagged: number;
}

interface ScoredRow {
  similarity: number | null;
  match: boolean | null;
  faceCount: number | null;
  copyPaste: boolean | null;
  recognizerId: string | null;
  emulated: boolean;
  method: string;
  baseModel: string;
  characterId: string;
  loraModelId: string | null;
  loraVersion: number | null;
}

const METHODS = ['lora', 'faceswap', 'plain'] as const;

export function summarize(rows: readonly ScoredRow[]): ConsistencySummaryView {
  if (rows.length === 0) {
    return { n: 0, matched: 0, matchRate: null, matchRateInterval: null, meanSimilarity: null, p5Similarity: null, noFaceRate: null, multiFaceRate: null, copyPasteFlagged: 0 };
  }
  const scores: Array<ImageScore & { copyPaste: boolean }> = rows.map((r) => ({
    similarity: r.similarity,
    match: r.match === true,
    faceCount: r.faceCount ?? 0,
    recognizerId: r.recognizerId ?? '',
    perReference: [],
    copyPaste: r.copyPaste === true,
  }));
  const s = summarizeConsistency(scores);
  return {
    n: s.evaluated,
    matched: s.matched,
    matchRate: s.matchRate,
    matchRateInterval: s.matchRateInterval,
    meanSimilarity: s.meanSimilarity,
    p5Similarity: s.p5Similarity,
    noFaceRate: s.noFaceRate,
    multiFaceRate: s.multiFaceRate,
    copyPasteFlagged: s.copyPasteFlagged,
  };
}

export async function consistencyReport(db: Executor, scope: { characterId?: string; perCharacter?: boolean }, currentRecognizerId: string | null) {
  const where: SQL[] = [eq(generationAttempts.outcome, 'scored')];
  if (scope.characterId) where.push(eq(generations.characterId, scope.characterId));
  const all: ScoredRow[] = await db
    .select({
      similarity: generationAttempts.similarity,
      match: generationAttempts.match,
      faceCount: generationAttempts.faceCount,
      copyPaste: generationAttempts.copyPaste,
      recognizerId: generationAttempts.recognizerId,
      emulated: generationAttempts.emulated,
      method: generationAttempts.method,
      baseModel: generations.baseModel,
      characterId: generations.characterId,
      loraModelId: generations.loraModelId,
      loraVersion: loraModels.version,
    })
    .from(generationAttempts)
    .innerJoin(generations, eq(generations.id, generationAttempts.generationId))
    .leftJoin(loraModels, eq(loraModels.id, generations.loraModelId))
    .where(and(...where));

  const real = all.filter((r) => !r.emulated);
  const recognizerId = currentRecognizerId ?? mostCommon(real.map((r) => r.recognizerId).filter((x): x is string => x !== null));
  const rows = real.filter((r) => r.recognizerId === recognizerId);
  let tau: number | null = null;
  try {
    tau = recognizerId ? tauFor(recognizerId) : null;
  } catch {
    tau = null;
  }

  const group = <K extends string>(keyOf: (r: ScoredRow) => K | null) => {
    const out = new Map<K, ScoredRow[]>();
    for (const r of rows) {
      const k = keyOf(r);
      if (k !== null) out.set(k, [...(out.get(k) ?? []), r]);
    }
    return out;
  };
  const byMethod = group((r) => r.method);
  const byBase = group((r) => r.baseModel);
  const byLora = group((r) => (r.method === 'lora' && r.loraModelId ? r.loraModelId : null));
  const byCharacter = group((r) => r.characterId);

  const report: Record<string, unknown> = {
    recognizerId,
    tau,
    excluded: { emulated: all.length - real.length, otherRecognizer: real.length - rows.length },
    overall: summarize(rows),
    byMethod: Object.fromEntries(METHODS.map((m) => [m, summarize(byMethod.get(m) ?? [])])),
    byBaseModel: Object.fromEntries(BASE_MODELS.map((m) => [m, summarize(byBase.get(m) ?? [])])),
    byLoraVersion: [...byLora.entries()].map(([loraModelId, rs]) => ({
      loraModelId,
      version: rs[0]!.loraVersion,
      baseModel: rs[0]!.baseModel,
      ...summarize(rs),
    })),
    delivered: summarize(await deliveredRows(db, scope.characterId, recognizerId)),
  };
  if (scope.perCharacter) report.byCharacter = [...byCharacter.entries()].map(([characterId, rs]) => ({ characterId, ...summarize(rs) }));
  return report;
}

/** The delivered generated images (what users got), scored and not emulated. */
async function deliveredRows(db: Executor, characterId: string | undefined, recognizerId: string | null): Promise<ScoredRow[]> {
  if (!recognizerId) return [];
  const where: SQL[] = [eq(images.source, 'generated'), eq(images.emulated, false), eq(images.recognizerId, recognizerId)];
  if (characterId) where.push(eq(images.characterId, characterId));
  const rows = await db
    .select({
      similarity: images.identitySimilarity,
      match: images.identityMatch,
      faceCount: images.faceCount,
      copyPaste: images.copyPaste,
      recognizerId: images.recognizerId,
      method: images.method,
      characterId: images.characterId,
    })
    .from(images)
    .where(and(...where));
  return rows.map((r) => ({ ...r, emulated: false, method: r.method ?? 'plain', baseModel: '', loraModelId: null, loraVersion: null }));
}

function mostCommon(values: string[]): string | null {
  const counts = new Map<string, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  let best: string | null = null;
  for (const [v, n] of counts) if (best === null || n > counts.get(best)!) best = v;
  return best;
}
