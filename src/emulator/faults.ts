/**
 * Fault injection: the configuration, its parsers (environment string, control API body) and the
 * decisions (does this request fail, how does this job end). The wire answers for a failed request
 * live in fault-responses.ts; the places that act on a job's fate live in the trainer simulation.
 *
 * Deterministic one-shots (`failNext*`) are checked before the probabilities so tests can rely on
 * them, and each is decremented exactly when it is used.
 */
import { z } from 'zod';
import type { FaultConfig } from './emulator.types.js';

export const DEFAULT_FAULTS: FaultConfig = Object.freeze({
  errorRate: 0,
  timeoutRate: 0,
  preemptRate: 0,
  trainerErrorRate: 0,
  failNextJobs: 0,
  preemptNextJobs: 0,
  failNextRequests: 0,
  duplicateWebhookRate: 0,
  lostWebhookRate: 0,
  duplicateNextWebhooks: 0,
  loseNextWebhooks: 0,
});

const rate = z.number().min(0).max(1);
const count = z.number().int().min(0);

/** Partial FaultConfig as accepted by `setFaults` and `PUT /_emulator/faults`. */
export const faultConfigPatchSchema = z
  .object({
    errorRate: rate,
    timeoutRate: rate,
    preemptRate: rate,
    trainerErrorRate: rate,
    failNextJobs: count,
    preemptNextJobs: count,
    failNextRequests: count,
    duplicateWebhookRate: rate,
    lostWebhookRate: rate,
    duplicateNextWebhooks: count,
    loseNextWebhooks: count,
  })
  .partial()
  .strict();

/** Names accepted in LIKENESS_EMULATOR_FAULTS-style strings, snake_case and the config's own names. */
const ENV_KEYS: Record<string, keyof FaultConfig> = {
  error: 'errorRate',
  error_rate: 'errorRate',
  timeout: 'timeoutRate',
  timeout_rate: 'timeoutRate',
  preempt: 'preemptRate',
  preempt_rate: 'preemptRate',
  trainer_error: 'trainerErrorRate',
  trainer_error_rate: 'trainerErrorRate',
  fail_next_jobs: 'failNextJobs',
  preempt_next_jobs: 'preemptNextJobs',
  fail_next_requests: 'failNextRequests',
  duplicate_webhook: 'duplicateWebhookRate',
  lost_webhook: 'lostWebhookRate',
  duplicate_next_webhooks: 'duplicateNextWebhooks',
  lose_next_webhooks: 'loseNextWebhooks',
};
for (const key of Object.keys(DEFAULT_FAULTS) as Array<keyof FaultConfig>) ENV_KEYS[key] = key;

/**
 * Parses "error=0.1,timeout=0.05,preempt=0.1,trainer_error=0.1,fail_next_jobs=1".
 * Throws on an unknown name or a bad value: configuration is checked once at start-up, and a typo
 * that silently disabled a fault would make a resilience test pass for the wrong reason.
 */
export function faultsFromEnv(value: string | undefined): Partial<FaultConfig> {
  if (value === undefined || value.trim() === '') return {};
  const patch: Record<string, number> = {};
  for (const item of value.split(',')) {
    const trimmed = item.trim();
    if (trimmed === '') continue;
    const eq = trimmed.indexOf('=');
    if (eq <= 0) throw new Error(`emulator faults: expected name=value, got "${trimmed}"`);
    const name = trimmed.slice(0, eq).trim();
    const raw = trimmed.slice(eq + 1).trim();
    const key = ENV_KEYS[name];
    if (!key) throw new Error(`emulator faults: unknown fault "${name}" (known: ${Object.keys(ENV_KEYS).join(', ')})`);
    const num = Number(raw);
    if (raw === '' || !Number.isFinite(num)) throw new Error(`emulator faults: "${name}" needs a number, got "${raw}"`);
    patch[key] = num;
  }
  const parsed = faultConfigPatchSchema.safeParse(patch);
  if (!parsed.success) throw new Error(`emulator faults: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return parsed.data;
}

/** What becomes of one serverless webhook call (RunPod's retries of a non-200 answer still apply). */
export type WebhookFate = 'deliver' | 'duplicate' | 'lose';

export type RequestFault = { kind: 'none' } | { kind: 'error'; status: 500 | 502 | 503 } | { kind: 'timeout' };

/** How a started training ends, decided once when the trainer starts. */
export type JobFate =
  | { kind: 'complete' }
  | { kind: 'error'; atFraction: number; message: string }
  | { kind: 'preempt'; atFraction: number };

/** Messages a real AI Toolkit job ends with (`str(exception)` written to Job.info). */
const TRAINER_ERRORS = [
  'CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total capacity of 23.53 GiB of which 1.12 GiB is free. ' +
    'Process 4242 has 22.40 GiB memory in use. Of the allocated memory 21.73 GiB is allocated by PyTorch, and 236.51 MiB ' +
    'is reserved by PyTorch but unallocated. If reserved but unallocated memory is large try setting ' +
    'PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True to avoid fragmentation.  See documentation for Memory Management  ' +
    '(https://pytorch.org/docs/stable/notes/cuda.html#environment-variables)',
  'OOM during training step 3 times in a row, aborting training',
  'CUDA error: an illegal memory access was encountered\nCUDA kernel errors might be asynchronously reported at some other API call, so the stacktrace below might be incorrect.',
  'Loss is NaN',
];

export class FaultInjector {
  private config: FaultConfig;

  constructor(
    initial: Partial<FaultConfig> | undefined,
    private readonly random: () => number = Math.random,
  ) {
    this.config = { ...DEFAULT_FAULTS };
    if (initial) this.set(initial);
  }

  get(): FaultConfig {
    return { ...this.config };
  }

  /** Merges a partial config; throws (with the offending fields) on invalid values. */
  set(patch: Partial<FaultConfig>): FaultConfig {
    const parsed = faultConfigPatchSchema.safeParse(patch);
    if (!parsed.success) {
      throw new Error(`invalid fault config: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
    }
    this.config = { ...this.config, ...parsed.data };
    return this.get();
  }

  /** Decides the fate of one provider request (RunPod API, pod proxy, standalone AI Toolkit). */
  forRequest(): RequestFault {
    if (this.config.failNextRequests > 0) {
      this.config.failNextRequests -= 1;
      return { kind: 'error', status: 503 };
    }
    if (this.config.errorRate > 0 && this.random() < this.config.errorRate) {
      const statuses = [500, 502, 503] as const;
      return { kind: 'error', status: statuses[Math.floor(this.random() * statuses.length)] ?? 500 };
    }
    if (this.config.timeoutRate > 0 && this.random() < this.config.timeoutRate) return { kind: 'timeout' };
    return { kind: 'none' };
  }

  /** Decides, when a serverless job ends, whether its webhook is sent once, twice or never. */
  forWebhook(): WebhookFate {
    if (this.config.loseNextWebhooks > 0) {
      this.config.loseNextWebhooks -= 1;
      return 'lose';
    }
    if (this.config.duplicateNextWebhooks > 0) {
      this.config.duplicateNextWebhooks -= 1;
      return 'duplicate';
    }
    if (this.config.lostWebhookRate > 0 && this.random() < this.config.lostWebhookRate) return 'lose';
    if (this.config.duplicateWebhookRate > 0 && this.random() < this.config.duplicateWebhookRate) return 'duplicate';
    return 'deliver';
  }

  /** Decides, when a training starts, whether and where it fails. */
  forJob(): JobFate {
    if (this.config.failNextJobs > 0) {
      this.config.failNextJobs -= 1;
      return { kind: 'error', atFraction: 0.5, message: TRAINER_ERRORS[0]! };
    }
    if (this.config.preemptNextJobs > 0) {
      this.config.preemptNextJobs -= 1;
      return { kind: 'preempt', atFraction: 0.5 };
    }
    if (this.config.trainerErrorRate > 0 && this.random() < this.config.trainerErrorRate) {
      const message = TRAINER_ERRORS[Math.floor(this.random() * TRAINER_ERRORS.length)] ?? TRAINER_ERRORS[0]!;
      return { kind: 'error', atFraction: 0.1 + 0.8 * this.random(), message };
    }
    if (this.config.preemptRate > 0 && this.random() < this.config.preemptRate) {
      return { kind: 'preempt', atFraction: 0.2 + 0.6 * this.random() };
    }
    return { kind: 'complete' };
  }
}
