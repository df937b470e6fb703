/**
 * Bearer-token authentication. The admin token is the platform's backend (server to server); a
 * user token is a platform user. The admin may act for a user by naming them in the
 * `x-likeness-user` header. Every user-scoped query filters by the resolved user id.
 */
import { timingSafeEqual, createHash } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import type { Db } from '../db/database.js';
import { AppError } from '../domain/errors.js';
import { findUserByToken, userExists } from '../users/users.repo.js';

export type Principal = { role: 'admin'; userId: string | null } | { role: 'user'; userId: string };

export type RouteAuth = 'public' | 'user' | 'admin';

/**
 * Token -> user lookups are on every request; tokens never change owner, so a short-lived cache
 * takes a database round trip off the hot path (status polling). Bounded in size and age; a
 * token that stops being valid in the database stops working within TOKEN_CACHE_MS.
 */
const TOKEN_CACHE_MS = 30_000;
const TOKEN_CACHE_MAX = 10_000;
const tokenCache = new Map<string, { userId: string; until: number }>();

async function userForToken(db: Db, token: string): Promise<{ id: string } | null> {
  const now = Date.now();
  const hit = tokenCache.get(token);
  if (hit && hit.until > now) return { id: hit.userId };
  const user = await findUserByToken(db, token);
  if (user) {
    if (tokenCache.size >= TOKEN_CACHE_MAX) tokenCache.delete(tokenCache.keys().next().value!);
    tokenCache.set(token, { userId: user.id, until: now + TOKEN_CACHE_MS });
  }
  return user;
}

export function sameSecret(a: string, b: string): boolean {
  // Compare digests so the comparison takes the same time whatever the lengths.
  const da = createHash('sha256').update(a).digest();
  const db = createHash('sha256').update(b).digest();
  return timingSafeEqual(da, db);
}

export function bearerToken(req: FastifyRequest, allowQuery: boolean): string | null {
  const header = req.headers.authorization;
  if (header) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
    return m ? m[1]! : null;
  }
  // EventSource cannot send headers: the SSE route alone accepts the token as a query parameter.
  if (allowQuery) {
    const q = (req.query as Record<string, unknown> | undefined)?.access_token;
    if (typeof q === 'string' && q) return q;
  }
  return null;
}

export async function authenticate(
  req: FastifyRequest,
  db: Db,
  adminToken: string,
  need: RouteAuth,
  allowQueryToken: boolean,
): Promise<Principal | null> {
  if (need === 'public') return null;
  const token = bearerToken(req, allowQueryToken);
  if (!token) throw new AppError('unauthorized', 'Send a bearer token in the Authorization header.');
  if (sameSecret(token, adminToken)) {
    const onBehalf = req.headers['x-likeness-user'];
    if (typeof onBehalf === 'string' && onBehalf) {
      if (!(await userExists(db, onBehalf))) throw new AppError('not_found', 'The user named in x-likeness-user was not found.');
      return { role: 'admin', userId: onBehalf };
    }
    return { role: 'admin', userId: null };
  }
  if (need === 'admin') {
    const user = await userForToken(db, token);
    if (user) throw new AppError('forbidden', 'This route needs the admin token.');
    throw new AppError('unauthorized', 'The bearer token is not valid.');
  }
  const user = await userForToken(db, token);
  if (!user) throw new AppError('unauthorized', 'The bearer token is not valid.');
  return { role: 'user', userId: user.id };
}

/** The user a user-scoped route acts for. */
export function userIdOf(principal: Principal | null): string {
  if (principal?.userId) return principal.userId;
  throw new AppError('bad_request', 'This route acts for a user: use a user token, or the admin token with an x-likeness-user header.');
}
