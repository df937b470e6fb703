/**
 * The platform's daily GPU budget: what is spent today, what the cap is (configuration, or an
 * admin's override kept in the database so every process sees it at once), and the admin's
 * change of it. The decision itself is domain/gpu-budget.ts; the queued step applies it.
 */
import { and, eq, gte, sql } from 'drizzle-orm';
import type { Executor } from '../db/database.js';
import { generations, platformSettings, trainingRuns } from '../db/schema.js';
import { decideGpuBudget, nextUtcMidnight, roundUsd, utcDayStart, type GpuBudgetFacts } from '../domain/gpu-budget.js';
import { TRAINING_STEP } from '../jobs/queues.js';
import type { ServiceContext } from './context.js';

const SETTING_KEY = 'gpu_budget';

/** Runs the budget is holding back right now. */
const heldByBudget = () => and(eq(trainingRuns.status, 'queued'), eq(trainingRuns.waitReason, 'gpu_budget'));

interface BudgetSetting {
  dailyUsd: number;
}

export interface GpuBudgetView {
  /** 0 = no cap. */
  dailyUsd: number;
  source: 'config' | 'admin';
  spentTodayUsd: number;
  reached: boolean;
  /** Start of the next UTC day, when today's spend no longer counts. */
  resetsAt: string;
  /** Runs held in `queued` by the budget right now. */
  waitingRuns: number;
}

async function budgetSetting(db: Executor): Promise<BudgetSetting | null> {
  const rows = await db.select().from(platformSettings).where(eq(platformSettings.key, SETTING_KEY)).limit(1);
  const value = rows[0]?.value as Partial<BudgetSetting> | undefined;
  return typeof value?.dailyUsd === 'number' ? { dailyUsd: value.dailyUsd } : null;
}

/**
 * Dollars providers billed today (UTC): training runs whose machines were released today (their
 * cost is recorded then) and generations started today. A run still on its GPU is not counted
 * until it ends: the cap is a brake on starting new work, not a meter of work in flight.
 */
export async function spentTodayUsd(db: Executor, now = new Date()): Promise<number> {
  const since = utcDayStart(now);
  const [runs] = await db
    .select({ usd: sql<number>`coalesce(sum(${trainingRuns.costUsd}), 0)::float8` })
    .from(trainingRuns)
    .where(gte(sql`coalesce(${trainingRuns.finishedAt}, ${trainingRuns.updatedAt})`, since));
  const [gens] = await db
    .select({ usd: sql<number>`coalesce(sum(${generations.costUsd}), 0)::float8` })
    .from(generations)
    .where(gte(generations.createdAt, since));
  return Number(runs?.usd ?? 0) + Number(gens?.usd ?? 0);
}

/** `spendWhenUncapped: false` skips summing today's spend when there is no cap (the queued step's hot path). */
export async function gpuBudgetFacts(
  ctx: Pick<ServiceContext, 'db' | 'config'>,
  now = new Date(),
  opts: { spendWhenUncapped?: boolean } = {},
): Promise<GpuBudgetFacts & { source: 'config' | 'admin' }> {
  const setting = await budgetSetting(ctx.db);
  const dailyUsd = setting?.dailyUsd ?? ctx.config.limits.dailyGpuBudgetUsd;
  const needSpend = dailyUsd > 0 || opts.spendWhenUncapped !== false;
  return { dailyUsd, source: setting ? 'admin' : 'config', spentTodayUsd: needSpend ? await spentTodayUsd(ctx.db, now) : 0, now };
}

export async function gpuBudgetView(ctx: Pick<ServiceContext, 'db' | 'config'>, now = new Date()): Promise<GpuBudgetView> {
  const facts = await gpuBudgetFacts(ctx, now);
  const decision = decideGpuBudget(facts);
  const [waiting] = await ctx.db
    .select({ n: sql<number>`count(*)::int` })
    .from(trainingRuns)
    .where(heldByBudget());
  return {
    dailyUsd: facts.dailyUsd,
    source: facts.source,
    spentTodayUsd: roundUsd(facts.spentTodayUsd),
    reached: decision.action === 'wait',
    resetsAt: nextUtcMidnight(now).toISOString(),
    waitingRuns: Number(waiting?.n ?? 0),
  };
}

/**
 * An admin sets the cap (0 = none) for every process. Runs held by the budget look at it again at
 * once (their delayed check is made due now); they move on if the new cap allows.
 */
export async function setDailyGpuBudget(ctx: Pick<ServiceContext, 'db' | 'config' | 'queue'>, dailyUsd: number): Promise<GpuBudgetView> {
  await ctx.db
    .insert(platformSettings)
    .values({ key: SETTING_KEY, value: { dailyUsd } satisfies BudgetSetting })
    .onConflictDoUpdate({ target: platformSettings.key, set: { value: { dailyUsd } satisfies BudgetSetting, updatedAt: new Date() } });
  const held = await ctx.db
    .select({ id: trainingRuns.id })
    .from(trainingRuns)
    .where(heldByBudget());
  for (const run of held) await ctx.queue.hurry(TRAINING_STEP, run.id);
  return gpuBudgetView(ctx);
}
