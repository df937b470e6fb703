/**
 * The pluggable ONNX recogniser: a tiny model written by the test (no download) is declared in a
 * config, run by onnxruntime-node in the worker threads, and its vectors are stamped with an id of
 * their own that never compares with the shipped recogniser's.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ARCFACE_112_TEMPLATE,
  buildIdentity,
  createIdentityEngine,
  IncomparableRecognizersError,
  scoreImage,
  similarity,
} from '../../src/identity/index.js';
import type { IdentityEngine, OnnxRecognizerConfig } from '../../src/identity/index.js';
import { onnxInputTensorData } from '../../src/identity/face-embedder.js';
import { writeProjectionModel } from './onnx-model.fixture.js';
import { FACES_DIR, HAVE_FACES } from './faces-data.fixture.js';

const SIDE = 32;

function config(modelPath: string): OnnxRecognizerConfig {
  return {
    kind: 'onnx',
    name: 'test-projection',
    modelPath,
    inputWidth: SIDE,
    inputHeight: SIDE,
    template: ARCFACE_112_TEMPLATE.map(([x, y]) => [(x * SIDE) / 112, (y * SIDE) / 112]) as OnnxRecognizerConfig['template'],
    colorOrder: 'bgr',
    layout: 'nchw',
    mean: [127.5, 127.5, 127.5],
    std: [127.5, 127.5, 127.5],
    licence: 'test model written by the test itself',
  };
}

describe('ONNX input preparation', () => {
  it('packs a chip in the declared layout, colour order and normalisation', () => {
    // A 1x2 chip: pixel 0 = (R 255, G 0, B 127.5), pixel 1 = (0, 255, 127.5).
    const chip = new Float32Array([255, 0, 127.5, 0, 255, 127.5]);
    const c = { ...config('x'), inputWidth: 2, inputHeight: 1 };
    expect(Array.from(onnxInputTensorData(chip, { ...c, colorOrder: 'rgb', layout: 'nchw' }))).toEqual([1, -1, -1, 1, 0, 0]);
    expect(Array.from(onnxInputTensorData(chip, { ...c, colorOrder: 'bgr', layout: 'nchw' }))).toEqual([0, 0, -1, 1, 1, -1]);
    expect(Array.from(onnxInputTensorData(chip, { ...c, colorOrder: 'rgb', layout: 'nhwc' }))).toEqual([1, -1, 0, -1, 1, 0]);
  });
});

describe.skipIf(!HAVE_FACES)('ONNX recogniser in the engine', () => {
  let dir: string;
  let engine: IdentityEngine;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'likeness-onnx-'));
    await writeProjectionModel(path.join(dir, 'projection.onnx'), SIDE, 16);
    engine = await createIdentityEngine({ workers: 1, recognizer: config(path.join(dir, 'projection.onnx')) });
  });
  afterAll(async () => {
    await engine?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('produces unit embeddings of the model size, stamped with the model file hash', async () => {
    const bytes = await readFile(path.join(FACES_DIR, 'identities/amy/amy1.png'));
    const [a, b] = await Promise.all([engine.analyze(bytes), engine.analyze(bytes)]);
    expect(engine.recognizerId).toMatch(/^onnx:test-projection@sha256-[0-9a-f]{16}$/);
    expect(a.recognizerId).toBe(engine.recognizerId);
    expect(a.faces).toHaveLength(1);
    const e = a.faces[0]!.embedding;
    expect(e).toHaveLength(16);
    expect(Math.hypot(...e)).toBeCloseTo(1, 4);
    expect(b.faces[0]!.embedding).toEqual(e);
    const other = await engine.analyze(await readFile(path.join(FACES_DIR, 'identities/raj/raj1.png')));
    expect(other.faces[0]!.embedding).not.toEqual(e);
  });

  it('refuses to compare its vectors and scores with the shipped recogniser', async () => {
    const builtin = await createIdentityEngine({ workers: 1 });
    try {
      const bytes = await readFile(path.join(FACES_DIR, 'identities/amy/amy2.png'));
      const [x, y] = await Promise.all([engine.analyze(bytes), builtin.analyze(bytes)]);
      expect(builtin.recognizerId).not.toBe(engine.recognizerId);
      const tx = { recognizerId: x.recognizerId, vector: x.faces[0]!.embedding };
      const ty = { recognizerId: y.recognizerId, vector: y.faces[0]!.embedding };
      expect(() => similarity(tx, ty)).toThrow(IncomparableRecognizersError);
      expect(() => scoreImage(x, buildIdentity([ty]), 0.5)).toThrow(IncomparableRecognizersError);
    } finally {
      await builtin.close();
    }
  });
});
