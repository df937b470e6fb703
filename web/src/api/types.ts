/**
 * What the API sends back. Requests (paths, parameters, bodies) are typed from the generated
 * OpenAPI document (schema.d.ts); responses cannot be yet, because the routes declare no response
 * schemas (every operation is "Default Response" in /openapi.json). These mirror the views in
 * src/api/routes and src/services (characterView, imageView, runView, loraView, loraSummary) and
 * go away once the routes declare their responses and `npm run gen:openapi` types them.
 */
import type { paths } from './schema';
import type { CheckStatus, RunStatus } from '../status';

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
