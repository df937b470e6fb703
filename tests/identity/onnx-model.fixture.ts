/**
 * Writes a tiny ONNX embedding model for tests of the ONNX recogniser path: input [1,3,S,S]
 * float -> Reshape [1, 3*S*S] -> MatMul by a fixed pseudo-random matrix -> [1, D]. A hand-rolled
 * protobuf writer keeps the test free of Python and of any downloaded model.
 */
import { writeFile } from 'node:fs/promises';

function varint(n: number | bigint): number[] {
  let v = BigInt(n);
  const out: number[] = [];
  do {
    let byte = Number(v & 0x7fn);
    v >>= 7n;
    if (v > 0n) byte |= 0x80;
    out.push(byte);
  } while (v > 0n);
  return out;
}
const key = (field: number, wire: number) => varint((field << 3) | wire);
const int = (field: number, v: number | bigint) => [...key(field, 0), ...varint(v)];
const bytes = (field: number, b: ArrayLike<number>) => [...key(field, 2), ...varint(b.length), ...Array.from(b)];
const str = (field: number, s: string) => bytes(field, new TextEncoder().encode(s));
const msg = (field: number, body: number[]) => bytes(field, body);

function valueInfo(name: string, dims: number[]): number[] {
  const shape = dims.flatMap((d) => msg(1, int(1, d)));
  return [...str(1, name), ...msg(2, msg(1, [...int(1, 1), ...msg(2, shape)]))];
}

function tensor(name: string, dims: number[], dataType: 1 | 7, raw: Uint8Array): number[] {
  return [...dims.flatMap((d) => int(1, d)), ...int(2, dataType), ...str(8, name), ...bytes(9, raw)];
}

export function projectionWeights(inputs: number, outputs: number): Float32Array {
  // Deterministic LCG so the expected output can be recomputed in the test.
  const w = new Float32Array(inputs * outputs);
  let s = 12345;
  for (let i = 0; i < w.length; i++) {
    s = (s * 1103515245 + 12345) % 2147483648;
    w[i] = s / 2147483648 - 0.5;
  }
  return w;
}

export async function writeProjectionModel(file: string, side: number, outputs: number): Promise<void> {
  const inputs = 3 * side * side;
  const shape = new BigInt64Array([1n, BigInt(inputs)]);
  const weights = projectionWeights(inputs, outputs);
  const graph = [
    ...msg(1, [...str(1, 'input'), ...str(1, 'shape'), ...str(2, 'flat'), ...str(3, 'reshape'), ...str(4, 'Reshape')]),
    ...msg(1, [...str(1, 'flat'), ...str(1, 'W'), ...str(2, 'embedding'), ...str(3, 'project'), ...str(4, 'MatMul')]),
    ...str(2, 'projection'),
    ...msg(5, tensor('shape', [2], 7, new Uint8Array(shape.buffer))),
    ...msg(5, tensor('W', [inputs, outputs], 1, new Uint8Array(weights.buffer))),
    ...msg(11, valueInfo('input', [1, 3, side, side])),
    ...msg(12, valueInfo('embedding', [1, outputs])),
  ];
  const model = [...int(1, 8), ...str(2, 'likeness-tests'), ...msg(7, graph), ...msg(8, [...str(1, ''), ...int(2, 13)])];
  await writeFile(file, new Uint8Array(model));
}
