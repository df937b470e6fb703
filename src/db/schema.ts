/**
 * The database schema (Drizzle, PostgreSQL dialect; the same schema runs on PGlite and on a
 * PostgreSQL server). Migrations in drizzle/ are generated from this file (`npm run db:generate`)
 * and CI fails when they are stale.
 */
import { sql } from 'drizzle-orm';
import {
  bigint,
  boolean,
  doublePrecision,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
} from 'drizzle-orm/pg-core';

const createdAt = () => timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow();
const ts = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

export const users = pgTable('users', {
  id: text('id').primaryKey(),
  /** sha256 of the bearer token: tokens are shown once and never stored in clear. */
  tokenHash: text('token_hash').notNull().unique(),
  name: text('name'),
  createdAt: createdAt(),
});

export const characters = pgTable(
  'characters',
  {
    id: text('id').primaryKey(),
    ownerId: text('owner_id').notNull().references(() => users.id),
    name: text('name').notNull(),
    baseModel: text('base_model').notNull(),
    /** The wizard toggle: train a LoRA automatically once the character sheet is complete. */
    autoTrain: boolean('auto_train').notNull().default(true),
    triggerWord: text('trigger_word').notNull(),
    sheetCompletedAt: ts('sheet_completed_at'),
    loraEnabled: boolean('lora_enabled').notNull().default(true),
    loraStrength: doublePrecision('lora_strength').notNull().default(1),
    /** Liked images counted since this moment suggest a retrain. */
    likesCountedSince: ts('likes_counted_since'),
    retrainNotifiedAt: ts('retrain_notified_at'),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex('characters_owner_trigger_uq').on(t.ownerId, t.triggerWord), index('characters_owner_idx').on(t.ownerId)],
);

export const images = pgTable(
  'images',
  {
    id: text('id').primaryKey(),
    ownerId: text('owner_id').notNull().references(() => users.id),
    characterId: text('character_id').notNull().references(() => characters.id),
    source: text('source').notNull().default('sheet'), // sheet | generated
    storageKey: text('storage_key').notNull(),
    originalName: text('original_name'),
    mime: text('mime').notNull(),
    width: integer('width').notNull(),
    height: integer('height').notNull(),
    bytes: integer('bytes').notNull(),
    sha256: text('sha256').notNull(),
    liked: boolean('liked').notNull().default(false),
    likedAt: ts('liked_at'),
    /** Dataset check verdict: accepted | rejected. Rejected images are never trained on. */
    checkStatus: text('check_status').notNull(),
    checkReasons: jsonb('check_reasons').$type<{ code: string; message: string }[]>().notNull().default([]),
    faceBox: jsonb('face_box').$type<{ x: number; y: number; width: number; height: number } | null>(),
    createdAt: createdAt(),
    // Generated images (source 'generated'): the generation and slot that delivered them, the
    // method and attempts it took, and the identity check of the delivered image. Null for sheets.
    generationId: text('generation_id'),
    generationSlot: integer('generation_slot'),
    method: text('method'), // lora | faceswap | plain
    attempts: integer('attempts'),
    seed: bigint('seed', { mode: 'number' }),
    identitySimilarity: doublePrecision('identity_similarity'),
    identityMatch: boolean('identity_match'),
    faceCount: integer('face_count'),
    /** A near-copy of a reference image: never counted as a success. */
    copyPaste: boolean('copy_paste'),
    /** Delivered although no attempt matched the character's identity. */
    identityFlagged: boolean('identity_flagged'),
    recognizerId: text('recognizer_id'),
    /** Made by the GPU emulator: kept out of the consistency metrics. */
    emulated: boolean('emulated').notNull().default(false),
    /** The owner's answer to "does this look like the character?" (null: not answered). */
    looksLikeCharacter: boolean('looks_like_character'),
    looksLikeAnsweredAt: ts('looks_like_answered_at'),
  },
  (t) => [
    index('images_character_idx').on(t.characterId),
    uniqueIndex('images_generation_slot_uq').on(t.generationId, t.generationSlot),
  ],
);

export const trainingRuns = pgTable(
  'training_runs',
  {
    id: text('id').primaryKey(),
    ownerId: text('owner_id').notNull().references(() => users.id),
    characterId: text('character_id').notNull().references(() => characters.id),
    baseModel: text('base_model').notNull(),
    status: text('status').notNull(),
    /** Bumped by every update: state-changing calls carry the version they saw. */
    version: integer('version').notNull().default(0),
    trigger: text('trigger').notNull(), // sheet_complete | manual | retry
    imageIds: jsonb('image_ids').$type<string[]>().notNull(),
    priceTotal: integer('price_total').notNull(),
    priceBreakdown: jsonb('price_breakdown').$type<Record<string, unknown>>().notNull(),
    free: boolean('free').notNull().default(false),
    retryOfRunId: text('retry_of_run_id'),
    reservationId: text('reservation_id'),
    creditsCharged: integer('credits_charged').notNull().default(0),
    creditsRefunded: integer('credits_refunded').notNull().default(0),
    recipe: jsonb('recipe').$type<Record<string, unknown>>(),
    backend: text('backend').notNull(),
    emulated: boolean('emulated').notNull().default(false),
    attempt: integer('attempt').notNull().default(0),
    transientRetries: integer('transient_retries').notNull().default(0),
    jobName: text('job_name'),
    providerHandle: jsonb('provider_handle').$type<Record<string, unknown>>(),
    datasetKey: text('dataset_key'),
    step: integer('step').notNull().default(0),
    totalSteps: integer('total_steps').notNull().default(0),
    secondsPerStep: doublePrecision('seconds_per_step'),
    etaSeconds: integer('eta_seconds'),
    loss: doublePrecision('loss'),
    progressMessage: text('progress_message'),
    sampleKeys: jsonb('sample_keys').$type<string[]>().notNull().default([]),
    errorCode: text('error_code'),
    errorMessage: text('error_message'),
    /** Whose fault a failure was: provider/platform faults make the next run free. */
    errorFault: text('error_fault'),
    cancelRequested: boolean('cancel_requested').notNull().default(false),
    /** Why a queued run is held back ('gpu_budget': the platform's daily GPU budget is used up); null = not held. */
    waitReason: text('wait_reason'),
    /** The worker process running the run's current step (see worker_heartbeats). */
    workerId: text('worker_id'),
    gpuSeconds: doublePrecision('gpu_seconds'),
    costUsd: doublePrecision('cost_usd'),
    loraModelId: text('lora_model_id'),
    createdAt: createdAt(),
    updatedAt: ts('updated_at').notNull().defaultNow(),
    trainingStartedAt: ts('training_started_at'),
    finishedAt: ts('finished_at'),
  },
  (t) => [
    // At most one active run per character: concurrent starts get a unique violation -> 409.
    uniqueIndex('training_runs_one_active_uq')
      .on(t.characterId)
      .where(sql`status in ('queued','preparing','submitting','training','finalizing')`),
    index('training_runs_owner_idx').on(t.ownerId),
    index('training_runs_status_idx').on(t.status),
  ],
);

export const runEvents = pgTable(
  'run_events',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    runId: text('run_id').notNull().references(() => trainingRuns.id),
    fromStatus: text('from_status'),
    toStatus: text('to_status').notNull(),
    detail: text('detail'),
    at: createdAt(),
  },
  (t) => [index('run_events_run_idx').on(t.runId)],
);

export const loraModels = pgTable(
  'lora_models',
  {
    id: text('id').primaryKey(),
    ownerId: text('owner_id').notNull().references(() => users.id),
    characterId: text('character_id').notNull().references(() => characters.id),
    runId: text('run_id').notNull().references(() => trainingRuns.id),
    baseModel: text('base_model').notNull(),
    version: integer('version').notNull(),
    triggerWord: text('trigger_word').notNull(),
    files: jsonb('files')
      .$type<{ part: string; storageKey: string; size: number; sha256: string; fileName: string }[]>()
      .notNull(),
    rank: integer('rank').notNull(),
    checkpointStep: integer('checkpoint_step'),
    sizeBytes: bigint('size_bytes', { mode: 'number' }).notNull(),
    emulated: boolean('emulated').notNull().default(false),
    createdAt: createdAt(),
    deletedAt: ts('deleted_at'),
  },
  (t) => [
    uniqueIndex('lora_models_run_uq').on(t.runId),
    uniqueIndex('lora_models_version_uq').on(t.characterId, t.baseModel, t.version),
  ],
);

/** The active LoRA per character and base model. */
export const activeLoras = pgTable(
  'active_loras',
  {
    characterId: text('character_id').notNull().references(() => characters.id),
    baseModel: text('base_model').notNull(),
    loraModelId: text('lora_model_id').notNull().references(() => loraModels.id),
  },
  (t) => [primaryKey({ columns: [t.characterId, t.baseModel] })],
);

export const ledgerEntries = pgTable(
  'ledger_entries',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    userId: text('user_id').notNull().references(() => users.id),
    kind: text('kind').notNull(), // grant | reserve | capture | release
    amount: integer('amount').notNull(),
    reservationId: text('reservation_id'),
    idempotencyKey: text('idempotency_key').notNull(),
    runId: text('run_id'),
    reason: text('reason'),
    createdAt: createdAt(),
  },
  (t) => [
    uniqueIndex('ledger_idempotency_uq').on(t.userId, t.idempotencyKey),
    // A reservation is closed (captured or released) at most once, enforced by the database too.
    uniqueIndex('ledger_one_close_uq')
      .on(t.reservationId)
      .where(sql`kind in ('capture','release')`),
    index('ledger_user_idx').on(t.userId),
  ],
);

export const notifications = pgTable(
  'notifications',
  {
    id: text('id').primaryKey(),
    userId: text('user_id').notNull().references(() => users.id),
    type: text('type').notNull(),
    title: text('title').notNull(),
    body: text('body').notNull(),
    link: text('link'),
    data: jsonb('data').$type<Record<string, unknown>>().notNull().default({}),
    /** Makes a notification idempotent: the same event never notifies twice. */
    dedupeKey: text('dedupe_key').notNull(),
    readAt: ts('read_at'),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex('notifications_dedupe_uq').on(t.userId, t.dedupeKey), index('notifications_user_idx').on(t.userId)],
);

/**
 * Idempotency-Key records for POST routes that create runs or generations: a retried request
 * (same user, key and body) gets the first response instead of doing the work twice.
 */
export const idempotencyKeys = pgTable(
  'idempotency_keys',
  {
    userId: text('user_id').notNull().references(() => users.id),
    key: text('key').notNull(),
    route: text('route').notNull(),
    requestHash: text('request_hash').notNull(),
    /** null while the first request is still being handled. */
    statusCode: integer('status_code'),
    response: jsonb('response').$type<unknown>(),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.userId, t.key] })],
);

/**
 * Generations: one request for `count` images of a character. The plan (method, reason, LoRA) and
 * the workflow of the first attempt are stored as decided; every attempt, with its own workflow
 * and identity score, is in generation_attempts; delivered images are rows of `images`.
 */
export const generations = pgTable(
  'generations',
  {
    id: text('id').primaryKey(),
    ownerId: text('owner_id').notNull().references(() => users.id),
    characterId: text('character_id').notNull().references(() => characters.id),
    baseModel: text('base_model').notNull(),
    prompt: text('prompt').notNull(),
    negativePrompt: text('negative_prompt').notNull().default(''),
    width: integer('width').notNull(),
    height: integer('height').notNull(),
    count: integer('count').notNull(),
    seed: bigint('seed', { mode: 'number' }).notNull(),
    status: text('status').notNull(), // queued | running | completed | failed
    /** The planned method: lora | faceswap | plain. */
    method: text('method').notNull(),
    planCode: text('plan_code').notNull(),
    planReason: text('plan_reason').notNull(),
    plan: jsonb('plan').$type<Record<string, unknown>>().notNull(),
    loraModelId: text('lora_model_id'),
    triggerWord: text('trigger_word'),
    loraStrength: doublePrecision('lora_strength'),
    referenceImageId: text('reference_image_id'),
    /** The platform's own API-format workflow, when it sent one instead of using the builders. */
    sourceWorkflow: jsonb('source_workflow').$type<Record<string, unknown>>(),
    workflow: jsonb('workflow').$type<Record<string, unknown>>().notNull(),
    /** Method changes at run time (LoRA unavailable, identity gate), in order. */
    fallbacks: jsonb('fallbacks').$type<{ slot: number; from: string; to: string; reason: string }[]>().notNull().default([]),
    attempts: integer('attempts').notNull().default(0),
    gpuSeconds: doublePrecision('gpu_seconds').notNull().default(0),
    costUsd: doublePrecision('cost_usd'),
    backend: text('backend').notNull(),
    emulated: boolean('emulated').notNull().default(false),
    errorCode: text('error_code'),
    errorMessage: text('error_message'),
    createdAt: createdAt(),
    updatedAt: ts('updated_at').notNull().defaultNow(),
    startedAt: ts('started_at'),
    finishedAt: ts('finished_at'),
  },
  (t) => [index('generations_owner_idx').on(t.ownerId), index('generations_character_idx').on(t.characterId)],
);

/** Every run of a generation's workflow: the consistency metrics are computed over these. */
export const generationAttempts = pgTable(
  'generation_attempts',
  {
    id: text('id').primaryKey(),
    generationId: text('generation_id').notNull().references(() => generations.id),
    slot: integer('slot').notNull(),
    /** 1-based within the slot. */
    attempt: integer('attempt').notNull(),
    method: text('method').notNull(),
    seed: bigint('seed', { mode: 'number' }).notNull(),
    loraStrength: doublePrecision('lora_strength'),
    /** scored | unscored | failed | lora_unavailable */
    outcome: text('outcome').notNull(),
    providerJobId: text('provider_job_id'),
    gpuSeconds: doublePrecision('gpu_seconds'),
    similarity: doublePrecision('similarity'),
    match: boolean('match'),
    faceCount: integer('face_count'),
    copyPaste: boolean('copy_paste'),
    recognizerId: text('recognizer_id'),
    emulated: boolean('emulated').notNull().default(false),
    error: text('error'),
    workflow: jsonb('workflow').$type<Record<string, unknown>>().notNull(),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex('generation_attempts_slot_uq').on(t.generationId, t.slot, t.attempt)],
);

/**
 * Live worker processes. Each beats every few seconds; a training step records which worker runs
 * it, so a run whose worker stopped beating is handed to another worker at once instead of
 * waiting for the queue's expiry (minutes for a long finalize).
 */
export const workerHeartbeats = pgTable('worker_heartbeats', {
  id: text('id').primaryKey(),
  lastSeen: timestamp('last_seen', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
  startedAt: createdAt(),
});

/**
 * The outbox and delivery log of outgoing webhooks (webhooks/webhook-outbox.repo.ts): one row per
 * event, written in the transaction that raised it; `event_key` makes the event idempotent.
 */
export const webhookDeliveries = pgTable(
  'webhook_deliveries',
  {
    /** Also the `webhook-id` header: the same across retries, so receivers can drop duplicates. */
    id: text('id').primaryKey(),
    eventKey: text('event_key').notNull().unique(),
    type: text('type').notNull(),
    userId: text('user_id').references(() => users.id),
    /** The target when the event was recorded; attempts go to the one configured at the time. */
    url: text('url').notNull(),
    /** The body sent, as it is sent on every attempt: {type, timestamp, data}. */
    payload: jsonb('payload').$type<{ type: string; timestamp: string; data: Record<string, unknown> }>().notNull(),
    /** pending | delivered | failed */
    status: text('status').notNull(),
    attempts: integer('attempts').notNull().default(0),
    lastStatus: integer('last_status'),
    lastError: text('last_error'),
    lastAttemptAt: ts('last_attempt_at'),
    nextAttemptAt: ts('next_attempt_at'),
    deliveredAt: ts('delivered_at'),
    createdAt: createdAt(),
  },
  (t) => [index('webhook_deliveries_status_idx').on(t.status, t.nextAttemptAt), index('webhook_deliveries_created_idx').on(t.createdAt)],
);

/** Platform-wide settings an admin changes at run time (they override configuration for every process). */
export const platformSettings = pgTable('platform_settings', {
  key: text('key').primaryKey(),
  value: jsonb('value').$type<Record<string, unknown>>().notNull(),
  updatedAt: ts('updated_at').notNull().defaultNow(),
});
