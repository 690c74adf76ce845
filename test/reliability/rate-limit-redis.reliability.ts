import { ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import Redis from 'ioredis';
import { startTestApp, TestApp } from '../support/app';

// Rate limits count in Redis; when Redis hangs (SIGSTOP: connected, never answering) or is gone,
// the in-memory insurance limiter decides, so the gate neither opens nor closes. A private Redis.

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

async function startRedis(port: number): Promise<ChildProcess> {
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  const probe = new Redis(port, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  try {
    const deadline = Date.now() + 30_000;
    for (;;) {
      try {
        await probe.connect();
        await probe.ping();
        return child;
      } catch {
        if (Date.now() > deadline || child.exitCode !== null) throw new Error(`redis-server on port ${port} did not start`);
        probe.disconnect();
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  } finally {
    probe.disconnect();
  }
}

async function ask(url: string, key: string): Promise<number> {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` }, body: JSON.stringify({ query: '{ __typename }' }) });
  await response.arrayBuffer();
  return response.status;
}

/**
 * Bursts of 30 requests at once until a burst has a 429 (at most 10 bursts); that burst's counts.
 * Over the rate of 5 a second, a burst that fits in one second has 5 answered and 25 refused.
 */
async function burstUntilRefused(url: string, key: string): Promise<{ ok: number; refused: number }> {
  for (let burst = 0; burst < 10; burst++) {
    const statuses = await Promise.all(Array.from({ length: 30 }, () => ask(url, key)));
    expect(statuses.filter((status) => status !== 200 && status !== 429)).toEqual([]);
    const refused = statuses.filter((status) => status === 429).length;
    if (refused > 0) return { ok: statuses.length - refused, refused };
  }
  return { ok: 0, refused: 0 };
}

describe('rate limits when Redis hangs', () => {
  let redis: ChildProcess | undefined;
  let t: TestApp | undefined;
  let port: number;

  beforeAll(async () => {
    port = await freePort();
    redis = await startRedis(port);
    t = await startTestApp('ratelimitredis', { REDIS_URL: `redis://127.0.0.1:${port}`, FUNNELCAST_RATE_LIMIT_PER_KEY: '5' });
  }, 60_000);

  afterAll(async () => {
    redis?.kill('SIGCONT');
    await t?.stop();
    if (redis && redis.exitCode === null) {
      await new Promise((resolve) => {
        redis!.once('exit', resolve);
        redis!.kill('SIGTERM');
      });
    }
  });

  it('counts in Redis while it answers, and in memory while it hangs', async () => {
    const whileUp = await burstUntilRefused(t!.url, t!.adminKey);
    expect(whileUp.ok).toBeGreaterThanOrEqual(5);
    expect(whileUp.refused).toBeGreaterThan(0);
    const counted = new Redis(port, '127.0.0.1');
    try {
      expect(await counted.keys('*:rate:key:*')).not.toHaveLength(0);
    } finally {
      counted.disconnect();
    }

    redis!.kill('SIGSTOP');
    try {
      const whileHung = await burstUntilRefused(t!.url, t!.adminKey);
      expect(whileHung.ok).toBeGreaterThanOrEqual(5);
      expect(whileHung.refused).toBeGreaterThan(0);
    } finally {
      redis!.kill('SIGCONT');
    }
  }, 120_000);
});
