/**
 * The identity module's public surface: faces, embeddings, dataset checks, scores. Callers import
 * from here; the worker and runtime files are internal.
 */
export type {
  AnalyzedFace,
  DetectionAttempt,
  FaceAnalysis,
  FaceBox,
  Identity,
  ImageScore,
  Landmarks5,
  Point,
  TaggedEmbedding,
} from './identity.types.js';
export { createIdentityEngine, defaultWorkerCount } from './identity-engine.js';
export type { IdentityEngine, IdentityEngineOptions } from './identity-engine.js';
export { ImageAnalysisError } from './face-worker-pool.js';
export { DEFAULT_DETECTION_CHAIN, DEFAULT_DETECTION_OPTIONS } from './face-detection.js';
export type { DetectionOptions, DetectionStep } from './face-detection.js';
export {
  ARCFACE_112_PRESET,
  ARCFACE_112_TEMPLATE,
  DEFAULT_RECOGNIZER,
  DLIB_CHIP_150_TEMPLATE,
  resolveRecognizer,
} from './recognizer.config.js';
export type { OnnxRecognizerConfig, RecognizerConfig } from './recognizer.config.js';
export { listRecognizers } from './recognizer-catalog.js';
export { similarity, cosineSimilarity, assertSameRecognizer, IncomparableRecognizersError } from './similarity.js';
export { buildIdentity, scoreImage, identitySimilarity, DEFAULT_TOP_K } from './identity-profile.js';
export { IDENTITY_THRESHOLDS, tauFor } from './identity-thresholds.js';
export { checkDataset, defaultDatasetRules, DEFAULT_MIN_SHARPNESS, DEFAULT_MAX_DUPLICATE_DISTANCE } from './dataset-check.js';
export type { DatasetRules, ImageVerdict, Reason, ReasonCode } from './dataset-check.js';
export { cropForTraining } from './training-crop.js';
export { sharpness, perceptualHash, hammingDistance } from './image-quality.js';
export {
  wilsonInterval,
  summarizeConsistency,
  detectCopyPaste,
  DEFAULT_COPY_PASTE_RULES,
} from './consistency-metrics.js';
export type { ConsistencySummary, CopyPasteRules, CopyPasteVerdict } from './consistency-metrics.js';
export { calibrationReport, operatingPoint, tarAtFar, tauAtFar } from './calibration-metrics.js';
export type { CalibrationReport, OperatingPoint, ScoredPair } from './calibration-metrics.js';
export { collectPhotos, embedCalibrationSet, scorePairs, AUGMENTATIONS } from './calibration-set.js';
