/**
 * webUiPlugin: the built UI at /, the single-page-app fallback for deep links, and API paths that
 * keep their JSON answers (a typo under /v1 must not get the UI's HTML with a 200).
 */
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { webUiPlugin } from '../../src/api/web-ui.plugin.js';

const INDEX = '<!doctype html><html><body><div id="root"></div><script src="/assets/app-abc123.js"></script></body></html>';

/** The API's shape that matters here: JSON 404s, a few routes, the UI registered after them. */
async function app(root: string): Promise<FastifyInstance> {
  const a = Fastify();
  a.setNotFoundHandler((req, reply) => reply.status(404).send({ error: { code: 'not_found', message: `No route for ${req.method} ${req.url}` } }));
  a.get('/health', async () => ({ ok: true }));
  a.get('/openapi.json', async () => ({ openapi: '3.0.3' }));
  a.get('/v1/characters/:id', async (req) => ({ id: (req.params as { id: string }).id }));
  a.get('/v1/storage/*', async () => ({ stored: true }));
  await a.register(webUiPlugin, { root });
  return a;
}

describe('webUiPlugin', () => {
  let dir: string;
  let api: FastifyInstance;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'likeness-webui-'));
    await mkdir(path.join(dir, 'assets'));
    await writeFile(path.join(dir, 'index.html'), INDEX);
    await writeFile(path.join(dir, 'assets/app-abc123.js'), 'console.log("app")');
    await writeFile(path.join(dir, 'favicon.svg'), '<svg/>');
    await writeFile(path.join(path.dirname(dir), `${path.basename(dir)}-secret.txt`), 'outside the root');
    api = await app(dir);
  });

  afterAll(async () => {
    await api.close();
    await rm(dir, { recursive: true, force: true });
    await rm(path.join(path.dirname(dir), `${path.basename(dir)}-secret.txt`), { force: true });
  });

  it('serves index.html at / and for deep links, never cached', async () => {
    for (const url of ['/', '/characters', '/characters/0b5d2c1e-1111-4222-8333-944455556666/lora', '/credits?x=1']) {
      const res = await api.inject({ method: 'GET', url });
      expect(res.statusCode, url).toBe(200);
      expect(res.headers['content-type'], url).toMatch(/^text\/html/);
      expect(res.headers['cache-control'], url).toBe('no-cache');
      expect(res.body, url).toBe(INDEX);
    }
  });

  it('serves built files; hashed assets are cached for good', async () => {
    const js = await api.inject({ method: 'GET', url: '/assets/app-abc123.js' });
    expect(js.statusCode).toBe(200);
    expect(js.headers['content-type']).toMatch(/javascript/);
    expect(js.headers['cache-control']).toContain('immutable');
    const svg = await api.inject({ method: 'GET', url: '/favicon.svg' });
    expect(svg.statusCode).toBe(200);
    expect(svg.headers['cache-control']).not.toContain('immutable');
  });

  it('answers a missing file with the API 404, not with the app', async () => {
    const res = await api.inject({ method: 'GET', url: '/assets/app-old999.js' });
    expect(res.statusCode).toBe(404);
    expect(res.json().error.code).toBe('not_found');
  });

  it('leaves /v1, /health and /openapi.json to the API, matched or not', async () => {
    expect((await api.inject({ method: 'GET', url: '/health' })).json()).toEqual({ ok: true });
    expect((await api.inject({ method: 'GET', url: '/openapi.json' })).json()).toEqual({ openapi: '3.0.3' });
    expect((await api.inject({ method: 'GET', url: '/v1/characters/abc' })).json()).toEqual({ id: 'abc' });
    expect((await api.inject({ method: 'GET', url: '/v1/storage/a/b.png' })).json()).toEqual({ stored: true });
    for (const url of ['/v1/no-such-route', '/v1', '/v1/characters/abc/nope']) {
      const res = await api.inject({ method: 'GET', url });
      expect(res.statusCode, url).toBe(404);
      expect(res.headers['content-type'], url).toMatch(/json/);
    }
    // Other methods never reach the UI.
    expect((await api.inject({ method: 'POST', url: '/characters' })).statusCode).toBe(404);
  });

  it('never serves a file outside its root', async () => {
    const secret = `${path.basename(dir)}-secret.txt`;
    for (const url of [`/../${secret}`, `/..%2f${secret}`, `/assets/..%2f..%2f${secret}`, '/%2e%2e/%2e%2e/etc/passwd', '/%E0%A4%A']) {
      const res = await api.inject({ method: 'GET', url });
      expect(res.body, url).not.toContain('outside the root');
      expect(res.body, url).not.toContain('root:');
    }
  });

  it('says how to build the UI when web/dist is missing', async () => {
    const bare = await app(path.join(dir, 'no-such-dist'));
    try {
      const res = await bare.inject({ method: 'GET', url: '/characters' });
      expect(res.statusCode).toBe(200);
      expect(res.body).toContain('npm run build:web');
      expect((await bare.inject({ method: 'GET', url: '/health' })).json()).toEqual({ ok: true });
    } finally {
      await bare.close();
    }
  });
});
