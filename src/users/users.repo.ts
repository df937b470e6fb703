/**
 * Users and their bearer tokens. A token is shown once at creation; only its sha256 is stored,
 * so a database leak does not leak credentials.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { eq } from 'drizzle-orm';
import type { Executor } from '../db/database.js';
import { users } from '../db/schema.js';

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export function newToken(): string {
  return `lk_${randomBytes(24).toString('base64url')}`;
}

export async function createUser(db: Executor, name?: string): Promise<{ id: string; token: string }> {
  const id = randomUUID();
  const token = newToken();
  await db.insert(users).values({ id, tokenHash: hashToken(token), name: name ?? null });
  return { id, token };
}

export async function findUserByToken(db: Executor, token: string): Promise<{ id: string } | null> {
  const rows = await db.select({ id: users.id }).from(users).where(eq(users.tokenHash, hashToken(token))).limit(1);
  return rows[0] ?? null;
}

export async function userExists(db: Executor, id: string): Promise<boolean> {
  const rows = await db.select({ id: users.id }).from(users).where(eq(users.id, id)).limit(1);
  return rows.length > 0;
}
