/**
 * The replacement Concat and Slice kernels of the wasm backend (src/identity/wasm-copy-kernels.ts)
 * must give exactly what the stock kernels give: every case is run with the stock kernels first,
 * then again after installing the replacements, and compared element for element.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { TfKernelRegistry } from '../../src/identity/wasm-copy-kernels.js';
import { installFastWasmCopyKernels } from '../../src/identity/wasm-copy-kernels.js';

const require = createRequire(import.meta.url);

interface Tensor {
  dataSync(): ArrayLike<number>;
  shape: number[];
  dtype: string;
  dispose(): void;
}
interface Tf extends TfKernelRegistry {
  setBackend(name: string): Promise<boolean>;
  ready(): Promise<void>;
  getBackend(): string;
  tensor(values: ArrayLike<number>, shape: number[], dtype: 'float32' | 'int32' | 'bool'): Tensor;
  concat(tensors: Tensor[], axis: number): Tensor;
  slice(x: Tensor, begin: number[], size: number[]): Tensor;
  fill(shape: number[], value: number, dtype: 'float32'): Tensor;
}

const tf = require('@tensorflow/tfjs-core') as Tf;

/** A deterministic pseudo-random generator, so a failure reproduces. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function values(n: number, dtype: 'float32' | 'int32' | 'bool', next: () => number): number[] {
  return Array.from({ length: n }, () => (dtype === 'float32' ? next() * 510 - 255 : dtype === 'int32' ? Math.floor(next() * 256) : next() < 0.5 ? 0 : 1));
}

type Case = () => Tensor;

function cases(): { name: string; run: Case }[] {
  const next = rng(42);
  const out: { name: string; run: Case }[] = [];
  const dtypes = ['float32', 'int32', 'bool'] as const;
  // Concat: ranks 1-4, every axis, 2-3 inputs of different widths along the axis, incl. an empty one.
  for (let rank = 1; rank <= 4; rank++) {
    for (let axis = -1; axis < rank; axis++) {
      for (const dtype of dtypes) {
        const base = Array.from({ length: rank }, () => 1 + Math.floor(next() * 5));
        const widths = [1 + Math.floor(next() * 3), 1 + Math.floor(next() * 40), rank > 1 && axis === 0 ? 0 : 2];
        const a = axis < 0 ? rank - 1 : axis;
        const shapes = widths.map((w) => base.map((d, i) => (i === a ? w : d)));
        const data = shapes.map((s) => values(s.reduce((p, d) => p * d, 1), dtype, next));
        out.push({
          name: `concat rank ${rank} axis ${axis} ${dtype} ${JSON.stringify(shapes)}`,
          run: () => {
            const inputs = shapes.map((s, i) => tf.tensor(data[i]!, s, dtype));
            const result = tf.concat(inputs, axis);
            inputs.forEach((t) => t.dispose());
            return result;
          },
        });
      }
    }
  }
  // face-api's normalize: three one-channel fills concatenated on the channel axis.
  out.push({
    name: 'concat of per-channel fills (face-api normalize)',
    run: () => {
      const fills = [122.782, 117.001, 104.298].map((v) => tf.fill([2, 150, 150, 1], v, 'float32'));
      const result = tf.concat(fills, 3);
      fills.forEach((t) => t.dispose());
      return result;
    },
  });
  // Slice: crops of an HxWx3 image (the fast path) and slices that are not (the stock path).
  const image = values(37 * 53 * 3, 'int32', next);
  const crops: [number[], number[]][] = [
    [[0, 0, 0], [37, 53, 3]],
    [[5, 7, 0], [20, 30, 3]],
    [[36, 52, 0], [1, 1, 3]],
    [[3, 0, 0], [10, 53, 3]],
    [[4, 9, 0], [-1, -1, -1]],
    [[2, 3, 1], [10, 10, 2]],
    [[0, 0, 0], [0, 5, 3]],
  ];
  for (const [begin, size] of crops) {
    out.push({
      name: `slice ${JSON.stringify(begin)} ${JSON.stringify(size)}`,
      run: () => {
        const x = tf.tensor(image, [37, 53, 3], 'int32');
        const result = tf.slice(x, begin, size);
        x.dispose();
        return result;
      },
    });
  }
  const flat = values(6 * 7, 'float32', next);
  out.push({
    name: 'slice of a 2-D tensor',
    run: () => {
      const x = tf.tensor(flat, [6, 7], 'float32');
      const result = tf.slice(x, [1, 2], [4, 3]);
      x.dispose();
      return result;
    },
  });
  return out;
}

describe('wasm Concat and Slice replacements', () => {
  const all = cases();
  const stock = new Map<string, { shape: number[]; dtype: string; data: number[] }>();

  beforeAll(async () => {
    const wasm = require('@tensorflow/tfjs-backend-wasm') as { setWasmPaths(p: string): void };
    wasm.setWasmPaths(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm')) + path.sep);
    expect(await tf.setBackend('wasm')).toBe(true);
    await tf.ready();
    for (const c of all) {
      const t = c.run();
      stock.set(c.name, { shape: t.shape, dtype: t.dtype, data: Array.from(t.dataSync()) });
      t.dispose();
    }
    installFastWasmCopyKernels(tf);
  });

  it('is installed on the wasm backend', () => {
    expect(tf.getBackend()).toBe('wasm');
    expect(tf.getKernel('Concat', 'wasm')).toBeDefined();
    expect(tf.getKernel('Slice', 'wasm')).toBeDefined();
    // Installing twice keeps one replacement (no double wrapping).
    const once = tf.getKernel('Concat', 'wasm')!.kernelFunc;
    installFastWasmCopyKernels(tf);
    expect(tf.getKernel('Concat', 'wasm')!.kernelFunc).toBe(once);
  });

  it.each(all.map((c) => [c.name, c] as const))('%s: same shape, dtype and values as the stock kernel', (_name, c) => {
    const t = c.run();
    const expected = stock.get(c.name)!;
    expect({ shape: t.shape, dtype: t.dtype }).toEqual({ shape: expected.shape, dtype: expected.dtype });
    const got = Array.from(t.dataSync());
    t.dispose();
    // Report the first difference rather than diffing arrays of up to 135,000 numbers.
    const first = got.findIndex((v, i) => !Object.is(v, expected.data[i]));
    expect(got.length).toBe(expected.data.length);
    expect(first === -1 ? null : { index: first, got: got[first], expected: expected.data[first] }).toBeNull();
  });
});
