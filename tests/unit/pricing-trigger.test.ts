import { describe, expect, it } from 'vitest';
import { DEFAULT_PRICES, quote } from '../../src/domain/pricing.js';
import { caption, generateTriggerWord, isDictionaryWord, isValidTriggerWord, withTriggerWord } from '../../src/domain/trigger-word.js';
import { backoff, decideRetry, DEFAULT_RETRY_LIMITS } from '../../src/domain/retry-policy.js';
import { etaSeconds } from '../../src/domain/training-estimate.js';

describe('pricing', () => {
  it('prices base + images x per-image from the platform defaults', () => {
    expect(quote(DEFAULT_PRICES, 'zimage-turbo', 8)).toMatchObject({ base: 15_000, perImage: 1_000, imagesTotal: 8_000, total: 23_000, charge: 23_000 });
    expect(quote(DEFAULT_PRICES, 'flux-dev', 5).total).toBe(30_000);
    expect(quote(DEFAULT_PRICES, 'qwen-image', 10).total).toBe(35_000);
  });
  it('charges nothing for a free retry but still shows the price', () => {
    const q = quote(DEFAULT_PRICES, 'wan22', 6, true);
    expect(q.total).toBe(31_000);
    expect(q.charge).toBe(0);
  });
  it('refuses a negative image count', () => {
    expect(() => quote(DEFAULT_PRICES, 'wan21', -1)).toThrow(RangeError);
  });
});

describe('trigger words', () => {
  it('are letters only, deterministic per seed, and unique among taken words', () => {
    const a = generateTriggerWord('character-1');
    expect(a).toMatch(/^[a-z]{6,8}$/);
    expect(generateTriggerWord('character-1')).toBe(a);
    const b = generateTriggerWord('character-1', new Set([a]));
    expect(b).not.toBe(a);
    expect(isValidTriggerWord(b)).toBe(true);
  });
  it('are never dictionary words', () => {
    expect(isDictionaryWord('banana')).toBe(true);
    expect(isValidTriggerWord('banana')).toBe(false);
    const words = new Set<string>();
    for (let i = 0; i < 2000; i++) words.add(generateTriggerWord(`seed-${i}`, words));
    expect(words.size).toBe(2000);
    for (const w of words) expect(isValidTriggerWord(w)).toBe(true);
  });
  it('go first in captions and prompts, never doubled', () => {
    expect(caption('zelvora')).toBe('photo of zelvora');
    expect(caption('zelvora', 'smiling, outdoors')).toBe('zelvora, smiling, outdoors');
    expect(withTriggerWord('zelvora', 'a woman on a beach')).toBe('zelvora, a woman on a beach');
    expect(withTriggerWord('zelvora', 'zelvora, a woman on a beach')).toBe('zelvora, a woman on a beach');
  });
});

describe('retry policy', () => {
  const limits = { ...DEFAULT_RETRY_LIMITS, maxTransientRetries: 3, maxAttempts: 2 };
  it('retries transient faults with growing delays, then fails', () => {
    const d0 = decideRetry(limits, { kind: 'transient', message: '503' }, { transientRetries: 0, attempts: 1 }, 1);
    const d2 = decideRetry(limits, { kind: 'transient', message: '503' }, { transientRetries: 2, attempts: 1 }, 1);
    expect(d0).toEqual({ action: 'retry', delayMs: 1000 });
    expect(d2).toEqual({ action: 'retry', delayMs: 4000 });
    expect(decideRetry(limits, { kind: 'transient', message: '503' }, { transientRetries: 3, attempts: 1 }, 1).action).toBe('fail');
  });
  it('starts a new attempt after preemption, capped', () => {
    expect(decideRetry(limits, { kind: 'preempted', message: 'pod exited' }, { transientRetries: 0, attempts: 1 }, 0).action).toBe('new_attempt');
    expect(decideRetry(limits, { kind: 'preempted', message: 'pod exited' }, { transientRetries: 0, attempts: 2 }, 0).action).toBe('fail');
  });
  it('fails fatal faults at once and keeps jittered delays within bounds', () => {
    expect(decideRetry(limits, { kind: 'fatal', message: 'bad config' }, { transientRetries: 0, attempts: 1 }, 0)).toEqual({ action: 'fail', reason: 'bad config' });
    for (let n = 0; n < 20; n++) {
      const d = backoff(limits, n, Math.random());
      expect(d).toBeGreaterThanOrEqual(500);
      expect(d).toBeLessThanOrEqual(limits.maxDelayMs);
    }
  });
});

describe('ETA', () => {
  it('uses the trainer rate, else the observed rate', () => {
    expect(etaSeconds({ step: 100, totalSteps: 1000, secondsPerStep: 2 })).toBe(1800);
    expect(etaSeconds({ step: 100, totalSteps: 1000, elapsedSeconds: 50 })).toBe(450);
    expect(etaSeconds({ step: 0, totalSteps: 1000 })).toBeNull();
    expect(etaSeconds({ step: 1000, totalSteps: 1000 })).toBe(0);
  });
});
