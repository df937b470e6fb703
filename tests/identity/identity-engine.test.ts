/**
 * The identity engine on real faces (../shared/data/faces-bbt): pair accuracy at the shipped tau,
 * the detection retry chain, dataset checks and the recogniser guard. One engine (two workers)
 * for the whole file.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildIdentity,
  checkDataset,
  cosineSimilarity,
  createIdentityEngine,
  cropForTraining,
  IncomparableRecognizersError,
  operatingPoint,
  scoreImage,
  tauFor,
  IDENTITY_THRESHOLDS,
} from '../../src/identity/index.js';
import type { FaceAnalysis, IdentityEngine, ScoredPair } from '../../src/identity/index.js';
import { FACES_DIR, HAVE_FACES, facesBbtPhotos, groupPhotos } from './faces-data.fixture.js';

describe.skipIf(!HAVE_FACES)('identity engine on faces-bbt', () => {
  let engine: IdentityEngine;
  let tau: number;
  const analyses = new Map<string, FaceAnalysis>();
  const photos = facesBbtPhotos();

  beforeAll(async () => {
    engine = await createIdentityEngine({ workers: 2 });
    tau = tauFor(engine.recognizerId);
    await Promise.all(photos.map(async (p) => analyses.set(p.file, await engine.analyze(await readFile(p.file)))));
  });
  afterAll(async () => engine?.close());

  it('finds exactly one face in every single-person photo, each with a unit 128-d embedding', () => {
    for (const p of photos) {
      const a = analyses.get(p.file)!;
      expect(a.faces.length, p.file).toBe(1);
      const e = a.faces[0]!.embedding;
      expect(e).toHaveLength(128);
      expect(Math.hypot(...e)).toBeCloseTo(1, 4);
      expect(a.recognizerId).toBe(engine.recognizerId);
    }
  });

  it('scores every same-person and different-person pair above the measured accuracy at the shipped tau', () => {
    const pairs: ScoredPair[] = [];
    for (let i = 0; i < photos.length; i++) {
      for (let j = i + 1; j < photos.length; j++) {
        const a = analyses.get(photos[i]!.file)!.faces[0];
        const b = analyses.get(photos[j]!.file)!.faces[0];
        pairs.push({ same: photos[i]!.person === photos[j]!.person, similarity: a && b ? cosineSimilarity(a.embedding, b.embedding) : null });
      }
    }
    expect(pairs.filter((p) => p.same)).toHaveLength(80);
    expect(pairs.filter((p) => !p.same)).toHaveLength(1001);
    const op = operatingPoint(pairs, tau);
    const measured = IDENTITY_THRESHOLDS[engine.recognizerId]!;
    console.log(`faces-bbt pairs at tau ${tau}: accuracy ${op.accuracy.toFixed(4)}, FAR ${op.far.toFixed(4)}, FRR ${op.frr.toFixed(4)}`);
    expect(op.accuracy).toBeGreaterThanOrEqual(measured.originalsAccuracy - 0.015);
    expect(op.far).toBeLessThanOrEqual(0.01);
  });

  it('scores an image against an identity of several references (top-k mean)', () => {
    const amy = photos.filter((p) => p.person === 'amy');
    const refs = amy.slice(0, 4).map((p) => ({ recognizerId: engine.recognizerId, vector: analyses.get(p.file)!.faces[0]!.embedding }));
    const identity = buildIdentity(refs);
    const same = scoreImage(analyses.get(amy[4]!.file)!, identity, tau);
    const other = scoreImage(analyses.get(photos.find((p) => p.person === 'raj')!.file)!, identity, tau);
    expect(same.match).toBe(true);
    expect(same.perReference).toHaveLength(4);
    expect(other.match).toBe(false);
    expect(other.similarity!).toBeLessThan(same.similarity!);
  });

  it('refuses to compare scores or embeddings of two recognisers', () => {
    const a = analyses.get(photos[0]!.file)!;
    const identity = buildIdentity([{ recognizerId: 'onnx:other@sha256-0', vector: a.faces[0]!.embedding }]);
    expect(() => scoreImage(a, identity, tau)).toThrow(IncomparableRecognizersError);
    expect(() => buildIdentity([
      { recognizerId: engine.recognizerId, vector: [1, 0] },
      { recognizerId: 'onnx:other@sha256-0', vector: [1, 0] },
    ])).toThrow(IncomparableRecognizersError);
  });

  it('retries a tight 100 px crop that the first pass misses, and records every attempt', async () => {
    const source = path.join(FACES_DIR, 'identities/amy/amy4.png');
    const crop = await sharp(source).extract({ left: 25, top: 25, width: 100, height: 100 }).png().toBuffer();
    const a = await engine.analyze(crop);
    expect(a.attempts[0]).toMatchObject({ step: 'plain', facesFound: 0 });
    expect(a.attempts.length).toBeGreaterThan(1);
    expect(a.attempts.at(-1)!.facesFound).toBe(1);
    expect(a.faces).toHaveLength(1);
    // Still Amy: the retried face matches the full photo.
    const full = analyses.get(source)!.faces[0]!;
    expect(cosineSimilarity(a.faces[0]!.embedding, full.embedding)).toBeGreaterThanOrEqual(tau);
  });

  it('rejects every group photo as more than one face', async () => {
    const groups = await Promise.all(groupPhotos().map(async (f) => ({ id: path.basename(f), bytes: await readFile(f) })));
    expect(groups).toHaveLength(5);
    const verdicts = await checkDataset(engine, groups, { minSide: 100 });
    for (const v of verdicts) {
      expect(v.accepted, v.id).toBe(false);
      expect(v.faceCount, v.id).toBeGreaterThan(1);
      expect(v.reasons.find((r) => r.code === 'multiple_faces')?.message).toMatch(/more than one face/);
    }
  });

  it('accepts a clean set and flags a blurred copy, a resized re-encode and another person', async () => {
    const amy = photos.filter((p) => p.person === 'amy');
    const images = await Promise.all(amy.map(async (p) => ({ id: path.basename(p.file), bytes: new Uint8Array(await readFile(p.file)) })));
    const original = images[1]!.bytes;
    images.push({ id: 'blurred.png', bytes: await sharp(original).blur(1.5).png().toBuffer() });
    images.push({ id: 'resized.jpg', bytes: await sharp(images[3]!.bytes).resize(120).jpeg({ quality: 75 }).toBuffer() });
    images.push({ id: 'raj.png', bytes: await readFile(photos.find((p) => p.person === 'raj')!.file) });
    const verdicts = await checkDataset(engine, images, { minSide: 100 });
    const byId = new Map(verdicts.map((v) => [v.id, v]));
    for (const id of ['amy2.png', 'amy3.png', 'amy4.png', 'amy5.png']) expect(byId.get(id)!.reasons, id).toEqual([]);
    expect(byId.get('blurred.png')!.reasons.map((r) => r.code)).toContain('blurry');
    expect(byId.get('amy2.png')!.sharpness!).toBeGreaterThan(byId.get('blurred.png')!.sharpness!);
    expect(byId.get('resized.jpg')!.reasons).toContainEqual({ code: 'duplicate', message: 'near-duplicate of amy4.png' });
    expect(byId.get('raj.png')!.reasons.map((r) => r.code)).toEqual(['identity_outlier']);
    expect(byId.get('amy4.png')!.phash).toMatch(/^[0-9a-f]{16}$/);
  });

  it('rejects a photo below the minimum side and one that does not decode', async () => {
    const verdicts = await checkDataset(engine, [
      { id: 'small', bytes: await readFile(photos[0]!.file) },
      { id: 'junk', bytes: new TextEncoder().encode('not an image') },
    ], { minSide: 512 });
    expect(verdicts[0]!.reasons.map((r) => r.code)).toContain('too_small');
    expect(verdicts[1]!.reasons.map((r) => r.code)).toEqual(['decode_failed']);
  });

  it('crops a training square around the face', async () => {
    const file = path.join(FACES_DIR, 'single/happy.jpg');
    const box = analyses.get(file)!.faces[0]!.box;
    const out = await cropForTraining(await readFile(file), box, 256);
    const meta = await sharp(out).metadata();
    expect([meta.width, meta.height]).toEqual([256, 256]);
    const again = await engine.analyze(out);
    expect(again.faces).toHaveLength(1);
    // The face fills about the requested share (0.45) of the crop.
    expect(again.faces[0]!.box.width / 256).toBeGreaterThan(0.3);
    expect(again.faces[0]!.box.width / 256).toBeLessThan(0.65);
  });

  it('keeps the event loop free while faces are analysed', async () => {
    const bytes = await readFile(photos[0]!.file);
    let ticks = 0;
    const timer = setInterval(() => ticks++, 5);
    await Promise.all(Array.from({ length: 6 }, () => engine.analyze(bytes)));
    clearInterval(timer);
    expect(ticks).toBeGreaterThan(5);
  });
});
