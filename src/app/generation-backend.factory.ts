/**
 * Chooses the generation backend once, at start-up, like the training one:
 * - emulator (default): the real ComfyUI adapter over HTTP + WebSocket against the GPU emulator's
 *   ComfyUI, LoRA files copied into the emulated host's loras folder; with an emulator in its own
 *   process (LIKENESS_EMULATOR_URL), the real RunPod serverless adapter against its serverless
 *   endpoint, the worker downloading LoRAs from signed URLs (nothing shared but HTTP);
 * - comfyui: a ComfyUI server (LIKENESS_COMFYUI_URL, LoRAs through LIKENESS_COMFYUI_LORA_DIR);
 * - runpod-serverless: a worker-comfyui endpoint (RUNPOD_API_KEY, LIKENESS_RUNPOD_ENDPOINT_ID).
 */
import path from 'node:path';
import type { Config } from '../config/config.js';
import { startEmulator, type RunningEmulator } from '../emulator/index.js';
import { COMFY_ENDPOINT_ID } from '../emulator/comfyui/index.js';
import { ComfyUiBackend } from '../generation/comfyui.backend.js';
import type { GenerationBackend, GenerationRuntime } from '../generation/generation-backend.js';
import { RunpodComfyBackend } from '../generation/runpod-comfyui.backend.js';
import { EMULATOR_API_KEY } from './training-backend.factory.js';

export async function createGenerationRuntime(
  config: Config,
  opts: { log: (m: string) => void; emulator: RunningEmulator | null },
): Promise<GenerationRuntime> {
  const g = config.generation.backend;
  const runtime = (backend: GenerationBackend, describe: string, extra: Partial<GenerationRuntime> = {}): GenerationRuntime => ({
    backend,
    describe,
    emulated: false,
    emulatorHints: null,
    close: () => backend.close(),
    ...extra,
  });
  switch (g.kind) {
    case 'comfyui':
      return runtime(new ComfyUiBackend({ baseUrl: g.url, loraDir: g.loraDir ?? null, log: opts.log }), `ComfyUI at ${g.url}`);
    case 'runpod-serverless':
      return runtime(
        new RunpodComfyBackend({
          apiKey: g.apiKey,
          endpointId: g.endpointId,
          baseUrl: g.url,
          loraDelivery: g.loraDelivery,
          executionTimeoutMs: config.generation.timeoutSeconds * 1000,
        }),
        `RunPod serverless worker-comfyui endpoint ${g.endpointId}`,
      );
    case 'emulator':
      return emulatedRuntime(config, opts);
  }
}

async function emulatedRuntime(config: Config, opts: { log: (m: string) => void; emulator: RunningEmulator | null }): Promise<GenerationRuntime> {
  const external = config.training.backend === 'emulator' ? config.training.url : undefined;
  if (external) {
    const backend = new RunpodComfyBackend({ apiKey: EMULATOR_API_KEY, endpointId: COMFY_ENDPOINT_ID, baseUrl: `${external}/serverless/v2`, loraDelivery: 'download' });
    return {
      backend,
      emulated: true,
      describe: `emulator at ${external} (RunPod serverless worker-comfyui protocol)`,
      emulatorHints: hintsFor(external),
      close: () => backend.close(),
    };
  }
  let emulator = opts.emulator;
  let owned = false;
  if (!emulator) {
    // Training uses a real provider: generation still needs an emulator of its own.
    emulator = await startEmulator({ host: '127.0.0.1', port: 0, dataDir: path.join(config.dataDir, 'emulator-generation'), runpodApiKey: EMULATOR_API_KEY });
    owned = true;
  }
  const backend = new ComfyUiBackend({ baseUrl: emulator.comfyUrl, loraDir: emulator.comfyLorasDir, log: opts.log });
  const running = emulator;
  return {
    backend,
    emulated: true,
    describe: `emulator (ComfyUI protocol at ${emulator.comfyUrl})`,
    emulatorHints: hintsFor(emulator.url),
    close: async () => {
      await backend.close();
      if (owned) await running.close();
    },
  };
}

/** The emulator's control API: a LoRA file name renders this face (it has no model to learn one). */
function hintsFor(emulatorUrl: string): GenerationRuntime['emulatorHints'] {
  return {
    async bindLoraFace(fileNames, face) {
      for (const name of fileNames) {
        const res = await fetch(`${emulatorUrl}/_emulator/comfyui/loras/${encodeURIComponent(name)}/face`, {
          method: 'PUT',
          headers: { 'content-type': 'application/octet-stream' },
          body: new Uint8Array(face),
        });
        if (!res.ok) throw new Error(`emulator refused the LoRA face binding for ${name}: HTTP ${res.status}`);
      }
    },
  };
}
