/**
 * Contract tests of the emulated AI Toolkit web UI API (standalone at /aitk, a fresh install per
 * emulator): auth, the datasets quirks, upload sanitising, job creation rules, GET actions that
 * answer the pre-update row, the queue's self-stopping, stop, and outputs invisible to /files when
 * the config's name differs from the job's.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AitkClient, fileUrl, jobConfig, startTestEmulator, uploadDataset, waitFor, type TestEmulator } from './emulator-test-kit.js';

const TOKEN = 'aitk-test-token';
let t: TestEmulator;
let ui: AitkClient;

beforeAll(async () => {
  t = await startTestEmulator({ aitkToken: TOKEN, trainSeconds: 2 });
  ui = new AitkClient(t.emu.aitkUrl, TOKEN);
});
afterAll(async () => {
  await t.stop();
});

describe('AI Toolkit UI: a fresh install', () => {
  // Runs first on purpose: the quirk exists only until /api/datasets/list has been called once.
  it('answers 500 to datasets/create until datasets/list has created the datasets root', async () => {
    const before = await ui.post('/api/datasets/create', { name: 'My Set!' });
    expect(before.status).toBe(500);
    expect(await before.json()).toEqual({ error: 'Failed to create dataset' });

    expect(await ui.json('/api/datasets/list')).toEqual([]);

    const after = await ui.post('/api/datasets/create', { name: 'My Set!' });
    expect(after.status).toBe(200);
    expect(await after.json()).toEqual({ success: true, name: 'my_set_' });
    expect(await ui.json('/api/datasets/list')).toEqual(['my_set_']);
  });

  it('refuses a missing or wrong token with 401 {"error":"Unauthorized"} on every /api route', async () => {
    for (const p of ['/api/auth', '/api/jobs', '/api/settings', '/api/no-such-route']) {
      const r = await fetch(`${t.emu.aitkUrl}${p}`);
      expect(r.status, p).toBe(401);
      expect(r.headers.get('content-type')).toBe('application/json');
      expect(await r.json()).toEqual({ error: 'Unauthorized' });
    }
    const wrong = await fetch(`${t.emu.aitkUrl}/api/auth`, { headers: { authorization: 'Bearer nope' } });
    expect(wrong.status).toBe(401);
    // Only the second word counts, whatever the first one is.
    const odd = await fetch(`${t.emu.aitkUrl}/api/auth`, { headers: { authorization: `Token ${TOKEN}` } });
    expect(odd.status).toBe(200);
    expect(await odd.json()).toEqual({ isAuthenticated: true });
    // /api/files and /api/img are public: no 401, their own 403 outside the roots.
    const pub = await fetch(`${t.emu.aitkUrl}/api/files/${encodeURIComponent('/etc')}/passwd`);
    expect(pub.status).toBe(403);
    expect(await pub.text()).toBe('Access denied');
    const traversal = await fetch(`${t.emu.aitkUrl}/api/files/${encodeURIComponent('/app/ai-toolkit/output/../aitk_db.db')}`);
    expect(traversal.status).toBe(403);
    const missing = await fetch(`${t.emu.aitkUrl}/api/img/${encodeURIComponent('/app/ai-toolkit/output/none')}/x.jpg`);
    expect(missing.status).toBe(404);
    expect(await missing.text()).toBe('File not found');
  });

  it('reports settings with absolute folders of the install', async () => {
    const s = await ui.json('/api/settings');
    expect(s).toEqual({ TRAINING_FOLDER: '/app/ai-toolkit/output', DATASETS_FOLDER: '/app/ai-toolkit/datasets', MODELS_PATH: '/app/ai-toolkit/models' });
  });
});

describe('AI Toolkit UI: datasets', () => {
  it('sanitises uploaded file names but not the dataset name, and overwrites same-named files', async () => {
    const r = await ui.upload('Raw Name', [
      { name: 'my photo (1).JPG', data: 'a' },
      { name: 'ünï côde.txt', data: 'b' },
      { name: 'plain-name.v2.png', data: 'c' },
    ]);
    expect(r.status).toBe(200);
    expect(await r.json()).toEqual({ message: 'Files uploaded successfully', files: ['my_photo__1_.JPG', '_n__c_de.txt', 'plain-name.v2.png'] });
    expect(await ui.json('/api/datasets/list')).toContain('Raw Name');
    const again = await ui.upload('Raw Name', [{ name: 'my photo (1).JPG', data: 'newer' }]);
    expect((await again.json()).files).toEqual(['my_photo__1_.JPG']);

    const listed = await ui.post('/api/datasets/listImages', { datasetName: 'Raw Name' });
    const body = (await listed.json()) as any;
    expect(body.root).toBe('/app/ai-toolkit/datasets/Raw Name/');
    expect(body.images).toEqual(['my_photo__1_.JPG', 'plain-name.v2.png']);
    const file = await fetch(fileUrl(ui, '/app/ai-toolkit/datasets/Raw Name/my_photo__1_.JPG'));
    expect(await file.text()).toBe('newer');

    const none = await ui.upload('Raw Name', []);
    expect(none.status).toBe(400);
    expect(await none.json()).toEqual({ error: 'No files provided' });

    const del = await ui.post('/api/datasets/delete', { name: 'Raw Name' });
    expect(await del.json()).toEqual({ success: true });
    expect(await ui.json('/api/datasets/list')).not.toContain('Raw Name');
  });
});

describe('AI Toolkit UI: jobs', () => {
  it('stores job_config as a JSON string, refuses a duplicate name with 409 and a numeric gpu_ids with 500', async () => {
    const cfg = jobConfig('dup_job');
    const job = await ui.createJob('dup_job', cfg);
    expect(job).toMatchObject({ name: 'dup_job', gpu_ids: '0', status: 'stopped', step: 0, info: '', pid: null, job_type: 'train', stop: false });
    expect(typeof job.job_config).toBe('string');
    expect(JSON.parse(job.job_config)).toEqual(cfg);
    expect(job.queue_position).toBeGreaterThanOrEqual(1000);

    const dup = await ui.post('/api/jobs', { name: 'dup_job', gpu_ids: '0', job_config: cfg });
    expect(dup.status).toBe(409);
    expect(await dup.json()).toEqual({ error: 'Job name already exists' });

    const numeric = await ui.post('/api/jobs', { name: 'numeric_gpu', gpu_ids: 0, job_config: cfg });
    expect(numeric.status).toBe(500);
    expect(await numeric.json()).toEqual({ error: 'Failed to save training data' });

    expect(await ui.json(`/api/jobs?id=00000000-0000-0000-0000-000000000000`)).toBeNull();
    const list = await ui.json('/api/jobs');
    expect(list.jobs.map((j: any) => j.name)).toContain('dup_job');
  });

  it('answers GET actions with the job as it was before the update, 404 for an unknown job', async () => {
    const job = await ui.createJob('pre_update', jobConfig('pre_update'), '7');
    const started = await ui.json(`/api/jobs/${job.id}/start`);
    expect(started.status).toBe('stopped');
    expect(started.info).toBe('');
    expect(started.queue_position).toBe(job.queue_position);
    const now = await ui.job(job.id);
    expect(now).toMatchObject({ status: 'queued', info: 'Job queued', stop: false });
    expect(now.queue_position).toBeGreaterThan(job.queue_position);
    // The queue row for gpu 7 exists but is not running: nothing starts.
    expect((await ui.json('/api/queue')).queues).toContainEqual({ id: expect.any(Number), gpu_ids: '7', is_running: false });

    // Stop without a process: only the flag and the info change; the job stays queued.
    const stopped = await ui.json(`/api/jobs/${job.id}/stop`);
    expect(stopped.status).toBe('queued');
    expect(await ui.job(job.id)).toMatchObject({ status: 'queued', stop: true, info: 'Stopping job...' });

    const marked = await ui.json(`/api/jobs/${job.id}/mark_stopped`);
    expect(marked.status).toBe('queued');
    expect(await ui.job(job.id)).toMatchObject({ status: 'stopped', info: 'Job stopped', pid: null });

    const deleted = await ui.json(`/api/jobs/${job.id}/delete`);
    expect(deleted.id).toBe(job.id);
    expect(await ui.job(job.id)).toBeNull();

    for (const action of ['start', 'stop', 'delete', 'files', 'samples', 'log']) {
      const r = await ui.get(`/api/jobs/11111111-1111-1111-1111-111111111111/${action}`);
      expect(r.status, action).toBe(404);
      expect(await r.json()).toEqual({ error: 'Job not found' });
    }
  });

  it('stops a queue that was started before its job was queued (the 1 s worker tick)', async () => {
    const q = await ui.json('/api/queue/3/start');
    expect(q).toMatchObject({ gpu_ids: '3', is_running: true });
    await waitFor(() => ui.json('/api/queue'), (b: any) => b.queues.some((x: any) => x.gpu_ids === '3' && !x.is_running), 4000);
    const job = await ui.createJob('raced', jobConfig('raced'), '3');
    await ui.json(`/api/jobs/${job.id}/start`);
    await new Promise((r) => setTimeout(r, 1300));
    expect((await ui.job(job.id)).status).toBe('queued');
    await ui.json(`/api/jobs/${job.id}/mark_stopped`);
  });
});

describe('AI Toolkit UI: a running job', () => {
  it('stops a running job: "Job stopped", step back to the last save', async () => {
    await uploadDataset(ui, 'stopset');
    const job = await ui.createJob('stop_me', jobConfig('stop_me', { steps: 100, saveEvery: 25, dataset: 'stopset' }), '0');
    await ui.json(`/api/jobs/${job.id}/start`);
    await ui.json('/api/queue/0/start');
    const running = await waitFor(() => ui.job(job.id), (j) => j.step >= 30);
    expect(running.status).toBe('running');
    expect(running.pid).toEqual(expect.any(Number));

    const pre = await ui.json(`/api/jobs/${job.id}/stop`);
    expect(pre.status).toBe('running');
    expect(await ui.job(job.id)).toMatchObject({ status: 'stopped', info: 'Job stopped', stop: true });
    // The trainer handles SIGINT a moment after the route answered.
    await waitFor(() => ui.json(`/api/jobs/${job.id}/log`), (l: any) => l.log.includes('KeyboardInterrupt'));
    const files = await ui.json(`/api/jobs/${job.id}/files`);
    const steps = files.files.map((f: any) => /_(\d{9})\.safetensors$/.exec(f.path)?.[1]).filter(Boolean).map(Number);
    expect(steps.length).toBeGreaterThan(0);
    const final = await ui.job(job.id);
    expect(final.step).toBe(Math.max(...steps));
    expect(final.step % 25).toBe(0);
    expect(final.status).toBe('stopped');
    // The process is gone: nothing moves any more.
    await new Promise((r) => setTimeout(r, 300));
    expect((await ui.job(job.id)).step).toBe(final.step);
  });

  it('runs a job whose config name differs from the job name, but its outputs are invisible to /files', async () => {
    await uploadDataset(ui, 'hidden');
    const job = await ui.createJob('visible_name', jobConfig('other_name', { steps: 20, saveEvery: 10, dataset: 'hidden' }), '5');
    await ui.json(`/api/jobs/${job.id}/start`);
    await ui.json('/api/queue/5/start');
    const done = await ui.waitForJob(job.id, ['completed', 'error']);
    expect(done.status).toBe('completed');
    expect(await ui.json(`/api/jobs/${job.id}/files`)).toEqual({ files: [] });
    expect(await ui.json(`/api/jobs/${job.id}/samples`)).toEqual({ samples: [] });
    // The log is written where the worker opened it, under the job's own name.
    const log = await ui.json(`/api/jobs/${job.id}/log`);
    expect(log.log).toContain('Saved checkpoint to /app/ai-toolkit/output/other_name/other_name.safetensors');
    // The file exists, under the config's name, and can be downloaded by path.
    const head = await fetch(fileUrl(ui, '/app/ai-toolkit/output/other_name/other_name.safetensors'), { method: 'HEAD' });
    expect(head.status).toBe(200);
  });

  it('fails a job whose dataset folder does not exist with the trainer’s message', async () => {
    const job = await ui.createJob('no_data', jobConfig('no_data', { steps: 10, dataset: 'never_uploaded' }), '6');
    await ui.json(`/api/jobs/${job.id}/start`);
    await ui.json('/api/queue/6/start');
    const done = await ui.waitForJob(job.id, ['completed', 'error']);
    expect(done.status).toBe('error');
    expect(done.info).toBe("[Errno 2] No such file or directory: '/app/ai-toolkit/datasets/never_uploaded'");
  });
});
