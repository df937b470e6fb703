/**
 * "Improve Your Model": images liked since the character's last finished training (counted from
 * when they were liked; finalize resets `likes_counted_since`) suggest a retrain. The notification
 * is sent once per threshold crossing: at N, 2N, 3N ... new liked images (N =
 * LIKENESS_RETRAIN_LIKES_THRESHOLD), deduplicated by (character, training, crossing), so unliking
 * and liking again never notifies twice. A character that never finished a training gets none.
 */
import { and, eq, gt, sql } from 'drizzle-orm';
import { characters, images } from '../db/schema.js';
import { inTransaction } from '../db/transaction.js';
import { createNotification } from '../notifications/notifications.repo.js';
import type { ServiceContext } from './context.js';

export async function newLikedSinceTraining(ctx: Pick<ServiceContext, 'db'>, characterId: string): Promise<{ since: Date | null; count: number }> {
  const [character] = await ctx.db.select({ since: characters.likesCountedSince }).from(characters).where(eq(characters.id, characterId)).limit(1);
  if (!character?.since) return { since: null, count: 0 };
  const [row] = await ctx.db
    .select({ n: sql<number>`count(*)::int` })
    .from(images)
    .where(and(eq(images.characterId, characterId), eq(images.liked, true), gt(images.likedAt, character.since)));
  return { since: character.since, count: row?.n ?? 0 };
}

/** Call after a like: notifies when this like crossed a threshold. True when it notified. */
export async function suggestRetrainIfDue(ctx: ServiceContext, characterId: string): Promise<boolean> {
  const { since, count } = await newLikedSinceTraining(ctx, characterId);
  const threshold = ctx.config.generation.retrainLikesThreshold;
  const crossing = Math.floor(count / threshold);
  if (!since || crossing < 1) return false;
  return inTransaction(ctx.db, async (tx, afterCommit) => {
    const [character] = await tx.select().from(characters).where(eq(characters.id, characterId)).limit(1);
    if (!character) return false;
    const created = await createNotification(tx, afterCommit, ctx, {
      userId: character.ownerId,
      type: 'lora.retrain.available',
      dedupeKey: `retrain:${characterId}:${since.toISOString()}:${crossing * threshold}`,
      context: { characterId, characterName: character.name, newLikedImages: count },
      data: { characterId, newLikedImages: count, threshold },
    });
    if (created) await tx.update(characters).set({ retrainNotifiedAt: new Date() }).where(eq(characters.id, characterId));
    return created !== null;
  });
}
