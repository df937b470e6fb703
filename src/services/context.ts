/**
 * What the services and job handlers need, built once by the composition root (src/app/).
 * Narrow on purpose: services see interfaces, never concrete providers.
 */
import type { Config } from '../config/config.js';
import type { Db } from '../db/database.js';
import type { NotificationHub } from '../notifications/notification-hub.js';
import type { JobQueue } from '../queue/job-queue.js';
import type { ObjectStore } from '../storage/object-store.js';
import type { TrainingBackend } from '../training/training-backend.js';
import type { ImageChecker } from './image-checker.js';
import type { GenerationRuntime } from '../generation/generation-backend.js';
import type { IdentityEngine } from '../identity/index.js';
import type { WebhookTarget } from '../webhooks/webhook.sender.js';

export interface ServiceContext {
  config: Config;
  db: Db;
  queue: JobQueue;
  store: ObjectStore;
  hub: NotificationHub;
  backend: TrainingBackend;
  /** True when the training backend is the GPU emulator: its runs are marked emulated. */
  emulated: boolean;
  imageChecker: ImageChecker;
  log: (msg: string) => void;
  /** The generation backend chosen at start-up (absent in contexts that do not generate). */
  generation?: GenerationRuntime;
  /** Face analysis for identity scores; null when LIKENESS_IDENTITY=off. */
  identity?: IdentityEngine | null;
  /** Where outgoing webhooks go (with the signing secret resolved); null or absent = none. */
  webhooks?: WebhookTarget | null;
}
