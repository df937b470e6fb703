import { describe, expect, it } from 'vitest';
import { CAPACITY_RECHECK_SECONDS, decideAdmission } from '../../src/domain/run-admission.js';

const now = new Date('2026-12-02T12:00:00Z');
const underBudget = { dailyUsd: 100, spentTodayUsd: 1, now };

describe('run admission (pure)', () => {
  it('admits with no limits, and while a provider slot is free for this run', () => {
    expect(decideAdmission({ dailyUsd: 0, spentTodayUsd: 0, now }, { active: 50, aheadInQueue: 50, limit: 0 })).toEqual({ action: 'admit' });
    expect(decideAdmission(underBudget, { active: 1, aheadInQueue: 0, limit: 2 })).toEqual({ action: 'admit' });
  });

  it('holds a run while the slots are busy, and behind earlier queued runs (first come, first served)', () => {
    const busy = decideAdmission(underBudget, { active: 2, aheadInQueue: 0, limit: 2 });
    expect(busy).toMatchObject({ action: 'hold', reason: 'provider_capacity', recheckSeconds: CAPACITY_RECHECK_SECONDS });
    expect(busy.action === 'hold' && busy.message).toContain('2 of 2 training slots are busy');
    const behind = decideAdmission(underBudget, { active: 1, aheadInQueue: 1, limit: 2 });
    expect(behind).toMatchObject({ action: 'hold', reason: 'provider_capacity' });
    expect(behind.action === 'hold' && behind.message).toContain('1 earlier run waits');
  });

  it('the budget comes first: a used-up budget holds the run even with free slots', () => {
    const d = decideAdmission({ dailyUsd: 10, spentTodayUsd: 10, now }, { active: 0, aheadInQueue: 0, limit: 4 });
    expect(d).toMatchObject({ action: 'hold', reason: 'gpu_budget', budgetDay: { dayKey: '2026-12-02' } });
  });
});
