/** The shared faces-bbt photos, read in place (never copied into the project). */
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const FACES_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../shared/data/faces-bbt');
export const HAVE_FACES = existsSync(path.join(FACES_DIR, 'identities'));
if (!HAVE_FACES) console.warn(`identity tests skipped: ${FACES_DIR} is absent (the shared test photos)`);

export interface Photo {
  person: string;
  file: string;
}

/** 8 people x 5 photos, then 7 one-photo people (labelled by file name). */
export function facesBbtPhotos(): Photo[] {
  if (!HAVE_FACES) return [];
  const ids = path.join(FACES_DIR, 'identities');
  const people = readdirSync(ids).sort().flatMap((p) =>
    readdirSync(path.join(ids, p)).sort().map((f) => ({ person: p, file: path.join(ids, p, f) })),
  );
  const single = path.join(FACES_DIR, 'single');
  const singles = readdirSync(single).sort().map((f) => ({ person: `single/${f}`, file: path.join(single, f) }));
  return [...people, ...singles];
}

export function groupPhotos(): string[] {
  if (!HAVE_FACES) return [];
  const dir = path.join(FACES_DIR, 'group');
  return readdirSync(dir).sort().map((f) => path.join(dir, f));
}
