/**
 * Scores generated images against a character's identity: the embeddings of its accepted
 * character-sheet images (never generated ones, which would let outputs vouch for outputs), the
 * recogniser's calibrated tau, and the copy-paste guard (an output that reproduces a reference).
 * Reference embeddings and hashes are cached per image id in this process: a character's sheet is
 * analysed once, not once per generated image.
 */
import { and, eq } from 'drizzle-orm';
import { buffer as readAll } from 'node:stream/consumers';
import type { Executor } from '../db/database.js';
import { images } from '../db/schema.js';
import {
  buildIdentity,
  detectCopyPaste,
  ImageAnalysisError,
  perceptualHash,
  scoreImage,
  tauFor,
  type FaceBox,
  type Identity,
  type IdentityEngine,
} from '../identity/index.js';
import type { ObjectStore } from '../storage/object-store.js';

export interface CharacterIdentity {
  identity: Identity;
  tau: number;
  referenceHashes: string[];
}

export interface OutputScore {
  /** False when there was nothing to score against (no engine, no references). */
  scored: boolean;
  similarity: number | null;
  match: boolean;
  faceCount: number | null;
  copyPaste: boolean;
  recognizerId: string | null;
  faceBox: FaceBox | null;
}

const UNSCORED: OutputScore = { scored: false, similarity: null, match: false, faceCount: null, copyPaste: false, recognizerId: null, faceBox: null };
const CACHE_LIMIT = 5000;

export class IdentityScorer {
  private readonly references = new Map<string, { vector: number[] | null; hash: string }>();

  constructor(
    private readonly engine: IdentityEngine | null,
    private readonly store: ObjectStore,
  ) {}

  get available(): boolean {
    return this.engine !== null;
  }

  /** The character's identity from its accepted sheet images; null when none has a face. */
  async forCharacter(db: Executor, characterId: string): Promise<CharacterIdentity | null> {
    if (!this.engine) return null;
    const rows = await db
      .select({ id: images.id, key: images.storageKey })
      .from(images)
      .where(and(eq(images.characterId, characterId), eq(images.source, 'sheet'), eq(images.checkStatus, 'accepted')));
    const refs: Array<{ vector: number[]; hash: string }> = [];
    for (const row of rows) {
      const ref = await this.reference(row.id, row.key);
      if (ref.vector) refs.push({ vector: ref.vector, hash: ref.hash });
    }
    if (refs.length === 0) return null;
    const identity = buildIdentity(refs.map((r) => ({ recognizerId: this.engine!.recognizerId, vector: r.vector })));
    return { identity, tau: tauFor(identity.recognizerId), referenceHashes: refs.map((r) => r.hash) };
  }

  async score(character: CharacterIdentity | null, bytes: Buffer): Promise<OutputScore> {
    if (!this.engine || !character) return UNSCORED;
    let analysis;
    try {
      analysis = await this.engine.analyze(bytes);
    } catch (err) {
      // An output that does not decode has no face to find: scored, and not a match.
      if (!(err instanceof ImageAnalysisError)) throw err;
      return { ...UNSCORED, scored: true, faceCount: 0, recognizerId: this.engine.recognizerId };
    }
    const s = scoreImage(analysis, character.identity, character.tau);
    const copy = s.faceCount > 0 ? detectCopyPaste(s, await perceptualHash(bytes), character.referenceHashes) : { copyPaste: false };
    return {
      scored: true,
      similarity: s.similarity,
      match: s.match,
      faceCount: s.faceCount,
      copyPaste: copy.copyPaste,
      recognizerId: s.recognizerId,
      faceBox: analysis.faces[0]?.box ?? null,
    };
  }

  private async reference(imageId: string, key: string): Promise<{ vector: number[] | null; hash: string }> {
    const cached = this.references.get(imageId);
    if (cached) return cached;
    const bytes = await readAll(await this.store.get(key));
    let vector: number[] | null = null;
    try {
      vector = (await this.engine!.analyze(bytes)).faces[0]?.embedding ?? null;
    } catch (err) {
      if (!(err instanceof ImageAnalysisError)) throw err;
    }
    const entry = { vector, hash: await perceptualHash(bytes) };
    if (this.references.size >= CACHE_LIMIT) this.references.delete(this.references.keys().next().value!);
    this.references.set(imageId, entry);
    return entry;
  }
}
