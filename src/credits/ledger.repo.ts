/**
 * The credit ledger in the database. Every operation locks the user's row first (SELECT ... FOR
 * UPDATE), so two concurrent reservations cannot both spend the same credits, then applies the
 * pure rules of domain/ledger.ts. Unique indexes (idempotency key; one close per reservation)
 * make a duplicate charge impossible even if the rules had a bug.
 */
import { eq, sql } from 'drizzle-orm';
import type { Executor } from '../db/database.js';
import { ledgerEntries, users } from '../db/schema.js';
import { AppError } from '../domain/errors.js';
import {
  balance,
  decideClose,
  decideGrant,
  decideReserve,
  type Balance,
  type LedgerDecision,
  type LedgerEntry,
} from '../domain/ledger.js';

async function entriesOf(db: Executor, userId: string): Promise<LedgerEntry[]> {
  const rows = await db
    .select({
      kind: ledgerEntries.kind,
      amount: ledgerEntries.amount,
      reservationId: ledgerEntries.reservationId,
      idempotencyKey: ledgerEntries.idempotencyKey,
    })
    .from(ledgerEntries)
    .where(eq(ledgerEntries.userId, userId));
  return rows as LedgerEntry[];
}

async function lockAndLoad(tx: Executor, userId: string): Promise<LedgerEntry[]> {
  await tx.execute(sql`select id from ${users} where ${users.id} = ${userId} for update`);
  return entriesOf(tx, userId);
}

async function apply(
  tx: Executor,
  userId: string,
  decision: LedgerDecision,
  extra: { runId?: string | null; reason?: string | null },
): Promise<'applied' | 'duplicate'> {
  if (!decision.ok) {
    if (decision.reason === 'insufficient_credits') {
      throw new AppError('insufficient_credits', 'You do not have enough credits for this training.');
    }
    throw new Error(`ledger refused: ${decision.reason}`);
  }
  if ('duplicate' in decision) return 'duplicate';
  await tx.insert(ledgerEntries).values({ userId, ...decision.entry, runId: extra.runId ?? null, reason: extra.reason ?? null });
  return 'applied';
}

export async function getBalance(db: Executor, userId: string): Promise<Balance> {
  return balance(await entriesOf(db, userId));
}

export async function grantCredits(tx: Executor, userId: string, amount: number, key: string, reason: string) {
  const entries = await lockAndLoad(tx, userId);
  const d = decideGrant(entries, amount, key);
  if (!d.ok) throw new AppError('validation_failed', 'amount must be a positive whole number of credits.');
  return apply(tx, userId, d, { reason });
}

export async function reserveCredits(tx: Executor, userId: string, reservationId: string, amount: number, runId: string) {
  const entries = await lockAndLoad(tx, userId);
  return apply(tx, userId, decideReserve(entries, reservationId, amount, `reserve:${reservationId}`), {
    runId,
    reason: 'training',
  });
}

/** Captures (success) or releases (failure) a reservation; a second call is a no-op. */
export async function closeReservation(
  tx: Executor,
  userId: string,
  kind: 'capture' | 'release',
  reservationId: string,
  runId: string,
): Promise<'applied' | 'duplicate' | 'already_closed'> {
  const entries = await lockAndLoad(tx, userId);
  const d = decideClose(entries, kind, reservationId, `close:${reservationId}`);
  if (!d.ok && d.reason === 'already_closed') return 'already_closed';
  return apply(tx, userId, d, { runId, reason: kind === 'capture' ? 'training succeeded' : 'training failed or cancelled' });
}
