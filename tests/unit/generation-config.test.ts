/** Generation configuration: which backend is chosen, what each needs, the gate and retrain defaults. */
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/config.js';

describe('generation configuration', () => {
  it('defaults to the emulator, 2 gate retries and a retrain suggestion at 5 new likes', () => {
    const c = loadConfig({});
    expect(c.generation.backend).toEqual({ kind: 'emulator' });
    expect(c.generation).toMatchObject({ gateRetries: 2, retrainLikesThreshold: 5, timeoutSeconds: 600, usdPerGpuSecond: undefined });
  });

  it('chooses ComfyUI from its URL and RunPod serverless from an endpoint id', () => {
    const comfy = loadConfig({ LIKENESS_COMFYUI_URL: 'http://gpu-box:8188/', LIKENESS_COMFYUI_LORA_DIR: '/mnt/comfy/models/loras' });
    expect(comfy.generation.backend).toEqual({ kind: 'comfyui', url: 'http://gpu-box:8188', loraDir: '/mnt/comfy/models/loras' });
    const runpod = loadConfig({ RUNPOD_API_KEY: 'rp_key_123456', LIKENESS_RUNPOD_ENDPOINT_ID: 'abc123', LIKENESS_GENERATION_BACKEND: 'runpod-serverless' });
    expect(runpod.generation.backend).toMatchObject({ kind: 'runpod-serverless', endpointId: 'abc123', url: 'https://api.runpod.ai/v2', loraDelivery: 'download' });
  });

  it('names what a chosen backend is missing, without echoing the key', () => {
    expect(() => loadConfig({ LIKENESS_GENERATION_BACKEND: 'comfyui' })).toThrow(/LIKENESS_COMFYUI_URL/);
    try {
      loadConfig({ LIKENESS_GENERATION_BACKEND: 'runpod-serverless', RUNPOD_API_KEY: 'rp_secret_value' });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as Error).message).toMatch(/LIKENESS_RUNPOD_ENDPOINT_ID/);
      expect((err as Error).message).not.toContain('rp_secret_value');
    }
    expect(() => loadConfig({ LIKENESS_GATE_RETRIES: '-1' })).toThrow(/LIKENESS_GATE_RETRIES/);
    expect(() => loadConfig({ LIKENESS_RETRAIN_LIKES_THRESHOLD: '0' })).toThrow(/LIKENESS_RETRAIN_LIKES_THRESHOLD/);
  });
});
