/**
 * The GPU emulator's ComfyUI part, mounted on the emulator's port by path prefix:
 *
 *   /comfy/...            a ComfyUI server (HTTP at / and /api, WebSocket at /ws)  comfy-http.plugin.ts, comfy-socket.ts
 *   /_emulator/comfyui/.. its control API                                            comfy-control.plugin.ts
 * and `serverlessEndpoint`: the worker-comfyui handler for the emulator's RunPod serverless
 * endpoints (serverless/runpod-serverless.routes.ts, at /serverless/v2/{COMFY_ENDPOINT_ID}/...).
 *
 * Both providers share one emulated ComfyUI host (queue, folders), as a worker-comfyui container
 * runs one ComfyUI. It imports nothing from generation/: the real adapters talk to it over HTTP/WS.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import type { Duplex } from 'node:stream';
import Fastify from 'fastify';
import type { TimerSet } from '../timer-set.js';
import { comfyControlRoutes } from './comfy-control.plugin.js';
import { ComfyEngine } from './comfy-engine.js';
import { ComfyHostFiles } from './comfy-host.files.js';
import { comfyHttpRoutes } from './comfy-http.plugin.js';
import { ComfySocketServer } from './comfy-socket.js';
import type { ServerlessEndpoint } from '../serverless/runpod-serverless.routes.js';
import { runWorkerComfyui } from './worker-comfyui.handler.js';

export const COMFY_ENDPOINT_ID = 'emulator-comfyui';
const PREFIXES = ['/comfy', '/_emulator/comfyui'];
const WS_PATHS = new Set(['/comfy/ws', '/comfy/api/ws']);

export interface ComfyEmulatorOptions {
  dataDir: string;
  timers: TimerSet;
  log: (msg: string) => void;
}

export interface ComfyEmulatorUrls {
  /** ComfyUI server base, e.g. http://127.0.0.1:PORT/comfy (WebSocket: ws://.../comfy/ws). */
  comfyUrl: string;
  /** RunPod serverless base, e.g. http://127.0.0.1:PORT/serverless/v2 (real: https://api.runpod.ai/v2). */
  comfyServerlessUrl: string;
  /** The one serverless endpoint id it answers for. */
  comfyEndpointId: string;
  /** The emulated host's models/loras folder (what a shared-volume LoRA delivery writes into). */
  comfyLorasDir: string;
}

export interface ComfyEmulator {
  owns(pathname: string): boolean;
  handle(req: IncomingMessage, res: ServerResponse): void;
  /** The http server's 'upgrade' listener: ComfyUI's /ws, anything else is refused. */
  upgrade: (req: IncomingMessage, socket: Duplex, head: Buffer) => void;
  urls(baseUrl: string): ComfyEmulatorUrls;
  /** worker-comfyui on the emulated serverless endpoint COMFY_ENDPOINT_ID. */
  serverlessEndpoint: ServerlessEndpoint;
  close(): Promise<void>;
}

export async function startComfyEmulator(opts: ComfyEmulatorOptions): Promise<ComfyEmulator> {
  const files = new ComfyHostFiles(path.join(opts.dataDir, 'comfyui'));
  await files.reset();
  const timers = opts.timers.child();
  const engine = new ComfyEngine(files, timers, opts.log);
  const sockets = new ComfySocketServer(engine);

  const app = Fastify({ logger: false, bodyLimit: 25 * 1024 * 1024 });
  app.addHook('onRequest', async (req, reply) => {
    if (req.url.startsWith('/_emulator/') || engine.settings.failNextRequests <= 0) return;
    engine.settings.failNextRequests -= 1;
    return reply.status(503).type('text/plain; charset=utf-8').send('Service Unavailable');
  });
  await app.register(comfyHttpRoutes, { prefix: '/comfy', engine });
  await app.register(comfyHttpRoutes, { prefix: '/comfy/api', engine });
  await app.register(comfyControlRoutes, { prefix: '/_emulator/comfyui', engine });
  await app.ready();

  const serverlessEndpoint: ServerlessEndpoint = {
    id: COMFY_ENDPOINT_ID,
    handler: async (job) => {
      let promptId: string | null = null;
      job.signal.addEventListener('abort', () => promptId && engine.interrupt(promptId), { once: true });
      return runWorkerComfyui(job.input, { engine, onQueued: (id) => (promptId = id) });
    },
    // The one-shot 503s of the ComfyUI settings apply to the serverless endpoint too.
    requestFault: () => {
      if (engine.settings.failNextRequests <= 0) return { kind: 'none' };
      engine.settings.failNextRequests -= 1;
      return { kind: 'error', status: 503 };
    },
  };

  return {
    serverlessEndpoint,
    owns: (pathname) => PREFIXES.some((p) => pathname === p || pathname.startsWith(`${p}/`)),
    handle: (req, res) => app.routing(req, res),
    upgrade: (req, socket, head) => {
      const url = new URL(req.url ?? '/', 'http://emulator');
      if (WS_PATHS.has(url.pathname)) sockets.upgrade(req, socket, head, url.searchParams.get('clientId'));
      else socket.destroy();
    },
    urls: (baseUrl) => ({
      comfyUrl: `${baseUrl}/comfy`,
      comfyServerlessUrl: `${baseUrl}/serverless/v2`,
      comfyEndpointId: COMFY_ENDPOINT_ID,
      comfyLorasDir: files.lorasDir,
    }),
    close: async () => {
      timers.close();
      engine.close();
      await sockets.close();
      await app.close();
    },
  };
}
