/**
 * Per-user limits that keep one user from running up the platform's GPU bill: trainings per day,
 * concurrent trainings, generations per minute. Decided purely from counts the caller read inside
 * the same transaction (with the user's row locked), so a refusal is decided before anything is
 * written: no run row, no reservation, no job. A limit of 0 turns that limit off.
 */
import { AppError } from './errors.js';

export interface UsageLimits {
  trainingsPerDay: number;
  concurrentTrainings: number;
  generationsPerMinute: number;
}

/** Trainings started in the last 24 hours (free retries after a platform fault are not counted) and runs still active. */
export interface TrainingUsage {
  startedLast24h: number;
  active: number;
}

export function checkTrainingLimits(usage: TrainingUsage, limits: UsageLimits): AppError | null {
  if (limits.concurrentTrainings > 0 && usage.active >= limits.concurrentTrainings) {
    return new AppError(
      'concurrent_training_limit',
      `You already have ${usage.active} trainings in progress, the most allowed at once (${limits.concurrentTrainings}); start this one when one of them ends.`,
      { active: usage.active, limit: limits.concurrentTrainings },
    );
  }
  if (limits.trainingsPerDay > 0 && usage.startedLast24h >= limits.trainingsPerDay) {
    return new AppError(
      'daily_training_limit',
      `You have started ${usage.startedLast24h} trainings in the last 24 hours, the daily limit (${limits.trainingsPerDay}); try again later.`,
      { started: usage.startedLast24h, limit: limits.trainingsPerDay, retryAfterSeconds: 3600 },
    );
  }
  return null;
}

export function checkGenerationRate(startedLastMinute: number, limits: UsageLimits): AppError | null {
  if (limits.generationsPerMinute > 0 && startedLastMinute >= limits.generationsPerMinute) {
    return new AppError(
      'generation_rate_limited',
      `You have requested ${startedLastMinute} generations in the last minute, the most allowed (${limits.generationsPerMinute}); wait a minute and try again.`,
      { started: startedLastMinute, limit: limits.generationsPerMinute, retryAfterSeconds: 60 },
    );
  }
  return null;
}
