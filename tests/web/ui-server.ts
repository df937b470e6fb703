/**
 * Where a browser test opens the UI: the harness's own server when it serves the UI at / (the API
 * registers webUiPlugin), or else a front server that serves web/dist with the same plugin and
 * passes /v1, /health and /openapi.json through to the harness unchanged (streams included).
 *
 * The front server exists only until src/api/server.ts registers the plugin; it prints a warning
 * while it is used, and can be deleted with it.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import Fastify from 'fastify';
import { webUiPlugin } from '../../src/api/web-ui.plugin.js';

const API_PATH = /^\/(?:v1(?:\/|\?|$)|health(?:\?|$)|openapi\.json(?:\?|$))/;

export async function servesUi(url: string): Promise<boolean> {
  const res = await fetch(`${url}/`);
  return res.ok && (res.headers.get('content-type') ?? '').startsWith('text/html') && (await res.text()).includes('id="root"');
}

export async function uiUrl(apiUrl: string): Promise<{ url: string; close(): Promise<void> }> {
  if (await servesUi(apiUrl)) return { url: apiUrl, close: async () => undefined };
  console.warn('[web tests] the API does not serve the web UI at / yet (webUiPlugin is not registered in src/api/server.ts): using a front server.');

  const ui = Fastify();
  await ui.register(webUiPlugin);
  await ui.ready();
  const target = new URL(apiUrl);
  let port = 0;
  const server = http.createServer((req, res) => {
    if (!API_PATH.test(req.url ?? '/')) return ui.routing(req, res);
    const upstream = http.request(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: { ...req.headers, host: target.host } },
      (up) => {
        // Signed-URL redirects name the API's origin; the UI follows them with fetch, which must
        // stay same-origin as it is when the API serves the UI itself.
        const headers = { ...up.headers };
        if (headers.location) headers.location = headers.location.replace(target.origin, `http://127.0.0.1:${port}`);
        res.writeHead(up.statusCode ?? 502, headers);
        up.pipe(res);
      },
    );
    // A client that goes away (a closed EventSource) must end the upstream request too, or the
    // API's shutdown waits on a stream nobody reads.
    res.on('close', () => upstream.destroy());
    upstream.on('error', () => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    async close() {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
      await ui.close();
    },
  };
}
