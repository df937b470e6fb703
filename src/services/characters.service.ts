/** Characters: creation (with a unique trigger word), reads, and the wizard's settings. */
import { randomUUID } from 'node:crypto';
import { and, desc, eq } from 'drizzle-orm';
import type { Executor } from '../db/database.js';
import { characters } from '../db/schema.js';
import { isUniqueViolation } from '../db/transaction.js';
import { DEFAULT_BASE_MODEL, type BaseModel } from '../domain/base-models.js';
import { notFound } from '../domain/errors.js';
import { generateTriggerWord } from '../domain/trigger-word.js';

export type CharacterRow = typeof characters.$inferSelect;

export async function createCharacter(
  db: Executor,
  ownerId: string,
  input: { name: string; baseModel?: BaseModel; autoTrain?: boolean },
): Promise<CharacterRow> {
  const id = randomUUID();
  for (let attempt = 0; attempt < 5; attempt++) {
    const taken = new Set(
      (await db.select({ w: characters.triggerWord }).from(characters).where(eq(characters.ownerId, ownerId))).map((r) => r.w),
    );
    const triggerWord = generateTriggerWord(`${id}:${attempt}`, taken);
    try {
      const rows = await db
        .insert(characters)
        .values({
          id,
          ownerId,
          name: input.name,
          baseModel: input.baseModel ?? DEFAULT_BASE_MODEL,
          autoTrain: input.autoTrain ?? true,
          triggerWord,
        })
        .returning();
      return rows[0]!;
    } catch (err) {
      // Two characters created at once may draw the same word: draw again.
      if (!isUniqueViolation(err, 'characters_owner_trigger_uq')) throw err;
    }
  }
  throw new Error('could not allocate a unique trigger word');
}

/** Owner-scoped read: another user's character is "not found", never "forbidden". */
export async function getCharacter(db: Executor, ownerId: string, id: string): Promise<CharacterRow> {
  const rows = await db
    .select()
    .from(characters)
    .where(and(eq(characters.id, id), eq(characters.ownerId, ownerId)))
    .limit(1);
  if (!rows[0]) throw notFound('Character');
  return rows[0];
}

export async function listCharacters(db: Executor, ownerId: string): Promise<CharacterRow[]> {
  return db.select().from(characters).where(eq(characters.ownerId, ownerId)).orderBy(desc(characters.createdAt));
}

export async function updateCharacter(
  db: Executor,
  ownerId: string,
  id: string,
  patch: Partial<Pick<CharacterRow, 'name' | 'baseModel' | 'autoTrain' | 'loraEnabled' | 'loraStrength' | 'sheetCompletedAt'>>,
): Promise<CharacterRow> {
  const rows = await db
    .update(characters)
    .set(patch)
    .where(and(eq(characters.id, id), eq(characters.ownerId, ownerId)))
    .returning();
  if (!rows[0]) throw notFound('Character');
  return rows[0];
}
