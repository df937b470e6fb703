/**
 * Faster Concat and Slice kernels for TensorFlow.js's wasm backend (4.22), installed over the
 * stock ones in each face worker.
 *
 * Why: both stock kernels are JavaScript, not wasm, and copy with one `out.set(in.subarray(...))`
 * per innermost run, which for face-api's image tensors means one call per pixel:
 * - Concat: face-api's `normalize` builds its mean-RGB tensor as `concat([fill r, fill g, fill b],
 *   axis 3)`, i.e. 3 runs of one element per pixel: 76,800 calls for one 160 px tiny-detector
 *   input, 1.1 million at 608 px, 135,000 for the recogniser's batch of two 150 px chips. Profiled,
 *   this one op was ~13 % of a worker's CPU time, plus the garbage of the subarray views.
 * - Slice: `extractFaceTensors` crops each face out of the HxWx3 image with one 3-element run per
 *   pixel, after copying the whole image out of the wasm heap (`readSync`).
 * Here short runs are copied element by element and a full-width 3-D slice is copied row by row,
 * straight from the heap. Both are plain copies, so results are bit-identical to the stock kernels
 * (checked on the whole calibration set); every other case goes to the stock kernel unchanged.
 */

/** The narrow part of tfjs-core (kernel registry, util) this module uses. */
export interface TfKernelRegistry {
  getKernel(kernelName: string, backendName: string): KernelConfig | undefined;
  unregisterKernel(kernelName: string, backendName: string): void;
  registerKernel(config: KernelConfig): void;
  util: { parseAxisParam(axis: number | number[], shape: number[]): number[] };
  slice_util: { parseSliceParams(x: TensorInfo, begin: number | number[], size?: number | number[]): number[][] };
}

interface TensorInfo {
  dataId: object;
  shape: number[];
  dtype: string;
}

type Heap = Float32Array | Int32Array | Uint8Array;

interface WasmBackend {
  makeOutput(shape: number[], dtype: string): TensorInfo;
  typedArrayFromHeap(t: TensorInfo): Heap;
}

interface ConcatArgs {
  inputs: TensorInfo[];
  backend: WasmBackend;
  attrs: { axis: number | number[] };
}

interface SliceArgs {
  inputs: { x: TensorInfo };
  backend: WasmBackend;
  attrs: { begin: number | number[]; size: number | number[] };
}

// The registry's kernel functions take each kernel's own argument shape.
type KernelFunc = (args: never) => TensorInfo;

interface KernelConfig {
  kernelName: string;
  backendName: string;
  kernelFunc: KernelFunc;
}

/** Below this many contiguous elements an element loop beats creating a subarray and calling set. */
const SHORT_RUN = 32;

const PATCHED = Symbol('likeness.fastCopyKernel');

function size(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Copies `outer` runs of `run` elements from `src` into `dst`, run b at `b * total + offset`. */
function copyRuns(dst: Heap, src: Heap, outer: number, run: number, total: number, offset: number): void {
  if (run === 1) {
    // face-api's per-channel mean tensor: one element per pixel and input.
    for (let b = 0, to = offset; b < outer; b++, to += total) dst[to] = src[b]!;
  } else if (run < SHORT_RUN) {
    for (let b = 0; b < outer; b++) {
      const from = b * run;
      const to = b * total + offset;
      for (let k = 0; k < run; k++) dst[to + k] = src[from + k]!;
    }
  } else {
    for (let b = 0; b < outer; b++) dst.set(src.subarray(b * run, (b + 1) * run), b * total + offset);
  }
}

function fastConcat(tf: TfKernelRegistry, stock: (args: ConcatArgs) => TensorInfo): (args: ConcatArgs) => TensorInfo {
  return (args) => {
    const { inputs, backend } = args;
    const first = inputs[0];
    const nonEmpty = inputs.filter((t) => size(t.shape) > 0);
    // Strings, a single non-empty input (a no-op) and empty outputs: the stock paths.
    if (!first || first.dtype === 'string' || nonEmpty.length < 2) return stock(args);
    const axis = tf.util.parseAxisParam(args.attrs.axis, first.shape)[0]!;
    const outer = size(first.shape.slice(0, axis));
    const inner = nonEmpty.map((t) => size(t.shape.slice(axis)));
    const total = inner.reduce((a, b) => a + b, 0);
    const outShape = first.shape.slice();
    outShape[axis] = inputs.reduce((n, t) => n + t.shape[axis]!, 0);
    const out = backend.makeOutput(outShape, first.dtype);
    // Views are taken after makeOutput: allocating may grow (and detach) the wasm heap.
    const dst = backend.typedArrayFromHeap(out);
    let offset = 0;
    nonEmpty.forEach((t, i) => {
      copyRuns(dst, backend.typedArrayFromHeap(t), outer, inner[i]!, total, offset);
      offset += inner[i]!;
    });
    return out;
  };
}

function fastSlice(tf: TfKernelRegistry, stock: (args: SliceArgs) => TensorInfo): (args: SliceArgs) => TensorInfo {
  return (args) => {
    const { x } = args.inputs;
    const { backend } = args;
    if (x.dtype === 'string' || x.shape.length !== 3) return stock(args);
    const [begin, extent] = tf.slice_util.parseSliceParams(x, args.attrs.begin, args.attrs.size) as [number[], number[]];
    const [, width, channels] = x.shape as [number, number, number];
    // Only a crop of whole pixels (all channels) of a 3-D image; anything else is the stock path.
    if (begin[2] !== 0 || extent[2] !== channels || size(extent) === 0) return stock(args);
    const out = backend.makeOutput(extent, x.dtype);
    const src = backend.typedArrayFromHeap(x);
    const dst = backend.typedArrayFromHeap(out);
    const run = extent[1]! * channels;
    for (let i = 0; i < extent[0]!; i++) {
      const from = ((begin[0]! + i) * width + begin[1]!) * channels;
      dst.set(src.subarray(from, from + run), i * run);
    }
    return out;
  };
}

function replaceKernel(tf: TfKernelRegistry, name: string, make: (stock: KernelFunc) => KernelFunc): void {
  const stock = tf.getKernel(name, 'wasm');
  if (!stock || (stock.kernelFunc as { [PATCHED]?: true })[PATCHED]) return;
  const kernelFunc = make(stock.kernelFunc);
  (kernelFunc as { [PATCHED]?: true })[PATCHED] = true;
  tf.unregisterKernel(name, 'wasm');
  tf.registerKernel({ ...stock, kernelFunc });
}

/** Replaces the wasm backend's Concat and Slice kernels (once per thread; later calls do nothing). */
export function installFastWasmCopyKernels(tf: TfKernelRegistry): void {
  replaceKernel(tf, 'Concat', (stock) => fastConcat(tf, stock as (args: ConcatArgs) => TensorInfo) as KernelFunc);
  replaceKernel(tf, 'Slice', (stock) => fastSlice(tf, stock as (args: SliceArgs) => TensorInfo) as KernelFunc);
}
