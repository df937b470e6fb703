/**
 * Checks a character's images before training: each image gets a verdict with every reason it is
 * rejected, so the API can show them and the trainer can skip rejected images. Checks: decodes,
 * minimum side, exactly one face, sharpness of the face, near-duplicates (perceptual hash), and
 * identity outliers (a face that does not match the rest of the set).
 */
import sharp from 'sharp';
import type { FaceBox } from './identity.types.js';
import type { IdentityEngine } from './identity-engine.js';
import { hammingDistance, perceptualHash, sharpness } from './image-quality.js';
import { cosineSimilarity } from './similarity.js';
import { tauFor } from './identity-thresholds.js';

export type ReasonCode =
  | 'decode_failed'
  | 'too_small'
  | 'no_face'
  | 'multiple_faces'
  | 'blurry'
  | 'duplicate'
  | 'identity_outlier';

export interface Reason {
  code: ReasonCode;
  message: string;
}

export interface DatasetRules {
  /** Shorter image side, px. Production default 512 (training resolutions start there). */
  minSide: number;
  /**
   * Minimum variance of the Laplacian of the face region at the fixed measuring scale
   * (image-quality.ts). Calibrated on faces-bbt: see docs/identity.md.
   */
  minSharpness: number;
  /** Perceptual hashes this many bits apart or closer are near-duplicates. */
  maxDuplicateDistance: number;
  /** Same-person threshold of the engine's recogniser (identity-thresholds.ts). */
  tau: number;
}

export const DEFAULT_MIN_SHARPNESS = 10;
export const DEFAULT_MAX_DUPLICATE_DISTANCE = 8;

/** Production defaults; tau is the recogniser's calibrated one unless given. */
export function defaultDatasetRules(recognizerId: string, tau?: number): DatasetRules {
  return {
    minSide: 512,
    minSharpness: DEFAULT_MIN_SHARPNESS,
    maxDuplicateDistance: DEFAULT_MAX_DUPLICATE_DISTANCE,
    tau: tau ?? tauFor(recognizerId),
  };
}

export interface ImageVerdict {
  id: string;
  accepted: boolean;
  reasons: Reason[];
  width: number | null;
  height: number | null;
  faceCount: number;
  faceBox: FaceBox | null;
  sharpness: number | null;
  phash: string | null;
  /** Top-k mean similarity to the other single-face images of the set (null when not computed). */
  setSimilarity: number | null;
  /** Embedding of the face, for building the identity from the accepted images. */
  embedding: number[] | null;
  recognizerId: string;
}

async function measure(engine: IdentityEngine, img: { id: string; bytes: Uint8Array }, rules: DatasetRules): Promise<ImageVerdict> {
  const verdict: ImageVerdict = {
    id: img.id,
    accepted: false,
    reasons: [],
    width: null,
    height: null,
    faceCount: 0,
    faceBox: null,
    sharpness: null,
    phash: null,
    setSimilarity: null,
    embedding: null,
    recognizerId: engine.recognizerId,
  };
  try {
    // A full decode at the engine's strictness. (`.stats()` decodes as fully, but also computes
    // per-channel statistics nobody reads: ~3x the CPU of a plain decode on a 1024 px JPEG.)
    await sharp(img.bytes, { failOn: 'error' }).raw().toBuffer();
  } catch (err) {
    verdict.reasons.push({ code: 'decode_failed', message: `the file is not a readable image (${(err as Error).message})` });
    return verdict;
  }
  const [analysis, phash] = await Promise.all([engine.analyze(img.bytes), perceptualHash(img.bytes)]);
  verdict.width = analysis.width;
  verdict.height = analysis.height;
  verdict.phash = phash;
  verdict.faceCount = analysis.faces.length;
  const shorter = Math.min(analysis.width, analysis.height);
  if (shorter < rules.minSide) {
    verdict.reasons.push({ code: 'too_small', message: `the shorter side is ${shorter} px; at least ${rules.minSide} px is needed` });
  }
  const face = analysis.faces[0];
  if (!face) {
    verdict.reasons.push({ code: 'no_face', message: 'no face was found' });
  } else if (analysis.faces.length > 1) {
    verdict.reasons.push({ code: 'multiple_faces', message: `more than one face (${analysis.faces.length} found); use photos of the character alone` });
  }
  if (face) {
    verdict.faceBox = face.box;
    verdict.embedding = face.embedding;
  }
  // Sharpness of the face when there is one: a portrait's blurred background is not a defect.
  verdict.sharpness = await sharpness(img.bytes, face ? clampBox(face.box, analysis.width, analysis.height) : undefined).catch(() => sharpness(img.bytes));
  if (verdict.sharpness < rules.minSharpness) {
    verdict.reasons.push({
      code: 'blurry',
      message: `the ${face ? 'face' : 'image'} is blurry (sharpness ${verdict.sharpness.toFixed(1)}, at least ${rules.minSharpness} needed)`,
    });
  }
  return verdict;
}

function clampBox(b: FaceBox, width: number, height: number): FaceBox {
  const x = Math.max(0, b.x);
  const y = Math.max(0, b.y);
  return { x, y, width: Math.min(width, b.x + b.width) - x, height: Math.min(height, b.y + b.height) - y };
}

/** Marks every image whose hash is within the distance of an earlier image's as its duplicate. */
function flagDuplicates(verdicts: ImageVerdict[], maxDistance: number): void {
  const kept: ImageVerdict[] = [];
  for (const v of verdicts) {
    if (!v.phash) continue;
    const twin = kept.find((k) => hammingDistance(k.phash!, v.phash!) <= maxDistance);
    if (twin) v.reasons.push({ code: 'duplicate', message: `near-duplicate of ${twin.id}` });
    else kept.push(v);
  }
}

/**
 * An image is an outlier when its face's mean similarity to the best half of the other faces is
 * below tau: a face must look like most of the set, so a minority of another person is caught
 * even when its own members look alike.
 */
function flagOutliers(verdicts: ImageVerdict[], tau: number): void {
  const candidates = verdicts.filter((v) => v.embedding && v.faceCount === 1 && !v.reasons.some((r) => r.code === 'duplicate'));
  if (candidates.length < 2) return;
  for (const v of candidates) {
    const sims = candidates.filter((o) => o !== v).map((o) => cosineSimilarity(v.embedding!, o.embedding!)).sort((a, b) => b - a);
    const k = Math.ceil(sims.length / 2);
    const top = sims.slice(0, k);
    v.setSimilarity = top.reduce((s, x) => s + x, 0) / top.length;
    if (v.setSimilarity < tau) {
      v.reasons.push({ code: 'identity_outlier', message: `the face does not match the rest of the set (similarity ${v.setSimilarity.toFixed(3)} < ${tau})` });
    }
  }
}

export async function checkDataset(
  engine: IdentityEngine,
  images: readonly { id: string; bytes: Uint8Array }[],
  rules: Partial<DatasetRules> = {},
): Promise<ImageVerdict[]> {
  const full: DatasetRules = { ...defaultDatasetRules(engine.recognizerId, rules.tau), ...rules };
  const verdicts = await Promise.all(images.map((img) => measure(engine, img, full)));
  flagDuplicates(verdicts, full.maxDuplicateDistance);
  flagOutliers(verdicts, full.tau);
  for (const v of verdicts) v.accepted = v.reasons.length === 0;
  return verdicts;
}
