/**
 * The emulator's RunPod serverless part, at /serverless/v2/{endpointId}/... (real:
 * https://api.runpod.ai/v2/...), one handler per endpoint id:
 *   COMFY_ENDPOINT_ID      worker-comfyui on the emulated ComfyUI host (comfyui/)
 *   TRAINING_ENDPOINT_ID   Likeness's AI Toolkit training worker (aitoolkit-worker.handler.ts),
 *                          subject to the emulator's injected faults: request errors and hangs,
 *                          trainer errors, preemption (the job vanishes), lost or duplicated webhooks.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import type { FaultInjector } from '../faults.js';
import type { LoraRenderer } from '../lora-artifact.js';
import type { TimerSet } from '../timer-set.js';
import { aitkServerlessHandler } from './aitoolkit-worker.handler.js';
import { runpodServerlessRoutes, type ServerlessEndpoint } from './runpod-serverless.routes.js';

export const TRAINING_ENDPOINT_ID = 'emulator-aitoolkit';

export interface ServerlessApiOptions {
  apiKey: string;
  timers: TimerSet;
  faults: FaultInjector;
  renderer: LoraRenderer;
  trainSeconds: number;
  /** Scratch folder of the training worker (datasets, samples), one subfolder per job. */
  workDir: string;
  webhookRetryMs?: number;
  comfyEndpoint: ServerlessEndpoint;
  log: (msg: string) => void;
}

export async function buildServerlessApi(opts: ServerlessApiOptions): Promise<FastifyInstance> {
  const timers = opts.timers.child();
  const training: ServerlessEndpoint = {
    id: TRAINING_ENDPOINT_ID,
    handler: aitkServerlessHandler({ workDir: opts.workDir, trainSeconds: opts.trainSeconds, faults: opts.faults, renderer: opts.renderer, timers, log: opts.log }),
    requestFault: () => opts.faults.forRequest(),
  };
  const app = Fastify({ logger: false });
  app.addHook('onClose', async () => timers.close());
  await app.register(runpodServerlessRoutes, {
    prefix: '/serverless',
    endpoints: [opts.comfyEndpoint, training],
    timers,
    apiKey: opts.apiKey,
    webhookFate: () => opts.faults.forWebhook(),
    webhookRetryMs: opts.webhookRetryMs,
    log: opts.log,
  });
  await app.ready();
  return app;
}
