/**
 * The RunPod serverless AI Toolkit worker (workers/aitoolkit-serverless/handler.py) run by python3
 * against the fake AI Toolkit run.py and a local HTTP server standing in for signed dataset,
 * upload and claim URLs. No `runpod` package: run_job gets a recording progress_update.
 */
import { execFile, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inspectLora } from '../../src/lora/lora-inspect.js';
import { readSafetensorsStream } from '../../src/lora/safetensors.reader.js';
import { buildAitkJobConfig } from '../../src/training/aitoolkit-config.builder.js';
import { defaultRecipe } from '../../src/training/training-recipes.js';
import { finalLoraFileName, WORKER_DATASET_FOLDER, WORKER_TRAINING_FOLDER } from '../../src/training/runpod-serverless.backend.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const WORKER_DIR = path.join(ROOT, 'workers/aitoolkit-serverless');
const FAKE_AITK = path.join(ROOT, 'tests/training/fixtures/fake-aitoolkit');
const PYTHON = process.env.LIKENESS_TEST_PYTHON ?? 'python3';
const HAVE_PYTHON = spawnSync(PYTHON, ['--version']).status === 0;
if (!HAVE_PYTHON) console.log(`skipping the serverless worker tests: ${PYTHON} is not available`);

interface Server {
  url: string;
  uploads: Map<string, Buffer>;
  claim: { jobId: string } | null;
  close(): Promise<void>;
}
let server: Server;

const JPEG = Buffer.from('/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAgGBgcGBQgHBwcJCQgKDBQNDAsLDBkSEw8UHRofHh0aHBwgJC4nICIsIxwcKDcpLDAxNDQ0Hyc5PTgyPC4zNDL/wAALCAABAAEBAREA/8QAFAABAAAAAAAAAAAAAAAAAAAACf/EABQQAQAAAAAAAAAAAAAAAAAAAAD/2gAIAQEAAD8AKp//2Q==', 'base64');
const DATASET: Record<string, Buffer> = {
  'img_001.jpg': JPEG,
  'img_001.txt': Buffer.from('photo of ohwx'),
  'img_002.jpg': JPEG,
  'img_002.txt': Buffer.from('photo of ohwx, smiling'),
};

async function startServer(): Promise<Server> {
  const uploads = new Map<string, Buffer>();
  const state: { claim: { jobId: string } | null } = { claim: null };
  const srv = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const [, kind, name = ''] = url.pathname.split('/');
      if (url.searchParams.get('sig') !== 'ok') return void res.writeHead(403).end('bad signature');
      if (req.method === 'GET' && kind === 'dataset' && DATASET[name]) return void res.writeHead(200).end(DATASET[name]);
      if (req.method === 'GET' && kind === 'claim') return state.claim ? void res.writeHead(200).end(JSON.stringify(state.claim)) : void res.writeHead(404).end();
      if (req.method === 'PUT' && kind === 'upload') {
        if (req.headers['transfer-encoding']) return void res.writeHead(411).end('length required');
        uploads.set(name, Buffer.concat(chunks));
        return void res.writeHead(200).end();
      }
      res.writeHead(404).end();
    });
  });
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  return Object.assign(state, {
    url: `http://127.0.0.1:${(srv.address() as AddressInfo).port}`,
    uploads,
    close: () => new Promise<void>((resolve) => srv.close(() => resolve())),
  });
}

/** run_job in python3 with a recording progress_update; resolves with its result and the updates. */
function runWorker(jobId: string, input: unknown, env: Record<string, string> = {}): Promise<{ result: any; progress: any[] }> {
  const driver = [
    'import json, sys',
    `sys.path.insert(0, ${JSON.stringify(WORKER_DIR)})`,
    'import handler',
    'calls = []',
    'job = json.load(sys.stdin)',
    'result = handler.run_job(job, calls.append)',
    'print(json.dumps({"result": result, "progress": calls}))',
  ].join('\n');
  return new Promise((resolve, reject) => {
    const child = execFile(
      PYTHON,
      ['-c', driver],
      { env: { ...process.env, AITK_DIR: FAKE_AITK, AITK_PYTHON: PYTHON, LIKENESS_PROGRESS_SECONDS: '0.05', FAKE_AITK_STEP_SECONDS: '0.02', FAKE_AITK_LOAD_SECONDS: '0.05', ...env }, timeout: 60_000, maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => {
        if (err) return reject(new Error(`worker failed: ${err.message}\n${stderr}`));
        resolve(JSON.parse(stdout.trim().split('\n').at(-1)!));
      },
    );
    child.stdin!.end(JSON.stringify({ id: jobId, input }));
  });
}

function inputFor(jobName: string, baseModel: 'flux-dev' | 'wan22', over: Record<string, unknown> = {}) {
  const recipe = defaultRecipe(baseModel, 'ohwx', { steps: 12, saveEvery: 5, sampleEvery: 5, rank: 2, alpha: 2 });
  const parts = baseModel === 'wan22' ? (['high_noise', 'low_noise'] as const) : (['main'] as const);
  return {
    job_name: jobName,
    config: buildAitkJobConfig(recipe, { jobName, datasetFolder: WORKER_DATASET_FOLDER, trainingFolder: WORKER_TRAINING_FOLDER }),
    dataset: { files: Object.entries(DATASET).map(([name, body]) => ({ name, url: `${server.url}/dataset/${name}?sig=ok`, size: body.length })) },
    upload: {
      files: Object.fromEntries(parts.map((p) => [finalLoraFileName(jobName, p), `${server.url}/upload/${finalLoraFileName(jobName, p)}?sig=ok`])),
      samples: recipe.samplePrompts.map((_, i) => `${server.url}/upload/sample_${i + 1}?sig=ok`),
    },
    claim_url: `${server.url}/claim/${jobName}?sig=ok`,
    ...over,
  };
}

beforeAll(async () => {
  server = await startServer();
});
afterAll(async () => {
  await server?.close();
});

describe.skipIf(!HAVE_PYTHON)('AI Toolkit serverless worker (handler.py)', () => {
  it('downloads the dataset, reports progress from the trainer bar and uploads the final LoRA and samples', async () => {
    const { result, progress } = await runWorker('job-1', inputFor('lk_worker_a1', 'flux-dev'));
    expect(result.error).toBeUndefined();
    const name = 'lk_worker_a1.safetensors';
    expect(result.files).toHaveLength(1);
    const uploaded = server.uploads.get(name)!;
    expect(result.files[0]).toEqual({ name, size: uploaded.length, sha256: createHash('sha256').update(uploaded).digest('hex') });
    const header = await readSafetensorsStream(Readable.from([uploaded]));
    // The fake trainer writes a few real FLUX modules, not all 988: family and rank are what it can prove.
    expect(inspectLora(header, { fileName: name })).toMatchObject({ baseModel: 'flux-dev', part: 'main', rank: 2 });
    expect(header.metadata.likeness_trigger_word).toBe('ohwx');

    expect(progress[0]).toMatchObject({ step: 0, total_steps: 12, message: 'Downloading dataset' });
    const training = progress.filter((p) => p.message === 'Training' && p.step > 0);
    expect(training.length).toBeGreaterThan(1);
    // The last update is sent when the trainer ends, whatever the rate limit skipped before it.
    expect(progress.at(-1)).toMatchObject({ step: 12, total_steps: 12 });
    expect(training.some((p) => typeof p.loss === 'number' && p.seconds_per_step > 0)).toBe(true);
    const steps = training.map((p) => p.step);
    expect(steps).toEqual([...steps].sort((a, b) => a - b));

    expect(result.samples.length).toBeGreaterThan(0);
    for (const s of result.samples) {
      expect(s.name).toMatch(/^\d+__000000012_\d\.jpg$/);
      expect(server.uploads.get(`sample_${s.index + 1}`)?.subarray(0, 2)).toEqual(Buffer.from([0xff, 0xd8]));
    }
  });

  it('uploads both Wan 2.2 expert files', async () => {
    const { result } = await runWorker('job-2', inputFor('lk_wan_a1', 'wan22'));
    expect(result.error).toBeUndefined();
    expect(result.files.map((f: { name: string }) => f.name).sort()).toEqual(['lk_wan_a1_high_noise.safetensors', 'lk_wan_a1_low_noise.safetensors']);
  });

  it('returns the trainer’s last line as the error string when it exits non-zero', async () => {
    const { result, progress } = await runWorker('job-3', inputFor('lk_oom_a1', 'flux-dev'), { FAKE_AITK_FAIL_AT_STEP: '4' });
    expect(typeof result.error).toBe('string');
    expect(result.error).toMatch(/OutOfMemoryError: CUDA out of memory\. Tried to allocate 2\.00 GiB/);
    expect(result.files).toBeUndefined();
    expect(server.uploads.has('lk_oom_a1.safetensors')).toBe(false);
    expect(progress.at(-1).step).toBeLessThan(12);
  });

  it('refuses bad input, a refused dataset URL, and quits as an orphan when the claim names another job', async () => {
    expect((await runWorker('job-4', { dataset: {} })).result).toEqual({ error: "Missing 'config' in input" });
    const input = inputFor('lk_refused_a1', 'flux-dev');
    input.dataset.files[0]!.url = input.dataset.files[0]!.url.replace('sig=ok', 'sig=expired');
    expect((await runWorker('job-5', input)).result).toEqual({ error: 'Downloading dataset file img_001.jpg failed: HTTP 403' });
    server.claim = { jobId: 'job-owner' };
    try {
      expect((await runWorker('job-6', inputFor('lk_orphan_a1', 'flux-dev'))).result).toEqual({ error: 'Superseded: job job-owner owns lk_orphan_a1' });
      // The job the claim names goes on.
      const owner = await runWorker('job-owner', inputFor('lk_owner_a1', 'flux-dev'));
      expect(owner.result.error).toBeUndefined();
    } finally {
      server.claim = null;
    }
  });
});
