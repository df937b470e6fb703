/**
 * Idempotency-Key support for POST routes that create runs or generations. The first request
 * with a key claims it (a row with no response yet), does the work and stores its response; a
 * retry with the same key and body gets that stored response; the same key with another body,
 * or while the first is still running, is refused. Failed requests (4xx/5xx) release the key so
 * the client can retry after fixing the cause.
 */
import { createHash } from 'node:crypto';
import { and, eq } from 'drizzle-orm';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Db } from '../db/database.js';
import { idempotencyKeys } from '../db/schema.js';
import { AppError } from '../domain/errors.js';

const KEY = /^[A-Za-z0-9._:-]{1,200}$/;

export async function withIdempotency<T>(
  db: Db,
  req: FastifyRequest,
  reply: FastifyReply,
  userId: string,
  work: () => Promise<{ status: number; body: T }>,
): Promise<FastifyReply> {
  const header = req.headers['idempotency-key'];
  if (header === undefined) {
    const r = await work();
    return reply.status(r.status).send(r.body);
  }
  if (typeof header !== 'string' || !KEY.test(header)) {
    throw new AppError('bad_request', 'Idempotency-Key must be 1-200 letters, digits, dots, dashes, colons or underscores.');
  }
  const route = `${req.method} ${req.routeOptions.url}`;
  const requestHash = createHash('sha256').update(route).update(JSON.stringify(req.params ?? {})).update(JSON.stringify(req.body ?? {})).digest('hex');
  const claimed = await db
    .insert(idempotencyKeys)
    .values({ userId, key: header, route, requestHash })
    .onConflictDoNothing()
    .returning({ key: idempotencyKeys.key });
  if (!claimed[0]) {
    const [prior] = await db
      .select()
      .from(idempotencyKeys)
      .where(and(eq(idempotencyKeys.userId, userId), eq(idempotencyKeys.key, header)));
    if (!prior) throw new AppError('conflict', 'This Idempotency-Key is being released; retry in a moment.');
    if (prior.requestHash !== requestHash) {
      throw new AppError('conflict', 'This Idempotency-Key was already used for a different request.');
    }
    if (prior.statusCode === null) throw new AppError('conflict', 'A request with this Idempotency-Key is still being handled.');
    return reply.header('idempotent-replayed', 'true').status(prior.statusCode).send(prior.response);
  }
  const where = and(eq(idempotencyKeys.userId, userId), eq(idempotencyKeys.key, header));
  try {
    const r = await work();
    await db.update(idempotencyKeys).set({ statusCode: r.status, response: r.body as unknown }).where(where);
    return reply.status(r.status).send(r.body);
  } catch (err) {
    await db.delete(idempotencyKeys).where(where);
    throw err;
  }
}
