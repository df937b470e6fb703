/** Pure parts of the identity module: geometry, metrics, thresholds, hashes, CSV. No models. */
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { applyAffine, landmarks5From68, similarityTransform } from '../../src/identity/face-alignment.js';
import type { Affine } from '../../src/identity/face-alignment.js';
import {
  buildIdentity,
  detectCopyPaste,
  hammingDistance,
  identitySimilarity,
  operatingPoint,
  perceptualHash,
  sharpness,
  summarizeConsistency,
  tarAtFar,
  tauAtFar,
  wilsonInterval,
} from '../../src/identity/index.js';
import type { ImageScore, Point } from '../../src/identity/index.js';
import { parseCsv } from '../../src/cli/commands/faces.command.js';

describe('alignment', () => {
  it('recovers a rotation + scale + shift exactly (no shear)', () => {
    const from: Point[] = [[10, 10], [40, 12], [25, 30], [14, 45], [38, 44]];
    const angle = 0.4, scale = 1.7;
    const truth: Affine = [scale * Math.cos(angle), -scale * Math.sin(angle), 5, scale * Math.sin(angle), scale * Math.cos(angle), -3];
    const to = from.map((p) => applyAffine(truth, p));
    const m = similarityTransform(from, to);
    m.forEach((v, i) => expect(v).toBeCloseTo(truth[i]!, 9));
  });

  it('derives eye centres, nose tip and mouth corners from 68 points', () => {
    const pts = Array.from({ length: 68 }, (_, i) => ({ x: i, y: 2 * i }));
    const five = landmarks5From68(pts);
    expect(five).toEqual([[38.5, 77], [44.5, 89], [30, 60], [48, 96], [54, 108]]);
  });
});

describe('calibration metrics', () => {
  const pairs = [
    ...[0.95, 0.93, 0.92, 0.9, null].map((similarity) => ({ same: true, similarity })),
    ...[0.91, 0.85, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, null].map((similarity) => ({ same: false, similarity })),
  ];

  it('counts a missing face as wrong for both labels, but not as a false accept', () => {
    const op = operatingPoint(pairs, 0.915);
    expect(op.far).toBe(0);
    expect(op.frr).toBeCloseTo(2 / 5);
    expect(op.accuracy).toBeCloseTo((0.9 + 0.6) / 2);
  });

  it('picks the smallest tau meeting the false-accept target', () => {
    expect(tauAtFar(pairs, 0)).toBeGreaterThan(0.91);
    expect(tauAtFar(pairs, 0)).toBeLessThan(0.9101);
    expect(tauAtFar(pairs, 0.1)).toBeGreaterThan(0.85);
    expect(tarAtFar(pairs, 0.1).tar).toBeCloseTo(4 / 5);
  });

  it('Wilson 95% interval: 19/20 is not a proof of 95%', () => {
    const w = wilsonInterval(19, 20);
    expect(w.low).toBeCloseTo(0.7639, 3);
    expect(w.high).toBeCloseTo(0.9911, 3);
    expect(wilsonInterval(980, 1000).low).toBeGreaterThan(0.969);
  });
});

describe('identity scores and consistency', () => {
  const rid = 'test@1';
  const unit = (deg: number) => [Math.cos((deg * Math.PI) / 180), Math.sin((deg * Math.PI) / 180)];

  it('averages the k best references', () => {
    const identity = buildIdentity([0, 10, 20, 90].map((d) => ({ recognizerId: rid, vector: unit(d) })));
    const { similarity, perReference } = identitySimilarity(unit(5), identity, 3);
    expect(perReference).toHaveLength(4);
    expect(similarity).toBeCloseTo((Math.cos(0.0873) * 2 + Math.cos(0.2618)) / 3, 3);
    // The robust centre ignores the 90-degree outlier reference.
    expect(Math.atan2(identity.centre[1]!, identity.centre[0]!) * (180 / Math.PI)).toBeCloseTo(10, 0);
  });

  it('summarises match rate, similarity spread and face-count rates; copies never count as matches', () => {
    const s = (similarity: number | null, faceCount: number, match: boolean, copyPaste = false): ImageScore & { copyPaste: boolean } => ({
      similarity, faceCount, match, copyPaste, recognizerId: rid, perReference: [],
    });
    const sum = summarizeConsistency([s(0.95, 1, true), s(0.96, 1, true, true), s(0.7, 1, false), s(null, 0, false), s(0.93, 2, false)]);
    expect(sum.evaluated).toBe(5);
    expect(sum.matched).toBe(1);
    expect(sum.noFaceRate).toBeCloseTo(0.2);
    expect(sum.multiFaceRate).toBeCloseTo(0.2);
    expect(sum.meanSimilarity).toBeCloseTo((0.95 + 0.96 + 0.7) / 3);
    expect(sum.copyPasteFlagged).toBe(1);
    expect(() => summarizeConsistency([s(0.9, 1, true), { ...s(0.9, 1, true), recognizerId: 'other@2' }])).toThrow(/several recognisers/);
  });

  it('flags an output that reproduces one reference, not a good likeness of all of them', () => {
    expect(detectCopyPaste({ perReference: [0.93, 0.94, 0.92, 0.935] }, null, []).copyPaste).toBe(false);
    expect(detectCopyPaste({ perReference: [0.92, 0.99, 0.91, 0.92] }, null, [])).toMatchObject({ copyPaste: true, referenceIndex: 1 });
    expect(detectCopyPaste({ perReference: [0.9, 0.97, 0.9] }, null, [])).toMatchObject({ copyPaste: true, reason: 'one_reference' });
    expect(detectCopyPaste({ perReference: [0.9] }, 'ffff000000000000', [null, 'ffff000000000001'])).toMatchObject({ copyPaste: true, reason: 'hash', referenceIndex: 1 });
  });
});

describe('image quality', () => {
  it('hashes a resized re-encode close to the original and a different image far from it', async () => {
    const a = await sharp({ create: { width: 200, height: 160, channels: 3, background: '#808080' } })
      .composite([{ input: Buffer.from('<svg width="200" height="160"><circle cx="70" cy="60" r="40" fill="white"/><rect x="120" y="90" width="60" height="50" fill="black"/></svg>') }])
      .png().toBuffer();
    const b = await sharp(a).resize(120).jpeg({ quality: 60 }).toBuffer();
    const c = await sharp(a).flop().png().toBuffer();
    const [ha, hb, hc] = await Promise.all([perceptualHash(a), perceptualHash(b), perceptualHash(c)]);
    expect(hammingDistance(ha, hb)).toBeLessThanOrEqual(4);
    expect(hammingDistance(ha, hc)).toBeGreaterThan(16);
    expect(await sharpness(a)).toBeGreaterThan(await sharpness(await sharp(a).blur(3).png().toBuffer()));
  });
});

describe('faces pairs CSV', () => {
  it('reads quoted fields and CRLF', () => {
    expect(parseCsv('file_x,file_y\r\n"a,1.png","b ""2"".png"\r\nc.png,d.png\n')).toEqual([['file_x', 'file_y'], ['a,1.png', 'b "2".png'], ['c.png', 'd.png']]);
  });
});
