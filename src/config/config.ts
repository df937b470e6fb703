/**
 * Configuration: environment variables validated once at start-up with zod. Only the entry
 * point passes process.env in; every other module receives the typed Config. A wrong value
 * stops start-up with a sentence naming the variable; secrets never appear in messages.
 */
import path from 'node:path';
import { z } from 'zod';
import { BASE_MODELS } from '../domain/base-models.js';
import { DEFAULT_PRICES, type PriceTable } from '../domain/pricing.js';
import type { UsageLimits } from '../domain/usage-limits.js';
import type { RetentionSettings } from '../domain/retention-policy.js';

const int = (def: number, min = 0) => z.coerce.number().int().min(min).default(def);
const num = (def: number, min = 0) => z.coerce.number().min(min).default(def);
const bool = (def: boolean) =>
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no'])
    .default(def ? 'true' : 'false')
    .transform((v) => v === 'true' || v === '1' || v === 'yes');

const priceSchema = z.partialRecord(
  z.enum(BASE_MODELS),
  z.object({ base: z.number().int().min(0), perImage: z.number().int().min(0) }),
);

const envSchema = z.object({
  PORT: int(8080).pipe(z.number().max(65535)),
  HOST: z.string().min(1).default('127.0.0.1'),
  LIKENESS_DATA_DIR: z.string().min(1).default('./data'),
  /** Base URL the outside world (providers) reaches this API at; signed URLs are built on it. */
  LIKENESS_PUBLIC_URL: z.string().url().optional(),
  DATABASE_URL: z.string().url().optional(),
  LIKENESS_ADMIN_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  LIKENESS_SIGNING_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  LIKENESS_MIN_IMAGE_SIDE: int(512, 1),
  LIKENESS_MIN_IMAGES: int(5, 1),
  LIKENESS_MAX_IMAGES: int(10, 1),
  LIKENESS_MAX_UPLOAD_BYTES: int(20 * 1024 * 1024, 1024),
  /** Face checks of uploads (one face, sharpness, duplicates, identity outliers) with the identity engine. */
  LIKENESS_IDENTITY: z.enum(['on', 'off']).default('on'),
  LIKENESS_IDENTITY_WORKERS: int(0),
  /** Minimum face sharpness (variance of the Laplacian); docs/identity.md has the calibration. */
  LIKENESS_MIN_SHARPNESS: num(0).optional(),
  LIKENESS_PRICES: z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (!v) return undefined;
      try {
        return priceSchema.parse(JSON.parse(v));
      } catch {
        ctx.addIssue({ code: 'custom', message: 'must be JSON like {"flux-dev":{"base":25000,"perImage":1000}}' });
        return z.NEVER;
      }
    }),
  LIKENESS_TRAINING_BACKEND: z.enum(['emulator', 'runpod', 'runpod-serverless', 'aitoolkit', 'local']).optional(),
  LIKENESS_POLL_SECONDS: num(5, 0.1),
  /**
   * Seconds between a training run's own step-job polls. The worker's tracker polls every run it
   * holds each LIKENESS_POLL_SECONDS in one batch and wakes the step job when there is news; a
   * dead worker's runs are handed on by the reconciler. The per-run poll is only the safety net
   * behind both, and each one costs a queue job: 1,000 runs at 60 s were 17 jobs a second.
   */
  LIKENESS_POLL_WATCHDOG_SECONDS: num(600, 1),
  LIKENESS_WORKER_CONCURRENCY: int(4, 1),
  LIKENESS_MAX_ATTEMPTS: int(3, 1),
  /** Trainings with the provider at once, platform-wide (0 = no limit); unset: 1 for a local GPU, else no limit. */
  LIKENESS_MAX_PROVIDER_RUNS: z.coerce.number().int().min(0).optional(),
  /** Overrides of the training recipe (useful with the emulator and in tests). */
  LIKENESS_TRAIN_STEPS: int(0),
  LIKENESS_TRAIN_RANK: int(0),
  // The GPU emulator (used when no provider is configured).
  LIKENESS_EMULATOR_TRAIN_SECONDS: num(20, 0),
  LIKENESS_EMULATOR_BOOT_SECONDS: num(1, 0),
  LIKENESS_EMULATOR_PORT: int(0),
  LIKENESS_EMULATOR_FAULTS: z.string().optional(),
  /** Use an emulator already running (`likeness emulator`) instead of starting one in-process. */
  LIKENESS_EMULATOR_URL: z.string().url().optional(),
  /** Which RunPod product the emulated training goes through: pods (REST v2 + AI Toolkit UI) or a serverless endpoint. */
  LIKENESS_EMULATOR_TRAINING_MODE: z.enum(['pods', 'serverless']).default('pods'),
  // RunPod pods + AI Toolkit.
  RUNPOD_API_KEY: z.string().min(1).optional(),
  LIKENESS_RUNPOD_API_URL: z.string().url().default('https://api.runpod.io'),
  LIKENESS_RUNPOD_PROXY_URL: z.string().default('https://{podId}-{port}.proxy.runpod.net'),
  LIKENESS_RUNPOD_GPU_TYPE: z.string().default('NVIDIA GeForce RTX 4090'),
  LIKENESS_RUNPOD_IMAGE: z.string().default('ostris/aitoolkit:latest'),
  // RunPod serverless endpoint running workers/aitoolkit-serverless (base URL: LIKENESS_RUNPOD_SERVERLESS_URL).
  LIKENESS_RUNPOD_TRAINING_ENDPOINT_ID: z.string().regex(/^[A-Za-z0-9_-]+$/, 'must be a RunPod endpoint id').optional(),
  /** policy.executionTimeout of each serverless training job. */
  LIKENESS_RUNPOD_TRAINING_TIMEOUT_SECONDS: int(4 * 3600, 60).pipe(z.number().max(7 * 24 * 3600)),
  /** The endpoint's price per GPU hour, to record each serverless training's cost (RunPod reports execution time only). */
  LIKENESS_RUNPOD_TRAINING_USD_PER_HOUR: z.coerce.number().min(0).optional(),
  // An AI Toolkit UI that is already running.
  LIKENESS_AITOOLKIT_URL: z.string().url().optional(),
  LIKENESS_AITOOLKIT_TOKEN: z.string().optional(),
  LIKENESS_AITOOLKIT_GPU_IDS: z.string().regex(/^\d+(,\d+)*$/, 'must be GPU indexes like "0" or "0,1"').default('0'),
  // AI Toolkit checkout on this machine, run as `python run.py <config>` (LIKENESS_TRAINING_BACKEND=local).
  LIKENESS_LOCAL_AITOOLKIT_DIR: z.string().min(1).optional(),
  LIKENESS_LOCAL_PYTHON: z.string().min(1).default('python3'),
  // Object storage: the local folder (LIKENESS_DATA_DIR/objects) or an S3-compatible bucket.
  STORAGE: z.enum(['local', 's3']).default('local'),
  S3_ENDPOINT: z.string().url().optional(),
  S3_REGION: z.string().min(1).default('us-east-1'),
  S3_BUCKET: z.string().min(1).optional(),
  S3_ACCESS_KEY_ID: z.string().min(1).optional(),
  S3_SECRET_ACCESS_KEY: z.string().min(1).optional(),
  S3_FORCE_PATH_STYLE: bool(true),
  S3_PREFIX: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._/-]*$/, 'must be a key path like "likeness/prod"').optional(),
  // Generation: a ComfyUI server, a RunPod serverless worker-comfyui endpoint, or the GPU emulator.
  LIKENESS_GENERATION_BACKEND: z.enum(['emulator', 'comfyui', 'runpod-serverless']).optional(),
  LIKENESS_COMFYUI_URL: z.string().url().optional(),
  /** A loras folder ComfyUI reads, shared with this process; LoRA files are copied into it. */
  LIKENESS_COMFYUI_LORA_DIR: z.string().min(1).optional(),
  LIKENESS_RUNPOD_ENDPOINT_ID: z.string().min(1).optional(),
  LIKENESS_RUNPOD_SERVERLESS_URL: z.string().url().default('https://api.runpod.ai/v2'),
  /** download: the worker fetches the LoRA from a signed URL; volume: it is on the endpoint's network volume. */
  LIKENESS_RUNPOD_LORA_DELIVERY: z.enum(['download', 'volume']).default('download'),
  LIKENESS_GENERATION_TIMEOUT_SECONDS: num(600, 10),
  LIKENESS_GENERATION_POLL_SECONDS: num(1, 0.05),
  /** Dollars per GPU second of generation, to record a cost; unset records GPU seconds only. */
  LIKENESS_GENERATION_USD_PER_GPU_SECOND: z.coerce.number().min(0).optional(),
  /** Identity gate: regenerations below tau before face swap, then delivery flagged. */
  LIKENESS_GATE_RETRIES: int(2),
  /** New liked images since the last training that suggest a retrain (once per crossing). */
  LIKENESS_RETRAIN_LIKES_THRESHOLD: int(5, 1),
  /** A second bearer token that may read GET /metrics (a scraper need not hold the admin token). */
  LIKENESS_METRICS_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  /** Per-user limits (0 = off): trainings started per 24 h, trainings at once, generations per minute. */
  LIKENESS_MAX_TRAININGS_PER_DAY: int(10),
  LIKENESS_MAX_CONCURRENT_TRAININGS: int(3),
  LIKENESS_MAX_GENERATIONS_PER_MINUTE: int(60),
  /** Storage retention: LoRA versions kept per character and base model; days a finished run's dataset is kept. */
  LIKENESS_RETENTION_LORA_VERSIONS: int(3, 1),
  LIKENESS_RETENTION_DATASET_DAYS: int(30),
  /** Platform-wide GPU spend per UTC day (dollars) after which new trainings wait in the queue; 0 = no cap. */
  LIKENESS_DAILY_GPU_BUDGET_USD: num(0),
  /** The platform's endpoint for outgoing webhooks (every notification, and platform events). */
  LIKENESS_WEBHOOK_URL: z.string().url().optional(),
  /** Standard Webhooks signing secret; generated once into the data dir when unset. */
  LIKENESS_WEBHOOK_SECRET: z
    .string()
    .regex(/^whsec_[A-Za-z0-9+/]{32,}={0,2}$/, 'must be a Standard Webhooks secret: "whsec_" followed by the base64 of 24 or more random bytes')
    .optional(),
});

export type Env = z.infer<typeof envSchema>;

export interface Config {
  port: number;
  host: string;
  dataDir: string;
  publicUrl: string | undefined;
  databaseUrl: string | undefined;
  adminToken: string | undefined;
  signingSecret: string | undefined;
  images: { minSide: number; min: number; max: number; maxUploadBytes: number; minSharpness: number | undefined };
  identity: { enabled: boolean; workers: number | undefined };
  prices: PriceTable;
  worker: { pollSeconds: number; watchdogSeconds: number; concurrency: number; maxAttempts: number; maxProviderRuns: number };
  recipeOverrides: { steps?: number; rank?: number };
  training:
    | {
        backend: 'emulator';
        trainSeconds: number;
        bootSeconds: number;
        port: number;
        faults: string | undefined;
        url: string | undefined;
        mode: 'pods' | 'serverless';
      }
    | {
        backend: 'runpod';
        apiKey: string;
        apiUrl: string;
        proxyUrlTemplate: string;
        gpuType: string;
        image: string;
      }
    | { backend: 'runpod-serverless'; apiKey: string; endpointId: string; url: string; executionTimeoutSeconds: number; usdPerHour: number | undefined }
    | { backend: 'aitoolkit'; url: string; token: string | undefined; gpuIds: string }
    | { backend: 'local'; toolkitDir: string; python: string };
  storage: StorageConfig;
  generation: GenerationConfig;
  metrics: { token: string | undefined };
  limits: UsageLimits & { dailyGpuBudgetUsd: number };
  retention: RetentionSettings;
  /** Outgoing webhooks; null = none. A missing secret is generated at start-up (app/). */
  webhooks: { url: string; secret: string | undefined } | null;
}

export interface GenerationConfig {
  backend:
    | { kind: 'emulator' }
    | { kind: 'comfyui'; url: string; loraDir: string | undefined }
    | { kind: 'runpod-serverless'; apiKey: string; endpointId: string; url: string; loraDelivery: 'download' | 'volume' };
  timeoutSeconds: number;
  pollSeconds: number;
  usdPerGpuSecond: number | undefined;
  gateRetries: number;
  retrainLikesThreshold: number;
}

export type StorageConfig =
  | { kind: 'local' }
  | {
      kind: 's3';
      endpoint: string | undefined;
      region: string;
      bucket: string;
      accessKeyId: string;
      secretAccessKey: string;
      forcePathStyle: boolean;
      prefix: string | undefined;
    };

export class ConfigError extends Error {}

export function loadConfig(env: Record<string, string | undefined>): Config {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `${String(i.path[0] ?? 'environment')} ${i.message}`);
    throw new ConfigError(`Invalid configuration: ${lines.join('; ')}.`);
  }
  const e = parsed.data;
  const backend =
    e.LIKENESS_TRAINING_BACKEND ??
    (e.RUNPOD_API_KEY ? (e.LIKENESS_RUNPOD_TRAINING_ENDPOINT_ID ? 'runpod-serverless' : 'runpod') : e.LIKENESS_AITOOLKIT_URL ? 'aitoolkit' : 'emulator');
  let training: Config['training'];
  if (backend === 'runpod') {
    if (!e.RUNPOD_API_KEY) throw new ConfigError('Invalid configuration: RUNPOD_API_KEY is required when LIKENESS_TRAINING_BACKEND=runpod.');
    training = {
      backend,
      apiKey: e.RUNPOD_API_KEY,
      apiUrl: e.LIKENESS_RUNPOD_API_URL,
      proxyUrlTemplate: e.LIKENESS_RUNPOD_PROXY_URL,
      gpuType: e.LIKENESS_RUNPOD_GPU_TYPE,
      image: e.LIKENESS_RUNPOD_IMAGE,
    };
  } else if (backend === 'runpod-serverless') {
    if (!e.RUNPOD_API_KEY || !e.LIKENESS_RUNPOD_TRAINING_ENDPOINT_ID) {
      throw new ConfigError(
        'Invalid configuration: RUNPOD_API_KEY and LIKENESS_RUNPOD_TRAINING_ENDPOINT_ID are required when LIKENESS_TRAINING_BACKEND=runpod-serverless.',
      );
    }
    training = {
      backend,
      apiKey: e.RUNPOD_API_KEY,
      endpointId: e.LIKENESS_RUNPOD_TRAINING_ENDPOINT_ID,
      url: e.LIKENESS_RUNPOD_SERVERLESS_URL.replace(/\/+$/, ''),
      executionTimeoutSeconds: e.LIKENESS_RUNPOD_TRAINING_TIMEOUT_SECONDS,
      usdPerHour: e.LIKENESS_RUNPOD_TRAINING_USD_PER_HOUR,
    };
  } else if (backend === 'aitoolkit') {
    if (!e.LIKENESS_AITOOLKIT_URL) {
      throw new ConfigError('Invalid configuration: LIKENESS_AITOOLKIT_URL is required when LIKENESS_TRAINING_BACKEND=aitoolkit.');
    }
    training = { backend, url: e.LIKENESS_AITOOLKIT_URL, token: e.LIKENESS_AITOOLKIT_TOKEN, gpuIds: e.LIKENESS_AITOOLKIT_GPU_IDS };
  } else if (backend === 'local') {
    if (!e.LIKENESS_LOCAL_AITOOLKIT_DIR) {
      throw new ConfigError('Invalid configuration: LIKENESS_LOCAL_AITOOLKIT_DIR is required when LIKENESS_TRAINING_BACKEND=local.');
    }
    training = { backend, toolkitDir: path.resolve(e.LIKENESS_LOCAL_AITOOLKIT_DIR), python: e.LIKENESS_LOCAL_PYTHON };
  } else {
    training = {
      backend: 'emulator',
      trainSeconds: e.LIKENESS_EMULATOR_TRAIN_SECONDS,
      bootSeconds: e.LIKENESS_EMULATOR_BOOT_SECONDS,
      port: e.LIKENESS_EMULATOR_PORT,
      faults: e.LIKENESS_EMULATOR_FAULTS,
      url: e.LIKENESS_EMULATOR_URL?.replace(/\/+$/, ''),
      mode: e.LIKENESS_EMULATOR_TRAINING_MODE,
    };
  }
  return {
    port: e.PORT,
    host: e.HOST,
    dataDir: path.resolve(e.LIKENESS_DATA_DIR),
    publicUrl: e.LIKENESS_PUBLIC_URL?.replace(/\/+$/, ''),
    databaseUrl: e.DATABASE_URL,
    adminToken: e.LIKENESS_ADMIN_TOKEN,
    signingSecret: e.LIKENESS_SIGNING_SECRET,
    images: {
      minSide: e.LIKENESS_MIN_IMAGE_SIDE,
      min: e.LIKENESS_MIN_IMAGES,
      max: e.LIKENESS_MAX_IMAGES,
      maxUploadBytes: e.LIKENESS_MAX_UPLOAD_BYTES,
      minSharpness: e.LIKENESS_MIN_SHARPNESS,
    },
    identity: { enabled: e.LIKENESS_IDENTITY === 'on', workers: e.LIKENESS_IDENTITY_WORKERS || undefined },
    prices: { ...DEFAULT_PRICES, ...(e.LIKENESS_PRICES ?? {}) },
    worker: {
      pollSeconds: e.LIKENESS_POLL_SECONDS,
      watchdogSeconds: e.LIKENESS_POLL_WATCHDOG_SECONDS,
      concurrency: e.LIKENESS_WORKER_CONCURRENCY,
      maxAttempts: e.LIKENESS_MAX_ATTEMPTS,
      // One trainer at a time on a local checkout's GPU: a second would run out of VRAM.
      maxProviderRuns: e.LIKENESS_MAX_PROVIDER_RUNS ?? (training.backend === 'local' ? 1 : 0),
    },
    recipeOverrides: {
      steps: e.LIKENESS_TRAIN_STEPS || undefined,
      rank: e.LIKENESS_TRAIN_RANK || undefined,
    },
    training,
    storage: storageConfig(e),
    generation: generationConfig(e),
    metrics: { token: e.LIKENESS_METRICS_TOKEN },
    limits: {
      trainingsPerDay: e.LIKENESS_MAX_TRAININGS_PER_DAY,
      concurrentTrainings: e.LIKENESS_MAX_CONCURRENT_TRAININGS,
      generationsPerMinute: e.LIKENESS_MAX_GENERATIONS_PER_MINUTE,
      dailyGpuBudgetUsd: e.LIKENESS_DAILY_GPU_BUDGET_USD,
    },
    retention: { loraVersions: e.LIKENESS_RETENTION_LORA_VERSIONS, datasetDays: e.LIKENESS_RETENTION_DATASET_DAYS },
    webhooks: webhooksConfig(e),
  };
}

function webhooksConfig(e: Env): Config['webhooks'] {
  if (!e.LIKENESS_WEBHOOK_URL) {
    if (e.LIKENESS_WEBHOOK_SECRET) throw new ConfigError('Invalid configuration: LIKENESS_WEBHOOK_SECRET is set but LIKENESS_WEBHOOK_URL is not.');
    return null;
  }
  return { url: e.LIKENESS_WEBHOOK_URL, secret: e.LIKENESS_WEBHOOK_SECRET };
}

/** Names every missing variable at once; values (secrets among them) never appear in the message. */
function storageConfig(e: Env): StorageConfig {
  if (e.STORAGE === 'local') return { kind: 'local' };
  const missing = (['S3_BUCKET', 'S3_ACCESS_KEY_ID', 'S3_SECRET_ACCESS_KEY'] as const).filter((name) => !e[name]);
  if (missing.length > 0 || !e.S3_BUCKET || !e.S3_ACCESS_KEY_ID || !e.S3_SECRET_ACCESS_KEY) {
    const list = missing.length > 1 ? `${missing.slice(0, -1).join(', ')} and ${missing.at(-1)} are` : `${missing[0]} is`;
    throw new ConfigError(`Invalid configuration: ${list} required when STORAGE=s3.`);
  }
  return {
    kind: 's3',
    endpoint: e.S3_ENDPOINT?.replace(/\/+$/, ''),
    region: e.S3_REGION,
    bucket: e.S3_BUCKET,
    accessKeyId: e.S3_ACCESS_KEY_ID,
    secretAccessKey: e.S3_SECRET_ACCESS_KEY,
    forcePathStyle: e.S3_FORCE_PATH_STYLE,
    prefix: e.S3_PREFIX?.replace(/\/+$/, ''),
  };
}

/** The generation backend: explicit, else ComfyUI when its URL is set, RunPod when an endpoint is, else the emulator. */
function generationConfig(e: Env): GenerationConfig {
  const kind = e.LIKENESS_GENERATION_BACKEND ?? (e.LIKENESS_COMFYUI_URL ? 'comfyui' : e.LIKENESS_RUNPOD_ENDPOINT_ID ? 'runpod-serverless' : 'emulator');
  let backend: GenerationConfig['backend'];
  if (kind === 'comfyui') {
    if (!e.LIKENESS_COMFYUI_URL) throw new ConfigError('Invalid configuration: LIKENESS_COMFYUI_URL is required when LIKENESS_GENERATION_BACKEND=comfyui.');
    backend = { kind, url: e.LIKENESS_COMFYUI_URL.replace(/\/+$/, ''), loraDir: e.LIKENESS_COMFYUI_LORA_DIR ? path.resolve(e.LIKENESS_COMFYUI_LORA_DIR) : undefined };
  } else if (kind === 'runpod-serverless') {
    if (!e.RUNPOD_API_KEY || !e.LIKENESS_RUNPOD_ENDPOINT_ID) {
      throw new ConfigError('Invalid configuration: RUNPOD_API_KEY and LIKENESS_RUNPOD_ENDPOINT_ID are required when LIKENESS_GENERATION_BACKEND=runpod-serverless.');
    }
    backend = {
      kind,
      apiKey: e.RUNPOD_API_KEY,
      endpointId: e.LIKENESS_RUNPOD_ENDPOINT_ID,
      url: e.LIKENESS_RUNPOD_SERVERLESS_URL.replace(/\/+$/, ''),
      loraDelivery: e.LIKENESS_RUNPOD_LORA_DELIVERY,
    };
  } else backend = { kind: 'emulator' };
  return {
    backend,
    timeoutSeconds: e.LIKENESS_GENERATION_TIMEOUT_SECONDS,
    pollSeconds: e.LIKENESS_GENERATION_POLL_SECONDS,
    usdPerGpuSecond: e.LIKENESS_GENERATION_USD_PER_GPU_SECOND,
    gateRetries: e.LIKENESS_GATE_RETRIES,
    retrainLikesThreshold: e.LIKENESS_RETRAIN_LIKES_THRESHOLD,
  };
}
