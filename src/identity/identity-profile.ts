/**
 * A character's identity and the score of an image against it.
 *
 * Why several references and a top-k mean: one reference photo carries its own pose, light and
 * expression, so a same-person image at another angle can sit far from it while being close to a
 * sibling reference. Scoring against every reference and averaging the k best (k = 3 by default)
 * accepts those images, while averaging (rather than taking only the best) keeps one lucky
 * look-alike reference from carrying a different person over the threshold. The centre (a
 * trimmed, re-normalised mean) is kept for outlier checks and display, not for scoring.
 */
import type { AnalyzedFace, FaceAnalysis, Identity, ImageScore } from './identity.types.js';
import { assertSameRecognizer, cosineSimilarity } from './similarity.js';

export const DEFAULT_TOP_K = 3;

function normalise(v: number[]): number[] {
  const n = Math.sqrt(v.reduce((s, x) => s + x * x, 0)) || 1;
  return v.map((x) => x / n);
}

/**
 * Robust centre: mean of the references, then re-computed without the references least similar to
 * that mean (the worst quarter, when there are 4 or more), so one bad reference does not drag it.
 */
export function robustCentre(vectors: number[][]): number[] {
  const first = vectors[0];
  if (!first) throw new Error('no vectors');
  const mean = (vs: number[][]) => normalise(first.map((_, i) => vs.reduce((s, v) => s + v[i]!, 0) / vs.length));
  const centre = mean(vectors);
  if (vectors.length < 4) return centre;
  const drop = Math.floor(vectors.length / 4);
  const kept = [...vectors].sort((a, b) => cosineSimilarity(b, centre) - cosineSimilarity(a, centre)).slice(0, vectors.length - drop);
  return mean(kept);
}

export function buildIdentity(embeddings: readonly { recognizerId: string; vector: number[] }[]): Identity {
  const first = embeddings[0];
  if (!first) throw new Error('an identity needs at least one reference embedding');
  for (const e of embeddings) assertSameRecognizer(first.recognizerId, e.recognizerId);
  const references = embeddings.map((e) => normalise(e.vector));
  return { recognizerId: first.recognizerId, references, centre: robustCentre(references) };
}

/** Top-k mean similarity of one embedding to the identity's references. */
export function identitySimilarity(vector: number[], identity: Identity, k = DEFAULT_TOP_K): { similarity: number; perReference: number[] } {
  const perReference = identity.references.map((r) => cosineSimilarity(vector, r));
  const top = [...perReference].sort((a, b) => b - a).slice(0, Math.max(1, k));
  return { similarity: top.reduce((s, x) => s + x, 0) / top.length, perReference };
}

/** The face to score: the largest one (analyses list the largest first). */
export function primaryFace(analysis: FaceAnalysis): AnalyzedFace | undefined {
  return analysis.faces[0];
}

/**
 * Scores an analysed image against an identity. A match needs exactly one face at or above tau:
 * an image with two faces is not counted as the character even if one of them is.
 */
export function scoreImage(analysis: FaceAnalysis, identity: Identity, tau: number, k = DEFAULT_TOP_K): ImageScore {
  assertSameRecognizer(analysis.recognizerId, identity.recognizerId);
  const faceCount = analysis.faces.length;
  const face = primaryFace(analysis);
  if (!face) return { similarity: null, match: false, faceCount, recognizerId: identity.recognizerId, perReference: [] };
  const { similarity, perReference } = identitySimilarity(face.embedding, identity, k);
  return { similarity, match: faceCount === 1 && similarity >= tau, faceCount, recognizerId: identity.recognizerId, perReference };
}
