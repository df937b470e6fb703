/**
 * Calibrated same-person thresholds (tau), one per recogniser id, with the figures they were
 * chosen from. A recogniser without an entry has no default tau: an operator's ONNX model must be
 * calibrated (`likeness faces calibrate DIR --recognizer ...`) and its tau passed in explicitly.
 *
 * How: ../shared/data/faces-bbt (8 people x 5 photos + 7 one-photo people) x 12 augmentations
 * (docs/identity.md), every pair of images from different source photos scored; tau is the
 * smallest threshold with a false-accept rate <= 1% on those pairs, rounded up. Reproduce with
 * `likeness faces calibrate ../shared/data/faces-bbt`.
 */
export interface ThresholdCalibration {
  tau: number;
  /** What the figures below were measured on. */
  calibratedOn: string;
  far: number;
  frr: number;
  /** Balanced accuracy at tau (a pair with a missing face counts as wrong). */
  accuracy: number;
  tarAtFar1: number;
  tarAtFar01: number;
  /** Balanced accuracy at tau on the un-augmented faces-bbt pairs (the test's set). */
  originalsAccuracy: number;
}

export const IDENTITY_THRESHOLDS: Readonly<Record<string, ThresholdCalibration>> = {
  'faceapi-resnet128@1.7.15': {
    tau: 0.91,
    calibratedOn: 'faces-bbt x 12 augmentations: 564 images, 11520 same / 144144 different pairs',
    far: 0.0067,
    frr: 0.0169,
    accuracy: 0.9847,
    tarAtFar1: 0.9848,
    tarAtFar01: 0.966,
    originalsAccuracy: 0.997,
  },
};

/** The calibrated tau of a recogniser; throws for an uncalibrated one rather than guess. */
export function tauFor(recognizerId: string): number {
  const entry = IDENTITY_THRESHOLDS[recognizerId];
  if (!entry) throw new Error(`no calibrated tau for recogniser ${recognizerId}: run \`likeness faces calibrate\` and pass tau explicitly`);
  return entry.tau;
}
