/** Unit specs sit beside the code (src/**\/*.spec.ts); end-to-end tests live in test/; fault and load tests in test/reliability/ (also `npm run test:reliability`). */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/src', '<rootDir>/test'],
  testMatch: ['**/*.spec.ts', '**/*.e2e.ts', '**/*.reliability.ts'],
  transform: { '^.+\\.ts$': 'ts-jest' },
  setupFiles: ['reflect-metadata'],
  // A guard against hangs, not a speed check: tests must pass on a busy 2-core machine.
  testTimeout: 300000,
  maxWorkers: 2,
};
