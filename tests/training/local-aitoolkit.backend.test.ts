/**
 * The local AI Toolkit backend against a fake `run.py` (fixtures/fake-aitoolkit/run.py) that
 * prints what AI Toolkit's CLI prints and writes the files it writes, run as a real child process:
 * submit (dataset download, config, spawn), progress from the log, artifacts, failure, cancel
 * (SIGINT, then SIGKILL), release, and a second backend instance re-attaching to a stored handle.
 *
 * The log parser is also checked on fixtures/aitoolkit-cli-oom.log, written by the real tqdm 4.70.1
 * driven the way AI Toolkit 27a03a9 drives it (ToolkitProgressBar, pause/unpause around saves,
 * stdout and stderr merged), ending in a CUDA out-of-memory traceback.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { ProviderError } from '../../src/domain/errors.js';
import { readAitkLog } from '../../src/training/aitoolkit/aitoolkit-log.parser.js';
import { LocalAitoolkitBackend, type LocalAitoolkitBackendOptions, type LocalAitoolkitHandle } from '../../src/training/local-aitoolkit.backend.js';
import { judgeEndedRun, type EndedRunFacts } from '../../src/training/local/local-run.verdict.js';
import { isAlive } from '../../src/training/local/trainer-process.js';
import type { TrainingArtifact, TrainingStatus } from '../../src/training/training-backend.js';
import { pollUntil, specFor, startDatasetStore, type DatasetStore } from './helpers/training-test-kit.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const FAKE_TOOLKIT = path.join(here, 'fixtures', 'fake-aitoolkit');
const hasPython = spawnSync('python3', ['--version']).status === 0;

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(Buffer.from(c as Buffer));
  return Buffer.concat(chunks);
}

/** The process is gone for the kernel, not just for the backend's bookkeeping. */
function pidGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return false;
  } catch {
    return true;
  }
}

async function waitFor(check: () => Promise<boolean> | boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

const roundTrip = (h: LocalAitoolkitHandle) => JSON.parse(JSON.stringify(h)) as LocalAitoolkitHandle;

describe.skipIf(!hasPython)('LocalAitoolkitBackend with a fake AI Toolkit', () => {
  let store: DatasetStore;
  let workDir: string;
  const handles: LocalAitoolkitHandle[] = [];
  const backend = (over: Partial<LocalAitoolkitBackendOptions> = {}) =>
    new LocalAitoolkitBackend({ toolkitDir: FAKE_TOOLKIT, python: 'python3', workDir, stopGraceMs: 5_000, ...over });

  beforeAll(async () => {
    store = await startDatasetStore(5);
    workDir = await mkdtemp(path.join(os.tmpdir(), 'likeness-local-aitk-'));
  });
  afterAll(async () => {
    // Nothing may outlive the tests: release kills what is left.
    for (const h of handles) await backend().release(h).catch(() => undefined);
    await store.close();
    await rm(workDir, { recursive: true, force: true });
  });

  it('runs a job to completion: dataset copied, config written, checkpoints and samples listed and downloadable', async () => {
    const b = backend();
    const spec = specFor(store, 'flux-dev');
    const [handle, again] = await Promise.all([b.submit(spec), b.submit(spec)]);
    handles.push(handle);
    expect(again.pid).toBe(handle.pid); // one launch for one job name

    const dataset = await readdir(handle.datasetDir);
    expect(dataset.sort()).toEqual([...store.files.keys()].sort());
    expect(await readFile(path.join(handle.datasetDir, 'img_001.jpg'))).toEqual(store.files.get('img_001.jpg'));
    const config = JSON.parse(await readFile(handle.configFile, 'utf8'));
    expect(config.config.name).toBe(spec.jobName);
    expect(config.config.process[0].type).toBe('diffusion_trainer');
    expect(config.config.process[0].datasets[0].folder_path).toBe(handle.datasetDir);

    const { status, seen } = await pollUntil(b, handle, ['completed', 'failed', 'cancelled'], 30_000);
    expect(status.error).toBeUndefined();
    expect(status.state).toBe('completed');
    expect(seen[0]).toBe('running');
    expect(status.progress).toMatchObject({ step: 40, totalSteps: 40, message: 'Training completed' });
    const checkpoints = status.artifacts!.filter((a) => a.kind === 'checkpoint');
    expect(checkpoints.map((a) => [a.name, a.step, a.part])).toEqual([
      [`${spec.jobName}_000000020.safetensors`, 20, 'main'],
      [`${spec.jobName}.safetensors`, null, 'main'],
    ]);
    const samples = status.artifacts!.filter((a) => a.kind === 'sample');
    expect([...new Set(samples.map((a) => a.step))]).toEqual([0, 20, 40]);
    expect(samples.length).toBe(3 * spec.recipe.samplePrompts.length);

    const final = checkpoints.find((a) => a.step === null)!;
    const bytes = await readAll(await b.download(handle, final));
    expect(bytes.length).toBe(final.size);
    const headerLength = Number(bytes.readBigUInt64LE(0));
    const header = JSON.parse(bytes.subarray(8, 8 + headerLength).toString('utf8'));
    expect(header.__metadata__.ss_base_model_version).toBe('flux.1');
    expect(header.__metadata__.likeness_base_model).toBe('flux-dev');

    // Idempotent after the fact as well: the same job name returns the recorded launch.
    expect((await b.submit(spec)).pid).toBe(handle.pid);
    const log = await readFile(handle.logFile, 'utf8');
    expect(log.match(/^Running 1 job$/gm)).toHaveLength(1);

    const report = await b.release(handle);
    expect(report.gpuSeconds).toBeGreaterThanOrEqual(0);
    await expect(stat(handle.datasetDir)).rejects.toMatchObject({ code: 'ENOENT' });
    expect((await stat(path.join(handle.outputDir, final.name))).isFile()).toBe(true);
    expect(await b.release(handle)).toEqual({});
  });

  it('writes Wan 2.2 saves as high- and low-noise files and completes only with both', async () => {
    const b = backend();
    const handle = await b.submit(specFor(store, 'wan22'));
    handles.push(handle);
    const { status } = await pollUntil(b, handle, ['completed', 'failed', 'cancelled'], 30_000);
    expect(status.state).toBe('completed');
    const finals = status.artifacts!.filter((a) => a.kind === 'checkpoint' && a.step === null).map((a) => a.part);
    expect(finals).toEqual(['high_noise', 'low_noise']);
  });

  it('reports progress parsed from the log while training: step, total, loss, seconds per step', async () => {
    const b = backend({ env: { FAKE_AITK_STEP_SECONDS: '0.1' } });
    const handle = await b.submit(specFor(store, 'zimage-turbo'));
    handles.push(handle);
    let status: TrainingStatus | undefined;
    await waitFor(async () => {
      status = await b.status(handle);
      return status.state !== 'running' || status.progress.step >= 5;
    });
    expect(status!.state).toBe('running');
    expect(status!.progress.totalSteps).toBe(40);
    expect(status!.progress.step).toBeGreaterThanOrEqual(5);
    expect(status!.progress.step).toBeLessThan(40);
    expect(status!.progress.loss).toBeGreaterThan(0);
    expect(status!.progress.loss).toBeLessThan(0.5);
    expect(status!.progress.secondsPerStep).toBeGreaterThan(0.05);
    expect(status!.progress.secondsPerStep).toBeLessThan(1);
    await b.cancel(handle);
  });

  it('a trainer exception fails the run with the traceback\'s last line', async () => {
    const b = backend({ env: { FAKE_AITK_FAIL_AT_STEP: '7' } });
    const handle = await b.submit(specFor(store, 'flux-dev'));
    handles.push(handle);
    const { status } = await pollUntil(b, handle, ['completed', 'failed', 'cancelled'], 30_000);
    expect(status.state).toBe('failed');
    expect(status.error).toMatch(/^AI Toolkit failed: torch\.OutOfMemoryError: CUDA out of memory\. Tried to allocate 2\.00 GiB/);
    expect(status.progress.step).toBe(7);
    const exit = JSON.parse(await readFile(path.join(handle.runDir, 'exit.json'), 'utf8'));
    expect(exit.code).toBe(1);
  });

  it('cancel stops the trainer with SIGINT (it exits cleanly) and the run reads cancelled', async () => {
    const b = backend({ env: { FAKE_AITK_STEP_SECONDS: '0.2' } });
    const handle = await b.submit(specFor(store, 'flux-dev'));
    handles.push(handle);
    await waitFor(async () => (await b.status(handle)).progress.step >= 2);
    await b.cancel(handle);
    expect(pidGone(handle.pid)).toBe(true);
    const status = await b.status(handle);
    expect(status.state).toBe('cancelled');
    expect(await readFile(handle.logFile, 'utf8')).toMatch(/^Job stopped$/m); // the trainer's own SIGINT handling ran
    await b.cancel(handle); // nothing left to stop: no error
  });

  it('cancel escalates to SIGKILL on the process group when SIGINT is not enough', async () => {
    const b = backend({ env: { FAKE_AITK_STEP_SECONDS: '0.2', FAKE_AITK_IGNORE_SIGINT: '1' }, stopGraceMs: 600 });
    const handle = await b.submit(specFor(store, 'flux-dev'));
    handles.push(handle);
    await waitFor(async () => (await b.status(handle)).progress.step >= 1);
    const t0 = Date.now();
    await b.cancel(handle);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(500);
    expect(pidGone(handle.pid)).toBe(true);
    expect((await b.status(handle)).state).toBe('cancelled');
    await waitFor(async () => (await readFile(path.join(handle.runDir, 'exit.json'), 'utf8').catch(() => '')).includes('SIGKILL'));
  });

  it('a second backend instance re-attaches to a stored handle and follows the run to the end', async () => {
    const first = backend({ env: { FAKE_AITK_STEP_SECONDS: '0.05' } });
    const handle = roundTrip(await first.submit(specFor(store, 'qwen-image')));
    handles.push(handle);
    const second = backend(); // as after a restart of Likeness: nothing in memory
    await waitFor(async () => (await second.status(handle)).progress.step >= 1);
    const { status } = await pollUntil(second, handle, ['completed', 'failed', 'cancelled'], 30_000);
    expect(status.state).toBe('completed');
    const final = status.artifacts!.find((a): a is TrainingArtifact => a.kind === 'checkpoint' && a.step === null)!;
    expect((await readAll(await second.download(handle, final))).length).toBe(final.size);
    await expect(second.download(handle, { ...final, ref: '/etc/passwd' })).rejects.toMatchObject({ kind: 'fatal' });
  });

  it('a trainer that vanished: failed with the last log line, preempted after a reboot, never fooled by a reused pid', async () => {
    const b = backend({ env: { FAKE_AITK_STEP_SECONDS: '0.2' } });
    const handle = roundTrip(await b.submit(specFor(store, 'flux-dev')));
    handles.push(handle);
    await waitFor(async () => (await b.status(handle)).progress.step >= 2);
    process.kill(handle.pid, 'SIGKILL'); // the kernel's OOM killer, say
    await waitFor(() => pidGone(handle.pid));
    await waitFor(async () => (await readFile(path.join(handle.runDir, 'exit.json'), 'utf8').catch(() => '')).includes('SIGKILL'));

    const seenByParent = await b.status(handle);
    expect(seenByParent.state).toBe('failed');
    expect(seenByParent.error).toMatch(/^AI Toolkit was killed by SIGKILL \(often the out-of-memory killer\)\. Last log line: /);

    // Likeness was down when it died: no exit record, only the files.
    await rm(path.join(handle.runDir, 'exit.json'));
    const afterRestart = await backend().status(handle);
    expect(afterRestart.state).toBe('failed');
    expect(afterRestart.error).toMatch(/^AI Toolkit exited without writing the final LoRA\. Last log line: .+/);

    // The machine rebooted: the trainer was lost through no fault of its own.
    const err = await backend().status({ ...handle, bootId: 'another-boot' }).then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(ProviderError);
    expect((err as ProviderError).kind).toBe('preempted');

    // Its pid now belongs to another process (this one): not the trainer, so not "running".
    if (process.platform === 'linux') {
      const reused = { ...handle, pid: process.pid, pidStartTicks: '1' };
      expect(await isAlive({ pid: reused.pid, startTicks: reused.pidStartTicks, bootId: handle.bootId })).toBe(false);
      expect((await backend().status(reused)).state).toBe('failed');
    }
  });

  it('refuses what cannot work: no checkout, no python, an expired dataset URL', async () => {
    const spec = specFor(store, 'flux-dev');
    await expect(backend({ toolkitDir: workDir }).submit(spec)).rejects.toMatchObject({ kind: 'fatal', message: expect.stringMatching(/run\.py is missing/) });
    await expect(backend({ python: 'no-such-python-3' }).submit(specFor(store, 'flux-dev'))).rejects.toMatchObject({
      kind: 'fatal',
      message: expect.stringMatching(/Cannot start AI Toolkit with "no-such-python-3"/),
    });
    store.expired.add('img_003.jpg');
    try {
      const err = await backend().submit(specFor(store, 'flux-dev')).then(() => null, (e: unknown) => e);
      expect(err).toMatchObject({ kind: 'preempted' });
      expect((err as Error).message).not.toContain('X-Signature');
    } finally {
      store.expired.delete('img_003.jpg');
    }
  });
});

describe('readAitkLog', () => {
  const realLog = readFileSync(path.join(here, 'fixtures', 'aitoolkit-cli-oom.log'), 'utf8');

  it('reads real tqdm output: the job\'s own bar only, rate, loss, and the exception after it', () => {
    const r = readAitkLog(realLog, 'likeness_run7_a1');
    expect(r.progress?.step).toBe(9);
    expect(r.progress?.totalSteps).toBe(12);
    expect(r.progress?.loss).toBeCloseTo(0.04581, 6);
    expect(r.progress?.secondsPerStep).toBeGreaterThan(0.05);
    expect(r.progress?.secondsPerStep).toBeLessThan(0.2);
    expect(r.error).toBe(
      'torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total capacity of 23.55 GiB of which 1.12 GiB is free.',
    );
    expect(r.stopped).toBe(false);
    // Another job's name matches no bar: the shard-loading and sampler bars are not training progress.
    expect(readAitkLog(realLog, 'likeness_other').progress).toBeNull();
  });

  it('takes "Error running job:" when no traceback made it into the log, and tells seconds per step from steps per second', () => {
    const text = `j:  50%|█████     | 5/10 [00:10<00:10,  2.00s/it, lr: 1.0e-04 loss: 1.5e-01]Error running job: boom\n`;
    expect(readAitkLog(text, 'j')).toMatchObject({ progress: { step: 5, totalSteps: 10, secondsPerStep: 2, loss: 0.15 }, error: 'boom' });
    const fast = readAitkLog('\rj:  10%|█         | 1/10 [00:00<00:02,  4.00it/s]', 'j');
    expect(fast.progress).toEqual({ step: 1, totalSteps: 10, secondsPerStep: 0.25 });
    expect(fast.message).toBe('Training');
    expect(readAitkLog('\rj:   0%|          | 0/10 [00:00<?, ?it/s]', 'j').progress).toEqual({ step: 0, totalSteps: 10 });
  });

  it('says what the trainer does between bars, and recognises a stop', () => {
    const saving = readAitkLog('\rj:  20%|██        | 2/10 [00:01<00:04,  2.00it/s]\nSaving at step 2\n', 'j');
    expect(saving.message).toBe('Saving at step 2');
    const stopped = readAitkLog('Loading model\n\n========================================\nJob stopped\n========================================\n', 'j');
    expect(stopped).toMatchObject({ stopped: true, error: undefined, lastLine: 'Loading model' });
    const oldStop = readAitkLog('Traceback (most recent call last):\n  File "run.py", line 1\nKeyboardInterrupt\n', 'j');
    expect(oldStop).toMatchObject({ stopped: true, error: undefined });
  });
});

describe('judgeEndedRun', () => {
  const log = readAitkLog('Loading model\n', 'j');
  const facts = (over: Partial<EndedRunFacts>): EndedRunFacts => ({
    cancelRequested: false,
    finalFilesPresent: false,
    sameBoot: true,
    exit: null,
    log,
    ...over,
  });
  it('orders the evidence: cancel, final files, exception, reboot, signal, the rest', () => {
    expect(judgeEndedRun(facts({ cancelRequested: true, finalFilesPresent: true })).state).toBe('cancelled');
    expect(judgeEndedRun(facts({ finalFilesPresent: true, exit: { code: 1, signal: null } })).state).toBe('completed');
    const withError = readAitkLog('Traceback (most recent call last):\n  x\nValueError: bad config\n', 'j');
    expect(judgeEndedRun(facts({ log: withError, sameBoot: false }))).toEqual({ state: 'failed', error: 'AI Toolkit failed: ValueError: bad config' });
    expect(judgeEndedRun(facts({ sameBoot: false })).state).toBe('preempted');
    expect(judgeEndedRun(facts({ exit: { code: null, signal: 'SIGTERM' } }))).toEqual({
      state: 'failed',
      error: 'AI Toolkit was killed by SIGTERM. Last log line: Loading model',
    });
    expect(judgeEndedRun(facts({ exit: { code: 2, signal: null } }))).toEqual({ state: 'failed', error: 'AI Toolkit exited with status 2. Last log line: Loading model' });
    expect(judgeEndedRun(facts({ log: readAitkLog('', 'j') }))).toEqual({ state: 'failed', error: 'AI Toolkit exited without writing the final LoRA. Its log is empty.' });
  });
});

describe('LIKENESS_TRAINING_BACKEND=local', () => {
  it('needs the checkout folder and defaults the python', () => {
    expect(() => loadConfig({ LIKENESS_TRAINING_BACKEND: 'local' })).toThrow(/LIKENESS_LOCAL_AITOOLKIT_DIR is required/);
    const c = loadConfig({ LIKENESS_TRAINING_BACKEND: 'local', LIKENESS_LOCAL_AITOOLKIT_DIR: 'ai-toolkit' });
    expect(c.training).toEqual({ backend: 'local', toolkitDir: path.resolve('ai-toolkit'), python: 'python3' });
    const venv = loadConfig({ LIKENESS_TRAINING_BACKEND: 'local', LIKENESS_LOCAL_AITOOLKIT_DIR: '/opt/ai-toolkit', LIKENESS_LOCAL_PYTHON: '/opt/ai-toolkit/venv/bin/python' });
    expect(venv.training).toMatchObject({ python: '/opt/ai-toolkit/venv/bin/python' });
  });
});
