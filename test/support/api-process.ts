import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import type { GraphQLResponse } from './app';
import { sleep } from './worker';

/** The compiled API entry (`npm test` builds first), run as `npm start` runs it. */
export const API_ENTRY = resolve(__dirname, '../../dist/src/main.js');

/**
 * The API as a real child process (`node dist/src/main.js`), so that a crash shows as a process
 * exit instead of taking the test runner down with it, and `kill -9` is a real kill.
 */
export class ApiProcess {
  private log = '';
  readonly child: ChildProcessWithoutNullStreams;
  readonly url: string;

  constructor(
    readonly databaseUrl: string,
    readonly port: number,
    readonly adminKey = `fault-admin-${randomBytes(12).toString('hex')}`,
    env: Record<string, string> = {},
  ) {
    this.url = `http://127.0.0.1:${port}`;
    this.child = spawn(process.execPath, [API_ENTRY], {
      env: {
        ...process.env,
        LOG_LEVEL: 'info',
        HOST: '127.0.0.1',
        PORT: String(port),
        DATABASE_URL: databaseUrl,
        FUNNELCAST_BOOTSTRAP_ADMIN_KEY: this.adminKey,
        FUNNELCAST_FUNNEL_WARMUP: 'false',
        // A healthy dependency can take seconds to answer on a busy machine (see test/support/app.ts).
        FUNNELCAST_HEALTH_TIMEOUT_MS: '60000',
        // API processes run side by side: none takes the default metrics port.
        FUNNELCAST_METRICS_PORT: 'off',
        ...env,
      },
    });
    this.child.stdout.on('data', (chunk: Buffer) => (this.log += chunk.toString()));
    this.child.stderr.on('data', (chunk: Buffer) => (this.log += chunk.toString()));
  }

  /** Everything the process printed (JSON log lines), for assertions and failure messages. */
  get output(): string {
    return this.log;
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  async ready(timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.log.includes('Funnelcast is serving')) {
      if (Date.now() > deadline || !this.alive) throw new Error(`API did not start: ${this.log}`);
      await sleep(50);
    }
  }

  /** A GraphQL request over HTTP; `timeoutMs` bounds how long the test waits for an answer. */
  async gql<T = Record<string, any>>(query: string, variables: Record<string, unknown> = {}, key: string | null = this.adminKey, timeoutMs = 60_000): Promise<GraphQLResponse<T>> {
    const response = await fetch(`${this.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
      body: JSON.stringify({ query, variables }),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const body = (await response.json()) as GraphQLResponse<T>;
    return { ...body, status: response.status };
  }

  /** Stop the process with `signal` and wait for it to exit; SIGKILL if it is still there after `killAfterMs`. */
  stop(signal: NodeJS.Signals = 'SIGTERM', killAfterMs = 10_000): Promise<void> {
    if (!this.alive) return Promise.resolve();
    return new Promise((done) => {
      const timer = setTimeout(() => this.child.kill('SIGKILL'), killAfterMs);
      this.child.once('exit', () => {
        clearTimeout(timer);
        done();
      });
      this.child.kill(signal);
    });
  }
}
