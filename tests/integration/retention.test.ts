/**
 * Storage retention on a seeded history (in-memory PGlite, the real local object store): keeps
 * the newest N LoRA versions per character and base model and never the active one, removes
 * datasets of runs finished more than D days ago, and the dry run changes nothing.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eq, isNull } from 'drizzle-orm';
import { openDatabase, type Database } from '../../src/db/database.js';
import { activeLoras, characters, loraModels, trainingRuns, users } from '../../src/db/schema.js';
import { loraVersionsToDelete } from '../../src/domain/retention-policy.js';
import { applyRetention, planRetention } from '../../src/services/retention.service.js';
import { LocalObjectStore } from '../../src/storage/local.store.js';
import { UrlSigner } from '../../src/storage/url-signer.js';

describe('retention policy (pure)', () => {
  const v = (id: string, version: number, baseModel = 'flux-dev') => ({ id, characterId: 'c', baseModel, version });
  it('keeps the newest N per character and base model and never the active one', () => {
    const versions = [v('1', 1), v('2', 2), v('3', 3), v('4', 4), v('5', 5), v('w1', 1, 'wan22')];
    expect(loraVersionsToDelete(versions, new Set(), 3).sort()).toEqual(['1', '2']);
    // The oldest is active: it stays, and the three newest stay too.
    expect(loraVersionsToDelete(versions, new Set(['1']), 3)).toEqual(['2']);
    expect(loraVersionsToDelete(versions, new Set(['5']), 1).sort()).toEqual(['1', '2', '3', '4']);
  });
});

let database: Database;
let dir: string;
let store: LocalObjectStore;
const DAY = 24 * 3600_000;
const now = new Date('2026-06-01T00:00:00Z');

const ids = { active: randomUUID(), old: [randomUUID()], kept: [randomUUID(), randomUUID(), randomUUID()], oldRun: randomUUID(), recentRun: randomUUID(), activeRun: randomUUID() };

beforeAll(async () => {
  database = await openDatabase({ dataDir: 'memory://' });
  dir = await mkdtemp(path.join(tmpdir(), 'likeness-retention-'));
  store = new LocalObjectStore(dir, new UrlSigner('x'.repeat(32)), () => 'http://127.0.0.1');
  const db = database.db;
  const uid = randomUUID();
  const cid = randomUUID();
  await db.insert(users).values({ id: uid, tokenHash: randomUUID() });
  await db.insert(characters).values({ id: cid, ownerId: uid, name: 'c', baseModel: 'flux-dev', triggerWord: 'tw' });

  async function run(id: string, status: string, finishedAt: Date | null, images = 2) {
    await db.insert(trainingRuns).values({
      id, ownerId: uid, characterId: cid, baseModel: 'flux-dev', status, trigger: 'manual', imageIds: Array.from({ length: images }, () => randomUUID()),
      priceTotal: 1, priceBreakdown: {}, backend: 'emulator', finishedAt, datasetKey: `runs/${id}/dataset`,
    });
    for (let i = 0; i < images; i++) {
      const stem = `img_${String(i + 1).padStart(3, '0')}`;
      await store.put(`runs/${id}/dataset/${stem}.jpg`, Buffer.alloc(1000));
      await store.put(`runs/${id}/dataset/${stem}.txt`, Buffer.alloc(10));
    }
  }
  // Five versions: v1 is active (the user switched back to it) but beyond the newest three; v2 is old; v3-v5 are the newest.
  const order = [ids.active, ...ids.old, ...ids.kept];
  for (const [i, id] of order.entries()) {
    const runId = randomUUID();
    await run(runId, 'ready', new Date(now.getTime() - (10 - i) * DAY), 0);
    const key = `loras/${id}.safetensors`;
    await store.put(key, Buffer.alloc(5000 + i));
    await db.insert(loraModels).values({
      id, ownerId: uid, characterId: cid, runId, baseModel: 'flux-dev', version: i + 1, triggerWord: 'tw', rank: 2, sizeBytes: 5000 + i,
      files: [{ part: 'main', storageKey: key, size: 5000 + i, sha256: 'x', fileName: `${id}.safetensors` }],
    });
  }
  await db.insert(activeLoras).values({ characterId: cid, baseModel: 'flux-dev', loraModelId: ids.active });
  await run(ids.oldRun, 'failed', new Date(now.getTime() - 31 * DAY));
  await run(ids.recentRun, 'ready', new Date(now.getTime() - 29 * DAY));
});

afterAll(async () => {
  await database?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('retention over a seeded history', () => {
  it('the dry run lists the old versions and datasets with their bytes and changes nothing', async () => {
    const ctx = { db: database.db, store };
    const plan = await planRetention(ctx, { loraVersions: 3, datasetDays: 30 }, now);
    expect(plan.loras.map((l) => l.id).sort()).toEqual([...ids.old].sort());
    expect(plan.loras.map((l) => l.id)).not.toContain(ids.active);
    expect(plan.datasets.map((d) => d.runId)).toEqual([ids.oldRun]);
    expect(plan.datasets[0]!.bytes).toBe(2 * 1010);
    expect(plan.totalBytes).toBe(5001 + 2020);
    // Nothing changed.
    expect(await database.db.select().from(loraModels).where(isNull(loraModels.deletedAt))).toHaveLength(5);
    expect(await store.head(`runs/${ids.oldRun}/dataset/img_001.jpg`)).not.toBeNull();
  });

  it('removes exactly that, never the active LoRA, and a second pass finds nothing', async () => {
    const ctx = { db: database.db, store };
    const done = await applyRetention(ctx, await planRetention(ctx, { loraVersions: 3, datasetDays: 30 }, now));
    expect(done.loras.map((l) => l.id)).toEqual(ids.old);
    const left = await database.db.select({ id: loraModels.id }).from(loraModels).where(isNull(loraModels.deletedAt));
    expect(left.map((r) => r.id).sort()).toEqual([ids.active, ...ids.kept].sort());
    expect(await store.head(`loras/${ids.active}.safetensors`)).not.toBeNull();
    expect(await store.head(`loras/${ids.old[0]}.safetensors`)).toBeNull();
    expect(await store.head(`runs/${ids.oldRun}/dataset/img_001.jpg`)).toBeNull();
    expect(await store.head(`runs/${ids.recentRun}/dataset/img_001.jpg`)).not.toBeNull();
    const [oldRun] = await database.db.select().from(trainingRuns).where(eq(trainingRuns.id, ids.oldRun));
    expect(oldRun!.datasetKey).toBeNull();
    expect(oldRun!.status).toBe('failed');
    const again = await planRetention(ctx, { loraVersions: 3, datasetDays: 30 }, now);
    expect(again).toMatchObject({ loras: [], datasets: [], totalBytes: 0 });
  });

  it('keeps the active LoRA even when only one version is kept and it is the oldest', async () => {
    const ctx = { db: database.db, store };
    const plan = await planRetention(ctx, { loraVersions: 1, datasetDays: 30 }, now);
    // Newest (v5) kept by count, v1 kept because it is active: v3 and v4 go.
    expect(plan.loras.map((l) => l.id).sort()).toEqual([ids.kept[0], ids.kept[1]].sort());
  });
});
