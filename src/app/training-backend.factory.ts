/**
 * Chooses the training backend once, at start-up, from configuration. With no provider
 * configured, the GPU emulator is started in-process and the real RunPod adapter talks to it over
 * HTTP exactly as it would to RunPod.
 */
import path from 'node:path';
import type { Config } from '../config/config.js';
import { startEmulator, faultsFromEnv, type RunningEmulator } from '../emulator/index.js';
import { AitoolkitBackend } from '../training/aitoolkit.backend.js';
import { RunpodPodBackend } from '../training/runpod-pod.backend.js';
import { LocalAitoolkitBackend } from '../training/local-aitoolkit.backend.js';
import type { TrainingBackend } from '../training/training-backend.js';

export const EMULATOR_API_KEY = 'emulator-key';

export interface BackendChoice {
  backend: TrainingBackend;
  emulated: boolean;
  emulator: RunningEmulator | null;
  describe: string;
}

export async function createTrainingBackend(config: Config, log: (m: string) => void): Promise<BackendChoice> {
  const t = config.training;
  switch (t.backend) {
    case 'emulator': {
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
      const backend = new RunpodPodBackend({
        apiKey: EMULATOR_API_KEY,
        apiBaseUrl: emulator.runpodApiUrl,
        proxyUrlTemplate: emulator.podProxyUrlTemplate,
        gpuTypeIds: ['NVIDIA GeForce RTX 4090'],
        emulated: true,
        requestTimeoutMs: 10_000,
      });
      log(`GPU emulator listening on ${emulator.url}`);
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
