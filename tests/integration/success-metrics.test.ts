/**
 * Each success metric's definition on a seeded history (in-memory PGlite, real SQL), including the
 * window, emulated rows left out, and an empty window giving null with n = 0. Also the Prometheus
 * registry's text over the same history.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../../src/db/database.js';
import { characters, generations, images, ledgerEntries, trainingRuns, users } from '../../src/db/schema.js';
import { successMetrics } from '../../src/services/success-metrics.service.js';
import { createMetricsRegistry } from '../../src/metrics/prometheus.registry.js';
import type { Metric } from '../../src/domain/success-metrics.js';

let database: Database;
const T0 = new Date('2026-03-01T00:00:00Z');
const at = (hours: number) => new Date(T0.getTime() + hours * 3600_000);
const REC = 'test-recognizer';

beforeAll(async () => {
  database = await openDatabase({ dataDir: 'memory://' });
  const db = database.db;
  const uid = randomUUID();
  await db.insert(users).values({ id: uid, tokenHash: randomUUID() });

  let n = 0;
  async function character(opts: { sheet: Date | null; autoTrain: boolean }) {
    const id = randomUUID();
    await db.insert(characters).values({ id, ownerId: uid, name: 'c', baseModel: 'flux-dev', triggerWord: `tw${n++}`, sheetCompletedAt: opts.sheet, autoTrain: opts.autoTrain });
    return id;
  }
  async function run(characterId: string, status: string, finishedAt: Date | null, opts: { emulated?: boolean; costUsd?: number; attempt?: number; transientRetries?: number; errorFault?: string; errorCode?: string } = {}) {
    await db.insert(trainingRuns).values({
      id: randomUUID(), ownerId: uid, characterId, baseModel: 'flux-dev', status, trigger: 'sheet_complete', imageIds: [], priceTotal: 30000,
      priceBreakdown: {}, backend: 'runpod', finishedAt, createdAt: finishedAt ?? T0, emulated: opts.emulated ?? false, costUsd: opts.costUsd ?? null,
      attempt: opts.attempt ?? 1, transientRetries: opts.transientRetries ?? 0, errorFault: opts.errorFault ?? null, errorCode: opts.errorCode ?? null,
    });
  }
  async function generation(characterId: string, method: string, status: string, createdAt: Date, delivered: { similarity: number; match: boolean; answer?: boolean | null }[], emulated = false) {
    const id = randomUUID();
    await db.insert(generations).values({
      id, ownerId: uid, characterId, baseModel: 'flux-dev', prompt: 'p', width: 512, height: 512, count: Math.max(1, delivered.length), seed: 1,
      status, method, planCode: 'x', planReason: 'x', plan: {}, workflow: {}, backend: 'comfyui', emulated, createdAt,
    });
    for (const [slot, d] of delivered.entries()) {
      await db.insert(images).values({
        id: randomUUID(), ownerId: uid, characterId, source: 'generated', storageKey: `k/${id}/${slot}`, mime: 'image/png', width: 512, height: 512, bytes: 10,
        sha256: 'x', checkStatus: 'accepted', generationId: id, generationSlot: slot, method, identitySimilarity: d.similarity, identityMatch: d.match,
        faceCount: 1, copyPaste: false, recognizerId: REC, emulated, createdAt, looksLikeCharacter: d.answer ?? null,
      });
    }
  }

  // Adoption: 3 of 4 characters with a completed sheet (in March) left training on; one without a sheet is not counted.
  const a = await character({ sheet: at(0), autoTrain: true });
  const b = await character({ sheet: at(0), autoTrain: true });
  const c = await character({ sheet: at(0), autoTrain: true });
  await character({ sheet: at(0), autoTrain: false });
  await character({ sheet: null, autoTrain: true });
  // ...and one in February, outside the March window.
  const feb = await character({ sheet: new Date('2026-02-10T00:00:00Z'), autoTrain: false });

  // Completion: ready a (1 h), ready b (3 h), a later retrain of a ready (not a first ready: no training time),
  // failed c (provider), cancelled (not counted), emulated ready (not counted).
  await run(a, 'ready', at(1), { costUsd: 2.5, attempt: 2, transientRetries: 3 });
  await run(b, 'ready', at(3), { costUsd: 1.5 });
  await run(a, 'ready', at(50));
  await run(c, 'failed', at(2), { errorFault: 'provider', errorCode: 'trainer_error' });
  await run(c, 'cancelled', at(2.5));
  await run(feb, 'ready', at(4), { emulated: true });

  // Generations planned with a LoRA: 3 ended, 2 delivered; one still running (not judged); one emulated (left out).
  await generation(a, 'lora', 'completed', at(5), [
    { similarity: 0.8, match: true, answer: true },
    { similarity: 0.75, match: true, answer: true },
  ]);
  await generation(a, 'lora', 'completed', at(6), [
    { similarity: 0.3, match: false, answer: false },
    { similarity: 0.7, match: true },
  ]);
  await generation(b, 'lora', 'failed', at(7), []);
  await generation(b, 'lora', 'running', at(7), []);
  await generation(b, 'lora', 'completed', at(7), [{ similarity: 0.9, match: true, answer: false }], true);
  // Face swap: answered images feed the per-method satisfaction and the score agreement only.
  await generation(b, 'faceswap', 'completed', at(8), [
    { similarity: 0.6, match: true, answer: true },
    { similarity: 0.2, match: false, answer: false },
  ]);

  await db.insert(ledgerEntries).values([
    { userId: uid, kind: 'grant', amount: 100000, idempotencyKey: 'g1' },
    { userId: uid, kind: 'reserve', amount: 30000, idempotencyKey: 'r1', reservationId: 'res1' },
    { userId: uid, kind: 'capture', amount: 30000, idempotencyKey: 'c1', reservationId: 'res1' },
  ]);
});

afterAll(async () => {
  await database?.close();
});

const byKey = (ms: Metric[]) => Object.fromEntries(ms.map((m) => [m.key, m]));

describe('success metrics over a seeded history', () => {
  it('computes each definition in the window, emulated data left out', async () => {
    const s = await successMetrics(database.db, { from: new Date('2026-03-01T00:00:00Z'), to: new Date('2026-04-01T00:00:00Z') }, REC);
    const m = byKey(s.metrics);
    expect(s.metrics.map((x) => x.key)).toEqual(['adoption', 'completion', 'trainingTime', 'faceConsistency', 'satisfaction', 'generationSuccess']);
    expect(m.adoption).toMatchObject({ n: 4, value: 0.75, meetsTarget: true });
    // ready 3 (a, b, a's retrain) / (3 + failed 1); cancelled and emulated out.
    expect(m.completion).toMatchObject({ n: 4, value: 0.75, meetsTarget: false });
    expect(m.completion!.interval!.low).toBeGreaterThan(0.2);
    // First ready per character: 1 h and 3 h.
    expect(s.trainingTime).toMatchObject({ n: 2, p50: 2 * 3600 });
    expect(s.trainingTime.p95).toBeCloseTo(2.9 * 3600);
    expect(m.trainingTime).toMatchObject({ n: 2, meetsTarget: false, interval: null });
    // Delivered LoRA images (not emulated): 4, 3 matched.
    expect(m.faceConsistency).toMatchObject({ n: 4, value: 0.75 });
    // Answered LoRA images: yes, yes, no.
    expect(m.satisfaction!.n).toBe(3);
    expect(m.satisfaction!.value).toBeCloseTo(2 / 3);
    expect(s.satisfaction.byMethod.faceswap).toMatchObject({ n: 2, value: 0.5 });
    expect(s.satisfaction.byMethod.plain).toMatchObject({ n: 0, value: null });
    // Scores separate the 5 answers perfectly: yes at 0.8, 0.75, 0.6; no at 0.3, 0.2.
    expect(s.satisfaction.scoreAgreement).toMatchObject({ n: 5, rocAuc: 1 });
    expect(s.satisfaction.scoreAgreement.yesRateAboveTau).toMatchObject({ n: 3, value: 1 });
    expect(s.satisfaction.scoreAgreement.yesRateBelowTau).toMatchObject({ n: 2, value: 0 });
    // 3 ended LoRA generations (running and emulated left out), 2 delivered.
    expect(m.generationSuccess!.n).toBe(3);
    expect(m.generationSuccess!.value).toBeCloseTo(2 / 3);
  });

  it('the window moves rows in and out', async () => {
    const s = await successMetrics(database.db, { from: at(0), to: at(2.5) }, REC);
    const m = byKey(s.metrics);
    // Runs finished before 2.5 h: ready a (1 h) and failed c (2 h).
    expect(m.completion).toMatchObject({ n: 2, value: 0.5 });
    expect(s.trainingTime).toMatchObject({ n: 1, p50: 3600 });
    const all = byKey((await successMetrics(database.db, {}, REC)).metrics);
    expect(all.adoption).toMatchObject({ n: 5, value: 0.6, meetsTarget: false });
  });

  it('an empty window is null with n = 0 for every metric, never 0%', async () => {
    const s = await successMetrics(database.db, { from: new Date('2030-01-01T00:00:00Z') }, REC);
    for (const m of s.metrics) expect(m, m.key).toMatchObject({ value: null, n: 0, interval: null, meetsTarget: null });
    expect(s.satisfaction.scoreAgreement.rocAuc).toBeNull();
  });

  it('serves Prometheus text computed from the database', async () => {
    const text = await createMetricsRegistry(database.db).metrics();
    expect(text).toMatch(/# TYPE likeness_training_runs gauge/);
    expect(text).toContain('likeness_training_runs{status="ready",base_model="flux-dev",emulated="false"} 3');
    expect(text).toContain('likeness_credits_total{kind="capture"} 30000');
    expect(text).toContain('likeness_training_cost_usd_total{base_model="flux-dev"} 4');
    expect(text).toContain('likeness_provider_errors_total{kind="transient",code=""} 3');
    expect(text).toContain('likeness_provider_errors_total{kind="preempted",code=""} 1');
    expect(text).toContain('likeness_provider_errors_total{kind="fatal",code="trainer_error"} 1');
    expect(text).toMatch(/# TYPE likeness_training_duration_seconds histogram/);
    expect(text).toContain('likeness_identity_similarity_bucket{method="lora",emulated="false",le="0.5"} 1');
    expect(text).toContain('likeness_identity_similarity_count{method="lora",emulated="false"} 4');
    expect(text).toContain('likeness_image_feedback{method="lora",answer="yes"} 2');
    // Every sample line parses as `name{labels} value`.
    for (const line of text.split('\n').filter((l) => l && !l.startsWith('#'))) {
      const space = line.lastIndexOf(' ');
      expect(line.slice(0, space), line).toMatch(/^[a-zA-Z_:][a-zA-Z0-9_:]*(\{.*\})?$/);
      // Prometheus parses values with Go's ParseFloat: NaN in any case (prom-client writes "Nan"), +Inf, -Inf.
      const value = line.slice(space + 1);
      expect(Number.isNaN(Number(value)) && !['nan', '+inf', '-inf'].includes(value.toLowerCase()), line).toBe(false);
    }
  });
});
