import { startTestApp, TestApp } from '../support/app';
import { PrivateRedis } from '../support/private-redis';

// Rate limits count in Redis; when Redis hangs (SIGSTOP: connected, never answering) or is gone,
// the in-memory insurance limiter decides, so the gate neither opens nor closes. A private Redis.

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
  let redis: PrivateRedis | undefined;
  let t: TestApp | undefined;

  beforeAll(async () => {
    redis = await PrivateRedis.start();
    t = await startTestApp('ratelimitredis', { REDIS_URL: redis.url, FUNNELCAST_RATE_LIMIT_PER_KEY: '5', FUNNELCAST_RATE_LIMIT_REDIS_TIMEOUT_MS: '250' });
  }, 60_000);

  afterAll(async () => {
    redis?.thaw();
    await t?.stop();
    await redis?.destroy();
  });

  it('counts in Redis while it answers, and in memory while it hangs', async () => {
    const whileUp = await burstUntilRefused(t!.url, t!.adminKey);
    expect(whileUp.ok).toBeGreaterThanOrEqual(5);
    expect(whileUp.refused).toBeGreaterThan(0);
    const counted = redis!.client();
    try {
      expect(await counted.keys('*:rate:key:*')).not.toHaveLength(0);
    } finally {
      counted.disconnect();
    }

    redis!.freeze();
    try {
      const whileHung = await burstUntilRefused(t!.url, t!.adminKey);
      expect(whileHung.ok).toBeGreaterThanOrEqual(5);
      expect(whileHung.refused).toBeGreaterThan(0);
    } finally {
      redis!.thaw();
    }
  }, 120_000);
});
