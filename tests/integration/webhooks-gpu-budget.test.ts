/**
 * Outgoing webhooks and the daily GPU budget through the real process: a receiver on loopback
 * verifies every event with the `standardwebhooks` library (as a platform would), a failed
 * delivery is in the delivery log with its backoff and can be sent again, and a reached budget
 * holds new trainings in the queue (reserved, not charged) until an admin raises it.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eq } from 'drizzle-orm';
import { Webhook } from 'standardwebhooks';
import { trainingRuns } from '../../src/db/schema.js';
import { ADMIN_TOKEN, HAVE_FACES, facesForm, startHarness, waitFor, type Harness } from '../helpers/harness.js';

const SECRET = `whsec_${randomBytes(32).toString('base64')}`;

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
  answered: number;
}

let h: Harness;
let receiver: Server;
const received: Received[] = [];
/** Statuses the receiver answers with next, in order; 204 once empty. */
const answers: number[] = [];

beforeAll(async () => {
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const answered = answers.shift() ?? 204;
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), answered });
      res.statusCode = answered;
      res.end(answered >= 400 ? 'receiver is down' : undefined);
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const port = (receiver.address() as AddressInfo).port;
  h = await startHarness({ LIKENESS_WEBHOOK_URL: `http://127.0.0.1:${port}/hooks/likeness`, LIKENESS_WEBHOOK_SECRET: SECRET });
});
afterAll(async () => {
  await h?.close();
  await new Promise((r) => receiver?.close(r));
});

/** Events the receiver accepted, verified with the platform-side library (throws on a bad signature). */
function verifiedEvents(): { id: string; type: string; data: Record<string, any> }[] {
  const wh = new Webhook(SECRET);
  return received
    .filter((r) => r.answered < 300)
    .map((r) => {
      const payload = wh.verify(r.body, r.headers as Record<string, string>) as { type: string; data: Record<string, any> };
      return { id: String(r.headers['webhook-id']), type: payload.type, data: payload.data };
    });
}

async function user(credits = 200_000) {
  const u = (await h.call('POST', '/v1/users', { token: ADMIN_TOKEN, body: {} })).body;
  await h.call('POST', `/v1/users/${u.id}/credits`, { token: ADMIN_TOKEN, body: { amount: credits, reason: 't' } });
  return u as { id: string; token: string };
}

async function character(token: string, person: string, autoTrain: boolean) {
  const c = (await h.call('POST', '/v1/characters', { token, body: { name: person, autoTrain } })).body;
  const up = await h.call('POST', `/v1/characters/${c.id}/images`, { token, form: await facesForm(person) });
  expect(up.status).toBe(201);
  return c.id as string;
}

const runOf = async (token: string, id: string) => (await h.call('GET', `/v1/training-runs/${id}`, { token })).body;

describe.skipIf(!HAVE_FACES)('outgoing webhooks', () => {
  it('sends each of a run\'s events once, signed; a tampered or replayed copy does not verify', async () => {
    const u = await user();
    const c = await character(u.token, 'amy', false);
    const run = (await h.call('POST', `/v1/characters/${c}/lora/train`, { token: u.token, body: {} })).body;
    await waitFor('run ready', async () => (await runOf(u.token, run.id)).status === 'ready', 60_000);
    const mine = await waitFor('started and completed events', async () => {
      const events = verifiedEvents().filter((e) => e.data.runId === run.id);
      return events.some((e) => e.type === 'lora.training.completed') ? events : null;
    });
    expect(mine.map((e) => e.type).sort()).toEqual(['lora.training.completed', 'lora.training.started']);
    for (const e of mine) {
      expect(e.data.userId).toBe(u.id);
      expect(e.data.characterId).toBe(c);
      expect(e.data.notification.title).toMatch(/^LoRA Training (Started|Complete)$/);
    }

    const original = received.find((r) => r.headers['webhook-id'] === mine[0]!.id)!;
    const wh = new Webhook(SECRET);
    expect(() => wh.verify(original.body.replace(u.id, 'someone-else'), original.headers as Record<string, string>)).toThrow();
    // A copy replayed later: its signed timestamp is outside the receiver's 5-minute window.
    const old = new Date(Date.now() - 10 * 60_000);
    const replayed = { ...original.headers, 'webhook-timestamp': String(Math.floor(old.getTime() / 1000)), 'webhook-signature': wh.sign(mine[0]!.id, old, original.body) };
    expect(() => wh.verify(original.body, replayed as unknown as Record<string, string>)).toThrow(/timestamp/i);
  });

  it('a failed delivery waits in the log with its backoff; an admin can send it again', async () => {
    const u = await user();
    const c = await character(u.token, 'sheldon', false);
    answers.push(503);
    const run = (await h.call('POST', `/v1/characters/${c}/lora/train`, { token: u.token, body: {} })).body;
    const pending = await waitFor('a pending delivery of the started event', async () => {
      const log = (await h.call('GET', '/v1/admin/webhook-deliveries?status=pending', { token: ADMIN_TOKEN })).body.items as any[];
      return log.find((d) => d.type === 'lora.training.started' && d.attempts === 1);
    });
    expect(pending.lastStatus).toBe(503);
    expect(pending.lastError).toContain('receiver is down');
    const wait = (new Date(pending.nextAttemptAt).getTime() - new Date(pending.lastAttemptAt).getTime()) / 1000;
    expect(wait).toBeGreaterThanOrEqual(8);
    expect(wait).toBeLessThanOrEqual(12);

    expect((await h.call('GET', '/v1/admin/webhook-deliveries', { token: u.token })).status).toBe(403);
    expect((await h.call('POST', '/v1/admin/webhook-deliveries/msg_nope/redeliver', { token: ADMIN_TOKEN })).status).toBe(404);
    const again = await h.call('POST', `/v1/admin/webhook-deliveries/${pending.id}/redeliver`, { token: ADMIN_TOKEN });
    expect(again.status).toBe(202);
    const delivered = await waitFor('the delivery delivered', async () => {
      const log = (await h.call('GET', '/v1/admin/webhook-deliveries?status=delivered', { token: ADMIN_TOKEN })).body.items as any[];
      return log.find((d) => d.id === pending.id);
    });
    expect(delivered.deliveredAt).not.toBeNull();
    // The retried copy carries the same webhook-id, so a receiver that saw the first can drop it.
    const copies = received.filter((r) => r.headers['webhook-id'] === pending.id);
    expect(copies.map((r) => r.answered)).toEqual([503, 204]);
    expect(verifiedEvents().find((e) => e.id === pending.id)?.data.runId).toBe(run.id);
    await waitFor('run ready', async () => (await runOf(u.token, run.id)).status === 'ready', 60_000);
  });
});

describe.skipIf(!HAVE_FACES)('daily GPU budget', () => {
  it('holds new trainings in the queue once reached, reserved and not charged, until an admin raises it', async () => {
    const initial = await h.call('GET', '/v1/admin/gpu-budget', { token: ADMIN_TOKEN });
    expect(initial.status).toBe(200);
    expect(initial.body).toMatchObject({ dailyUsd: 0, source: 'config', reached: false });

    expect((await h.call('PUT', '/v1/admin/gpu-budget', { token: ADMIN_TOKEN, body: { dailyUsd: -1 } })).body.error.code).toBe('validation_failed');
    const u = await user(500_000);
    expect((await h.call('PUT', '/v1/admin/gpu-budget', { token: u.token, body: { dailyUsd: 1 } })).status).toBe(403);
    expect((await h.call('GET', '/v1/admin/gpu-budget', { token: ADMIN_TOKEN })).body.source).toBe('config');

    // Today's spend: what the emulated pods billed so far, plus a run that cost $12.
    const [done] = await h.app.database.db.select({ id: trainingRuns.id }).from(trainingRuns).where(eq(trainingRuns.status, 'ready')).limit(1);
    await h.app.database.db.update(trainingRuns).set({ costUsd: 12, finishedAt: new Date() }).where(eq(trainingRuns.id, done!.id));
    const capped = await h.call('PUT', '/v1/admin/gpu-budget', { token: ADMIN_TOKEN, body: { dailyUsd: 10 } });
    expect(capped.status).toBe(200);
    expect(capped.body).toMatchObject({ dailyUsd: 10, source: 'admin', reached: true });
    expect(capped.body.spentTodayUsd).toBeGreaterThanOrEqual(12);

    const before = (await h.call('GET', '/v1/me', { token: u.token })).body.credits;
    const c1 = await character(u.token, 'penny', true);
    const c2 = await character(u.token, 'raj', true);
    const s1 = (await h.call('POST', `/v1/characters/${c1}/character-sheet/complete`, { token: u.token })).body;
    const s2 = (await h.call('POST', `/v1/characters/${c2}/character-sheet/complete`, { token: u.token })).body;
    expect(s1.training.started && s2.training.started).toBe(true);
    const runIds = [s1.run.id as string, s2.run.id as string];

    for (const id of runIds) {
      const held = await waitFor(`run ${id} held`, async () => {
        const r = await runOf(u.token, id);
        return r.waitReason === 'gpu_budget' ? r : null;
      });
      expect(held.status).toBe('queued');
      expect(held.progress.message).toMatch(/daily GPU budget \(\$10\.00\)/);
      expect(held.credits).toMatchObject({ charged: 0, reserved: held.credits.price });
    }
    const me = (await h.call('GET', '/v1/me', { token: u.token })).body.credits;
    expect(me.available).toBe(before.available - s1.run.credits.price - s2.run.credits.price);
    expect(me.reserved).toBe(s1.run.credits.price + s2.run.credits.price);
    const status = (await h.call('GET', '/v1/admin/gpu-budget', { token: ADMIN_TOKEN })).body;
    expect(status).toMatchObject({ reached: true, waitingRuns: 2 });

    // Still held a little later: nothing moved on, nothing was charged.
    await new Promise((r) => setTimeout(r, 1500));
    for (const id of runIds) expect((await runOf(u.token, id)).status).toBe('queued');
    const budgetEvents = await waitFor('the budget event', async () => {
      const events = verifiedEvents().filter((e) => e.type === 'platform.gpu_budget.reached');
      return events.length ? events : null;
    });
    expect(budgetEvents).toHaveLength(1);
    expect(budgetEvents[0]!.data).toMatchObject({ dailyUsd: 10, day: new Date().toISOString().slice(0, 10) });

    // An admin raises the cap: the held runs go on at once and are charged once, when ready.
    await h.call('PUT', '/v1/admin/gpu-budget', { token: ADMIN_TOKEN, body: { dailyUsd: 1000 } });
    for (const id of runIds) {
      const r = await waitFor(`run ${id} ready`, async () => {
        const run = await runOf(u.token, id);
        return run.status === 'ready' ? run : null;
      }, 30_000);
      expect(r.waitReason).toBeNull();
      expect(r.credits.charged).toBe(r.credits.price);
    }
    const after = (await h.call('GET', '/v1/me', { token: u.token })).body.credits;
    expect(after).toMatchObject({ available: before.available - s1.run.credits.price - s2.run.credits.price, reserved: 0, spent: s1.run.credits.price + s2.run.credits.price });
    expect(verifiedEvents().filter((e) => e.type === 'platform.gpu_budget.reached')).toHaveLength(1);

    // The operator's scrape shows the spend the budget is checked against and the delivery log.
    const prom = await fetch(`${h.url}/metrics`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } }).then((r) => r.text());
    const spend = Number(/^likeness_gpu_spend_today_usd (\S+)$/m.exec(prom)?.[1]);
    expect(spend).toBeGreaterThanOrEqual(12);
    await waitFor('the budget delivery counted', async () => {
      const text = await fetch(`${h.url}/metrics`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } }).then((r) => r.text());
      return text.includes('likeness_webhook_deliveries{status="delivered",type="platform.gpu_budget.reached"} 1');
    });
  });
});
