/**
 * The web app type-checks under its own strict tsconfig (web/tsconfig.json). The root `tsc` does
 * not see web/ (JSX, bundler resolution), so without this `npm test` would pass a UI that no
 * longer matches the API's generated types.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/harness.js';

describe('web app', () => {
  it('type-checks (tsc -p web/tsconfig.json)', () => {
    const tsc = path.join(ROOT, 'node_modules/typescript/bin/tsc');
    const res = spawnSync(process.execPath, [tsc, '-p', path.join(ROOT, 'web/tsconfig.json')], { cwd: ROOT, encoding: 'utf8' });
    expect(res.stdout + res.stderr).toBe('');
    expect(res.status).toBe(0);
  }, 120_000);
});
