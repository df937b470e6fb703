import { defineConfig } from 'vitest/config';

// Two cores in CI: run test files in two forked processes. Integration tests start real servers
// (PGlite, the emulator, S3, Chromium), so their timeouts are generous; tests wait on states, not
// on sleeps. Vitest 4, not 3: 3.2's worker-to-host RPC gave up after 60 s, so a host starved of
// CPU on a loaded 2-core runner failed a run whose every test had passed ("Timeout calling
// onTaskUpdate"); 4 has no such timeout.
export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    reporters: ['default'],
  },
});
