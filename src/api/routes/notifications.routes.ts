/**
 * Notifications: list, mark read, and a live stream over server-sent events. The stream pushes
 * what this process commits at once (hub) and catches up from the table every few seconds, so a
 * notification written by a worker in another process still arrives.
 */
import { z } from 'zod';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { listNotifications, markRead, notificationsSince } from '../../notifications/notifications.repo.js';
import type { NotificationRecord } from '../../notifications/notification-hub.js';
import { notFound } from '../../domain/errors.js';
import { userIdOf } from '../auth.js';
import { idParams } from '../schemas.js';
import type { RouteDeps } from '../server.js';

export function notificationView(n: NotificationRecord) {
  return {
    id: n.id,
    type: n.type,
    title: n.title,
    body: n.body,
    link: n.link,
    data: n.data,
    read: n.readAt !== null,
    createdAt: n.createdAt.toISOString(),
  };
}

const CATCH_UP_MS = 3000;
const HEARTBEAT_MS = 15000;

export const notificationsRoutes: FastifyPluginAsyncZod<RouteDeps> = async (app, { ctx }) => {
  // Open streams end when the server closes, or shutdown would wait on them forever.
  const open = new Set<() => void>();
  app.addHook('onClose', async () => {
    for (const close of [...open]) close();
  });

  app.get(
    '/v1/notifications',
    { config: { auth: 'user' }, schema: { tags: ['notifications'], querystring: z.object({ unread: z.enum(['true', 'false']).optional() }) } },
    async (req) => {
      const { items, unread } = await listNotifications(ctx.db, userIdOf(req.principal), { unreadOnly: req.query.unread === 'true' });
      return { items: items.map(notificationView), unread };
    },
  );

  app.post('/v1/notifications/:id/read', { config: { auth: 'user' }, schema: { tags: ['notifications'], params: idParams } }, async (req) => {
    if (!(await markRead(ctx.db, userIdOf(req.principal), req.params.id))) throw notFound('Notification');
    return { ok: true };
  });

  app.get('/v1/notifications/stream', { config: { auth: 'user', queryToken: true }, schema: { tags: ['notifications'] } }, async (req, reply) => {
    const userId = userIdOf(req.principal);
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    const sent = new Set<string>();
    let since = new Date();
    const send = (n: NotificationRecord) => {
      if (sent.has(n.id)) return;
      sent.add(n.id);
      if (n.createdAt > since) since = n.createdAt;
      res.write(`id: ${n.id}\nevent: notification\ndata: ${JSON.stringify(notificationView(n))}\n\n`);
    };
    const { unread } = await listNotifications(ctx.db, userId, { limit: 1 });
    res.write(`event: ready\ndata: ${JSON.stringify({ unread })}\n\n`);
    const unsubscribe = ctx.hub.subscribe(userId, send);
    const catchUp = setInterval(() => {
      notificationsSince(ctx.db, userId, since)
        .then((rows) => rows.forEach(send))
        .catch(() => undefined);
    }, CATCH_UP_MS);
    const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), HEARTBEAT_MS);
    const stop = () => {
      unsubscribe();
      clearInterval(catchUp);
      clearInterval(heartbeat);
      open.delete(stop);
      res.end();
    };
    open.add(stop);
    req.raw.on('close', stop);
  });
};
