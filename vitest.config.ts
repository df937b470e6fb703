import { defineConfig } from 'vitest/config';

// Two cores in CI: run test files in two forked processes. Integration tests start real servers
// (PGlite, the emulator, S3, Chromium), so their timeouts are generous; tests wait on states, not
// on sleeps.
export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    pool: 'forks',
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
    testTimeout: 60_000,
    hookTimeout: 120_000,
    reporters: ['default'],
  },
});
