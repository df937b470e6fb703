#!/usr/bin/env node
// Fails when src/db/schema.ts has changes that no committed migration in drizzle/ captures
// (STYLE.md 15: CI fails when generated artifacts are stale). Works on a copy of drizzle/ so the
// check never writes into the repository.
import { cpSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';

const tmp = mkdtempSync(path.join(tmpdir(), 'likeness-migrations-'));
try {
  cpSync('drizzle', tmp, { recursive: true });
  const before = readdirSync(tmp).length;
  execFileSync('npx', ['drizzle-kit', 'generate', '--dialect', 'postgresql', '--schema', './src/db/schema.ts', '--out', tmp, '--name', 'stale-check'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const after = readdirSync(tmp).length;
  if (after !== before) {
    console.error('drizzle/ is stale: src/db/schema.ts changed without a migration. Run `npm run db:generate` and commit the result.');
    process.exit(1);
  }
  console.log('Migrations are up to date with src/db/schema.ts.');
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
