/**
 * Loads @vladmandic/face-api on TensorFlow.js's WebAssembly backend, inside the calling thread
 * (a face worker). Weights come from the package's own model/ folder: nothing is downloaded.
 *
 * Why the module-resolution shim: face-api's wasm build `require`s the umbrella `@tensorflow/tfjs`
 * package, which would pull in tfjs-layers/converter/data/webgl and core-js (whose install script
 * strict-allow-scripts would have to approve) for nothing: face-api only uses core ops. We point
 * that one request at `@tensorflow/tfjs-core` (same version, 4.22) while face-api loads, and
 * register the tensor "chained ops" (`t.as3D()`, `t.sub()`...) that the umbrella package would
 * have registered. Both are scoped to this loader and undone right after.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import type { TfKernelRegistry } from './wasm-copy-kernels.js';
import { installFastWasmCopyKernels } from './wasm-copy-kernels.js';

const require = createRequire(import.meta.url);

/** The narrow part of tfjs-core this module uses. */
export interface TfCore {
  tensor3d(values: Uint8Array | Float32Array | Int32Array, shape: [number, number, number], dtype?: 'int32' | 'float32'): TfTensor;
  setBackend(name: string): Promise<boolean>;
  ready(): Promise<void>;
  getBackend(): string;
  memory(): { numTensors: number };
}
export interface TfTensor {
  dispose(): void;
  data(): Promise<Float32Array | Int32Array | Uint8Array>;
  shape: number[];
}

interface Rect { x: number; y: number; width: number; height: number }
interface Pt { x: number; y: number }
export interface FaceApiFaceDetection {
  score: number;
  box: Rect;
}
export interface FaceApiDetection {
  detection: FaceApiFaceDetection;
  landmarks: { positions: Pt[] };
}
/** Awaiting it gives the detections (face-api's task is a thenable). */
type DetectionTask = PromiseLike<FaceApiFaceDetection[]>;
interface Net { loadFromDisk(dir: string): Promise<void>; isLoaded: boolean }

/** The narrow part of face-api this module uses. */
export interface FaceApi {
  tf: TfCore;
  version: string;
  nets: {
    ssdMobilenetv1: Net;
    tinyFaceDetector: Net;
    faceLandmark68Net: Net;
    faceRecognitionNet: Net & { computeFaceDescriptor(input: TfTensor | TfTensor[]): Promise<Float32Array | Float32Array[]> };
  };
  SsdMobilenetv1Options: new (o: { minConfidence: number; maxResults?: number }) => object;
  TinyFaceDetectorOptions: new (o: { inputSize: number; scoreThreshold: number }) => object;
  detectAllFaces(input: TfTensor, options: object): DetectionTask;
  /** The landmark step of `detectAllFaces(...).withFaceLandmarks()`, on detections given to it. */
  DetectAllFaceLandmarksTask: new (
    detections: Promise<{ detection: FaceApiFaceDetection }[]>,
    input: TfTensor,
    useTinyLandmarkNet: boolean,
  ) => PromiseLike<FaceApiDetection[]>;
}

let loading: Promise<FaceApi> | undefined;

/** Folder of the weights shipped inside the face-api package. */
export function faceApiModelDir(): string {
  return path.join(path.dirname(require.resolve('@vladmandic/face-api/package.json')), 'model');
}

export function faceApiVersion(): string {
  return (require('@vladmandic/face-api/package.json') as { version: string }).version;
}

/** One face-api per thread; concurrent callers share the same load. */
export function loadFaceApi(): Promise<FaceApi> {
  loading ??= load();
  return loading;
}

function registerChainedOps(tfc: Record<string, unknown>): void {
  const proto = (tfc['Tensor'] as { prototype: Record<string, unknown> }).prototype;
  const reshape = tfc['reshape'] as (t: unknown, s: number[]) => unknown;
  const cast = tfc['cast'] as (t: unknown, d: string) => unknown;
  const special: Record<string, (this: unknown, ...a: number[]) => unknown> = {
    as1D() { return reshape(this, [(this as { size: number }).size]); },
    as2D(...s: number[]) { return reshape(this, s); },
    as3D(...s: number[]) { return reshape(this, s); },
    as4D(...s: number[]) { return reshape(this, s); },
    as5D(...s: number[]) { return reshape(this, s); },
    asScalar() { return reshape(this, []); },
    toFloat() { return cast(this, 'float32'); },
    toInt() { return cast(this, 'int32'); },
    toBool() { return cast(this, 'bool'); },
  };
  for (const [name, fn] of Object.entries(special)) if (!(name in proto)) proto[name] = fn;
  // Every other op takes the tensor as its first argument: `t.op(...a)` is `tf.op(t, ...a)`.
  for (const [name, fn] of Object.entries(tfc)) {
    if (typeof fn !== 'function' || !/^[a-z]/.test(name) || name in proto) continue;
    proto[name] = function (this: unknown, ...args: unknown[]) {
      return (fn as (...a: unknown[]) => unknown)(this, ...args);
    };
  }
}

async function load(): Promise<FaceApi> {
  const tfc = require('@tensorflow/tfjs-core') as Record<string, unknown>;
  registerChainedOps(tfc);
  const Module = require('node:module') as { _resolveFilename: (r: string, ...rest: unknown[]) => string };
  const original = Module._resolveFilename;
  Module._resolveFilename = function (request: string, ...rest: unknown[]) {
    return original.call(this, request === '@tensorflow/tfjs' ? '@tensorflow/tfjs-core' : request, ...rest);
  };
  let faceapi: FaceApi;
  try {
    faceapi = require('@vladmandic/face-api/dist/face-api.node-wasm.js') as FaceApi;
  } finally {
    Module._resolveFilename = original;
  }
  const wasm = require('@tensorflow/tfjs-backend-wasm') as { setWasmPaths(p: string): void };
  wasm.setWasmPaths(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm')) + path.sep);
  if (!(await faceapi.tf.setBackend('wasm'))) throw new Error('the TensorFlow.js wasm backend did not start');
  await faceapi.tf.ready();
  installFastWasmCopyKernels(faceapi.tf as unknown as TfKernelRegistry);
  const dir = faceApiModelDir();
  await Promise.all([
    faceapi.nets.ssdMobilenetv1.loadFromDisk(dir),
    faceapi.nets.tinyFaceDetector.loadFromDisk(dir),
    faceapi.nets.faceLandmark68Net.loadFromDisk(dir),
    faceapi.nets.faceRecognitionNet.loadFromDisk(dir),
  ]);
  return faceapi;
}
