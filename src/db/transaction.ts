/**
 * One helper for business transactions: the callback gets the transaction and a way to register
 * work that must happen only after commit (live pushes over SSE, in-process wake-ups). Durable side
 * effects (notification rows, queue jobs, ledger entries) are written inside the transaction.
 */
import type { Db, Tx } from './database.js';

export type AfterCommit = (fn: () => void) => void;

export async function inTransaction<T>(db: Db, fn: (tx: Tx, afterCommit: AfterCommit) => Promise<T>): Promise<T> {
  const callbacks: Array<() => void> = [];
  const result = await db.transaction((tx) => fn(tx as Tx, (cb) => callbacks.push(cb)));
  for (const cb of callbacks) {
    try {
      cb();
    } catch (err) {
      console.error('[after-commit]', err);
    }
  }
  return result;
}

/** PostgreSQL unique violation, raised by both node-postgres and PGlite. */
export function isUniqueViolation(err: unknown, constraint?: string): boolean {
  let e: any = err;
  for (let depth = 0; e && depth < 4; depth++, e = e.cause) {
    if (e.code === '23505' && (!constraint || e.constraint === constraint || String(e.message).includes(constraint))) return true;
  }
  return false;
}
