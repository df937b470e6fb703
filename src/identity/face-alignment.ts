/**
 * Alignment: a 5-point similarity transform (rotation, uniform scale, translation; no shear) from
 * the detected landmarks to the recogniser's template, then a bilinear warp into the recogniser's
 * input. A similarity transform keeps the face's proportions: an affine fit through 3 points
 * shears profiles and cost the held-out profile set ~25 points (DESIGN.md).
 */
import type { Landmarks5, Point } from './identity.types.js';

/** Row-major 2x3 matrix [a, b, c, d, e, f]: x' = a x + b y + c, y' = d x + e y + f. */
export type Affine = [number, number, number, number, number, number];

/** 68-point (iBUG layout) -> the module's 5 points (see Landmarks5 for the order). */
export function landmarks5From68(points: readonly { x: number; y: number }[]): Landmarks5 {
  if (points.length !== 68) throw new Error(`expected 68 landmarks, got ${points.length}`);
  const mean = (from: number, to: number): Point => {
    let x = 0;
    let y = 0;
    for (let i = from; i <= to; i++) {
      x += points[i]!.x;
      y += points[i]!.y;
    }
    const n = to - from + 1;
    return [x / n, y / n];
  };
  const at = (i: number): Point => [points[i]!.x, points[i]!.y];
  return [mean(36, 41), mean(42, 47), at(30), at(48), at(54)];
}

/**
 * Least-squares similarity transform mapping `from` onto `to` (Umeyama without reflection).
 * Used template -> image, so the warp can sample the source for each output pixel.
 */
export function similarityTransform(from: readonly Point[], to: readonly Point[]): Affine {
  if (from.length !== to.length || from.length < 2) throw new Error('need matching point lists of 2 or more');
  const n = from.length;
  let fx = 0, fy = 0, tx = 0, ty = 0;
  for (let i = 0; i < n; i++) {
    fx += from[i]![0]; fy += from[i]![1]; tx += to[i]![0]; ty += to[i]![1];
  }
  fx /= n; fy /= n; tx /= n; ty /= n;
  let dot = 0, cross = 0, spread = 0;
  for (let i = 0; i < n; i++) {
    const ax = from[i]![0] - fx, ay = from[i]![1] - fy;
    const bx = to[i]![0] - tx, by = to[i]![1] - ty;
    dot += ax * bx + ay * by;
    cross += ax * by - ay * bx;
    spread += ax * ax + ay * ay;
  }
  if (spread === 0) throw new Error('degenerate landmarks');
  const sc = dot / spread; // scale * cos(angle)
  const ss = cross / spread; // scale * sin(angle)
  return [sc, -ss, tx - (sc * fx - ss * fy), ss, sc, ty - (ss * fx + sc * fy)];
}

export function applyAffine(m: Affine, p: Point): Point {
  return [m[0] * p[0] + m[1] * p[1] + m[2], m[3] * p[0] + m[4] * p[1] + m[5]];
}

/**
 * Samples an RGB image (interleaved bytes) at out(x, y) = src(M [x, y, 1]) with bilinear
 * interpolation; outside the image the nearest edge pixel is repeated (a black border would be a
 * strong false feature for the recogniser). Returns interleaved RGB floats 0..255.
 */
export function warpRgb(
  src: Uint8Array,
  width: number,
  height: number,
  m: Affine,
  outWidth: number,
  outHeight: number,
): Float32Array {
  const out = new Float32Array(outWidth * outHeight * 3);
  const maxX = width - 1;
  const maxY = height - 1;
  let o = 0;
  for (let y = 0; y < outHeight; y++) {
    for (let x = 0; x < outWidth; x++) {
      const sx = Math.min(maxX, Math.max(0, m[0] * x + m[1] * y + m[2]));
      const sy = Math.min(maxY, Math.max(0, m[3] * x + m[4] * y + m[5]));
      const x0 = Math.floor(sx), y0 = Math.floor(sy);
      const x1 = Math.min(maxX, x0 + 1), y1 = Math.min(maxY, y0 + 1);
      const fx = sx - x0, fy = sy - y0;
      const i00 = (y0 * width + x0) * 3, i01 = (y0 * width + x1) * 3;
      const i10 = (y1 * width + x0) * 3, i11 = (y1 * width + x1) * 3;
      for (let c = 0; c < 3; c++) {
        const top = src[i00 + c]! * (1 - fx) + src[i01 + c]! * fx;
        const bottom = src[i10 + c]! * (1 - fx) + src[i11 + c]! * fx;
        out[o++] = top * (1 - fy) + bottom * fy;
      }
    }
  }
  return out;
}

/** Aligns one face: the chip the recogniser expects, as interleaved RGB floats 0..255. */
export function alignFace(
  src: Uint8Array,
  width: number,
  height: number,
  landmarks: Landmarks5,
  template: Landmarks5,
  inputWidth: number,
  inputHeight: number,
): Float32Array {
  return warpRgb(src, width, height, similarityTransform(template, landmarks), inputWidth, inputHeight);
}
