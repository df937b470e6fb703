import { describe, expect, it } from 'vitest';
import { rateMetric, rocAuc, satisfactionReport, trainingTimeMetric, formatMetricValue } from '../../src/domain/success-metrics.js';

describe('success metrics (pure)', () => {
  it('a rate with no data is null with n = 0 and no verdict, never 0%', () => {
    const m = rateMetric('completion', 0, 0);
    expect(m).toMatchObject({ value: null, n: 0, interval: null, meetsTarget: null });
    expect(formatMetricValue(m)).toBe('—');
  });

  it('a rate carries its Wilson 95% interval and is judged on the value against a strict target', () => {
    const m = rateMetric('faceConsistency', 19, 20);
    expect(m.value).toBeCloseTo(0.95);
    expect(m.interval!.low).toBeCloseTo(0.7639, 3);
    expect(m.interval!.high).toBeCloseTo(0.9911, 3);
    // "> 95%": exactly 95% does not meet it.
    expect(m.meetsTarget).toBe(false);
    expect(rateMetric('adoption', 7, 10).meetsTarget).toBe(true);
    expect(() => rateMetric('adoption', 3, 2)).toThrow();
  });

  it('training time is p50 / p95 in seconds and meets "< 2 h" on p95', () => {
    const hour = 3600;
    const t = trainingTimeMetric([0.5 * hour, 1 * hour, 1 * hour, 1.5 * hour, 3 * hour]);
    expect(t.n).toBe(5);
    expect(t.p50).toBe(hour);
    expect(t.p95).toBeCloseTo(2.7 * hour);
    expect(t.value).toBe(t.p95);
    expect(t.meetsTarget).toBe(false);
    expect(trainingTimeMetric([600, 1200]).meetsTarget).toBe(true);
    expect(trainingTimeMetric([])).toMatchObject({ value: null, n: 0, p50: null, p95: null, meetsTarget: null });
  });

  it('ROC AUC: 1 when scores separate the answers, 0.5 for ties, null without both answers', () => {
    expect(rocAuc([{ score: 0.9, yes: true }, { score: 0.8, yes: true }, { score: 0.2, yes: false }])).toBe(1);
    expect(rocAuc([{ score: 0.1, yes: true }, { score: 0.9, yes: false }])).toBe(0);
    expect(rocAuc([{ score: 0.5, yes: true }, { score: 0.5, yes: false }])).toBe(0.5);
    // 3 yes x 2 no = 6 pairs; yes 0.9 beats both, 0.6 beats 0.4 and ties 0.6 (1.5), 0.3 beats none: 3.5 / 6.
    expect(rocAuc([
      { score: 0.9, yes: true }, { score: 0.6, yes: true }, { score: 0.3, yes: true },
      { score: 0.6, yes: false }, { score: 0.4, yes: false },
    ])).toBeCloseTo(3.5 / 6);
    expect(rocAuc([{ score: 0.9, yes: true }])).toBeNull();
  });

  it('satisfaction counts only LoRA answers, reports every method and the score agreement', () => {
    const r = satisfactionReport([
      { method: 'lora', yes: true, similarity: 0.8, identityMatch: true },
      { method: 'lora', yes: true, similarity: 0.7, identityMatch: true },
      { method: 'lora', yes: false, similarity: 0.3, identityMatch: false },
      { method: 'faceswap', yes: false, similarity: 0.2, identityMatch: false },
      { method: 'faceswap', yes: true, similarity: null, identityMatch: null },
    ]);
    expect(r.metric).toMatchObject({ key: 'satisfaction', n: 3 });
    expect(r.metric.value).toBeCloseTo(2 / 3);
    expect(r.byMethod.faceswap).toMatchObject({ n: 2, value: 0.5 });
    expect(r.byMethod.plain).toMatchObject({ n: 0, value: null, interval: null });
    expect(r.scoreAgreement.n).toBe(4);
    expect(r.scoreAgreement.rocAuc).toBe(1);
    expect(r.scoreAgreement.yesRateAboveTau).toMatchObject({ n: 2, value: 1 });
    expect(r.scoreAgreement.yesRateBelowTau).toMatchObject({ n: 2, value: 0 });
    expect(satisfactionReport([]).metric).toMatchObject({ value: null, n: 0 });
  });
});
