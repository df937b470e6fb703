/**
 * Chooses the training backend once, at start-up, from configuration. With no provider
 * configured, the GPU emulator is started in-process and the real RunPod adapter talks to it over
 * HTTP exactly as it would to RunPod: the pod adapter (REST v2 + AI Toolkit UI), or with
 * LIKENESS_EMULATOR_TRAINING_MODE=serverless the serverless adapter against its training endpoint.
 */
import path from 'node:path';
import type { Config } from '../config/config.js';
import { startEmulator, faultsFromEnv, TRAINING_ENDPOINT_ID, type RunningEmulator } from '../emulator/index.js';
import type { ObjectStore } from '../storage/object-store.js';
import { AitoolkitBackend } from '../training/aitoolkit.backend.js';
import { RunpodPodBackend } from '../training/runpod-pod.backend.js';
import { RunpodServerlessBackend } from '../training/runpod-serverless.backend.js';
import { LocalAitoolkitBackend } from '../training/local-aitoolkit.backend.js';
import type { TrainingBackend } from '../training/training-backend.js';

export const EMULATOR_API_KEY = 'emulator-key';

export interface BackendChoice {
  backend: TrainingBackend;
  emulated: boolean;
  emulator: RunningEmulator | null;
  describe: string;
}

export interface TrainingBackendDeps {
  /** Where a serverless worker uploads the LoRA through signed URLs. */
  store: ObjectStore;
  /** A run's signed webhook URL; absent when providers cannot reach this API (no public URL). */
  webhookUrl?: (runId: string, validForSeconds: number) => string;
}

export async function createTrainingBackend(config: Config, log: (m: string) => void, deps: TrainingBackendDeps): Promise<BackendChoice> {
  const t = config.training;
  const serverless = (apiKey: string, endpointId: string, baseUrl: string, emulated: boolean, executionTimeoutSeconds?: number, usdPerHour?: number) =>
    new RunpodServerlessBackend({
      apiKey,
      endpointId,
      baseUrl,
      store: deps.store,
      webhookUrl: deps.webhookUrl,
      executionTimeoutMs: executionTimeoutSeconds === undefined ? undefined : executionTimeoutSeconds * 1000,
      costPerGpuHourUsd: usdPerHour,
      requestTimeoutMs: emulated ? 10_000 : undefined,
      emulated,
    });
  switch (t.backend) {
    case 'emulator': {
      if (t.url && t.mode === 'serverless') {
        const backend = serverless(EMULATOR_API_KEY, TRAINING_ENDPOINT_ID, `${t.url}/serverless/v2`, true);
        return { backend, emulated: true, emulator: null, describe: `emulator at ${t.url} (RunPod serverless + AI Toolkit worker protocol)` };
      }
      if (t.url) {
        // An emulator in its own process outlives this one, as a real provider would.
        const backend = new RunpodPodBackend({
          apiKey: EMULATOR_API_KEY,
          apiBaseUrl: t.url,
          proxyUrlTemplate: `${t.url}/proxy/{podId}-{port}`,
          gpuTypeIds: ['NVIDIA GeForce RTX 4090'],
          emulated: true,
          requestTimeoutMs: 10_000,
        });
        return { backend, emulated: true, emulator: null, describe: `emulator at ${t.url} (RunPod + AI Toolkit protocol)` };
      }
      const emulator = await startEmulator({
        host: '127.0.0.1',
        port: t.port,
        dataDir: path.join(config.dataDir, 'emulator'),
        trainSeconds: t.trainSeconds,
        bootSeconds: t.bootSeconds,
        runpodApiKey: EMULATOR_API_KEY,
        faults: faultsFromEnv(t.faults),
      });
      log(`GPU emulator listening on ${emulator.url}`);
      if (t.mode === 'serverless') {
        const backend = serverless(EMULATOR_API_KEY, emulator.trainingEndpointId, emulator.serverlessUrl, true);
        return { backend, emulated: true, emulator, describe: `emulator (RunPod serverless + AI Toolkit worker protocol at ${emulator.url})` };
      }
      const backend = new RunpodPodBackend({
        apiKey: EMULATOR_API_KEY,
        apiBaseUrl: emulator.runpodApiUrl,
        proxyUrlTemplate: emulator.podProxyUrlTemplate,
        gpuTypeIds: ['NVIDIA GeForce RTX 4090'],
        emulated: true,
        requestTimeoutMs: 10_000,
      });
      return { backend, emulated: true, emulator, describe: `emulator (RunPod + AI Toolkit protocol at ${emulator.url})` };
    }
    case 'runpod':
      return {
        backend: new RunpodPodBackend({
          apiKey: t.apiKey,
          apiBaseUrl: t.apiUrl,
          proxyUrlTemplate: t.proxyUrlTemplate,
          gpuTypeIds: [t.gpuType],
          image: t.image,
        }),
        emulated: false,
        emulator: null,
        describe: `RunPod pods (${t.gpuType}) with AI Toolkit`,
      };
    case 'runpod-serverless':
      return {
        backend: serverless(t.apiKey, t.endpointId, t.url, false, t.executionTimeoutSeconds, t.usdPerHour),
        emulated: false,
        emulator: null,
        describe: `RunPod serverless endpoint ${t.endpointId} with AI Toolkit`,
      };
    case 'local':
      return {
        backend: new LocalAitoolkitBackend({ toolkitDir: t.toolkitDir, python: t.python, workDir: path.join(config.dataDir, 'local-aitoolkit') }),
        emulated: false,
        emulator: null,
        describe: `local AI Toolkit at ${t.toolkitDir} (${t.python})`,
      };
    case 'aitoolkit':
      return {
        backend: new AitoolkitBackend({ baseUrl: t.url, token: t.token, gpuIds: t.gpuIds }),
        emulated: false,
        emulator: null,
        describe: `AI Toolkit UI at ${t.url}`,
      };
  }
}
