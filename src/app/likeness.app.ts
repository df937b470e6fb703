/**
 * The composition root: builds every part from the validated Config and starts the roles this
 * process plays (API, worker, or both). Nothing else wires concrete implementations together.
 */
import { mkdir } from 'node:fs/promises';
import type { FastifyInstance } from 'fastify';
import type { Config } from '../config/config.js';
import { openDatabase, type Database } from '../db/database.js';
import { JobQueue } from '../queue/job-queue.js';
import { GENERATION_RUN, QUEUES, TRAINING_STEP, WEBHOOK_DELIVERY, type GenerationRunData, type TrainingStepData } from '../jobs/queues.js';
import { deliverWebhook, resendOverdueWebhooks } from '../jobs/webhook-delivery.step.js';
import type { WebhookDeliveryData } from '../webhooks/webhook-outbox.repo.js';
import type { WebhookTarget } from '../webhooks/webhook.sender.js';
import { runGeneration } from '../jobs/generation-pipeline.js';
import { runTrainingStep } from '../jobs/training-pipeline.js';
import { reconcileRuns } from '../jobs/reconciler.js';
import { applyRetention, planRetention } from '../services/retention.service.js';
import { TrainingTracker } from '../jobs/training-tracker.js';
import { forgetAllWorkers, WorkerHeartbeat } from '../jobs/worker-heartbeat.js';
import { NotificationHub } from '../notifications/notification-hub.js';
import { createObjectStore, describeObjectStore } from '../storage/object-store.factory.js';
import { UrlSigner } from '../storage/url-signer.js';
import { BasicImageChecker } from '../services/image-checker.js';
import { IdentityImageChecker } from '../services/identity-image-checker.js';
import { createIdentityEngine, type IdentityEngine } from '../identity/index.js';
import type { ServiceContext } from '../services/context.js';
import { buildApi } from '../api/server.js';
import { signedRunpodWebhookPath } from '../api/routes/provider-webhooks.routes.js';
import { createTrainingBackend, type BackendChoice } from './training-backend.factory.js';
import { createGenerationRuntime } from './generation-backend.factory.js';
import { persistedSecret, randomSecret, randomWebhookSecret } from './secrets.js';

export interface StartOptions {
  api: boolean;
  worker: boolean;
  log?: (msg: string) => void;
  /** Fastify request logging. */
  httpLog?: boolean;
}

export interface RunningLikeness {
  url: string | null;
  ctx: ServiceContext;
  adminToken: string;
  adminTokenCreated: boolean;
  backend: BackendChoice;
  database: Database;
  /** Runs the reconciler once (tests call it instead of waiting for the tick). */
  reconcile(): Promise<number>;
  close(): Promise<void>;
}

const RECONCILE_EVERY_MS = 10_000;
const RETENTION_EVERY_MS = 24 * 3600_000;

export async function startLikeness(config: Config, opts: StartOptions): Promise<RunningLikeness> {
  const log = opts.log ?? ((m: string) => console.log(m));
  await mkdir(config.dataDir, { recursive: true });
  const signing = config.signingSecret ?? (await persistedSecret(config.dataDir, 'signing-secret', () => randomSecret())).value;
  const admin = config.adminToken
    ? { value: config.adminToken, created: false }
    : await persistedSecret(config.dataDir, 'admin-token', () => randomSecret('lk_admin_'));

  const webhooks: WebhookTarget | null = config.webhooks
    ? { url: config.webhooks.url, secret: config.webhooks.secret ?? (await persistedSecret(config.dataDir, 'webhook-secret', randomWebhookSecret)).value }
    : null;

  const database = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
  const queue = new JobQueue(database.boss);
  await queue.start(QUEUES);

  let baseUrl = config.publicUrl ?? `http://${config.host}:${config.port}`;
  const signer = new UrlSigner(signing);
  const store = createObjectStore(config, { signer, baseUrl: () => baseUrl });
  // Provider webhooks need a URL the provider can reach: the public URL, or loopback for the in-process emulator.
  const webhooksReachable = Boolean(config.publicUrl) || (config.training.backend === 'emulator' && !config.training.url);
  const backend = await createTrainingBackend(config, log, {
    store,
    webhookUrl: webhooksReachable ? (runId, seconds) => `${baseUrl}${signedRunpodWebhookPath(signer, runId, seconds)}` : undefined,
  });
  // Face checks run in worker threads: the API checks uploads, the worker scores generated images.
  const identity: IdentityEngine | null =
    (opts.api || opts.worker) && config.identity.enabled ? await createIdentityEngine({ workers: config.identity.workers }) : null;
  const generation = await createGenerationRuntime(config, { log, emulator: backend.emulator });

  const ctx: ServiceContext = {
    config,
    db: database.db,
    queue,
    store,
    hub: new NotificationHub(),
    backend: backend.backend,
    emulated: backend.emulated,
    imageChecker: identity
      ? new IdentityImageChecker(identity, { minSide: config.images.minSide, minSharpness: config.images.minSharpness })
      : new BasicImageChecker(config.images.minSide),
    log,
    generation,
    identity,
    webhooks,
  };

  let app: FastifyInstance | null = null;
  let url: string | null = null;
  if (opts.api) {
    app = await buildApi({
      ctx,
      signer,
      adminToken: admin.value,
      logger: opts.httpLog,
      health: async () => ({
        database: database.kind,
        storage: describeObjectStore(config),
        training: backend.describe,
        generation: generation.describe,
        emulated: backend.emulated,
        provider: backend.backend.probe ? await backend.backend.probe() : undefined,
      }),
    });
    await app.listen({ host: config.host, port: config.port });
    const address = app.server.address();
    const port = typeof address === 'object' && address ? address.port : config.port;
    url = `http://${config.host}:${port}`;
    if (!config.publicUrl) baseUrl = url;
  }

  let reconcileTimer: NodeJS.Timeout | null = null;
  let retentionTimer: NodeJS.Timeout | null = null;
  let heartbeat: WorkerHeartbeat | null = null;
  let tracker: TrainingTracker | null = null;
  if (opts.worker) {
    if (database.kind === 'pglite') {
      const n = await queue.recoverOrphans([TRAINING_STEP, GENERATION_RUN, WEBHOOK_DELIVERY]);
      if (n) log(`Recovered ${n} job(s) left running by the previous process.`);
      await forgetAllWorkers(database.db);
    }
    heartbeat = new WorkerHeartbeat(database.db);
    await heartbeat.start();
    const workerId = heartbeat.id;
    await queue.work<TrainingStepData>(TRAINING_STEP, config.worker.concurrency, (job) => runTrainingStep(ctx, job, workerId));
    await queue.work<GenerationRunData>(GENERATION_RUN, config.worker.concurrency, (job) => runGeneration(ctx, job));
    await queue.work<WebhookDeliveryData>(WEBHOOK_DELIVERY, 2, (job) => deliverWebhook(ctx, job));
    tracker = new TrainingTracker(ctx, workerId);
    tracker.start();
    const revived = await reconcileRuns(ctx);
    if (revived) log(`Re-queued ${revived} training run(s) that had no pending step.`);
    reconcileTimer = setInterval(() => {
      reconcileRuns(ctx).catch((err) => log(`[reconciler] ${(err as Error).message}`));
      resendOverdueWebhooks(ctx).catch((err) => log(`[webhooks] ${(err as Error).message}`));
    }, RECONCILE_EVERY_MS);
    reconcileTimer.unref();
    // Storage retention once a day per worker; repeated passes are harmless (what is gone is not listed again).
    retentionTimer = setInterval(() => {
      planRetention(ctx, config.retention)
        .then((plan) => applyRetention(ctx, plan))
        .then((done) => log(`[retention] removed ${done.loras.length} LoRA version(s) and ${done.datasets.length} dataset(s), ${done.totalBytes} bytes`))
        .catch((err) => log(`[retention] ${(err as Error).message}`));
    }, RETENTION_EVERY_MS);
    retentionTimer.unref();
  }

  let closed = false;
  return {
    url,
    ctx,
    adminToken: admin.value,
    adminTokenCreated: admin.created,
    backend,
    database,
    reconcile: () => reconcileRuns(ctx),
    async close() {
      if (closed) return;
      closed = true;
      if (reconcileTimer) clearInterval(reconcileTimer);
      if (retentionTimer) clearInterval(retentionTimer);
      // Stop taking requests, let in-flight jobs finish (pg-boss waits), then close storage.
      await app?.close();
      await tracker?.stop();
      await queue.stop({ graceful: true, timeoutSeconds: 20 });
      await heartbeat?.stop();
      await generation.close();
      await backend.emulator?.close();
      await identity?.close();
      await database.close();
    },
  };
}
