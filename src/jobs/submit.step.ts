/**
 * Submit: hand the dataset (as signed URLs) and the recipe to the training backend. The provider
 * job name is derived from the run and attempt, so a worker that crashes after the provider
 * accepted the job finds the same job again instead of starting a second (billed) one.
 */
import type { TrainingRunRow } from '../db/training-runs.repo.js';
import type { ServiceContext } from '../services/context.js';
import type { DatasetFile, TrainingRecipe } from '../training/training-backend.js';
import { datasetFileNames } from './prepare.step.js';
import { advance } from './step-context.js';

/** Signed dataset URLs must outlive a pod's boot and a slow upload. */
const DATASET_URL_TTL_SECONDS = 24 * 3600;

export function providerJobName(runId: string, attempt: number): string {
  return `lk_${runId.replace(/-/g, '').slice(0, 16)}_a${attempt}`;
}

export async function submitStep(ctx: ServiceContext, run: TrainingRunRow): Promise<void> {
  if (!run.recipe || !run.datasetKey) throw new Error(`run ${run.id} reached submitting without a dataset`);
  const attempt = run.attempt + 1;
  const files: DatasetFile[] = [];
  for (let i = 0; i < run.imageIds.length; i++) {
    for (const name of Object.values(datasetFileNames(i))) {
      const key = `${run.datasetKey}/${name}`;
      const head = await ctx.store.head(key);
      if (!head) throw new Error(`dataset file ${key} is missing`);
      files.push({ name, url: await ctx.store.presign(key, 'GET', DATASET_URL_TTL_SECONDS), size: head.size });
    }
  }
  const jobName = providerJobName(run.id, attempt);
  const handle = await ctx.backend.submit({
    runId: run.id,
    jobName,
    recipe: run.recipe as unknown as TrainingRecipe,
    dataset: { name: jobName, files },
  });
  await advance(
    ctx,
    run,
    'training',
    { providerHandle: handle, jobName, attempt, transientRetries: 0, trainingStartedAt: run.trainingStartedAt ?? new Date(), progressMessage: 'Starting' },
    { delaySeconds: ctx.config.worker.pollSeconds, detail: `submitted to ${ctx.backend.id} as ${jobName}` },
  );
}
