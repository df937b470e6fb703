/**
 * The platform's six success metrics, as pure functions over counts and samples that the metrics
 * service reads from the database. Every metric has a value, its target, the sample size n and,
 * for rates, the Wilson 95% interval. No data is value null with n = 0, never 0%: an empty
 * window must not read as a failing feature.
 */
import { percentile, wilsonInterval, type Interval } from './statistics.js';

export type MetricKey = 'adoption' | 'completion' | 'faceConsistency' | 'satisfaction' | 'trainingTime' | 'generationSuccess';

export interface MetricTarget {
  /** 'above': the value must be greater than `value`; 'below': smaller. */
  direction: 'above' | 'below';
  value: number;
}

/** The platform's targets (its success criteria for the feature). */
export const METRIC_TARGETS: Record<MetricKey, MetricTarget> = {
  adoption: { direction: 'above', value: 0.6 },
  completion: { direction: 'above', value: 0.9 },
  faceConsistency: { direction: 'above', value: 0.95 },
  satisfaction: { direction: 'above', value: 0.8 },
  trainingTime: { direction: 'below', value: 2 * 3600 },
  generationSuccess: { direction: 'above', value: 0.95 },
};

export const METRIC_LABELS: Record<MetricKey, string> = {
  adoption: 'Adoption (training left on)',
  completion: 'Training completion',
  faceConsistency: 'Face consistency (LoRA images)',
  satisfaction: 'User satisfaction (LoRA images)',
  trainingTime: 'Training time, sheet to ready (p95)',
  generationSuccess: 'Generation success with a LoRA',
};

export interface Metric {
  key: MetricKey;
  label: string;
  unit: 'ratio' | 'seconds';
  value: number | null;
  target: MetricTarget;
  n: number;
  /** Wilson 95% interval for rates; null for durations and when n = 0. */
  interval: Interval | null;
  /** null when there is no data to judge. */
  meetsTarget: boolean | null;
}

export function meets(value: number | null, target: MetricTarget): boolean | null {
  if (value === null) return null;
  return target.direction === 'above' ? value > target.value : value < target.value;
}

export function rateMetric(key: MetricKey, successes: number, n: number): Metric {
  if (successes < 0 || successes > n) throw new Error(`${key}: ${successes} successes out of ${n}`);
  const value = n > 0 ? successes / n : null;
  return {
    key,
    label: METRIC_LABELS[key],
    unit: 'ratio',
    value,
    target: METRIC_TARGETS[key],
    n,
    interval: n > 0 ? wilsonInterval(successes, n) : null,
    meetsTarget: meets(value, METRIC_TARGETS[key]),
  };
}

export interface DurationMetric extends Metric {
  p50: number | null;
  p95: number | null;
}

/**
 * Training time: p50 and p95 of sheet-complete -> ready, in seconds. The target is judged on p95
 * (most users, not the median user, must get their LoRA within the target).
 */
export function trainingTimeMetric(durationsSeconds: readonly number[]): DurationMetric {
  const sorted = durationsSeconds.filter((d) => Number.isFinite(d) && d >= 0).sort((a, b) => a - b);
  const p50 = percentile(sorted, 0.5);
  const p95 = percentile(sorted, 0.95);
  return {
    key: 'trainingTime',
    label: METRIC_LABELS.trainingTime,
    unit: 'seconds',
    value: p95,
    target: METRIC_TARGETS.trainingTime,
    n: sorted.length,
    interval: null,
    meetsTarget: meets(p95, METRIC_TARGETS.trainingTime),
    p50,
    p95,
  };
}

export interface ScoredAnswer {
  /** The identity score of the image (higher = more alike). */
  score: number;
  /** The user's answer: looks like the character. */
  yes: boolean;
}

/**
 * ROC AUC of the identity score against users' answers: the probability that a random "yes"
 * image scores higher than a random "no" image (ties count half). Null unless both answers occur.
 * Computed from ranks (Mann-Whitney U), O(n log n).
 */
export function rocAuc(answers: readonly ScoredAnswer[]): number | null {
  const pos = answers.filter((a) => a.yes).length;
  const neg = answers.length - pos;
  if (pos === 0 || neg === 0) return null;
  const sorted = [...answers].sort((a, b) => a.score - b.score);
  let rankSumPos = 0;
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1]!.score === sorted[i]!.score) j++;
    // Tied scores share the average of their ranks (1-based).
    const avgRank = (i + j + 2) / 2;
    for (let k = i; k <= j; k++) if (sorted[k]!.yes) rankSumPos += avgRank;
    i = j + 1;
  }
  return (rankSumPos - (pos * (pos + 1)) / 2) / (pos * neg);
}

export interface RateWithInterval {
  value: number | null;
  n: number;
  interval: Interval | null;
}

export function rate(successes: number, n: number): RateWithInterval {
  return { value: n > 0 ? successes / n : null, n, interval: n > 0 ? wilsonInterval(successes, n) : null };
}

export interface FeedbackAnswer {
  method: string;
  yes: boolean;
  /** Identity similarity of the delivered image, when it was scored. */
  similarity: number | null;
  /** Whether the identity check called it a match (similarity at or above tau). */
  identityMatch: boolean | null;
}

export interface ScoreAgreement {
  /** ROC AUC of the similarity against the answers (null without both answers). */
  rocAuc: number | null;
  n: number;
  /** Yes-rate of images the identity check matched (at or above tau) vs not matched. */
  yesRateAboveTau: RateWithInterval;
  yesRateBelowTau: RateWithInterval;
}

export interface SatisfactionReport {
  metric: Metric;
  byMethod: Record<string, RateWithInterval>;
  scoreAgreement: ScoreAgreement;
}

/**
 * User satisfaction = share of answered LoRA images marked yes; per method so the LoRA's gain over
 * face swap and plain generation is visible; and how far the automatic identity score agrees with
 * what people see (over answered images of every method that were scored).
 */
export function satisfactionReport(answers: readonly FeedbackAnswer[], methods: readonly string[] = ['lora', 'faceswap', 'plain']): SatisfactionReport {
  const lora = answers.filter((a) => a.method === 'lora');
  const byMethod: Record<string, RateWithInterval> = {};
  for (const m of methods) {
    const xs = answers.filter((a) => a.method === m);
    byMethod[m] = rate(xs.filter((a) => a.yes).length, xs.length);
  }
  const scored = answers.filter((a): a is FeedbackAnswer & { similarity: number } => a.similarity !== null);
  const above = answers.filter((a) => a.identityMatch === true);
  const below = answers.filter((a) => a.identityMatch === false);
  return {
    metric: rateMetric('satisfaction', lora.filter((a) => a.yes).length, lora.length),
    byMethod,
    scoreAgreement: {
      rocAuc: rocAuc(scored.map((a) => ({ score: a.similarity, yes: a.yes }))),
      n: scored.length,
      yesRateAboveTau: rate(above.filter((a) => a.yes).length, above.length),
      yesRateBelowTau: rate(below.filter((a) => a.yes).length, below.length),
    },
  };
}

/** A metric as one row of a fixed-width table (the CLI prints the same table as the API serves). */
export function formatMetricValue(m: Pick<Metric, 'unit' | 'value'>): string {
  if (m.value === null) return '—';
  if (m.unit === 'ratio') return `${(m.value * 100).toFixed(1)}%`;
  return formatSeconds(m.value);
}

export function formatTarget(m: Pick<Metric, 'unit' | 'target'>): string {
  const op = m.target.direction === 'above' ? '>' : '<';
  return `${op} ${m.unit === 'ratio' ? `${Math.round(m.target.value * 100)}%` : formatSeconds(m.target.value)}`;
}

export function formatSeconds(s: number): string {
  if (s < 60) return `${s.toFixed(0)} s`;
  if (s < 3600) return `${(s / 60).toFixed(1)} min`;
  return `${(s / 3600).toFixed(2)} h`;
}
