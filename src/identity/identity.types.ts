/**
 * Public types of the identity engine. Everything here is plain data (structured-clone safe), so it
 * crosses the worker-thread boundary and the API unchanged.
 */

/** Axis-aligned box in the pixel coordinates of the image that was analysed. */
export interface FaceBox {
  x: number;
  y: number;
  width: number;
  height: number;
}

export type Point = [x: number, y: number];

/**
 * Five landmarks in a fixed order: subject's right eye centre (image left), left eye centre, nose
 * tip, right mouth corner, left mouth corner. Derived from the 68-point model; it is the order every
 * alignment template in this module uses.
 */
export type Landmarks5 = [Point, Point, Point, Point, Point];

/** One try of the detection retry chain, kept so a miss (or a late hit) can be explained. */
export interface DetectionAttempt {
  step: 'plain' | 'padded' | 'low-confidence' | 'second-detector';
  detector: 'tiny-face-detector' | 'ssd-mobilenet-v1';
  /** Padding added on each side, as a fraction of the longer image side. */
  padding: number;
  minConfidence: number;
  facesFound: number;
  ms: number;
}

export interface AnalyzedFace {
  box: FaceBox;
  landmarks: Landmarks5;
  /** Detector confidence, 0..1. */
  score: number;
  /** L2-normalised embedding of the aligned face, produced by `recognizerId`. */
  embedding: number[];
}

export interface FaceAnalysis {
  width: number;
  height: number;
  /** Largest face first. */
  faces: AnalyzedFace[];
  attempts: DetectionAttempt[];
  recognizerId: string;
}

/** An embedding that remembers which model made it: vectors of two models are never compared. */
export interface TaggedEmbedding {
  recognizerId: string;
  vector: number[];
}

/**
 * A character's identity: every accepted reference face, plus a robust centre for cheap
 * pre-filtering and display. Scores are computed against the references, not only the centre.
 */
export interface Identity {
  recognizerId: string;
  references: number[][];
  centre: number[];
}

export interface ImageScore {
  /** Top-k mean cosine similarity to the references; null when the image has no face. */
  similarity: number | null;
  /** True only with exactly one face whose similarity is >= tau. */
  match: boolean;
  faceCount: number;
  recognizerId: string;
  /** Similarity of the face to each reference, in reference order (for copy-paste checks). */
  perReference: number[];
}
