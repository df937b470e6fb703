/**
 * Builds a calibration set with the variation production has: every labelled photo plus
 * augmented copies (rotation, scale down to thumbnail size, tighter and looser crops, blur, JPEG,
 * lighting, mirror), embeds them with the engine and scores all same-person and different-person
 * pairs. Pairs of a photo with its own copies are left out: they would make the task look easier
 * than it is.
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import type { Sharp } from 'sharp';
import type { IdentityEngine } from './identity-engine.js';
import type { ScoredPair } from './calibration-metrics.js';
import { cosineSimilarity } from './similarity.js';

export interface LabelledPhoto {
  person: string;
  file: string;
}

const IMAGE_EXT = /\.(png|jpe?g|webp|avif|tiff?)$/i;

export interface CollectOptions {
  /** Folders whose files are each a different person (faces-bbt's `single`). */
  singles?: string[];
  /** Folders that are ignored (faces-bbt's `group` of multi-face photos). */
  skip?: string[];
}

/**
 * People from a folder tree: a folder of images is one person (named by its path); files in the
 * `singles` folders and loose files at the top are one-photo people (negatives only).
 */
export async function collectPhotos(dir: string, opts: CollectOptions = {}): Promise<LabelledPhoto[]> {
  const singles = new Set(opts.singles ?? ['single', 'singles']);
  const skip = new Set(opts.skip ?? ['group', 'groups']);
  const out: LabelledPhoto[] = [];
  async function walk(folder: string, rel: string, eachIsOwnPerson: boolean): Promise<void> {
    const entries = (await readdir(folder, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name));
    for (const e of entries) {
      const full = path.join(folder, e.name);
      if (e.isDirectory()) {
        if (skip.has(e.name)) continue;
        await walk(full, rel ? `${rel}/${e.name}` : e.name, singles.has(e.name));
      } else if (IMAGE_EXT.test(e.name)) {
        const person = eachIsOwnPerson || !rel ? `${rel ? rel + '/' : ''}${e.name}` : rel;
        out.push({ person, file: full });
      }
    }
  }
  await walk(dir, '', true);
  return out;
}

export type Augmentation = (img: Sharp, width: number, height: number) => Sharp;

/** The variations calibration covers; names appear in the report. */
export const AUGMENTATIONS: Record<string, Augmentation> = {
  original: (s) => s,
  'rotate+15': (s) => s.rotate(15, { background: '#7f7f7f' }),
  'rotate-25': (s) => s.rotate(-25, { background: '#7f7f7f' }),
  'thumb-100px': (s, w, h) => s.resize(Math.round((100 * w) / Math.max(w, h))),
  'thumb-64px': (s, w, h) => s.resize(Math.round((64 * w) / Math.max(w, h))),
  'crop-tight-80%': (s, w, h) =>
    s.extract({ left: Math.round(w * 0.1), top: Math.round(h * 0.1), width: Math.round(w * 0.8), height: Math.round(h * 0.8) }),
  'pad-context-40%': (s, w, h) => {
    const p = Math.round(Math.max(w, h) * 0.4);
    return s.extend({ top: p, bottom: p, left: p, right: p, extendWith: 'mirror' });
  },
  'blur-1%': (s, w, h) => s.blur(Math.max(0.3, Math.min(w, h) * 0.01)),
  'jpeg-q15': (s) => s.jpeg({ quality: 15 }),
  'dark-45%': (s) => s.linear(0.45, 0),
  'bright-flat': (s) => s.linear(0.6, 110),
  mirror: (s) => s.flop(),
};

export async function augment(bytes: Uint8Array, name: string): Promise<Buffer> {
  const fn = AUGMENTATIONS[name];
  if (!fn) throw new Error(`unknown augmentation ${name}`);
  const meta = await sharp(bytes).metadata();
  // Re-decode the JPEG result so the artefacts are in the pixels, then hand over a PNG.
  const once = await fn(sharp(bytes).removeAlpha(), meta.width ?? 1, meta.height ?? 1).toBuffer();
  return sharp(once).png().toBuffer();
}

export interface CalibrationSample {
  person: string;
  source: string;
  augmentation: string;
  /** Null when no face was found. */
  embedding: number[] | null;
  attempts: number;
}

export async function embedCalibrationSet(
  engine: IdentityEngine,
  photos: readonly LabelledPhoto[],
  augmentations: readonly string[] = Object.keys(AUGMENTATIONS),
  onProgress?: (done: number, total: number) => void,
): Promise<CalibrationSample[]> {
  const total = photos.length * augmentations.length;
  let done = 0;
  const jobs = photos.flatMap((photo) =>
    augmentations.map(async (name): Promise<CalibrationSample> => {
      const bytes = await augment(await readFile(photo.file), name);
      const analysis = await engine.analyze(bytes);
      onProgress?.(++done, total);
      return {
        person: photo.person,
        source: photo.file,
        augmentation: name,
        embedding: analysis.faces[0]?.embedding ?? null,
        attempts: analysis.attempts.length,
      };
    }),
  );
  return Promise.all(jobs);
}

/** Every pair of samples from different source photos, labelled same/different person. */
export function scorePairs(samples: readonly CalibrationSample[]): ScoredPair[] {
  const pairs: ScoredPair[] = [];
  for (let i = 0; i < samples.length; i++) {
    const a = samples[i]!;
    for (let j = i + 1; j < samples.length; j++) {
      const b = samples[j]!;
      if (a.source === b.source) continue;
      const similarity = a.embedding && b.embedding ? cosineSimilarity(a.embedding, b.embedding) : null;
      pairs.push({ same: a.person === b.person, similarity });
    }
  }
  return pairs;
}
