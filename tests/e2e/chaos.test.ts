/**
 * The chaos run at small scale (issue #7): trainings with injected provider faults while worker
 * processes are SIGKILLed and restarted; every invariant must hold afterwards. Several processes
 * share the database, so this runs in the PostgreSQL pass (LIKENESS_TEST_DATABASE_URL) only.
 * `npm run chaos` runs it at full scale (100 trainings).
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/harness.js';

const run = promisify(execFile);
const server = process.env.LIKENESS_TEST_DATABASE_URL;

describe.skipIf(!server)('chaos at small scale', () => {
  it('keeps every invariant with faults and killed workers', async () => {
    const { stdout } = await run(
      process.execPath,
      [path.join(ROOT, 'bin/run-ts.mjs'), path.join(ROOT, 'scripts/chaos.ts'), '--runs', '8', '--workers', '2', '--kill-every', '4000', '--timeout-minutes', '8', '--json'],
      { cwd: ROOT, env: { ...process.env, DATABASE_URL: server }, timeout: 9 * 60_000 },
    ).catch((err: { stdout?: string; stderr?: string }) => {
      throw new Error(`chaos run failed:\n${err.stdout ?? ''}\n${err.stderr ?? ''}`);
    });
    const summary = JSON.parse(stdout.trim().split('\n').pop()!);
    expect(summary).toMatchObject({
      ok: true,
      stuck: 0,
      loraFilesMissingOrInvalid: 0,
      readyWithoutLora: 0,
      doubleClosedReservations: 0,
      openReservations: 0,
      runsChargedWrongly: 0,
      ledgerBalances: true,
      emulatedPodsLeftRunning: 0,
    });
    expect(summary.ready + summary.failed).toBe(8);
    expect(summary.workerKills).toBeGreaterThan(0);
  }, 10 * 60_000);
});
