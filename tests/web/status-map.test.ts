/**
 * The UI's one status map (web/src/status.ts) covers exactly the run states the server has
 * (src/domain/run-states.ts), and image check verdicts. The API's OpenAPI document does not carry
 * these enums yet (no response schemas), so this test is what catches a state added on one side only.
 */
import { describe, expect, it } from 'vitest';
import { RUN_STATES, TERMINAL_STATES } from '../../src/domain/run-states.js';
import { FINISHED_GENERATION, type GenerationStatusValue } from '../../src/db/generations.repo.js';
import type { GenerationMethod as ServerGenerationMethod } from '../../src/domain/generation-planner.js';
import {
  CHECK_STATUSES,
  GENERATION_METHODS,
  GENERATION_STATUSES,
  RUN_STATUSES,
  checkStatus,
  generationMethod,
  generationStatus,
  identityVerdict,
  isRunActive,
  runStatus,
} from '../../web/src/status.js';

describe('web status map', () => {
  it('has one entry per server run state, each with a label, colour and icon', () => {
    expect([...RUN_STATUSES].sort()).toEqual([...RUN_STATES].sort());
    for (const s of RUN_STATES) {
      const info = runStatus(s);
      expect(info.label, s).toBeTruthy();
      expect(info.color, s).toBeTruthy();
      expect(info.icon, s).toBeTruthy();
    }
    expect(new Set(RUN_STATES.map((s) => runStatus(s).label)).size).toBe(RUN_STATES.length);
  });

  it('agrees with the server on which states are still running', () => {
    for (const s of RUN_STATES) expect(isRunActive(s), s).toBe(!TERMINAL_STATES.includes(s));
    expect(runStatus('ready').outcome).toBe('succeeded');
    expect(runStatus('failed').outcome).toBe('failed');
    expect(runStatus('cancelled').outcome).toBe('cancelled');
  });

  it('renders an unknown status (a newer server) under its own name', () => {
    expect(runStatus('paused').label).toBe('paused');
  });

  it('maps image check verdicts; only accepted images are usable', () => {
    expect([...CHECK_STATUSES].sort()).toEqual(['accepted', 'rejected']);
    expect(checkStatus('accepted').usable).toBe(true);
    expect(checkStatus('rejected').usable).toBe(false);
    expect(checkStatus('unchecked').usable).toBe(false);
  });
});

describe('web generation status and method maps', () => {
  // Records over the server's types: a status or method added on the server fails the root type check here.
  const serverStatuses: Record<GenerationStatusValue, true> = { queued: true, running: true, completed: true, failed: true };
  const serverMethods: Record<ServerGenerationMethod, true> = { lora: true, faceswap: true, plain: true };

  it('has one entry per generation status; finished ones are not polled', () => {
    expect([...GENERATION_STATUSES].sort()).toEqual(Object.keys(serverStatuses).sort());
    for (const s of GENERATION_STATUSES) expect(generationStatus(s).active, s).toBe(!FINISHED_GENERATION.includes(s));
    expect(generationStatus('paused')).toMatchObject({ label: 'paused', active: false });
  });

  it('has one entry per generation method, each with a distinct label', () => {
    expect([...GENERATION_METHODS].sort()).toEqual(Object.keys(serverMethods).sort());
    expect(new Set(GENERATION_METHODS.map((m) => generationMethod(m).label)).size).toBe(GENERATION_METHODS.length);
  });

  it('turns an identity score into match, no match or not scored', () => {
    expect(identityVerdict({ scored: true, match: true }).verdict).toBe('match');
    expect(identityVerdict({ scored: true, match: false }).verdict).toBe('no_match');
    expect(identityVerdict({ scored: false, match: null }).verdict).toBe('unscored');
  });
});
