/**
 * The UI's one status map (web/src/status.ts) covers exactly the run states the server has
 * (src/domain/run-states.ts), and image check verdicts. The API's OpenAPI document does not carry
 * these enums yet (no response schemas), so this test is what catches a state added on one side only.
 */
import { describe, expect, it } from 'vitest';
import { RUN_STATES, TERMINAL_STATES } from '../../src/domain/run-states.js';
import { CHECK_STATUSES, RUN_STATUSES, checkStatus, isRunActive, runStatus } from '../../web/src/status.js';

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
