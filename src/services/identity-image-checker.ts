/**
 * Dataset checks with the identity engine: the basic checks plus exactly one face, sharpness,
 * near-duplicates and identity outliers. New images are judged together with the character's
 * already accepted images, so a duplicate of an earlier upload or a different person's face is
 * caught, but only the new images get (and store) a verdict.
 */
import type { IdentityEngine } from '../identity/index.js';
import { checkDataset } from '../identity/index.js';
import type { DecodedImage, ImageChecker, ImageVerdict } from './image-checker.js';

export class IdentityImageChecker implements ImageChecker {
  constructor(
    private readonly engine: IdentityEngine,
    private readonly rules: { minSide: number; minSharpness?: number },
  ) {}

  async check(
    newImages: { id: string; bytes: Buffer; decoded: DecodedImage }[],
    existing: { id: string; bytes: () => Promise<Buffer> }[],
  ): Promise<Map<string, ImageVerdict>> {
    const earlier = await Promise.all(existing.map(async (e) => ({ id: e.id, bytes: await e.bytes() })));
    const rules: { minSide: number; minSharpness?: number } = { minSide: this.rules.minSide };
    if (this.rules.minSharpness !== undefined) rules.minSharpness = this.rules.minSharpness;
    const verdicts = await checkDataset(this.engine, [...earlier, ...newImages.map((n) => ({ id: n.id, bytes: n.bytes }))], rules);
    const wanted = new Set(newImages.map((n) => n.id));
    const out = new Map<string, ImageVerdict>();
    for (const v of verdicts) {
      if (!wanted.has(v.id)) continue;
      out.set(v.id, { accepted: v.accepted, reasons: v.reasons.map((r) => ({ code: r.code, message: r.message })), faceBox: v.faceBox ?? null });
    }
    return out;
  }
}
