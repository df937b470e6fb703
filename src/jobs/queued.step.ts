/**
 * The queued step: the last point before a run costs GPU money or takes a provider slot, so run
 * admission (domain/run-admission.ts) is decided here: the platform's daily GPU budget, then the
 * provider's concurrency limit. Admitted, the run moves on to preparing. Held, it stays queued
 * (its credits reserved, nothing charged), says why (`waitReason` and its progress message) and
 * looks again after the decision's interval. The first run held by the budget on a given day
 * records one `platform.gpu_budget.reached` webhook event (its key is the day, so it is sent once
 * however many runs wait and however many workers check).
 *
 * With a provider limit, admission runs under one transaction-scoped advisory lock, so two workers
 * admitting runs at the same moment cannot both take the last provider slot. (The budget needs no
 * lock: it brakes new work, and a run admitted a moment before the cap was reached is fine.)
 */
import { and, eq, inArray, lt, sql } from 'drizzle-orm';
import type { Executor } from '../db/database.js';
import { trainingRuns } from '../db/schema.js';
import type { TrainingRunRow } from '../db/training-runs.repo.js';
import { patchRun, transitionRun } from '../db/training-runs.repo.js';
import { inTransaction } from '../db/transaction.js';
import { roundUsd } from '../domain/gpu-budget.js';
import { decideAdmission, type ProviderLoad } from '../domain/run-admission.js';
import type { ServiceContext } from '../services/context.js';
import { gpuBudgetFacts } from '../services/gpu-budget.service.js';
import { recordWebhookEvent } from '../webhooks/webhook-outbox.repo.js';
import { continueRun } from './step-context.js';

/** Any fixed 64-bit number: the one advisory lock admission takes. */
const ADMISSION_LOCK = 0x6c696b656e657373n % 9223372036854775807n;

async function providerLoad(tx: Executor, run: TrainingRunRow, limit: number): Promise<ProviderLoad> {
  if (limit <= 0) return { active: 0, aheadInQueue: 0, limit };
  const [active] = await tx
    .select({ n: sql<number>`count(*)::int` })
    .from(trainingRuns)
    .where(and(eq(trainingRuns.backend, run.backend), inArray(trainingRuns.status, ['preparing', 'submitting', 'training', 'finalizing'])));
  const [ahead] = await tx
    .select({ n: sql<number>`count(*)::int` })
    .from(trainingRuns)
    .where(
      and(
        eq(trainingRuns.backend, run.backend),
        eq(trainingRuns.status, 'queued'),
        eq(trainingRuns.cancelRequested, false),
        lt(trainingRuns.createdAt, run.createdAt),
      ),
    );
  return { active: Number(active?.n ?? 0), aheadInQueue: Number(ahead?.n ?? 0), limit };
}

export async function queuedStep(ctx: ServiceContext, run: TrainingRunRow): Promise<unknown> {
  return inTransaction(ctx.db, async (tx) => {
    const limit = ctx.config.worker.maxProviderRuns;
    if (limit > 0) await tx.execute(sql`select pg_advisory_xact_lock(${ADMISSION_LOCK.toString()}::bigint)`);
    const budget = await gpuBudgetFacts({ db: tx as never, config: ctx.config }, new Date(), { spendWhenUncapped: false });
    const decision = decideAdmission(budget, await providerLoad(tx, run, limit));
    if (decision.action === 'admit') {
      const next = await transitionRun(tx, run.id, 'preparing', run.waitReason ? { waitReason: null, progressMessage: null } : {}, {
        expectVersion: run.version,
        from: ['queued'],
      });
      if (next) await continueRun(ctx, run.id, 'preparing', { executor: tx });
      return next;
    }
    const held = await patchRun(tx, run.id, 'queued', { waitReason: decision.reason, progressMessage: decision.message });
    if (!held) return null;
    await continueRun(ctx, run.id, 'queued', { executor: tx, delaySeconds: decision.recheckSeconds });
    if (decision.budgetDay) {
      const first = await recordWebhookEvent(tx, ctx, {
        key: `gpu-budget:${decision.budgetDay.dayKey}`,
        type: 'platform.gpu_budget.reached',
        userId: null,
        data: {
          day: decision.budgetDay.dayKey,
          dailyUsd: budget.dailyUsd,
          spentTodayUsd: roundUsd(budget.spentTodayUsd),
          resetsAt: decision.budgetDay.resetsAt.toISOString(),
          firstHeldRunId: run.id,
        },
      });
      if (first) ctx.log(`[budget] daily GPU budget $${budget.dailyUsd} reached ($${budget.spentTodayUsd.toFixed(4)} spent today): new trainings wait`);
    }
    if (run.waitReason !== decision.reason) ctx.log(`[run ${run.id}] held in queue (${decision.reason}): ${decision.message}`);
    return held;
  });
}
