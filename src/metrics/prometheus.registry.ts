/**
 * Prometheus text for GET /metrics: one prom-client registry per process.
 *
 * Why (almost) everything is read from the database at scrape time: with `likeness api` and
 * several `likeness worker` processes, the events happen in the workers while the API answers
 * the scrape; in-process counters would show one process's share. The database holds every
 * run, ledger entry and scored image, and none of those rows are ever deleted, so sums over
 * them only grow: they are honest counters, identical whichever process is scraped. Only the
 * Node.js process metrics (memory, event loop) are this process's own.
 */
import client, { Counter, Gauge, Registry, type Metric } from 'prom-client';
import { sql } from 'drizzle-orm';
import type { Executor } from '../db/database.js';
import { generations, images, ledgerEntries, trainingRuns, webhookDeliveries } from '../db/schema.js';
import { spentTodayUsd } from '../services/gpu-budget.service.js';

type Labels = Record<string, string>;

interface HistogramRow {
  labels: Labels;
  buckets: number[];
  sum: number;
  count: number;
}

/**
 * A histogram whose bucket counts come from one SQL aggregate at scrape time (prom-client's own
 * Histogram only accepts observations one by one, which would replay every row per scrape).
 * It implements the shape the registry formats (`get()` returning `_bucket`/`_sum`/`_count`).
 */
class DbHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  constructor(
    readonly name: string,
    readonly help: string,
    readonly upperBounds: readonly number[],
    private readonly read: (bounds: readonly number[]) => Promise<HistogramRow[]>,
  ) {}
  collect(): void {}
  reset(): void {}
  async get() {
    const rows = await this.read(this.upperBounds);
    const values: { value: number; labels: Record<string, string | number>; metricName: string }[] = [];
    for (const r of rows) {
      this.upperBounds.forEach((le, i) => values.push({ value: r.buckets[i] ?? 0, labels: { ...r.labels, le }, metricName: `${this.name}_bucket` }));
      values.push({ value: r.count, labels: { ...r.labels, le: '+Inf' }, metricName: `${this.name}_bucket` });
      values.push({ value: r.sum, labels: r.labels, metricName: `${this.name}_sum` });
      values.push({ value: r.count, labels: r.labels, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }
}

/** `count(*) filter (where expr <= b)` for each bound, plus sum and count, grouped by `groupBy`. */
function bucketColumns(expr: ReturnType<typeof sql>, bounds: readonly number[]) {
  return sql.join(
    bounds.map((b, i) => sql`count(*) filter (where ${expr} <= ${b})::int as ${sql.raw(`b${i}`)}`),
    sql`, `,
  );
}

async function histogramRows(
  db: Executor,
  expr: ReturnType<typeof sql>,
  labelExprs: Record<string, ReturnType<typeof sql>>,
  from: ReturnType<typeof sql>,
  bounds: readonly number[],
): Promise<HistogramRow[]> {
  const labelNames = Object.keys(labelExprs);
  const labelSelect = labelNames.length ? sql`${sql.join(labelNames.map((n, i) => sql`${labelExprs[n]}::text as ${sql.raw(`l${i}`)}`), sql`, `)}, ` : sql``;
  const groupBy = labelNames.length ? sql` group by ${sql.join(labelNames.map((_, i) => sql.raw(String(i + 1))), sql`, `)}` : sql``;
  const q = sql`select ${labelSelect}${bucketColumns(expr, bounds)}, coalesce(sum(${expr}), 0)::float8 as total, count(*)::int as n from ${from}${groupBy}`;
  const result = (await db.execute(q)) as unknown as { rows: Record<string, unknown>[] } | Record<string, unknown>[];
  const rows = Array.isArray(result) ? result : result.rows;
  return rows.map((row) => {
    const labels: Labels = {};
    labelNames.forEach((n, i) => (labels[n] = String(row[`l${i}`] ?? '')));
    return { labels, buckets: bounds.map((_, i) => Number(row[`b${i}`] ?? 0)), sum: Number(row.total ?? 0), count: Number(row.n ?? 0) };
  });
}

export function createMetricsRegistry(db: Executor): Registry {
  const registry = new Registry();
  client.collectDefaultMetrics({ register: registry, prefix: 'likeness_process_' });

  new Gauge({
    name: 'likeness_training_runs',
    help: 'Training runs by state and base model (terminal states only grow).',
    labelNames: ['status', 'base_model', 'emulated'] as const,
    registers: [registry],
    async collect() {
      const rows = await db
        .select({ status: trainingRuns.status, baseModel: trainingRuns.baseModel, emulated: trainingRuns.emulated, n: sql<number>`count(*)::int` })
        .from(trainingRuns)
        .groupBy(trainingRuns.status, trainingRuns.baseModel, trainingRuns.emulated);
      this.reset();
      for (const r of rows) this.set({ status: r.status, base_model: r.baseModel, emulated: String(r.emulated) }, Number(r.n));
    },
  });

  new Counter({
    name: 'likeness_credits_total',
    help: 'Credits through the ledger by entry kind (grant, reserve, capture, release).',
    labelNames: ['kind'] as const,
    registers: [registry],
    async collect() {
      const rows = await db
        .select({ kind: ledgerEntries.kind, total: sql<number>`coalesce(sum(${ledgerEntries.amount}), 0)::float8` })
        .from(ledgerEntries)
        .groupBy(ledgerEntries.kind);
      this.reset();
      for (const r of rows) this.inc({ kind: r.kind }, Math.abs(Number(r.total)));
    },
  });

  new Counter({
    name: 'likeness_training_cost_usd_total',
    help: 'Recorded GPU cost of training runs, in US dollars.',
    labelNames: ['base_model'] as const,
    registers: [registry],
    async collect() {
      const rows = await db
        .select({ baseModel: trainingRuns.baseModel, total: sql<number>`coalesce(sum(${trainingRuns.costUsd}), 0)::float8` })
        .from(trainingRuns)
        .groupBy(trainingRuns.baseModel);
      this.reset();
      for (const r of rows) this.inc({ base_model: r.baseModel }, Number(r.total));
    },
  });

  new Counter({
    name: 'likeness_provider_errors_total',
    help: 'Provider faults: transient retries (kind="transient"), preemptions (new attempts, kind="preempted") and runs failed by the provider (kind="fatal", by code).',
    labelNames: ['kind', 'code'] as const,
    registers: [registry],
    async collect() {
      const [retries] = await db
        .select({
          transient: sql<number>`coalesce(sum(${trainingRuns.transientRetries}), 0)::int`,
          preempted: sql<number>`coalesce(sum(greatest(${trainingRuns.attempt} - 1, 0)), 0)::int`,
        })
        .from(trainingRuns);
      const fatal = await db
        .select({ code: trainingRuns.errorCode, n: sql<number>`count(*)::int` })
        .from(trainingRuns)
        .where(sql`${trainingRuns.status} = 'failed' and ${trainingRuns.errorFault} = 'provider'`)
        .groupBy(trainingRuns.errorCode);
      this.reset();
      this.inc({ kind: 'transient', code: '' }, Number(retries?.transient ?? 0));
      this.inc({ kind: 'preempted', code: '' }, Number(retries?.preempted ?? 0));
      for (const r of fatal) this.inc({ kind: 'fatal', code: r.code ?? 'unknown' }, Number(r.n));
    },
  });

  new Gauge({
    name: 'likeness_generations',
    help: 'Generations by state and planned method.',
    labelNames: ['status', 'method', 'emulated'] as const,
    registers: [registry],
    async collect() {
      const rows = await db
        .select({ status: generations.status, method: generations.method, emulated: generations.emulated, n: sql<number>`count(*)::int` })
        .from(generations)
        .groupBy(generations.status, generations.method, generations.emulated);
      this.reset();
      for (const r of rows) this.set({ status: r.status, method: r.method, emulated: String(r.emulated) }, Number(r.n));
    },
  });

  new Gauge({
    name: 'likeness_image_feedback',
    help: 'Answers to "looks like the character?" on delivered images, by method and answer.',
    labelNames: ['method', 'answer'] as const,
    registers: [registry],
    async collect() {
      const rows = await db
        .select({ method: images.method, yes: images.looksLikeCharacter, n: sql<number>`count(*)::int` })
        .from(images)
        .where(sql`${images.looksLikeCharacter} is not null`)
        .groupBy(images.method, images.looksLikeCharacter);
      this.reset();
      for (const r of rows) this.set({ method: r.method ?? 'plain', answer: r.yes ? 'yes' : 'no' }, Number(r.n));
    },
  });

  new Gauge({
    name: 'likeness_gpu_spend_today_usd',
    help: 'GPU cost recorded since 00:00 UTC (training runs released today, generations started today): what the daily GPU budget is checked against.',
    registers: [registry],
    async collect() {
      this.set(await spentTodayUsd(db));
    },
  });

  new Gauge({
    name: 'likeness_webhook_deliveries',
    help: 'Outgoing webhook deliveries by status (pending, delivered, failed) and event type.',
    labelNames: ['status', 'type'] as const,
    registers: [registry],
    async collect() {
      const rows = await db
        .select({ status: webhookDeliveries.status, type: webhookDeliveries.type, n: sql<number>`count(*)::int` })
        .from(webhookDeliveries)
        .groupBy(webhookDeliveries.status, webhookDeliveries.type);
      this.reset();
      for (const r of rows) this.set({ status: r.status, type: r.type }, Number(r.n));
    },
  });

  const register = (m: DbHistogram) => registry.registerMetric(m as unknown as Metric);
  register(
    new DbHistogram(
      'likeness_training_duration_seconds',
      'Training runs that ended ready: from creation to ready, in seconds.',
      [60, 300, 600, 1800, 3600, 7200, 14400, 28800],
      (bounds) =>
        histogramRows(
          db,
          sql`extract(epoch from (finished_at - created_at))`,
          { base_model: sql`base_model`, emulated: sql`emulated` },
          sql`training_runs where status = 'ready' and finished_at is not null`,
          bounds,
        ),
    ),
  );
  register(
    new DbHistogram(
      'likeness_identity_similarity',
      'Identity similarity of delivered generated images to their character, by method.',
      [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1],
      (bounds) =>
        histogramRows(
          db,
          sql`identity_similarity`,
          { method: sql`coalesce(method, 'plain')`, emulated: sql`emulated` },
          sql`images where source = 'generated' and identity_similarity is not null`,
          bounds,
        ),
    ),
  );
  return registry;
}
