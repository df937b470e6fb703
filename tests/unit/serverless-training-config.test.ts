/** LIKENESS_TRAINING_BACKEND=runpod-serverless and the emulator's serverless mode, validated at start-up. */
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';

describe('serverless training configuration', () => {
  it('chooses the serverless backend explicitly or from an endpoint id, with the shared serverless base', () => {
    const explicit = loadConfig({ LIKENESS_TRAINING_BACKEND: 'runpod-serverless', RUNPOD_API_KEY: 'rp_key_123456', LIKENESS_RUNPOD_TRAINING_ENDPOINT_ID: 'abc123' });
    expect(explicit.training).toEqual({ backend: 'runpod-serverless', apiKey: 'rp_key_123456', endpointId: 'abc123', url: 'https://api.runpod.ai/v2', executionTimeoutSeconds: 14400 });
    const auto = loadConfig({ RUNPOD_API_KEY: 'k', LIKENESS_RUNPOD_TRAINING_ENDPOINT_ID: 'e1', LIKENESS_RUNPOD_SERVERLESS_URL: 'http://emu:9100/serverless/v2/' });
    expect(auto.training).toMatchObject({ backend: 'runpod-serverless', url: 'http://emu:9100/serverless/v2' });
    expect(loadConfig({ RUNPOD_API_KEY: 'k' }).training.backend).toBe('runpod');
  });

  it('names what is missing without the secret, and refuses bad values', () => {
    expect(() => loadConfig({ LIKENESS_TRAINING_BACKEND: 'runpod-serverless', RUNPOD_API_KEY: 'rp_secret_value' })).toThrow(/LIKENESS_RUNPOD_TRAINING_ENDPOINT_ID are required/);
    expect(() => loadConfig({ LIKENESS_TRAINING_BACKEND: 'runpod-serverless', RUNPOD_API_KEY: 'rp_secret_value' })).not.toThrow(/rp_secret_value/);
    expect(() => loadConfig({ LIKENESS_RUNPOD_TRAINING_TIMEOUT_SECONDS: '10' })).toThrow(/LIKENESS_RUNPOD_TRAINING_TIMEOUT_SECONDS/);
    expect(() => loadConfig({ LIKENESS_EMULATOR_TRAINING_MODE: 'gpu' })).toThrow(/LIKENESS_EMULATOR_TRAINING_MODE/);
  });

  it('defaults the emulator to pods and accepts serverless', () => {
    expect(loadConfig({}).training).toMatchObject({ backend: 'emulator', mode: 'pods' });
    expect(loadConfig({ LIKENESS_EMULATOR_TRAINING_MODE: 'serverless' }).training).toMatchObject({ backend: 'emulator', mode: 'serverless' });
  });
});
