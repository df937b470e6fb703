/**
 * Fault injection: deterministic one-shots (a trainer error, a preempted pod, a failed request),
 * random faults at probability 1, hangs, the control API and the environment-string parser.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { faultsFromEnv } from '../../src/emulator/index.js';
import {
  AitkClient,
  createAitkPod,
  jobConfig,
  runpod,
  startTestEmulator,
  uploadDataset,
  waitFor,
  type TestEmulator,
} from './emulator-test-kit.js';

let t: TestEmulator;

beforeAll(async () => {
  t = await startTestEmulator({ trainSeconds: 1.5, bootSeconds: 0.3, aitkToken: 'tok' });
});
afterAll(async () => {
  t.emu.setFaults({ errorRate: 0, timeoutRate: 0, failNextRequests: 0, failNextJobs: 0, preemptNextJobs: 0 });
  await t.stop();
});

async function startJob(ui: AitkClient, name: string, gpu = '0') {
  const job = await ui.createJob(name, jobConfig(name, { steps: 100, saveEvery: 20, sampleEvery: 0 }), gpu);
  await ui.json(`/api/jobs/${job.id}/start`);
  await ui.json(`/api/queue/${gpu}/start`);
  return job;
}

describe('trainer faults', () => {
  it('failNextJobs: the next job ends in error with the trainer’s text, step back to the last save', async () => {
    const { pod, ui } = await createAitkPod(t.emu, 'fail-pod');
    await uploadDataset(ui, 'set');
    t.emu.setFaults({ failNextJobs: 1 });
    const job = await startJob(ui, 'doomed');
    const done = await ui.waitForJob(job.id, ['completed', 'error']);
    expect(done.status).toBe('error');
    expect(done.info).toMatch(/^CUDA out of memory\. Tried to allocate 2\.00 GiB/);
    // It failed half-way: after the saves at 20 and 40, before the one at 60.
    expect(done.step).toBe(40);
    expect(t.emu.snapshot().jobs.find((j) => j.id === job.id)).toMatchObject({ status: 'error', step: 40 });
    const log = await ui.json(`/api/jobs/${job.id}/log`);
    expect(log.log).toContain('Error running job: CUDA out of memory');
    // One-shot: the counter was used up, the pod is fine, and the next job completes.
    expect(((await (await fetch(`${t.emu.url}/_emulator/faults`)).json()) as any).failNextJobs).toBe(0);
    expect(((await (await runpod(t.emu, 'GET', `/v2/pods/${pod.id}`)).json()) as any).status).toBe('RUNNING');
    const next = await startJob(ui, 'fine');
    expect((await ui.waitForJob(next.id, ['completed', 'error'])).status).toBe('completed');
  });

  it('preemptNextJobs: the pod goes EXITED mid-training, its proxy answers 502 and the job never completes', async () => {
    const { pod, ui } = await createAitkPod(t.emu, 'preempt-pod');
    await uploadDataset(ui, 'set');
    t.emu.setFaults({ preemptNextJobs: 1 });
    const job = await startJob(ui, 'interrupted');
    const exited = await waitFor(async () => ((await (await runpod(t.emu, 'GET', `/v2/pods/${pod.id}`)).json()) as any), (p) => p.status === 'EXITED', 10_000);
    expect(exited.actions).toEqual(['start', 'terminate']);
    const proxied = await ui.get('/api/auth');
    expect(proxied.status).toBe(502);
    const snap = t.emu.snapshot();
    expect(snap.pods.find((p) => p.id === pod.id)?.status).toBe('EXITED');
    const last = snap.jobs.find((j) => j.id === job.id)!;
    expect(last.status).toBe('running');
    expect(last.step).toBeGreaterThan(0);
    expect(last.step).toBeLessThan(100);
    // Terminating still works, and the proxy keeps answering 502.
    expect((await runpod(t.emu, 'DELETE', `/v2/pods/${pod.id}`)).status).toBe(204);
    expect((await ui.get('/api/auth')).status).toBe(502);
  });

  it('preemptNextJobs on the standalone UI: the trainer process is killed (no pod to lose)', async () => {
    const ui = new AitkClient(t.emu.aitkUrl, 'tok');
    await ui.json('/api/datasets/list');
    await uploadDataset(ui, 'set');
    t.emu.setFaults({ preemptNextJobs: 1 });
    const job = await startJob(ui, 'killed');
    const done = await ui.waitForJob(job.id, ['completed', 'error']);
    expect(done).toMatchObject({ status: 'error', info: 'Job process terminated with signal SIGKILL.', pid: null });
  });
});

describe('request faults', () => {
  it('failNextRequests answers 503 once, as a problem object on RunPod and plain text on the UI', async () => {
    t.emu.setFaults({ failNextRequests: 2 });
    const r1 = await runpod(t.emu, 'GET', '/v2/pods');
    expect(r1.status).toBe(503);
    expect(r1.headers.get('content-type')).toBe('application/problem+json');
    expect(await r1.json()).toMatchObject({ title: 'Service Unavailable', status: 503 });
    const r2 = await fetch(`${t.emu.aitkUrl}/api/auth`, { headers: { authorization: 'Bearer tok' } });
    expect(r2.status).toBe(503);
    expect(r2.headers.get('x-likeness-emulated')).toBe('1');
    expect((await runpod(t.emu, 'GET', '/v2/pods')).status).toBe(200);
    // The control API is never subject to faults.
    t.emu.setFaults({ failNextRequests: 5 });
    expect((await fetch(`${t.emu.url}/_emulator/state`)).status).toBe(200);
    t.emu.setFaults({ failNextRequests: 0 });
  });

  it('errorRate 1 fails every provider call with 500, 502 or 503', async () => {
    t.emu.setFaults({ errorRate: 1 });
    const statuses = new Set<number>();
    for (let i = 0; i < 30; i++) statuses.add((await runpod(t.emu, 'GET', '/v2/pods')).status);
    t.emu.setFaults({ errorRate: 0 });
    expect([...statuses].every((s) => [500, 502, 503].includes(s))).toBe(true);
    expect(statuses.size).toBeGreaterThan(1);
  });

  it('timeoutRate 1 makes calls hang until the client gives up', async () => {
    t.emu.setFaults({ timeoutRate: 1 });
    const started = Date.now();
    const err = await fetch(`${t.emu.runpodApiUrl}/v2/pods`, { headers: { authorization: 'Bearer x' }, signal: AbortSignal.timeout(400) }).catch((e: unknown) => e);
    t.emu.setFaults({ timeoutRate: 0 });
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).name).toBe('TimeoutError');
    expect(Date.now() - started).toBeGreaterThanOrEqual(350);
  });
});

describe('control API and configuration', () => {
  it('reads and merges faults over HTTP, refusing invalid values', async () => {
    const put = await fetch(`${t.emu.url}/_emulator/faults`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ trainerErrorRate: 0.25 }) });
    expect(put.status).toBe(200);
    const cfg = (await put.json()) as any;
    expect(cfg).toMatchObject({ trainerErrorRate: 0.25, errorRate: 0, failNextJobs: 0 });
    expect(put.headers.get('x-likeness-emulated')).toBe('1');
    const bad = await fetch(`${t.emu.url}/_emulator/faults`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ errorRate: 2, bogus: 1 }) });
    expect(bad.status).toBe(400);
    expect(((await (await fetch(`${t.emu.url}/_emulator/faults`)).json()) as any).trainerErrorRate).toBe(0.25);
    t.emu.setFaults({ trainerErrorRate: 0 });
    expect(() => t.emu.setFaults({ failNextJobs: -1 })).toThrow(/failNextJobs/);
    const state = (await (await fetch(`${t.emu.url}/_emulator/state`)).json()) as any;
    expect(state).toEqual(t.emu.snapshot());
  });

  it('parses the environment string', () => {
    expect(faultsFromEnv('error=0.1,timeout=0.05,preempt=0.1,trainer_error=0.1,fail_next_jobs=1')).toEqual({
      errorRate: 0.1,
      timeoutRate: 0.05,
      preemptRate: 0.1,
      trainerErrorRate: 0.1,
      failNextJobs: 1,
    });
    expect(faultsFromEnv(undefined)).toEqual({});
    expect(faultsFromEnv(' ')).toEqual({});
    expect(faultsFromEnv('preempt_next_jobs=2, fail_next_requests=3')).toEqual({ preemptNextJobs: 2, failNextRequests: 3 });
    expect(() => faultsFromEnv('eror=0.1')).toThrow(/unknown fault "eror"/);
    expect(() => faultsFromEnv('error=lots')).toThrow(/needs a number/);
    expect(() => faultsFromEnv('error=1.5')).toThrow();
    expect(() => faultsFromEnv('fail_next_jobs=0.5')).toThrow();
  });
});
