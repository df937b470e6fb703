/**
 * Whether a queued run may go on to the provider now, decided purely. Two brakes, money first:
 * the platform's daily GPU budget (domain/gpu-budget.ts), then the provider's capacity (at most
 * `limit` runs with one provider at once: a local GPU, an AI Toolkit box, an account's pod quota).
 * Capacity is first come, first served: queued runs created earlier and also waiting take their
 * place before this one, so a steady stream of new runs cannot starve an old one.
 */
import { decideGpuBudget, type GpuBudgetFacts } from './gpu-budget.js';

export interface ProviderLoad {
  /** Runs of this provider past `queued` and not ended (preparing .. finalizing). */
  active: number;
  /** Queued runs of this provider created before this one (they go first). */
  aheadInQueue: number;
  /** 0 = no limit. */
  limit: number;
}

export type WaitReason = 'gpu_budget' | 'provider_capacity';

export type AdmissionDecision =
  | { action: 'admit' }
  | { action: 'hold'; reason: WaitReason; recheckSeconds: number; message: string; budgetDay?: { dayKey: string; resetsAt: Date } };

/** A held run looks again this often for a free provider slot (a slot frees when a run ends). */
export const CAPACITY_RECHECK_SECONDS = 10;

export function decideAdmission(budget: GpuBudgetFacts, load: ProviderLoad): AdmissionDecision {
  const money = decideGpuBudget(budget);
  if (money.action === 'wait') {
    return {
      action: 'hold',
      reason: 'gpu_budget',
      recheckSeconds: money.recheckSeconds,
      message: money.message,
      budgetDay: { dayKey: money.dayKey, resetsAt: money.resetsAt },
    };
  }
  if (load.limit > 0 && load.active + load.aheadInQueue >= load.limit) {
    const ahead = load.aheadInQueue ? ` and ${load.aheadInQueue} earlier ${load.aheadInQueue === 1 ? 'run waits' : 'runs wait'}` : '';
    return {
      action: 'hold',
      reason: 'provider_capacity',
      recheckSeconds: CAPACITY_RECHECK_SECONDS,
      message: `Waiting for a free GPU: ${load.active} of ${load.limit} training slots are busy${ahead}; training starts as soon as one frees.`,
    };
  }
  return { action: 'admit' };
}
