import { describe, expect, it } from 'vitest';
import {
  artifactsFromListings,
  parseCheckpointName,
  parseSampleName,
} from '../../src/training/aitoolkit/aitoolkit-artifacts.js';
import { encodeFilePathForUrl, type AitkJob } from '../../src/training/aitoolkit/aitoolkit-ui.client.js';
import {
  AitkJobDriver,
  aitkDatasetName,
  secondsPerStepFrom,
  totalStepsOf,
} from '../../src/training/aitoolkit/aitoolkit-job.driver.js';
import { defaultRecipe } from '../../src/training/training-recipes.js';

describe('AI Toolkit output names (contracts §3.6, lora-formats §2.4)', () => {
  it('parses checkpoints, final saves and Wan 2.2 parts', () => {
    expect(parseCheckpointName('my_lora_v1_000000250.safetensors', 'my_lora_v1')).toEqual({ step: 250, part: 'main' });
    expect(parseCheckpointName('my_lora_v1.safetensors', 'my_lora_v1')).toEqual({ step: null, part: 'main' });
    expect(parseCheckpointName('job_000000500_high_noise.safetensors', 'job')).toEqual({ step: 500, part: 'high_noise' });
    expect(parseCheckpointName('job_low_noise.safetensors', 'job')).toEqual({ step: null, part: 'low_noise' });
    expect(parseCheckpointName('optimizer.pt', 'job')).toBeNull();
    expect(parseCheckpointName('other_000000250.safetensors', 'job')).toBeNull();
    expect(parseCheckpointName('job_250.safetensors', 'job')).toBeNull();
  });

  it('parses samples with the double underscore', () => {
    expect(parseSampleName('1755770112345__000000250_0.jpg')).toEqual({ timeMs: 1755770112345, step: 250, promptIndex: 0 });
    expect(parseSampleName('1755770112345__000000000_12.webp')).toMatchObject({ step: 0, promptIndex: 12 });
    expect(parseSampleName('1755770112345_000000250_0.jpg')).toBeNull();
  });

  it('lists checkpoints by step with the final save last, then samples', () => {
    const root = '/app/ai-toolkit/output/job';
    const artifacts = artifactsFromListings(
      'job',
      [
        { path: `${root}/job.safetensors`, size: 30 },
        { path: `${root}/job_000000500.safetensors`, size: 20 },
        { path: `${root}/job_000000250.safetensors`, size: 10 },
        { path: `${root}/optimizer.pt`, size: 99 },
      ],
      [`${root}/samples/2__000000250_1.jpg`, `${root}/samples/1__000000000_0.jpg`],
    );
    expect(artifacts.map((a) => [a.kind, a.step, a.name])).toEqual([
      ['checkpoint', 250, 'job_000000250.safetensors'],
      ['checkpoint', 500, 'job_000000500.safetensors'],
      ['checkpoint', null, 'job.safetensors'],
      ['sample', 0, '1__000000000_0.jpg'],
      ['sample', 250, '2__000000250_1.jpg'],
    ]);
    expect(artifacts[0]).toMatchObject({ ref: `${root}/job_000000250.safetensors`, size: 10, part: 'main' });
  });

  it('encodes file URLs as the UI does', () => {
    expect(encodeFilePathForUrl('/app/ai-toolkit/output/my_lora/my_lora_000000250.safetensors')).toBe(
      '%2Fapp%2Fai-toolkit%2Foutput%2Fmy_lora/my_lora_000000250.safetensors',
    );
  });
});

describe('job status mapping', () => {
  const recipe = defaultRecipe('flux-dev', 'ohwx');
  const run = { jobName: 'job', recipe, dataset: { name: 'd', files: [] } };
  const driver = new AitkJobDriver({ gpuIds: '0', emulated: true });
  const job = (over: Partial<AitkJob>): AitkJob => ({
    id: 'id',
    name: 'job',
    gpu_ids: '0',
    job_config: JSON.stringify({ config: { process: [{ train: { steps: 777 } }] } }),
    status: 'running',
    stop: false,
    step: 12,
    total_steps: null,
    info: 'Training',
    speed_string: '1.25 iter/sec',
    created_at: '2026-01-01T00:00:00Z',
    updated_at: '2026-01-01T00:10:00Z',
    ...over,
  });

  it('reads speed strings both ways and total steps from job_config', () => {
    expect(secondsPerStepFrom('1.25 iter/sec')).toBeCloseTo(0.8);
    expect(secondsPerStepFrom('3.21 sec/iter')).toBeCloseTo(3.21);
    expect(secondsPerStepFrom('')).toBeUndefined();
    expect(totalStepsOf(job({}), 5)).toBe(777);
    expect(totalStepsOf(job({ total_steps: 40 }), 5)).toBe(40);
    expect(totalStepsOf(job({ job_config: 'not json' }), 5)).toBe(5);
  });

  it('maps every UI status', () => {
    expect(driver.statusOf(job({}), run)).toEqual({
      state: 'running',
      progress: { step: 12, totalSteps: 777, secondsPerStep: 0.8, message: 'Training' },
      emulated: true,
    });
    expect(driver.statusOf(job({ status: 'queued' }), run).state).toBe('queued');
    expect(driver.statusOf(job({ status: 'error', info: 'CUDA out of memory' }), run)).toMatchObject({
      state: 'failed',
      error: 'CUDA out of memory',
    });
    expect(driver.statusOf(job({ status: 'stopped', stop: true, info: 'Job stopped' }), run).state).toBe('cancelled');
    // Created, never queued: not a cancellation.
    expect(driver.statusOf(job({ status: 'stopped', stop: false, info: '' }), run).state).toBe('queued');
    expect(() => driver.statusOf(job({ status: 'weird' as AitkJob['status'] }), run)).toThrow(/unknown status/);
  });

  it('names datasets the way datasets/create sanitizes them', () => {
    expect(aitkDatasetName('likeness_Run_42')).toBe('likeness_run_42');
  });
});
