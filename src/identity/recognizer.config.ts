/**
 * Which face recogniser embeds faces, and how its input is prepared. The recogniser is pluggable:
 * the shipped default (weights inside an npm package, commercially usable), or an ONNX model file an
 * operator supplies and holds a licence for. Its id (name + version or file hash) is stored with
 * every embedding and score; ids never compare equal across models, so scores are never mixed.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { Landmarks5 } from './identity.types.js';
import { faceApiVersion } from './faceapi-runtime.js';

/** The default: face-api's 128-d ResNet descriptor (dlib's model, ported to TensorFlow.js). */
export interface BuiltinRecognizerConfig {
  kind: 'faceapi-resnet128';
}

/** An operator-supplied ONNX embedding model, run with onnxruntime-node on the CPU. */
export interface OnnxRecognizerConfig {
  kind: 'onnx';
  /** Short name for ids and listings, e.g. 'arcface-r50'. */
  name: string;
  modelPath: string;
  inputWidth: number;
  inputHeight: number;
  /** Where the 5 landmarks (Landmarks5 order) land in the model's input, in input pixels. */
  template: Landmarks5;
  colorOrder: 'rgb' | 'bgr';
  layout: 'nchw' | 'nhwc';
  /** Per channel, in the model's colour order: value = (pixel 0..255 - mean) / std. */
  mean: [number, number, number];
  std: [number, number, number];
  /** Output to read; the model's first output when absent. */
  outputName?: string;
  /** What licence the operator holds for the weights; shown by `faces models`. */
  licence: string;
}

export type RecognizerConfig = BuiltinRecognizerConfig | OnnxRecognizerConfig;

/** A recogniser as the worker needs it: config plus the id it will stamp on every vector. */
export type ResolvedRecognizer = RecognizerConfig & { id: string };

/**
 * dlib's 150 px face chip (padding 0.25) in Landmarks5 order: eye centres are the means of the six
 * eye points of dlib's mean face shape, nose tip and mouth corners are its points 30, 48 and 54,
 * each mapped by (0.25 + p) / 1.5 * 150. The ResNet descriptor was trained on such chips.
 */
export const DLIB_CHIP_150_TEMPLATE: Landmarks5 = [
  [47.549, 46.599],
  [100.476, 46.599],
  [74.013, 76.563],
  [50.415, 103.023],
  [97.61, 103.023],
];

/** The 112x112 template of ArcFace-family models (InsightFace's published 5-point reference). */
export const ARCFACE_112_TEMPLATE: Landmarks5 = [
  [38.2946, 51.6963],
  [73.5318, 51.5014],
  [56.0252, 71.7366],
  [41.5493, 92.3655],
  [70.7299, 92.2041],
];

/** Input preparation of the usual ArcFace ONNX exports; spread into an OnnxRecognizerConfig. */
export const ARCFACE_112_PRESET = {
  inputWidth: 112,
  inputHeight: 112,
  template: ARCFACE_112_TEMPLATE,
  colorOrder: 'rgb',
  layout: 'nchw',
  mean: [127.5, 127.5, 127.5],
  std: [127.5, 127.5, 127.5],
} as const satisfies Partial<OnnxRecognizerConfig>;

export const DEFAULT_RECOGNIZER: BuiltinRecognizerConfig = { kind: 'faceapi-resnet128' };

export function builtinRecognizerId(): string {
  return `faceapi-resnet128@${faceApiVersion()}`;
}

/** Stamps the id: the package version for the default, a hash of the weights for ONNX files. */
export async function resolveRecognizer(config: RecognizerConfig = DEFAULT_RECOGNIZER): Promise<ResolvedRecognizer> {
  if (config.kind === 'faceapi-resnet128') return { ...config, id: builtinRecognizerId() };
  validateOnnxConfig(config);
  const digest = createHash('sha256').update(await readFile(config.modelPath)).digest('hex');
  return { ...config, id: `onnx:${config.name}@sha256-${digest.slice(0, 16)}` };
}

function validateOnnxConfig(c: OnnxRecognizerConfig): void {
  const problems: string[] = [];
  if (!/^[a-z0-9][a-z0-9._-]*$/i.test(c.name)) problems.push('name must be a short identifier');
  if (!(c.inputWidth >= 16 && c.inputHeight >= 16)) problems.push('input size must be at least 16x16');
  if (c.template.length !== 5) problems.push('template needs 5 points');
  if (c.std.some((s) => s === 0)) problems.push('std must not be 0');
  if (!c.licence.trim()) problems.push('state the licence held for the weights');
  if (problems.length) throw new Error(`invalid ONNX recogniser config: ${problems.join('; ')}`);
}

/** Template and input size of a recogniser, for alignment. */
export function recognizerInput(r: RecognizerConfig): { width: number; height: number; template: Landmarks5 } {
  return r.kind === 'faceapi-resnet128'
    ? { width: 150, height: 150, template: DLIB_CHIP_150_TEMPLATE }
    : { width: r.inputWidth, height: r.inputHeight, template: r.template };
}
