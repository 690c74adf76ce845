import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { freePort } from '../../bench/free-port';

const sleep = (ms: number) => new Promise<void>((done) => setTimeout(done, ms));

/**
 * A Redis server of the test's own (`redis-server` on a free port, data in its own temp folder),
 * for faults that must never touch the shared Redis: stop it with or without its data, start it
 * again on the same port, flush it. `destroy()` stops it and deletes the folder; call it in afterAll.
 */
export class PrivateRedis {
  readonly dir = mkdtempSync(join(tmpdir(), 'fc-redis-'));
  private process: ChildProcess | null = null;
  private log = '';

  private constructor(readonly port: number) {}

  static async start(): Promise<PrivateRedis> {
    const redis = new PrivateRedis(await freePort());
    try {
      await redis.start();
    } catch (error) {
      await redis.destroy();
      throw error;
    }
    return redis;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.process !== null;
  }

  /** Starts the server (again), loading `dump.rdb` from its folder when a stop kept the data. */
  async start(): Promise<void> {
    if (this.process) return;
    // No automatic snapshots: data survives a restart only when stop({ keepData: true }) saved it.
    const child = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--dir', this.dir, '--save', '', '--appendonly', 'no', '--dbfilename', 'dump.rdb'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (chunk: Buffer) => (this.log += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (this.log += chunk.toString()));
    child.once('exit', () => {
      if (this.process === child) this.process = null;
    });
    this.process = child;
    const deadline = Date.now() + 20_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`redis-server exited: ${this.log}`);
      if (await this.ping()) return;
      if (Date.now() > deadline) throw new Error(`redis-server did not answer on ${this.port}: ${this.log}`);
      await sleep(50);
    }
  }

  /**
   * Stops the server. keepData: saves a snapshot first, which the next start() loads (a Redis
   * restart with its data); otherwise it dies without saving and any old snapshot is deleted (a
   * restart that lost everything).
   */
  async stop(options: { keepData?: boolean } = {}): Promise<void> {
    const child = this.process;
    if (!child) return;
    const exited = new Promise<void>((done) => (child.exitCode !== null || child.signalCode !== null ? done() : child.once('exit', () => done())));
    child.kill('SIGCONT'); // a frozen server could neither save nor shut down
    if (options.keepData) {
      const client = this.client();
      await client.call('SHUTDOWN', 'SAVE').catch(() => undefined); // the connection drops as the server exits
      client.disconnect();
    } else {
      child.kill('SIGKILL');
    }
    await exited;
    this.process = null;
    if (!options.keepData) rmSync(join(this.dir, 'dump.rdb'), { force: true });
  }

  /** Freezes the server (SIGSTOP): connections stay open and nothing answers, as a hung Redis does. */
  freeze(): void {
    this.process?.kill('SIGSTOP');
  }

  /** Lets a frozen server go on (SIGCONT). */
  thaw(): void {
    this.process?.kill('SIGCONT');
  }

  /** Deletes every key, as a Redis that lost its data would have none. */
  async flushAll(): Promise<void> {
    const client = this.client();
    try {
      await client.flushall();
    } finally {
      client.disconnect();
    }
  }

  /** A plain client for the test's own checks; disconnect it when done. */
  client(): Redis {
    const client = new Redis(this.url, { maxRetriesPerRequest: 1 });
    client.on('error', () => undefined); // expected while the server is stopped; commands still fail
    return client;
  }

  /** Stops the server if it runs and deletes its folder. */
  async destroy(): Promise<void> {
    await this.stop().catch(() => undefined);
    rmSync(this.dir, { recursive: true, force: true });
  }

  private async ping(): Promise<boolean> {
    const client = new Redis(this.url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false });
    client.on('error', () => undefined);
    try {
      await client.connect();
      return (await client.ping()) === 'PONG';
    } catch {
      return false;
    } finally {
      client.disconnect();
    }
  }
}
