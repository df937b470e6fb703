/**
 * Typed errors, classified once. `AppError` is a user-visible refusal (bad input, not allowed, not
 * found): the API boundary turns it into {error:{code,message}} with its status. `ProviderError` is
 * a fault of a GPU provider or of the platform's own plumbing: it decides retries and refunds.
 */
export type AppErrorCode =
  | 'bad_request'
  | 'validation_failed'
  | 'unauthorized'
  | 'forbidden'
  | 'not_found'
  | 'conflict'
  | 'run_already_active'
  | 'insufficient_credits'
  | 'not_enough_images'
  | 'invalid_transition'
  | 'unsupported_media_type'
  | 'payload_too_large'
  | 'rate_limited'
  | 'daily_training_limit'
  | 'concurrent_training_limit'
  | 'generation_rate_limited'
  | 'workflow_unsupported'
  | 'unavailable'
  | 'internal';

const STATUS: Record<AppErrorCode, number> = {
  bad_request: 400,
  validation_failed: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  run_already_active: 409,
  invalid_transition: 409,
  insufficient_credits: 402,
  not_enough_images: 422,
  workflow_unsupported: 422,
  unsupported_media_type: 415,
  payload_too_large: 413,
  rate_limited: 429,
  daily_training_limit: 429,
  concurrent_training_limit: 429,
  generation_rate_limited: 429,
  unavailable: 503,
  internal: 500,
};

export class AppError extends Error {
  readonly status: number;
  constructor(
    readonly code: AppErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'AppError';
    this.status = STATUS[code];
  }
}

export const notFound = (what: string) => new AppError('not_found', `${what} was not found.`);

/**
 * How a provider fault should be handled:
 * - transient: network error, 5xx, 429, time-out: retry the same call with backoff.
 * - preempted: the machine went away mid-job: start a new attempt (new pod) with backoff.
 * - fatal: the provider refused or the job itself failed (trainer error, bad config): fail the run.
 * Every kind is the platform's or provider's fault, never the user's: credits are released.
 */
export type ProviderFaultKind = 'transient' | 'preempted' | 'fatal';

export class ProviderError extends Error {
  constructor(
    readonly kind: ProviderFaultKind,
    message: string,
    readonly provider: string,
    readonly httpStatus?: number,
  ) {
    super(message);
    this.name = 'ProviderError';
  }
  get retryable(): boolean {
    return this.kind !== 'fatal';
  }
}
