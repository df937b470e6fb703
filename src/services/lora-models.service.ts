/**
 * A character's LoRAs: the summary the settings screen and the generator read, versions, the
 * active version per base model, strength and the on/off switch, download and delete.
 */
import { and, desc, eq, isNull, inArray } from 'drizzle-orm';
import type { Db, Executor } from '../db/database.js';
import { activeLoras, loraModels, trainingRuns } from '../db/schema.js';
import { inTransaction } from '../db/transaction.js';
import { AppError, notFound } from '../domain/errors.js';
import { ACTIVE_STATES } from '../domain/run-states.js';
import type { ObjectStore } from '../storage/object-store.js';
import { getCharacter, type CharacterRow } from './characters.service.js';
import { runView, type RunView } from './training-runs.service.js';

export type LoraModelRow = typeof loraModels.$inferSelect;

export function loraView(m: LoraModelRow, activeId: string | null) {
  return {
    id: m.id,
    characterId: m.characterId,
    runId: m.runId,
    baseModel: m.baseModel,
    version: m.version,
    triggerWord: m.triggerWord,
    rank: m.rank,
    checkpointStep: m.checkpointStep,
    sizeBytes: m.sizeBytes,
    files: m.files.map((f) => ({ part: f.part, fileName: `${m.id}${f.part === 'main' ? '' : `_${f.part}`}.safetensors`, size: f.size, sha256: f.sha256 })),
    emulated: m.emulated,
    active: m.id === activeId,
    createdAt: m.createdAt.toISOString(),
  };
}

export async function listVersions(db: Executor, characterId: string, baseModel?: string): Promise<LoraModelRow[]> {
  const where = baseModel
    ? and(eq(loraModels.characterId, characterId), eq(loraModels.baseModel, baseModel), isNull(loraModels.deletedAt))
    : and(eq(loraModels.characterId, characterId), isNull(loraModels.deletedAt));
  return db.select().from(loraModels).where(where).orderBy(desc(loraModels.createdAt));
}

export async function activeLoraIds(db: Executor, characterId: string): Promise<Map<string, string>> {
  const rows = await db.select().from(activeLoras).where(eq(activeLoras.characterId, characterId));
  return new Map(rows.map((r) => [r.baseModel, r.loraModelId]));
}

export async function loraSummary(db: Executor, character: CharacterRow): Promise<{
  enabled: boolean;
  strength: number;
  triggerWord: string;
  baseModel: string;
  activeVersion: ReturnType<typeof loraView> | null;
  activeByBaseModel: Record<string, string>;
  currentRun: RunView | null;
  lastRun: RunView | null;
}> {
  const active = await activeLoraIds(db, character.id);
  const activeId = active.get(character.baseModel) ?? null;
  const model = activeId ? (await db.select().from(loraModels).where(eq(loraModels.id, activeId)).limit(1))[0] : undefined;
  const runs = await db
    .select()
    .from(trainingRuns)
    .where(eq(trainingRuns.characterId, character.id))
    .orderBy(desc(trainingRuns.createdAt))
    .limit(1);
  const last = runs[0] ?? null;
  const current = last && (ACTIVE_STATES as readonly string[]).includes(last.status) ? last : null;
  return {
    enabled: character.loraEnabled,
    strength: character.loraStrength,
    triggerWord: character.triggerWord,
    baseModel: character.baseModel,
    activeVersion: model ? loraView(model, activeId) : null,
    activeByBaseModel: Object.fromEntries(active),
    currentRun: current ? runView(current) : null,
    lastRun: last ? runView(last) : null,
  };
}

export async function getOwnedLora(db: Executor, ownerId: string, id: string): Promise<LoraModelRow> {
  const rows = await db
    .select()
    .from(loraModels)
    .where(and(eq(loraModels.id, id), eq(loraModels.ownerId, ownerId), isNull(loraModels.deletedAt)))
    .limit(1);
  if (!rows[0]) throw notFound('LoRA model');
  return rows[0];
}

export async function setActiveVersion(db: Executor, ownerId: string, characterId: string, loraModelId: string): Promise<void> {
  const model = await getOwnedLora(db, ownerId, loraModelId);
  if (model.characterId !== characterId) throw new AppError('validation_failed', 'That LoRA belongs to another character.');
  await db
    .insert(activeLoras)
    .values({ characterId, baseModel: model.baseModel, loraModelId: model.id })
    .onConflictDoUpdate({ target: [activeLoras.characterId, activeLoras.baseModel], set: { loraModelId: model.id } });
}

/**
 * Deletes a LoRA: the record is marked deleted and its files removed from storage. If it was
 * active, the newest remaining version of that base model becomes active (or none: generation
 * then falls back to face swap).
 */
export async function deleteLora(db: Db, store: ObjectStore, ownerId: string, id: string): Promise<void> {
  const model = await getOwnedLora(db, ownerId, id);
  await inTransaction(db, async (tx) => {
    await tx.update(loraModels).set({ deletedAt: new Date() }).where(eq(loraModels.id, id));
    const wasActive = await tx
      .delete(activeLoras)
      .where(and(eq(activeLoras.characterId, model.characterId), eq(activeLoras.loraModelId, id)))
      .returning();
    if (wasActive.length) {
      const [newest] = await listVersions(tx, model.characterId, model.baseModel);
      if (newest) await tx.insert(activeLoras).values({ characterId: model.characterId, baseModel: model.baseModel, loraModelId: newest.id });
    }
  });
  // Files go after the commit: a crash in between leaves an orphan file, never a record
  // pointing at a missing file.
  for (const f of model.files) await store.delete(f.storageKey);
}

export async function loraOwnedByCharacter(db: Executor, ownerId: string, characterId: string) {
  await getCharacter(db, ownerId, characterId);
  return listVersions(db, characterId);
}

export async function modelsByIds(db: Executor, ids: string[]) {
  if (ids.length === 0) return [];
  return db.select().from(loraModels).where(inArray(loraModels.id, ids));
}
