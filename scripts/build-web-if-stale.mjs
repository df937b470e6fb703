#!/usr/bin/env node
// Builds the web UI (npm run build:web) when web/dist is missing or older than its sources, so
// `npm ci && npm start` serves a current UI on a fresh clone without rebuilding on every start.
//
// Stale means: some file under web/src, or web/index.html, web/vite.config.ts, web/tsconfig.json,
// is newer than web/dist/index.html (the last file a Vite build writes is not guaranteed, but
// index.html is written after the bundles it references).
//
// When the build tools are absent (an install with --omit=dev) the API still starts: the UI
// plugin then answers / with a page saying how to build it. A failed build fails the start, so a
// broken UI is never served silently.
//
// usage: node scripts/build-web-if-stale.mjs [--quiet]
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const web = path.join(root, 'web');
const quiet = process.argv.includes('--quiet');
const say = (msg) => {
  if (!quiet) console.log(`[web] ${msg}`);
};

function newestMtime(p) {
  if (!existsSync(p)) return 0;
  const st = statSync(p);
  if (!st.isDirectory()) return st.mtimeMs;
  let newest = 0;
  for (const entry of readdirSync(p)) newest = Math.max(newest, newestMtime(path.join(p, entry)));
  return newest;
}

const built = path.join(web, 'dist/index.html');
const sources = ['src', 'index.html', 'vite.config.ts', 'tsconfig.json'].map((f) => path.join(web, f));
const builtAt = existsSync(built) ? statSync(built).mtimeMs : 0;
const changedAt = Math.max(...sources.map(newestMtime));

if (builtAt && builtAt >= changedAt) {
  say('web/dist is up to date.');
  process.exit(0);
}
if (!existsSync(path.join(root, 'node_modules/vite/package.json'))) {
  console.warn('[web] web/dist is missing or stale and Vite is not installed (npm ci installs it): the API starts without the web UI.');
  process.exit(0);
}
say(builtAt ? 'web/src changed since the last build: building the web UI...' : 'web/dist is missing: building the web UI...');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const res = spawnSync(npm, ['run', '--silent', 'build:web'], { cwd: root, stdio: quiet ? ['ignore', 'ignore', 'inherit'] : 'inherit' });
if (res.status !== 0) {
  console.error(`[web] npm run build:web failed (exit ${res.status ?? res.signal}).`);
  process.exit(res.status ?? 1);
}
say('web UI built.');
