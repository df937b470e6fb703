/**
 * What the API sends back. Requests (paths, parameters, bodies) are typed from the generated
 * OpenAPI document (schema.d.ts); responses cannot be yet, because the routes declare no response
 * schemas (every operation is "Default Response" in /openapi.json). These mirror the views in
 * src/api/routes and src/services (characterView, imageView, runView, loraView, loraSummary) and
 * go away once the routes declare their responses and `npm run gen:openapi` types them.
 */
import type { paths } from './schema';
import type { CheckStatus, GenerationMethod, GenerationStatus, RunStatus } from '../status';

/** The base models, from the generated request types (the one enum the document does carry). */
export type BaseModel = NonNullable<NonNullable<paths['/v1/characters']['post']['requestBody']>['content']['application/json']['baseModel']>;

export interface Me {
  id: string;
  credits: { available: number; reserved: number; granted: number; spent: number };
}

export interface Character {
  id: string;
  name: string;
  baseModel: BaseModel;
  autoTrain: boolean;
  triggerWord: string;
  sheetCompletedAt: string | null;
  lora: { enabled: boolean; strength: number };
  createdAt: string;
}

export interface CharacterDetail extends Character {
  images: { total: number; accepted: number; liked: number };
  loraStatus: LoraSummary;
}

export interface CheckReason {
  code: string;
  message: string;
}

export interface CharacterImage {
  id: string;
  characterId: string;
  source: string;
  originalName: string | null;
  width: number;
  height: number;
  bytes: number;
  liked: boolean;
  likedAt: string | null;
  check: { status: CheckStatus; reasons: CheckReason[]; faceBox: { x: number; y: number; width: number; height: number } | null };
  url: string;
  createdAt: string;
}

export interface Run {
  id: string;
  characterId: string;
  baseModel: BaseModel;
  status: RunStatus;
  trigger: string;
  progress: { step: number; totalSteps: number; etaSeconds: number | null; secondsPerStep: number | null; loss: number | null; message: string | null };
  error: { code: string | null; message: string | null; fault: string | null } | null;
  credits: { price: number; charged: number; refunded: number; reserved: number; free: boolean; breakdown: Partial<Quote> };
  imageIds: string[];
  attempt: number;
  emulated: boolean;
  loraModelId: string | null;
  cancelRequested: boolean;
  createdAt: string;
  updatedAt: string;
  trainingStartedAt: string | null;
  finishedAt: string | null;
  durationSeconds: number | null;
}

export interface RunDetail extends Run {
  /** Signed URLs of the trainer's latest sample images. */
  samples: string[];
}

export interface LoraVersion {
  id: string;
  characterId: string;
  runId: string | null;
  baseModel: BaseModel;
  version: number;
  triggerWord: string;
  rank: number;
  checkpointStep: number | null;
  sizeBytes: number;
  files: { part: 'main' | 'high_noise' | 'low_noise'; fileName: string; size: number; sha256: string }[];
  emulated: boolean;
  active: boolean;
  createdAt: string;
}

export interface LoraSummary {
  enabled: boolean;
  strength: number;
  triggerWord: string;
  baseModel: BaseModel;
  activeVersion: LoraVersion | null;
  activeByBaseModel: Record<string, string>;
  currentRun: Run | null;
  lastRun: Run | null;
}

export interface Quote {
  baseModel: BaseModel;
  imageCount: number;
  base: number;
  perImage: number;
  imagesTotal: number;
  total: number;
  free: boolean;
  charge: number;
  estimatedMinutes: number;
  retryOfRunId: string | null;
  minImages: number;
  maxImages: number;
  usableImages: number;
}

export type SheetCompleteResult = {
  character: Character;
  run: Run | null;
  training: { started: true } | { started: false; reason: string; usable?: number; required?: number; price?: number; available?: number };
};

export interface AppNotification {
  id: string;
  type: string;
  title: string;
  body: string;
  link: string | null;
  data: Record<string, unknown> | null;
  read: boolean;
  createdAt: string;
}

export interface Health {
  ok: boolean;
  database?: string;
  training?: string;
  emulated?: boolean;
}

/** Why a generation uses its method (src/domain/generation-planner.ts GenerationPlan). */
export interface GenerationPlan {
  method: GenerationMethod;
  code: string;
  reason: string;
  lora: { loraModelId: string; version: number; strength: number; triggerWord: string } | null;
  faceSwap: { method: string; referenceImageId: string } | null;
  fallback: { method: 'faceswap' | 'plain'; reason: string } | null;
}

export interface PlanPreview {
  baseModel: BaseModel;
  seed: number;
  method: GenerationMethod;
  plan: GenerationPlan;
}

export interface GeneratedImage {
  id: string;
  slot: number;
  /** A signed URL (1 hour), refreshed with every read of the generation. */
  url: string;
  width: number;
  height: number;
  mime: string;
  method: GenerationMethod | null;
  attempts: number;
  seed: number | null;
  liked: boolean;
  /** The owner's answer to "does it look like the character?" (null: not answered). */
  looksLikeCharacter: boolean | null;
  emulated: boolean;
  identity: {
    scored: boolean;
    similarity: number | null;
    match: boolean | null;
    faceCount: number | null;
    copyPaste: boolean | null;
    flagged: boolean | null;
    recognizerId: string | null;
  };
}

/** generationView in src/services/generations.service.ts (the workflow left out: the UI never reads it). */
export interface Generation {
  id: string;
  characterId: string;
  status: GenerationStatus;
  baseModel: BaseModel;
  prompt: string;
  count: number;
  seed: number;
  width: number;
  height: number;
  method: GenerationMethod;
  planReason: string;
  plan: GenerationPlan;
  loraModelId: string | null;
  triggerWord: string | null;
  loraStrength: number | null;
  platformWorkflow: boolean;
  fallbacks: { slot: number; from: string; to: string; reason: string }[];
  attempts: number;
  gpuSeconds: number;
  costUsd: number | null;
  backend: string;
  emulated: boolean;
  error: { code: string; message: string | null } | null;
  images: GeneratedImage[];
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
}

/** summarize() in src/services/consistency.service.ts: rates are null when n = 0. */
export interface ConsistencySummary {
  n: number;
  matched: number;
  matchRate: number | null;
  matchRateInterval: { low: number; high: number } | null;
  meanSimilarity: number | null;
  p5Similarity: number | null;
  noFaceRate: number | null;
  multiFaceRate: number | null;
  copyPasteFlagged: number;
}

/** consistencyReport in src/services/consistency.service.ts (emulated output excluded). */
export interface ConsistencyReport {
  recognizerId: string | null;
  tau: number | null;
  excluded: { emulated: number; otherRecognizer: number };
  overall: ConsistencySummary;
  byMethod: Record<GenerationMethod, ConsistencySummary>;
  byBaseModel: Record<BaseModel, ConsistencySummary>;
  byLoraVersion: (ConsistencySummary & { loraModelId: string; version: number | null; baseModel: BaseModel })[];
  delivered: ConsistencySummary;
  byCharacter?: (ConsistencySummary & { characterId: string })[];
}

export type MetricKey = 'adoption' | 'completion' | 'faceConsistency' | 'satisfaction' | 'trainingTime' | 'generationSuccess';

/** One success metric (src/domain/success-metrics.ts Metric): value null and n = 0 when there is no data. */
export interface SuccessMetric {
  key: MetricKey;
  label: string;
  unit: 'ratio' | 'seconds';
  value: number | null;
  target: { direction: 'above' | 'below'; value: number };
  n: number;
  interval: { low: number; high: number } | null;
  meetsTarget: boolean | null;
}

export interface RateWithInterval {
  value: number | null;
  n: number;
  interval: { low: number; high: number } | null;
}

/** successMetrics in src/services/success-metrics.service.ts (emulated runs, generations and images excluded). */
export interface SuccessMetricsSummary {
  window: { from: string | null; to: string | null };
  recognizerId: string | null;
  metrics: SuccessMetric[];
  trainingTime: { p50: number | null; p95: number | null; n: number };
  satisfaction: {
    byMethod: Record<string, RateWithInterval>;
    scoreAgreement: { rocAuc: number | null; n: number; yesRateAboveTau: RateWithInterval; yesRateBelowTau: RateWithInterval };
  };
}

/** The response of each operation the UI calls, keyed "method path" as in the OpenAPI document. */
export interface Responses {
  'get /v1/me': Me;
  'post /v1/users': { id: string; token: string };
  'post /v1/users/{id}/credits': { applied: boolean; credits: { available: number; reserved: number } };
  'get /v1/characters': { items: Character[] };
  'post /v1/characters': Character;
  'get /v1/characters/{id}': CharacterDetail;
  'patch /v1/characters/{id}': Character;
  'get /v1/characters/{id}/images': { items: CharacterImage[] };
  'post /v1/characters/{id}/images': { items: CharacterImage[] };
  'patch /v1/images/{id}': CharacterImage;
  'post /v1/generations': Generation;
  'get /v1/generations/{id}': Generation;
  'post /v1/generations/plan': PlanPreview;
  'get /v1/metrics/consistency': ConsistencyReport;
  'get /v1/metrics/summary': SuccessMetricsSummary;
  'post /v1/characters/{id}/character-sheet/complete': SheetCompleteResult;
  'get /v1/characters/{id}/lora': LoraSummary;
  'patch /v1/characters/{id}/lora': LoraSummary;
  'get /v1/characters/{id}/lora/quote': Quote;
  'post /v1/characters/{id}/lora/train': Run;
  'get /v1/characters/{id}/lora/versions': { items: LoraVersion[] };
  'get /v1/characters/{id}/training-runs': { items: Run[] };
  'get /v1/training-runs/{id}': RunDetail;
  'post /v1/training-runs/{id}/cancel': Run;
  'delete /v1/lora-models/{id}': null;
  'get /v1/notifications': { items: AppNotification[]; unread: number };
  'post /v1/notifications/{id}/read': { ok: boolean };
}
