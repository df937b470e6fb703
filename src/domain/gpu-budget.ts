/**
 * The platform-wide daily GPU budget, decided purely. A day is a UTC calendar day: spend is what
 * providers billed for runs and generations recorded that day. When the day's spend has reached
 * the cap, trainings that have not been sent to a provider yet wait in the queue (not failed, not
 * charged: their reservation stays open) and are looked at again shortly, so an admin raising the
 * cap, or midnight, lets them go without anyone resubmitting. Work already on a GPU is never
 * stopped by the budget: killing a half-trained run would waste what was already spent.
 */

export interface GpuBudgetFacts {
  /** Cap in dollars per UTC day; 0 = no cap. */
  dailyUsd: number;
  /** Dollars recorded since the start of this UTC day. */
  spentTodayUsd: number;
  now: Date;
}

export type GpuBudgetDecision =
  | { action: 'proceed' }
  | { action: 'wait'; recheckSeconds: number; resetsAt: Date; dayKey: string; message: string };

/** How often a waiting run looks at the budget again (an admin's raise takes effect within this). */
export const BUDGET_RECHECK_SECONDS = 60;

export function utcDayStart(now: Date): Date {
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()));
}

/** When today's spend stops counting: the next 00:00 UTC. */
export function nextUtcMidnight(now: Date): Date {
  return new Date(utcDayStart(now).getTime() + 24 * 3600_000);
}

/** Dollars as reported (API, webhook): to a hundredth of a cent. */
export const roundUsd = (usd: number) => Math.round(usd * 10_000) / 10_000;

export function utcDayKey(now: Date): string {
  return utcDayStart(now).toISOString().slice(0, 10);
}

export function decideGpuBudget(f: GpuBudgetFacts): GpuBudgetDecision {
  if (f.dailyUsd <= 0 || f.spentTodayUsd < f.dailyUsd) return { action: 'proceed' };
  const resetsAt = nextUtcMidnight(f.now);
  const untilReset = Math.max(1, Math.ceil((resetsAt.getTime() - f.now.getTime()) / 1000));
  return {
    action: 'wait',
    recheckSeconds: Math.min(BUDGET_RECHECK_SECONDS, untilReset),
    resetsAt,
    dayKey: utcDayKey(f.now),
    message: `Waiting for GPU capacity: the platform's daily GPU budget ($${f.dailyUsd.toFixed(2)}) is used up; training starts when it resets at ${resetsAt.toISOString()} or the budget is raised.`,
  };
}
