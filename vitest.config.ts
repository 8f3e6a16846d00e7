import { defineConfig } from 'vitest/config';

/**
 * Two projects: the unit and integration tests (parallel), then the end-to-end suite (real Chromium, the gateway
 * and SIPp inside a network namespace), in one fork after everything else so the browsers don't compete with the
 * rest for the two cores. `npx vitest run --project e2e` runs it alone.
 */
export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 30_000,
    env: { LOG_LEVEL: process.env.LOG_LEVEL ?? 'silent' },
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['test/**/*.test.ts'],
          exclude: ['test/e2e/**', '**/*.e2e.test.ts', '**/node_modules/**'],
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.e2e.test.ts', 'test/interconnect/**/*.e2e.test.ts'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
          pool: 'forks',
          poolOptions: { forks: { singleFork: true } },
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
