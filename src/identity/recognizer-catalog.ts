/**
 * What `likeness faces models` lists: the recognisers this build can run, with licence notes, so
 * an operator can see what the shipped default is and what bringing their own model involves.
 */
import { builtinRecognizerId } from './recognizer.config.js';
import { IDENTITY_THRESHOLDS } from './identity-thresholds.js';

export interface RecognizerListing {
  id: string;
  kind: 'faceapi-resnet128' | 'onnx';
  shipped: boolean;
  embedding: string;
  input: string;
  tau: number | null;
  licence: string;
}

export function listRecognizers(): RecognizerListing[] {
  const builtin = builtinRecognizerId();
  return [
    {
      id: builtin,
      kind: 'faceapi-resnet128',
      shipped: true,
      embedding: '128-d, cosine similarity',
      input: '150x150 RGB chip, dlib 5-point template (similarity transform)',
      tau: IDENTITY_THRESHOLDS[builtin]?.tau ?? null,
      licence:
        'package @vladmandic/face-api: MIT. Weights: dlib_face_recognition_resnet_model_v1, released into the public domain ' +
        'by Davis King (trained on FaceScrub, VGG-Face and scraped photos); detectors (Tiny Face Detector, SSD MobileNet v1) ' +
        'and the 68-point landmark model trained by the face-api.js author and published under MIT. Commercial use allowed.',
    },
    {
      id: 'onnx:<name>@sha256-<hash of the file>',
      kind: 'onnx',
      shipped: false,
      embedding: "the model's output, L2-normalised, cosine similarity",
      input: 'declared in the recogniser config: size, 5-point template, colour order, layout, mean/std (ARCFACE_112_PRESET for ArcFace exports)',
      tau: null,
      licence:
        'operator-supplied; the operator must hold a licence for the weights. InsightFace model packs (buffalo_l, antelopev2) ' +
        'are for non-commercial research only. Calibrate before use: no default tau exists for an unknown model.',
    },
  ];
}
