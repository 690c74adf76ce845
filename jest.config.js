/**
 * Two jest projects, run together by `npm test` on one pool of workers:
 *
 * - `inprocess`: everything. Unit specs sit beside the code (src/**\/*.spec.ts); end-to-end tests
 *   live in test/; fault and load tests in test/reliability/ (also `npm run test:reliability`).
 * - `clickhouse`: the funnel suite again, with every test app answering analyses from ClickHouse
 *   (FUNNELCAST_ANALYTICS=clickhouse) through embedded chdb in a temporary folder, or through the
 *   server at FUNNELCAST_TEST_CLICKHOUSE_URL when that is set (test/support/app.ts). Answers are
 *   the same numbers, so the same assertions hold on both engines (docs/analytics-store.md,
 *   "The funnel suite on both engines").
 *
 * `npx jest test/funnel.e2e.ts` runs a file of the pass on both engines; `--selectProjects inprocess`
 * (or `clickhouse`) picks one.
 */

/**
 * The files of the ClickHouse pass: every funnel test that asks only through the API or
 * FunnelService (funnel, breakdowns, trends, time to convert, dropped-off pages, saved funnels,
 * cohorts, excludeAnomalous, eventStats, ranges, property values, funnel controls, random logs against
 * the reference).
 * Left in-process only, because they test the in-process engine's own machinery rather than answers:
 * funnel-mirror, funnel-segments, funnel-late-commits (the event mirror's segments and catch-up; the
 * ClickHouse sync's late commits are in clickhouse.e2e.ts), funnel-workers, funnel-concurrency,
 * funnel-timeout (the worker-thread pool and its time limit on the mirror's catch-up), funnel-warmup
 * (the mirror's warm-up); funnel-drivers (conversion drivers need every event type and answer
 * ANALYTICS_UNSUPPORTED on ClickHouse, tested in clickhouse.e2e.ts); clickhouse.e2e.ts itself
 * compares both engines in one file.
 */
const CLICKHOUSE_PASS = [
  'funnel.e2e.ts',
  'funnel-range.e2e.ts',
  'funnel-values.e2e.ts',
  'funnel-random.e2e.ts',
  'funnel-controls.e2e.ts',
  'funnel-demo.e2e.ts',
  'pagination.e2e.ts',
  'events.e2e.ts',
];

const shared = {
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': 'ts-jest' },
};

module.exports = {
  projects: [
    {
      ...shared,
      displayName: 'inprocess',
      roots: ['<rootDir>/src', '<rootDir>/test'],
      testMatch: ['**/*.spec.ts', '**/*.e2e.ts', '**/*.reliability.ts'],
      setupFiles: ['reflect-metadata'],
    },
    {
      ...shared,
      displayName: 'clickhouse',
      roots: ['<rootDir>/test'],
      testMatch: CLICKHOUSE_PASS.map((file) => `**/test/${file}`),
      setupFiles: ['reflect-metadata', '<rootDir>/test/support/clickhouse-pass.ts'],
    },
  ],
  // A guard against hangs, not a speed check: tests must pass on a busy 2-core machine.
  testTimeout: 300000,
  maxWorkers: 2,
  // Longest files first even on a clean clone, where jest has no durations cached yet.
  testSequencer: '<rootDir>/test/support/sequencer.js',
};
