/**
 * Credit ledger rules. The ledger is a list of entries (grant, reserve, capture, release), each
 * with an idempotency key. A reservation is captured or released exactly once. The database
 * enforces uniqueness of keys; these pure functions decide what an operation may do given the
 * entries, so the same rules hold in tests, the API and the worker.
 *
 *   available = granted - captured - open reservations        (never below 0)
 *   reserved  = sum of reservations neither captured nor released
 */
export type LedgerKind = 'grant' | 'reserve' | 'capture' | 'release';

export interface LedgerEntry {
  kind: LedgerKind;
  amount: number;
  /** For capture/release: the reservation they close. For reserve: its own id. */
  reservationId: string | null;
  idempotencyKey: string;
}

export interface Balance {
  granted: number;
  captured: number;
  reserved: number;
  available: number;
}

export function balance(entries: readonly LedgerEntry[]): Balance {
  let granted = 0;
  let captured = 0;
  const open = new Map<string, number>();
  for (const e of entries) {
    switch (e.kind) {
      case 'grant':
        granted += e.amount;
        break;
      case 'reserve':
        open.set(e.reservationId!, e.amount);
        break;
      case 'capture':
        captured += e.amount;
        open.delete(e.reservationId!);
        break;
      case 'release':
        open.delete(e.reservationId!);
        break;
    }
  }
  const reserved = [...open.values()].reduce((a, b) => a + b, 0);
  return { granted, captured, reserved, available: granted - captured - reserved };
}

export type LedgerDecision =
  | { ok: true; entry: LedgerEntry }
  | { ok: true; duplicate: true }
  | { ok: false; reason: 'insufficient_credits' | 'no_such_reservation' | 'already_closed' | 'invalid_amount' };

function duplicate(entries: readonly LedgerEntry[], key: string): boolean {
  return entries.some((e) => e.idempotencyKey === key);
}

export function decideGrant(entries: readonly LedgerEntry[], amount: number, key: string): LedgerDecision {
  if (duplicate(entries, key)) return { ok: true, duplicate: true };
  if (!Number.isSafeInteger(amount) || amount <= 0) return { ok: false, reason: 'invalid_amount' };
  return { ok: true, entry: { kind: 'grant', amount, reservationId: null, idempotencyKey: key } };
}

export function decideReserve(
  entries: readonly LedgerEntry[],
  reservationId: string,
  amount: number,
  key: string,
): LedgerDecision {
  if (duplicate(entries, key)) return { ok: true, duplicate: true };
  if (!Number.isSafeInteger(amount) || amount < 0) return { ok: false, reason: 'invalid_amount' };
  if (balance(entries).available < amount) return { ok: false, reason: 'insufficient_credits' };
  return { ok: true, entry: { kind: 'reserve', amount, reservationId, idempotencyKey: key } };
}

/** Capture or release closes a reservation exactly once; the captured amount is the reserved one. */
export function decideClose(
  entries: readonly LedgerEntry[],
  kind: 'capture' | 'release',
  reservationId: string,
  key: string,
): LedgerDecision {
  if (duplicate(entries, key)) return { ok: true, duplicate: true };
  const reservation = entries.find((e) => e.kind === 'reserve' && e.reservationId === reservationId);
  if (!reservation) return { ok: false, reason: 'no_such_reservation' };
  const closed = entries.some(
    (e) => (e.kind === 'capture' || e.kind === 'release') && e.reservationId === reservationId,
  );
  if (closed) return { ok: false, reason: 'already_closed' };
  return { ok: true, entry: { kind, amount: kind === 'capture' ? reservation.amount : 0, reservationId, idempotencyKey: key } };
}
