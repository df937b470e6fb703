/**
 * The states of a training run and the only transitions allowed between them. Every state change
 * in the product goes through `assertTransition` (pure) and then a row update guarded by the
 * expected current state (db/training-runs.repo.ts), so a duplicate or late event changes nothing
 * twice. See docs/state-machine.md for the diagram.
 */
export const RUN_STATES = [
  'queued',
  'preparing',
  'submitting',
  'training',
  'finalizing',
  'ready',
  'failed',
  'cancelled',
] as const;
export type RunState = (typeof RUN_STATES)[number];

export const TERMINAL_STATES: readonly RunState[] = ['ready', 'failed', 'cancelled'];
export const ACTIVE_STATES: readonly RunState[] = RUN_STATES.filter((s) => !TERMINAL_STATES.includes(s));

const FORWARD: Record<RunState, readonly RunState[]> = {
  queued: ['preparing'],
  preparing: ['submitting'],
  // A provider that was preempted sends the run back to submitting for a new attempt.
  submitting: ['training', 'submitting'],
  training: ['finalizing', 'submitting'],
  finalizing: ['ready'],
  ready: [],
  failed: [],
  cancelled: [],
};

export function isTerminal(state: RunState): boolean {
  return TERMINAL_STATES.includes(state);
}

/** The states a run may move to from `from`: forward steps, or failed/cancelled before ready. */
export function allowedNext(from: RunState): readonly RunState[] {
  if (isTerminal(from)) return [];
  return [...FORWARD[from], 'failed', 'cancelled'];
}

export function canTransition(from: RunState, to: RunState): boolean {
  return allowedNext(from).includes(to);
}

export class TransitionNotAllowed extends Error {
  constructor(
    readonly from: RunState,
    readonly to: RunState,
  ) {
    super(`A training run cannot go from ${from} to ${to}.`);
  }
}

export function assertTransition(from: RunState, to: RunState): void {
  if (!canTransition(from, to)) throw new TransitionNotAllowed(from, to);
}

/** The states from which `to` is reachable: the guard of the row update. */
export function sourcesOf(to: RunState): RunState[] {
  return RUN_STATES.filter((from) => canTransition(from, to));
}
