/**
 * Contract tests of the emulated RunPod REST API v2 over real HTTP: auth and problem bodies,
 * schema validation against RunPod's OpenAPI document, the pod lifecycle, actions and termination.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_OPENAPI_PATH } from '../../src/emulator/index.js';
import { RunpodOpenApiValidator } from '../../src/emulator/runpod-openapi.validator.js';
import { RTX4090, RUNPOD_KEY, runpod, startTestEmulator, waitFor, type TestEmulator } from './emulator-test-kit.js';

let t: TestEmulator;
// The contract document itself checks what the emulator answers.
const contract = new RunpodOpenApiValidator(DEFAULT_OPENAPI_PATH);

beforeAll(async () => {
  // Long enough that STARTING is observable between PROVISIONING and RUNNING even on a busy machine.
  t = await startTestEmulator({ bootSeconds: 1.5 });
});
afterAll(async () => {
  await t.stop();
});

const aitkPod = (name: string) => ({
  name,
  image: 'ostris/aitoolkit:latest',
  gpu: { id: RTX4090, count: 1, allowedCudaVersions: ['13.0'] },
  disk: 100,
  mounts: { persistent: { size: 100, path: '/workspace' } },
  ports: ['8675/http'],
  env: { AI_TOOLKIT_AUTH: 'secret' },
});

async function expectProblem(r: Response, status: number, detail?: string | RegExp): Promise<any> {
  expect(r.status).toBe(status);
  expect(r.headers.get('content-type')).toBe('application/problem+json');
  expect(r.headers.get('x-likeness-emulated')).toBe('1');
  const body = (await r.json()) as any;
  expect(contract.validate('ErrorResponse', body)).toEqual([]);
  expect(body.status).toBe(status);
  if (typeof detail === 'string') expect(body.detail).toBe(detail);
  else if (detail) expect(body.detail).toMatch(detail);
  return body;
}

describe('RunPod REST v2: auth', () => {
  it('answers 401 problem objects for a missing or wrong bearer key, before anything else', async () => {
    const missing = await expectProblem(await runpod(t.emu, 'GET', '/v2/pods', undefined, null), 401, 'missing bearer token');
    expect(missing).toEqual({ title: 'Unauthorized', status: 401, detail: 'missing bearer token' });
    await expectProblem(await runpod(t.emu, 'GET', '/v2/pods', undefined, 'nope'), 401, /invalid/);
    // Even an invalid body or an unknown path is refused for auth first.
    await expectProblem(await runpod(t.emu, 'POST', '/v2/pods', { bogus: 1 }, null), 401);
    await expectProblem(await runpod(t.emu, 'GET', '/v2/nothing-here', undefined, null), 401);
    const basic = await fetch(`${t.emu.runpodApiUrl}/v2/pods`, { headers: { authorization: `Basic ${RUNPOD_KEY}` } });
    await expectProblem(basic, 401, 'missing bearer token');
  });
});

describe('RunPod REST v2: validation against the OpenAPI schemas', () => {
  it('answers 422 with RunPod-style errors for an unknown property', async () => {
    const body = await expectProblem(await runpod(t.emu, 'POST', '/v2/pods', { ...aitkPod('x'), bogus: 1 }), 422);
    expect(body.title).toBe('Unprocessable Entity');
    expect(body.errors).toEqual(["$: additional properties 'bogus' not allowed"]);
  });

  it('lists every violation: nested unknown field, types, patterns, missing image', async () => {
    const body = await expectProblem(
      await runpod(t.emu, 'POST', '/v2/pods', { name: 'x', disk: 'big', gpu: { id: RTX4090, count: 0, allowedCudaVersions: ['13'], foo: true } }),
      422,
    );
    expect(body.errors).toEqual(
      expect.arrayContaining([
        "$: missing property 'image'",
        '$.disk: got string, want integer',
        '$.gpu.count: must be >= 1 but found 0',
        "$.gpu.allowedCudaVersions[0]: '13' does not match pattern '^\\d+\\.\\d+$'",
        "$.gpu: additional properties 'foo' not allowed",
      ]),
    );
  });

  it('answers 400 for rule violations and placement failures that match the schema', async () => {
    await expectProblem(await runpod(t.emu, 'POST', '/v2/pods', { name: 'x', image: 'i' }), 400, 'exactly one of gpu or cpu must be set');
    await expectProblem(await runpod(t.emu, 'POST', '/v2/pods', { name: 'x', image: 'i', gpu: { id: 'NVIDIA Imaginary 9000' } }), 400, /unknown GPU type/);
    await expectProblem(
      await runpod(t.emu, 'POST', '/v2/pods', { name: 'x', image: 'i', gpu: { id: RTX4090, allowedCudaVersions: ['11.8'] } }),
      400,
      /CUDA/,
    );
    await expectProblem(await runpod(t.emu, 'POST', '/v2/pods', { ...aitkPod('x'), ports: ['8675'] }), 400, /invalid port/);
  });

  it('answers 400 for a body that is not JSON and 422 for an invalid action', async () => {
    const r = await fetch(`${t.emu.runpodApiUrl}/v2/pods`, {
      method: 'POST',
      headers: { authorization: `Bearer ${RUNPOD_KEY}`, 'content-type': 'application/json' },
      body: '{"name":',
    });
    await expectProblem(r, 400);
    const created = (await (await runpod(t.emu, 'POST', '/v2/pods', aitkPod('v-action'))).json()) as any;
    const bad = await expectProblem(await runpod(t.emu, 'POST', `/v2/pods/${created.id}/action`, { action: 'explode' }), 422);
    expect(bad.errors[0]).toMatch(/^\$\.action: value must be one of/);
    await runpod(t.emu, 'DELETE', `/v2/pods/${created.id}`);
  });
});

describe('RunPod REST v2: pod lifecycle', () => {
  it('creates a pod that walks PROVISIONING -> RUNNING with runtime, startedAt and cost, and lists it', async () => {
    const r = await runpod(t.emu, 'POST', '/v2/pods', aitkPod('lifecycle-pod'));
    expect(r.status).toBe(201);
    expect(r.headers.get('ratelimit')).toBeTruthy();
    const pod = (await r.json()) as any;
    expect(contract.validate('Pod', pod)).toEqual([]);
    expect(pod).toMatchObject({
      name: 'lifecycle-pod',
      status: 'PROVISIONING',
      runtime: {},
      startedAt: null,
      cost: 0.69,
      gpu: { id: RTX4090, count: 1 },
      ports: ['8675/http'],
      env: { AI_TOOLKIT_AUTH: 'secret' },
      cudaVersion: '13.0',
      cloud: 'SECURE',
    });
    expect(pod.actions).toEqual(['stop', 'terminate']);
    expect(pod.id).toMatch(/^[a-z0-9]{14}$/);

    const seen = new Set<string>();
    const running = await waitFor(
      async () => {
        const p = (await (await runpod(t.emu, 'GET', `/v2/pods/${pod.id}`)).json()) as any;
        seen.add(p.status);
        return p;
      },
      (p) => p.status === 'RUNNING',
      5000,
      20,
    );
    expect(seen.has('STARTING')).toBe(true);
    expect(contract.validate('Pod', running)).toEqual([]);
    expect(running.actions).toEqual(['stop', 'restart', 'terminate']);
    expect(Date.parse(running.startedAt)).toBeGreaterThan(0);
    expect(running.runtime.ports).toEqual([{ private: 8675, public: null, type: 'http', ip: null }]);
    expect(typeof running.runtime.uptime).toBe('number');

    const list = (await (await runpod(t.emu, 'GET', '/v2/pods')).json()) as any;
    expect(contract.validate('ListPodsResponse', list)).toEqual([]);
    expect(list.pods.map((p: any) => p.id)).toContain(pod.id);

    const patched = (await (await runpod(t.emu, 'PATCH', `/v2/pods/${pod.id}`, { name: 'renamed', locked: true })).json()) as any;
    expect(patched).toMatchObject({ name: 'renamed', locked: true, status: 'RUNNING' });
    await expectProblem(await runpod(t.emu, 'PATCH', `/v2/pods/${pod.id}`, { gpu: { id: RTX4090 } }), 422);
  });

  it('stops to EXITED, refuses invalid actions with 409, starts again, and terminates', async () => {
    const pod = (await (await runpod(t.emu, 'POST', '/v2/pods', aitkPod('actions-pod'))).json()) as any;
    await waitFor(async () => ((await (await runpod(t.emu, 'GET', `/v2/pods/${pod.id}`)).json()) as any).status, (s) => s === 'RUNNING');

    const stopped = (await (await runpod(t.emu, 'POST', `/v2/pods/${pod.id}/action`, { action: 'stop' })).json()) as any;
    expect(stopped.status).toBe('EXITED');
    expect(stopped.actions).toEqual(['start', 'terminate']);
    expect(stopped.runtime).toEqual({});
    const conflict = await expectProblem(await runpod(t.emu, 'POST', `/v2/pods/${pod.id}/action`, { action: 'restart' }), 409);
    expect(conflict.title).toBe('Conflict');

    const started = (await (await runpod(t.emu, 'POST', `/v2/pods/${pod.id}/action`, { action: 'start' })).json()) as any;
    expect(['PROVISIONING', 'STARTING']).toContain(started.status);
    await waitFor(async () => ((await (await runpod(t.emu, 'GET', `/v2/pods/${pod.id}`)).json()) as any).status, (s) => s === 'RUNNING');

    const term = await runpod(t.emu, 'POST', `/v2/pods/${pod.id}/action`, { action: 'terminate' });
    expect(term.status).toBe(204);
    expect(await term.text()).toBe('');
    const after = (await (await runpod(t.emu, 'GET', `/v2/pods/${pod.id}`)).json()) as any;
    expect(after.status).toBe('TERMINATED');
    expect(after.actions).toEqual([]);
    const list = (await (await runpod(t.emu, 'GET', '/v2/pods')).json()) as any;
    expect(list.pods.map((p: any) => p.id)).not.toContain(pod.id);
    await expectProblem(await runpod(t.emu, 'DELETE', `/v2/pods/${pod.id}`), 404, 'pod not found');
    expect(t.emu.snapshot().pods.find((p) => p.id === pod.id)?.status).toBe('TERMINATED');
  });

  it('DELETE terminates with 204 and an unknown pod is a 404 problem', async () => {
    const pod = (await (await runpod(t.emu, 'POST', '/v2/pods', aitkPod('delete-pod'))).json()) as any;
    const del = await runpod(t.emu, 'DELETE', `/v2/pods/${pod.id}`);
    expect(del.status).toBe(204);
    const body = await expectProblem(await runpod(t.emu, 'GET', '/v2/pods/doesnotexist00'), 404, 'pod not found');
    expect(body).toEqual({ title: 'Not Found', status: 404, detail: 'pod not found' });
    await expectProblem(await runpod(t.emu, 'POST', '/v2/pods/doesnotexist00/action', { action: 'stop' }), 404);
  });

  it('serves the GPU catalog with prices, and 405 for a wrong method', async () => {
    const cat = (await (await runpod(t.emu, 'GET', '/v2/catalog/gpus')).json()) as any;
    expect(contract.validate('ListGpuTypesResponse', cat)).toEqual([]);
    const rtx = cat.gpus.find((g: any) => g.id === RTX4090);
    expect(rtx.price.secure).toBe(0.69);
    expect(rtx.availability).toBeUndefined();
    const one = (await (await runpod(t.emu, 'GET', `/v2/catalog/gpus/${encodeURIComponent(RTX4090)}?include=AVAILABILITY&product=POD`)).json()) as any;
    expect(contract.validate('GpuType', one)).toEqual([]);
    expect(one.availability).toBe('HIGH');
    await expectProblem(await runpod(t.emu, 'GET', '/v2/catalog/gpus?include=AVAILABILITY'), 400);
    const m = await runpod(t.emu, 'PUT', '/v2/pods');
    await expectProblem(m, 405);
    expect(m.headers.get('allow')).toBe('GET, POST');
  });
});
