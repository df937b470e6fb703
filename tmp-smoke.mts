import { startEmulator } from './src/emulator/index.ts';
const emu = await startEmulator({ dataDir: '/tmp/emu/smoke', trainSeconds: 2, bootSeconds: 0.3, log: (m) => console.log('  [emu]', m) });
const H = { authorization: 'Bearer emulator-key', 'content-type': 'application/json' };
let r = await fetch(`${emu.url}/v2/pods`, { method: 'POST', headers: H, body: JSON.stringify({ name: 'p1', image: 'ostris/aitoolkit:latest', gpu: { id: 'NVIDIA GeForce RTX 4090', count: 1, allowedCudaVersions: ['13.0'] }, ports: ['8675/http'], env: { AI_TOOLKIT_AUTH: 'tok' } }) });
const pod = await r.json() as any; console.log(r.status, pod.status, pod.id, pod.cost);
const base = emu.podProxyUrlTemplate.replace('{podId}', pod.id).replace('{port}', '8675');
r = await fetch(`${base}/api/auth`, { headers: { authorization: 'Bearer tok' } }); console.log('auth before', r.status);
await new Promise((res) => setTimeout(res, 500));
r = await fetch(`${emu.url}/v2/pods/${pod.id}`, { headers: H }); console.log((await r.json() as any).status);
r = await fetch(`${base}/api/auth`, { headers: { authorization: 'Bearer tok' } }); console.log('auth after', r.status, await r.text(), r.headers.get('x-likeness-emulated'));
const A = { authorization: 'Bearer tok' };
console.log(await (await fetch(`${base}/api/settings`, { headers: A })).json());
const fd = new FormData(); fd.append('datasetName', 'set1');
for (let i = 0; i < 3; i++) { fd.append('files', new Blob([Buffer.from('x')]), `img ${i}.jpg`); fd.append('files', new Blob(['ohwx woman']), `img ${i}.txt`); }
r = await fetch(`${base}/api/datasets/upload`, { method: 'POST', headers: A, body: fd }); console.log(r.status, await r.text());
const cfg = { job: 'extension', config: { name: 'lora1', process: [{ type: 'diffusion_trainer', training_folder: '/app/ai-toolkit/output', trigger_word: 'ohwx', performance_log_every: 10, network: { type: 'lora', linear: 4, linear_alpha: 4 }, save: { dtype: 'bf16', save_every: 25, max_step_saves_to_keep: 2 }, datasets: [{ folder_path: '/app/ai-toolkit/datasets/set1' }], train: { steps: 100, batch_size: 1 }, logging: { log_every: 1, use_ui_logger: true }, model: { name_or_path: 'Tongyi-MAI/Z-Image-Turbo', arch: 'zimage:turbo' }, sample: { sample_every: 50, width: 1024, height: 1024, samples: [{ prompt: 'ohwx woman' }, { prompt: 'ohwx smiling' }] } }] }, meta: { name: '[name]', version: '1.0' } };
r = await fetch(`${base}/api/jobs`, { method: 'POST', headers: { ...A, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'lora1', gpu_ids: '0', job_config: cfg }) });
const job = await r.json() as any; console.log(r.status, job.status, job.id);
r = await fetch(`${base}/api/jobs/${job.id}/start`, { headers: A }); console.log('start', r.status, (await r.json() as any).status);
r = await fetch(`${base}/api/queue/0/start`, { headers: A }); console.log('queue', r.status, await r.text());
const seen = new Set<string>();
for (let i = 0; i < 60; i++) {
  const j = await (await fetch(`${base}/api/jobs?id=${job.id}`, { headers: A })).json() as any;
  const k = `${j.status}|${j.info}`; if (!seen.has(k)) { seen.add(k); console.log('  ', j.status, j.info, j.step, j.speed_string); }
  if (['completed', 'error', 'stopped'].includes(j.status)) break;
  await new Promise((res) => setTimeout(res, 100));
}
console.log(JSON.stringify(await (await fetch(`${base}/api/jobs/${job.id}/files`, { headers: A })).json()));
console.log(JSON.stringify(await (await fetch(`${base}/api/jobs/${job.id}/samples`, { headers: A })).json()));
const log = await (await fetch(`${base}/api/jobs/${job.id}/log`, { headers: A })).json() as any; console.log(log.log.slice(0, 1500));
const loss = await (await fetch(`${base}/api/jobs/${job.id}/loss?key=loss/loss&limit=3`, { headers: A })).json(); console.log(JSON.stringify(loss));
console.log(emu.snapshot());
await emu.close();
