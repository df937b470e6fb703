import { describe, expect, it } from 'vitest';
import {
  ACTIVE_STATES,
  RUN_STATES,
  TERMINAL_STATES,
  allowedNext,
  assertTransition,
  canTransition,
  sourcesOf,
  TransitionNotAllowed,
} from '../../src/domain/run-states.js';

describe('training run state machine', () => {
  it('follows the happy path in order', () => {
    const path = ['queued', 'preparing', 'submitting', 'training', 'finalizing', 'ready'] as const;
    for (let i = 0; i < path.length - 1; i++) expect(canTransition(path[i]!, path[i + 1]!)).toBe(true);
  });

  it('never skips a state forward', () => {
    expect(canTransition('queued', 'training')).toBe(false);
    expect(canTransition('preparing', 'ready')).toBe(false);
    expect(canTransition('training', 'ready')).toBe(false);
  });

  it('allows failed and cancelled from every state before ready, and nothing after a terminal state', () => {
    for (const s of ACTIVE_STATES) {
      expect(canTransition(s, 'failed')).toBe(true);
      expect(canTransition(s, 'cancelled')).toBe(true);
    }
    for (const s of TERMINAL_STATES) {
      expect(allowedNext(s)).toEqual([]);
      for (const t of RUN_STATES) expect(canTransition(s, t)).toBe(false);
    }
  });

  it('sends a preempted run back to submitting', () => {
    expect(canTransition('training', 'submitting')).toBe(true);
    expect(canTransition('finalizing', 'submitting')).toBe(false);
  });

  it('names the guard of each update', () => {
    expect(sourcesOf('ready')).toEqual(['finalizing']);
    expect(sourcesOf('queued')).toEqual([]);
    expect(sourcesOf('failed').sort()).toEqual([...ACTIVE_STATES].sort());
  });

  it('throws a typed error for a forbidden transition', () => {
    expect(() => assertTransition('ready', 'training')).toThrow(TransitionNotAllowed);
    expect(() => assertTransition('queued', 'preparing')).not.toThrow();
  });
});
