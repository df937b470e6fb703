/**
 * Similarity between face embeddings: cosine similarity (the dot product of the L2-normalised
 * vectors the engine returns), in -1..1, higher = more alike. Vectors made by different
 * recognisers live in unrelated spaces: comparing them is refused, never silently computed.
 */
import type { TaggedEmbedding } from './identity.types.js';

export class IncomparableRecognizersError extends Error {
  override readonly name = 'IncomparableRecognizersError';
  constructor(readonly a: string, readonly b: string) {
    super(`scores/embeddings of recogniser ${a} and ${b} cannot be compared`);
  }
}

export function assertSameRecognizer(a: string, b: string): void {
  if (a !== b) throw new IncomparableRecognizersError(a, b);
}

/** Cosine similarity of two vectors; plain arrays are assumed to come from one recogniser. */
export function cosineSimilarity(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length || a.length === 0) throw new Error(`embedding lengths differ (${a.length} vs ${b.length})`);
  let dot = 0, na = 0, nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!;
    na += a[i]! * a[i]!;
    nb += b[i]! * b[i]!;
  }
  return na === 0 || nb === 0 ? 0 : dot / Math.sqrt(na * nb);
}

/** Similarity of two tagged embeddings; throws when their recognisers differ. */
export function similarity(a: TaggedEmbedding, b: TaggedEmbedding): number {
  assertSameRecognizer(a.recognizerId, b.recognizerId);
  return cosineSimilarity(a.vector, b.vector);
}
