/**
 * The queued step: the last point before a run costs GPU money, so the platform's daily GPU
 * budget is checked here. Under the budget the run moves on to preparing. Over it, the run stays
 * queued (its credits reserved, nothing charged), says why in its progress message, and looks
 * again within a minute; the first run held on a given day records one `platform.gpu_budget.reached`
 * webhook event for the operator (the event's key is the day, so it is sent once however many runs
 * wait and however many workers check).
 */
import { decideGpuBudget } from '../domain/gpu-budget.js';
import type { TrainingRunRow } from '../db/training-runs.repo.js';
import { patchRun } from '../db/training-runs.repo.js';
import { inTransaction } from '../db/transaction.js';
import type { ServiceContext } from '../services/context.js';
import { gpuBudgetFacts } from '../services/gpu-budget.service.js';
import { recordWebhookEvent } from '../webhooks/webhook-outbox.repo.js';
import { advance, continueRun } from './step-context.js';

export async function queuedStep(ctx: ServiceContext, run: TrainingRunRow): Promise<unknown> {
  const facts = await gpuBudgetFacts(ctx);
  const decision = decideGpuBudget(facts);
  if (decision.action === 'proceed') {
    return advance(ctx, run, 'preparing', run.waitReason ? { waitReason: null, progressMessage: null } : {});
  }
  return inTransaction(ctx.db, async (tx) => {
    const held = await patchRun(tx, run.id, 'queued', { waitReason: 'gpu_budget', progressMessage: decision.message });
    if (!held) return null;
    await continueRun(ctx, run.id, 'queued', { executor: tx, delaySeconds: decision.recheckSeconds });
    const first = await recordWebhookEvent(tx, ctx, {
      key: `gpu-budget:${decision.dayKey}`,
      type: 'platform.gpu_budget.reached',
      userId: null,
      data: {
        day: decision.dayKey,
        dailyUsd: facts.dailyUsd,
        spentTodayUsd: Math.round(facts.spentTodayUsd * 10_000) / 10_000,
        resetsAt: decision.resetsAt.toISOString(),
        firstHeldRunId: run.id,
      },
    });
    if (first || !run.waitReason) ctx.log(`[run ${run.id}] held in queue: daily GPU budget $${facts.dailyUsd} reached ($${facts.spentTodayUsd.toFixed(4)} spent today)`);
    return held;
  });
}
