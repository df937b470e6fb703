/**
 * Character images: upload (content-sniffed, checked, stored), likes, and the selection of
 * training images (liked first, then character-sheet images; accepted ones only).
 */
import { randomUUID } from 'node:crypto';
import { and, asc, desc, eq, inArray, or } from 'drizzle-orm';
import { buffer as readAll } from 'node:stream/consumers';
import type { Executor } from '../db/database.js';
import { images } from '../db/schema.js';
import { AppError, notFound } from '../domain/errors.js';
import type { ObjectStore } from '../storage/object-store.js';
import { decodeImage, type ImageChecker } from './image-checker.js';

export type ImageRow = typeof images.$inferSelect;

export interface UploadedFile {
  fileName: string | undefined;
  bytes: Buffer;
}

/**
 * Decodes every file first: if any is not an image the whole upload is refused and nothing is
 * stored. Then each image gets a verdict and is stored with it (rejected images are kept so the
 * user sees why, and are never trained on).
 */
export async function uploadImages(
  db: Executor,
  store: ObjectStore,
  checker: ImageChecker,
  owner: { userId: string; characterId: string },
  files: UploadedFile[],
): Promise<ImageRow[]> {
  const decoded = [];
  for (const f of files) decoded.push({ id: randomUUID(), file: f, decoded: await decodeImage(f.bytes) });

  const existing = await db
    .select()
    .from(images)
    .where(and(eq(images.characterId, owner.characterId), eq(images.checkStatus, 'accepted')));
  const verdicts = await checker.check(
    decoded.map((d) => ({ id: d.id, bytes: d.file.bytes, decoded: d.decoded })),
    existing.map((e) => ({ id: e.id, bytes: async () => readAll(await store.get(e.storageKey)) })),
  );

  const rows: ImageRow[] = [];
  for (const d of decoded) {
    const key = `characters/${owner.characterId}/images/${d.id}.${d.decoded.ext}`;
    const stored = await store.put(key, d.file.bytes, d.decoded.mime);
    const verdict = verdicts.get(d.id) ?? { accepted: false, reasons: [{ code: 'unchecked', message: 'The image was not checked.' }], faceBox: null };
    const [row] = await db
      .insert(images)
      .values({
        id: d.id,
        ownerId: owner.userId,
        characterId: owner.characterId,
        source: 'sheet',
        storageKey: key,
        // The original name is kept as a label only; it never becomes a path.
        originalName: d.file.fileName?.slice(0, 200) ?? null,
        mime: d.decoded.mime,
        width: d.decoded.width,
        height: d.decoded.height,
        bytes: stored.size,
        sha256: stored.sha256,
        checkStatus: verdict.accepted ? 'accepted' : 'rejected',
        checkReasons: verdict.reasons,
        faceBox: verdict.faceBox,
      })
      .returning();
    rows.push(row!);
  }
  return rows;
}

export async function listImages(db: Executor, ownerId: string, characterId: string): Promise<ImageRow[]> {
  return db
    .select()
    .from(images)
    .where(and(eq(images.characterId, characterId), eq(images.ownerId, ownerId)))
    .orderBy(asc(images.createdAt));
}

/**
 * The owner's feedback on an image: a like, and/or the answer to "does this look like the
 * character?" (true / false, or null to take the answer back). One answer per image, changeable;
 * a field left out is left as it is. Only generated images can be answered: a character-sheet
 * image is the identity itself, and its answer would inflate the satisfaction metric.
 */
export async function setFeedback(
  db: Executor,
  ownerId: string,
  imageId: string,
  feedback: { liked?: boolean; looksLikeCharacter?: boolean | null },
): Promise<ImageRow> {
  const current = await getImage(db, ownerId, imageId);
  if (feedback.looksLikeCharacter !== undefined && current.source !== 'generated') {
    throw new AppError('validation_failed', 'looksLikeCharacter is an answer about a generated image; this image is part of the character sheet.');
  }
  const set: Partial<typeof images.$inferInsert> = {};
  if (feedback.liked !== undefined) {
    // A like (again) restarts its count for the retrain suggestion, as liking always did.
    set.liked = feedback.liked;
    set.likedAt = feedback.liked ? new Date() : null;
  }
  if (feedback.looksLikeCharacter !== undefined) {
    set.looksLikeCharacter = feedback.looksLikeCharacter;
    set.looksLikeAnsweredAt = feedback.looksLikeCharacter === null ? null : new Date();
  }
  if (Object.keys(set).length === 0) return current;
  const rows = await db
    .update(images)
    .set(set)
    .where(and(eq(images.id, imageId), eq(images.ownerId, ownerId)))
    .returning();
  if (!rows[0]) throw notFound('Image');
  return rows[0];
}

/**
 * The images a training uses: the caller's explicit choice (each must be the character's and
 * accepted), or liked images first (most recently liked first), then character-sheet images in
 * upload order, up to `max`.
 */
export async function selectTrainingImages(
  db: Executor,
  characterId: string,
  opts: { imageIds?: string[]; max: number },
): Promise<{ chosen: ImageRow[]; unusable: string[] }> {
  if (opts.imageIds && opts.imageIds.length > 0) {
    const unique = [...new Set(opts.imageIds)];
    const rows = await db
      .select()
      .from(images)
      .where(and(eq(images.characterId, characterId), inArray(images.id, unique)));
    const usable = rows.filter((r) => r.checkStatus === 'accepted');
    const usableIds = new Set(usable.map((r) => r.id));
    return { chosen: unique.filter((id) => usableIds.has(id)).map((id) => usable.find((r) => r.id === id)!), unusable: unique.filter((id) => !usableIds.has(id)) };
  }
  const rows = await db
    .select()
    .from(images)
    // Generated images are training data only once liked; the sheet's always are.
    .where(and(eq(images.characterId, characterId), eq(images.checkStatus, 'accepted'), or(eq(images.source, 'sheet'), eq(images.liked, true))))
    .orderBy(desc(images.liked), desc(images.likedAt), asc(images.createdAt));
  return { chosen: rows.slice(0, opts.max), unusable: [] };
}

export async function getImage(db: Executor, ownerId: string, imageId: string): Promise<ImageRow> {
  const rows = await db
    .select()
    .from(images)
    .where(and(eq(images.id, imageId), eq(images.ownerId, ownerId)))
    .limit(1);
  if (!rows[0]) throw notFound('Image');
  return rows[0];
}
