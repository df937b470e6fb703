/**
 * The GPU emulator's HTTP server: one port, dispatched by path prefix to the emulated services.
 *
 *   /v2/...                          RunPod REST API v2 (pods, GPU catalog)       runpod-pods.routes.ts
 *   /proxy/{podId}-{port}/...        RunPod's HTTP proxy to a pod's port           pod-services.ts
 *                                    (real: https://{podId}-{port}.proxy.runpod.net/...)
 *   /aitk/...                        a standalone AI Toolkit UI                    aitoolkit-instance.ts
 *   /serverless/v2/{endpointId}/...  RunPod serverless queue endpoints             serverless/runpod-serverless.routes.ts
 *                                    (real: https://api.runpod.ai/v2/...): worker-comfyui
 *                                    and the AI Toolkit training worker
 *   /_emulator/...                   control API (faults, state)                   control.routes.ts
 *
 * Injected request faults apply to the provider prefixes only. Every answer carries
 * `x-likeness-emulated: 1`, so nothing downstream can mistake an emulated answer for a real one.
 */
import { existsSync } from 'node:fs';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { AitkInstance } from './aitoolkit-instance.js';
import { buildControlApi } from './control.routes.js';
import type { EmulatorOptions, EmulatorSnapshot, FaultConfig, RunningEmulator } from './emulator.types.js';
import { hang, writeFaultResponse, type Provider } from './fault-responses.js';
import { FaultInjector } from './faults.js';
import { LoraRenderer } from './lora-artifact.js';
import { PodServices } from './pod-services.js';
import { RunpodOpenApiValidator } from './runpod-openapi.validator.js';
import { buildRunpodApi } from './runpod-pods.routes.js';
import { PodStore } from './runpod-pods.store.js';
import { TimerSet } from './timer-set.js';
import { startComfyEmulator } from './comfyui/index.js';
import { buildServerlessApi, TRAINING_ENDPOINT_ID } from './serverless/index.js';

const PROJECT_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const DEFAULT_OPENAPI_PATH = path.resolve(PROJECT_ROOT, '../shared/contracts/runpod-rest-v2-pods.openapi.json');
const MARKER = '.likeness-emulator';

const PROXY_502 = '<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n</body>\r\n</html>\r\n';

/**
 * Emulator state lives in memory, so folders left by an earlier run are stale: they are removed,
 * but only in a folder this emulator marked as its own, never in one that merely has those names.
 */
async function prepareDataDir(dataDir: string): Promise<void> {
  await mkdir(dataDir, { recursive: true });
  const marker = path.join(dataDir, MARKER);
  const owned = existsSync(marker);
  const entries = await readdir(dataDir);
  if (!owned && (entries.includes('aitk') || entries.includes('pods'))) {
    throw new Error(`emulator: ${dataDir} has aitk/ or pods/ but is not an emulator data dir (no ${MARKER}); refusing to reuse it`);
  }
  await rm(path.join(dataDir, 'aitk'), { recursive: true, force: true });
  await rm(path.join(dataDir, 'pods'), { recursive: true, force: true });
  await rm(path.join(dataDir, 'serverless'), { recursive: true, force: true });
  await writeFile(marker, 'Data of the Likeness GPU emulator. Removed and recreated on each start.\n');
}

function nonNegative(name: string, value: number | undefined, dflt: number): number {
  const v = value ?? dflt;
  if (!Number.isFinite(v) || v < 0) throw new Error(`emulator: ${name} must be a number >= 0, got ${String(value)}`);
  return v;
}

export async function startEmulator(opts: EmulatorOptions): Promise<RunningEmulator> {
  const host = opts.host ?? '127.0.0.1';
  const trainSeconds = nonNegative('trainSeconds', opts.trainSeconds, 20);
  const bootSeconds = nonNegative('bootSeconds', opts.bootSeconds, 1);
  const apiKey = opts.runpodApiKey ?? 'emulator-key';
  const aitkToken = opts.aitkToken ?? 'emulator-aitk';
  const log = opts.log ?? (() => {});
  const dataDir = path.resolve(opts.dataDir);

  const validator = new RunpodOpenApiValidator(opts.openapiPath ?? DEFAULT_OPENAPI_PATH);
  const faults = new FaultInjector(opts.faults);
  const timers = new TimerSet();
  const renderer = new LoraRenderer();
  await prepareDataDir(dataDir);
  const comfy = await startComfyEmulator({ dataDir, timers, log });

  let store: PodStore | undefined;
  const services = new PodServices({ dataDir, trainSeconds, faults, timers, renderer, preempt: (id) => store?.preempt(id), log });
  store = new PodStore(timers, bootSeconds, services, log);
  const pods = store;

  const standalone = await AitkInstance.create({
    installRoot: path.join(dataDir, 'aitk'),
    token: aitkToken,
    trainSeconds,
    faults,
    timers,
    renderer,
    gpu: { name: 'NVIDIA GeForce RTX 4090', memoryGb: 24, count: 1 },
    log,
  });

  const snapshot = (): EmulatorSnapshot => ({
    pods: pods.all().map((p) => ({ id: p.id, name: p.name, status: p.status, env: { ...p.env } })),
    jobs: [...services.jobs(), ...standalone.jobsSnapshot()],
  });
  const setFaults = (patch: Partial<FaultConfig>) => {
    const next = faults.set(patch);
    log(`faults: ${JSON.stringify(next)}`);
    return next;
  };

  const apps: FastifyInstance[] = [];
  const runpodApi = await buildRunpodApi({ store: pods, validator, apiKey });
  const control = await buildControlApi({ getFaults: () => faults.get(), setFaults, snapshot });
  const serverless = await buildServerlessApi({
    apiKey,
    timers,
    faults,
    renderer,
    trainSeconds,
    workDir: path.join(dataDir, 'serverless'),
    webhookRetryMs: opts.webhookRetryMs,
    comfyEndpoint: comfy.serverlessEndpoint,
    log,
  });
  apps.push(runpodApi, control, serverless);

  const injectFault = (req: IncomingMessage, res: ServerResponse, provider: Provider): boolean => {
    const fault = faults.forRequest();
    if (fault.kind === 'none') return false;
    log(`fault: ${req.method} ${req.url} -> ${fault.kind === 'error' ? fault.status : 'hang'}`);
    if (fault.kind === 'error') writeFaultResponse(res, provider, fault.status);
    else hang(req, res, timers);
    return true;
  };

  const proxy = (req: IncomingMessage, res: ServerResponse, rest: string, query: string): void => {
    const slash = rest.indexOf('/');
    const target = slash === -1 ? rest : rest.slice(0, slash);
    const m = /^([a-z0-9]+)-(\d{1,5})$/.exec(target);
    const pod = m ? pods.find(m[1]!) : undefined;
    if (!m || !pod) {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
      res.end('Not Found');
      return;
    }
    const service = services.resolve(pod.id, Number(m[2]));
    // Until the service listens (and once the pod is gone) the proxy has nothing to forward to.
    if (!pod.servicesUp || !service || !service.isAnswering) {
      res.writeHead(502, { 'content-type': 'text/html' });
      res.end(PROXY_502);
      return;
    }
    req.url = (slash === -1 ? '/' : rest.slice(slash)) + query;
    service.handle(req, res);
  };

  const dispatch = (req: IncomingMessage, res: ServerResponse): void => {
    res.setHeader('x-likeness-emulated', '1');
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const pathname = q === -1 ? url : url.slice(0, q);
    const query = q === -1 ? '' : url.slice(q);
    if (comfy.owns(pathname)) return comfy.handle(req, res);
    if (pathname.startsWith('/serverless/')) return serverless.routing(req, res);
    if (pathname.startsWith('/_emulator/')) return control.routing(req, res);
    if (pathname === '/v2' || pathname.startsWith('/v2/')) {
      if (injectFault(req, res, 'runpod')) return;
      return runpodApi.routing(req, res);
    }
    if (pathname.startsWith('/proxy/')) {
      if (injectFault(req, res, 'aitk')) return;
      return proxy(req, res, pathname.slice('/proxy/'.length), query);
    }
    if (pathname === '/aitk' || pathname.startsWith('/aitk/')) {
      if (injectFault(req, res, 'aitk')) return;
      req.url = (pathname.slice('/aitk'.length) || '/') + query;
      return standalone.handle(req, res);
    }
    const body = JSON.stringify({ error: 'not found', hint: 'emulated services: /v2, /proxy/{podId}-{port}, /aitk, /_emulator' });
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end(body);
  };

  const server = http.createServer(dispatch);
  server.on('upgrade', comfy.upgrade);
  // Dataset uploads and LoRA downloads can be long; the real AI Toolkit front server disables the
  // request timeout too.
  server.requestTimeout = 0;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  log(`emulator listening on ${url} (data in ${dataDir}, train ${trainSeconds}s, boot ${bootSeconds}s)`);

  let closing: Promise<void> | null = null;
  return {
    url,
    runpodApiUrl: url,
    podProxyUrlTemplate: `${url}/proxy/{podId}-{port}`,
    aitkUrl: `${url}/aitk`,
    ...comfy.urls(url),
    serverlessUrl: `${url}/serverless/v2`,
    trainingEndpointId: TRAINING_ENDPOINT_ID,
    setFaults: (f) => {
      setFaults(f);
    },
    snapshot,
    close: () => {
      closing ??= (async () => {
        timers.close();
        pods.close();
        await services.close();
        await comfy.close();
        await standalone.dispose(false);
        await Promise.all(apps.map((a) => a.close()));
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
        log('emulator closed');
      })();
      return closing;
    },
  };
}
