/**
 * Jest setup file of the `clickhouse` project (jest.config.js): the test files it runs start their
 * apps with FUNNELCAST_ANALYTICS=clickhouse (test/support/app.ts, `testAnalytics`). Jest gives each
 * test file its own copy of process.env, so this reaches only the files of that project.
 */
process.env.FUNNELCAST_TEST_ANALYTICS = 'clickhouse';
