/** Users and credits: created by the platform (admin), read by the user. */
import { z } from 'zod';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { inTransaction } from '../../db/transaction.js';
import { getBalance, grantCredits } from '../../credits/ledger.repo.js';
import { createUser, userExists } from '../../users/users.repo.js';
import { notFound } from '../../domain/errors.js';
import { userIdOf } from '../auth.js';
import type { RouteDeps } from '../server.js';

export const usersRoutes: FastifyPluginAsyncZod<RouteDeps> = async (app, { ctx }) => {
  app.post(
    '/v1/users',
    {
      config: { auth: 'admin' },
      schema: { tags: ['users'], body: z.object({ name: z.string().max(200).optional() }).optional() },
    },
    async (req, reply) => reply.status(201).send(await createUser(ctx.db, req.body?.name)),
  );

  app.post(
    '/v1/users/:id/credits',
    {
      config: { auth: 'admin' },
      schema: {
        tags: ['users'],
        params: z.object({ id: z.string().uuid() }),
        body: z.object({
          amount: z.number().int().positive().max(1_000_000_000),
          reason: z.string().min(1).max(200),
          /** Lets the platform retry a grant safely. */
          idempotencyKey: z.string().min(1).max(200).optional(),
        }),
      },
    },
    async (req) => {
      if (!(await userExists(ctx.db, req.params.id))) throw notFound('User');
      const key = `grant:${req.body.idempotencyKey ?? req.headers['idempotency-key'] ?? crypto.randomUUID()}`;
      const result = await inTransaction(ctx.db, (tx) => grantCredits(tx, req.params.id, req.body.amount, key, req.body.reason));
      const b = await getBalance(ctx.db, req.params.id);
      return { applied: result === 'applied', credits: { available: b.available, reserved: b.reserved } };
    },
  );

  app.get('/v1/me', { config: { auth: 'user' }, schema: { tags: ['users'] } }, async (req) => {
    const userId = userIdOf(req.principal);
    const b = await getBalance(ctx.db, userId);
    return { id: userId, credits: { available: b.available, reserved: b.reserved, granted: b.granted, spent: b.captured } };
  });
};
