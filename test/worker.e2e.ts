import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { TEST_ADMIN_URL } from './support/database';

// Runs the compiled entry point (`npm test` builds first), as `npm run worker` does.
const WORKER = resolve(__dirname, '../dist/workers/main.js');

describe('worker process', () => {
  it.each(['SIGTERM', 'SIGINT'] as const)('starts and exits cleanly on %s', async (signal) => {
    // The worker keeps job rows in PostgreSQL (it needs a database, not a migrated one) and queues under its own prefix.
    const env = { ...process.env, LOG_LEVEL: 'silent', DATABASE_URL: TEST_ADMIN_URL, FUNNELCAST_QUEUE_PREFIX: `worker-e2e-${process.pid}` };
    const child = spawn(process.execPath, [WORKER], { env });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    await new Promise<void>((ready, fail) => {
      const timer = setTimeout(() => fail(new Error(`worker did not start: ${output}`)), 20_000);
      child.stdout.on('data', () => {
        if (output.includes('ready')) {
          clearTimeout(timer);
          ready();
        }
      });
    });
    const exitCode = await new Promise<number | null>((done) => {
      child.on('exit', (code) => done(code));
      child.kill(signal);
    });
    expect(exitCode).toBe(0);
    expect(output).toContain('funnelcast worker stopped');
  });
});
