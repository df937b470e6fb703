import { describe, expect, it } from 'vitest';
import { BUDGET_RECHECK_SECONDS, decideGpuBudget, utcDayKey, utcDayStart } from '../../src/domain/gpu-budget.js';
import { decideWebhookRetry, WEBHOOK_DELAYS_SECONDS, WEBHOOK_MAX_ATTEMPTS } from '../../src/domain/webhook-retry.js';

describe('daily GPU budget (pure)', () => {
  const noon = new Date('2026-12-02T12:00:00Z');

  it('lets work through with no cap, or while today is under the cap', () => {
    expect(decideGpuBudget({ dailyUsd: 0, spentTodayUsd: 1e9, now: noon })).toEqual({ action: 'proceed' });
    expect(decideGpuBudget({ dailyUsd: 50, spentTodayUsd: 49.99, now: noon })).toEqual({ action: 'proceed' });
  });

  it('holds work once the cap is reached, until the next UTC midnight, checking again every minute', () => {
    const d = decideGpuBudget({ dailyUsd: 50, spentTodayUsd: 50, now: noon });
    if (d.action !== 'wait') throw new Error(`expected wait, got ${d.action}`);
    expect(d.recheckSeconds).toBe(BUDGET_RECHECK_SECONDS);
    expect(d.resetsAt.toISOString()).toBe('2026-12-03T00:00:00.000Z');
    expect(d.dayKey).toBe('2026-12-02');
    expect(d.message).toContain('$50.00');
  });

  it('never sleeps past midnight: the last check of the day is at the reset', () => {
    const d = decideGpuBudget({ dailyUsd: 1, spentTodayUsd: 2, now: new Date('2026-12-02T23:59:45Z') });
    expect(d.action === 'wait' && d.recheckSeconds).toBe(15);
  });

  it('days are UTC calendar days', () => {
    expect(utcDayStart(new Date('2026-12-02T23:30:00-05:00')).toISOString()).toBe('2026-12-03T00:00:00.000Z');
    expect(utcDayKey(new Date('2026-12-02T00:00:00Z'))).toBe('2026-12-02');
  });
});

describe('outgoing webhook retries (pure)', () => {
  const failed = { ok: false as const, status: 500, error: 'HTTP 500' };

  it('a 2xx is delivered', () => {
    expect(decideWebhookRetry({ ok: true, status: 204 }, 1, 0.5)).toEqual({ action: 'delivered' });
  });

  it('backs off along the schedule with at most 20% jitter', () => {
    for (let attempt = 1; attempt < WEBHOOK_MAX_ATTEMPTS; attempt++) {
      const base = WEBHOOK_DELAYS_SECONDS[attempt - 1]!;
      const low = decideWebhookRetry(failed, attempt, 0);
      const high = decideWebhookRetry(failed, attempt, 0.999);
      expect(low).toEqual({ action: 'retry', delaySeconds: Math.round(base * 0.8) });
      expect(high.action === 'retry' && high.delaySeconds).toBeLessThanOrEqual(Math.round(base * 1.2));
      expect(high.action === 'retry' && high.delaySeconds).toBeGreaterThan(base);
    }
  });

  it('gives up after the last attempt, and at once on 410 Gone', () => {
    const last = decideWebhookRetry({ ok: false, status: null, error: 'ECONNREFUSED' }, WEBHOOK_MAX_ATTEMPTS, 0.5);
    expect(last.action).toBe('give_up');
    expect(last.action === 'give_up' && last.reason).toContain('ECONNREFUSED');
    expect(decideWebhookRetry({ ok: false, status: 410, error: 'HTTP 410' }, 1, 0.5).action).toBe('give_up');
  });
});
