import { describe, expect, it } from 'vitest';
import { balance, decideClose, decideGrant, decideReserve, type LedgerEntry } from '../../src/domain/ledger.js';

function applyAll(steps: Array<(e: LedgerEntry[]) => ReturnType<typeof decideGrant>>): { entries: LedgerEntry[]; results: string[] } {
  const entries: LedgerEntry[] = [];
  const results: string[] = [];
  for (const step of steps) {
    const d = step(entries);
    if (!d.ok) results.push(d.reason);
    else if ('duplicate' in d) results.push('duplicate');
    else {
      entries.push(d.entry);
      results.push('applied');
    }
  }
  return { entries, results };
}

describe('credit ledger rules', () => {
  it('reserves, then captures exactly once', () => {
    const { entries, results } = applyAll([
      (e) => decideGrant(e, 100_000, 'g1'),
      (e) => decideReserve(e, 'r1', 20_000, 'reserve:r1'),
      (e) => decideClose(e, 'capture', 'r1', 'close:r1'),
      (e) => decideClose(e, 'capture', 'r1', 'close:r1'), // retried capture: same key
      (e) => decideClose(e, 'release', 'r1', 'close2:r1'), // a late release with another key
    ]);
    expect(results).toEqual(['applied', 'applied', 'applied', 'duplicate', 'already_closed']);
    expect(balance(entries)).toEqual({ granted: 100_000, captured: 20_000, reserved: 0, available: 80_000 });
  });

  it('releases a reservation back to available', () => {
    const { entries } = applyAll([
      (e) => decideGrant(e, 50_000, 'g1'),
      (e) => decideReserve(e, 'r1', 20_000, 'reserve:r1'),
    ]);
    expect(balance(entries)).toMatchObject({ reserved: 20_000, available: 30_000 });
    const d = decideClose(entries, 'release', 'r1', 'close:r1');
    expect(d.ok && 'entry' in d && d.entry.amount).toBe(0);
    if (d.ok && 'entry' in d) entries.push(d.entry);
    expect(balance(entries)).toEqual({ granted: 50_000, captured: 0, reserved: 0, available: 50_000 });
  });

  it('refuses a reservation above the available balance, counting open reservations', () => {
    const { results, entries } = applyAll([
      (e) => decideGrant(e, 30_000, 'g1'),
      (e) => decideReserve(e, 'r1', 20_000, 'reserve:r1'),
      (e) => decideReserve(e, 'r2', 20_000, 'reserve:r2'),
    ]);
    expect(results[2]).toBe('insufficient_credits');
    expect(balance(entries).available).toBe(10_000);
  });

  it('never lets available go below zero under any sequence', () => {
    // A small exhaustive walk over random operation sequences.
    let seed = 7;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let trial = 0; trial < 300; trial++) {
      const entries: LedgerEntry[] = [];
      for (let i = 0; i < 25; i++) {
        const r = rnd();
        const id = `r${Math.floor(rnd() * 6)}`;
        const d =
          r < 0.2
            ? decideGrant(entries, 1 + Math.floor(rnd() * 50_000), `g${i}`)
            : r < 0.6
              ? decideReserve(entries, id, Math.floor(rnd() * 40_000), `reserve:${id}`)
              : decideClose(entries, rnd() < 0.5 ? 'capture' : 'release', id, `close:${id}`);
        if (d.ok && 'entry' in d) entries.push(d.entry);
        const b = balance(entries);
        expect(b.available).toBeGreaterThanOrEqual(0);
        expect(b.granted - b.captured - b.reserved).toBe(b.available);
      }
    }
  });

  it('rejects non-positive grants and unknown reservations', () => {
    expect(decideGrant([], 0, 'k')).toEqual({ ok: false, reason: 'invalid_amount' });
    expect(decideGrant([], 1.5, 'k')).toEqual({ ok: false, reason: 'invalid_amount' });
    expect(decideClose([], 'capture', 'nope', 'k')).toEqual({ ok: false, reason: 'no_such_reservation' });
  });
});
