/**
 * The committed RunPod types must be what the OpenAPI contract generates (STYLE 15: CI fails on
 * stale generated artifacts). Skipped only where the shared contracts folder is absent.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '../..');
const spec = path.resolve(root, '../shared/contracts/runpod-rest-v2-pods.openapi.json');

describe.skipIf(!existsSync(spec))('src/training/runpod/runpod-v2.types.ts', () => {
  it('is up to date with the OpenAPI contract', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, ['scripts/generate-runpod-types.mjs', '--check'], { cwd: root });
    expect(stdout).toMatch(/up to date/);
  });
});
