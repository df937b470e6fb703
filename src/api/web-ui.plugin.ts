/**
 * Serves the built web UI (web/dist) at / with a single-page-app fallback: a path that is not a
 * file and not an API path gets index.html, so a deep link (/characters/ID/lora, from a
 * notification) opens the right screen after a reload.
 *
 * API paths keep priority: the UI's route is the catch-all GET /*, which Fastify's router tries
 * only after every static and parametric route; and an unknown /v1/..., /health or /openapi.json
 * path is handed back to the API's JSON 404 instead of getting the UI's HTML.
 *
 * Files are looked up on each request (not listed at start-up), so a rebuilt UI is served
 * without a restart. When web/dist is missing, / says how to build it.
 */
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyPluginAsync } from 'fastify';
import fastifyStatic from '@fastify/static';
// The `auth` route option is declared by the API server.
import type {} from './server.js';

export interface WebUiOptions {
  /** The built UI; default: web/dist in this checkout. */
  root?: string;
}

export const DEFAULT_WEB_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../web/dist');

/** Paths that belong to the API even when no route matches them. */
const API_PATH = /^\/(?:v1(?:\/|$)|health$|openapi\.json$)/;

const NOT_BUILT_PAGE = `<!doctype html><html><head><meta charset="utf-8"><title>Likeness</title></head>
<body style="font-family: sans-serif; max-width: 40em; margin: 4em auto">
<h1>Likeness</h1><p>The API is running, but the web UI is not built. Run <code>npm run build:web</code>
(or <code>npm start</code>, which builds it when needed) and reload.</p>
<p>API reference: <a href="/openapi.json">/openapi.json</a></p></body></html>`;

export const webUiPlugin: FastifyPluginAsync<WebUiOptions> = async (app, opts) => {
  const root = path.resolve(opts.root ?? DEFAULT_WEB_ROOT);
  // serve: false: @fastify/static only adds reply.sendFile (path-traversal-safe, ranges, ETags);
  // the one route below decides what a path means.
  await app.register(fastifyStatic, { root, serve: false });

  app.get('/*', { config: { auth: 'public' }, schema: { hide: true } }, async (req, reply) => {
    const urlPath = decodePath(req.url.split('?')[0]!);
    if (urlPath === null || API_PATH.test(urlPath)) return reply.callNotFound();

    const rel = path.normalize(urlPath).replace(/^[/\\]+/, '');
    const file = path.join(root, rel);
    if (rel && file.startsWith(root + path.sep) && isFile(file)) {
      // Vite puts content-hashed names under assets/: they never change, so cache them for good.
      const immutable = rel.startsWith(`assets${path.sep}`);
      return reply.sendFile(rel, { cacheControl: true, maxAge: immutable ? 365 * 24 * 3600 * 1000 : 0, immutable });
    }
    // A missing asset (a name with an extension) is a 404, not the app: a stale index.html must not
    // get HTML back for its script and fail with a MIME error.
    if (path.extname(rel)) return reply.callNotFound();

    if (!isFile(path.join(root, 'index.html'))) return reply.type('text/html; charset=utf-8').send(NOT_BUILT_PAGE);
    // index.html names the current bundles: always revalidate it.
    return reply.header('cache-control', 'no-cache').sendFile('index.html', { cacheControl: false });
  });
};

function decodePath(p: string): string | null {
  try {
    return decodeURIComponent(p);
  } catch {
    return null; // malformed escapes name no file and no screen
  }
}

function isFile(p: string): boolean {
  return existsSync(p) && statSync(p).isFile();
}
