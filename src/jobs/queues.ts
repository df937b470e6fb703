/**
 * The queues of the product. Each job is keyed by its subject (stately policy, see
 * queue/job-queue.ts), so at most one handler works on a run at a time.
 */
import type { QueueDefinition } from '../queue/job-queue.js';
import { WEBHOOK_DELIVERY } from '../webhooks/webhook-outbox.repo.js';

export const TRAINING_STEP = 'training-step';
export const GENERATION_RUN = 'generation-run';

export const QUEUES: readonly QueueDefinition[] = [
  // One step of a run: prepare, submit, one poll, or finalize. A poll takes seconds; prepare and
  // finalize move files (a LoRA can be hundreds of MB), so the expiry is generous.
  { name: TRAINING_STEP, expireInSeconds: 900, retryLimit: 5, retryDelaySeconds: 2 },
  // A whole generation (every image, its identity checks and retries) in one handler run, keyed by
  // the generation; a crashed worker's generation is picked up again and finishes the missing images.
  { name: GENERATION_RUN, expireInSeconds: 1800, retryLimit: 2, retryDelaySeconds: 5 },
  // One attempt of one outgoing webhook (10 s HTTP time-out); the backoff between attempts is
  // scheduled by the handler, these retries only cover a database hiccup inside it.
  { name: WEBHOOK_DELIVERY, expireInSeconds: 60, retryLimit: 3, retryDelaySeconds: 5 },
];

export { WEBHOOK_DELIVERY };

export interface GenerationRunData {
  generationId: string;
}

export interface TrainingStepData {
  runId: string;
}

/** Per-step expiry: a crashed worker's poll is retried within a minute. */
export const STEP_EXPIRY_SECONDS: Record<string, number> = {
  queued: 60,
  preparing: 600,
  submitting: 300,
  training: 60,
  finalizing: 600,
};
