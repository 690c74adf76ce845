import { ApiKeyService } from '../src/auth/api-key.service';
import { KeyRevocations } from '../src/auth/key-revocations';
import { intFlag, parseArgs } from '../src/cli/args';
import { loadConfig } from '../src/config';
import { connectRedis } from '../src/redis';
import { benchDatabase } from './support';

const sleep = (ms: number) => new Promise<void>((done) => setTimeout(done, ms));

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/**
 * `npm run bench revocation [--rounds 40]`
 *
 * How long a key revoked on one API process keeps working on another: two ApiKeyService instances
 * on one database, each with its own Redis connections as two processes have. Each round creates a
 * key, lets B cache it, revokes it on A and asks B every millisecond until it refuses; the time
 * counts from A's revoke returning. First with the pub/sub announcement (as deployed), then its peer:
 * the same without announcements, where only the 1 s cache lifetime ends it.
 */
export async function run(argv: string[]): Promise<void> {
  const args = parseArgs(argv, { flags: { rounds: 'string' } });
  const rounds = intFlag(args, 'rounds', 40, 1);
  const redisUrl = loadConfig(process.env).redisUrl;
  const db = await benchDatabase('bench_revocation');
  const connections = [connectRedis(redisUrl), connectRedis(redisUrl)];
  const namespace = `bench-revocation-${process.pid}`;
  const channels = connections.map((redis) => new KeyRevocations(redis, namespace));
  try {
    while (connections.some((redis) => redis.status !== 'ready')) await sleep(20);
    await sleep(200); // B's subscription settles
    const setups: [string, ApiKeyService, ApiKeyService][] = [
      ['pub/sub + 1 s cache (as deployed)', new ApiKeyService(db.dataSource, { revocations: channels[0] }), new ApiKeyService(db.dataSource, { revocations: channels[1] })],
      ['1 s cache only (no announcement)', new ApiKeyService(db.dataSource), new ApiKeyService(db.dataSource)],
    ];
    for (const [label, a, b] of setups) {
      const delays: number[] = [];
      for (let round = 0; round < rounds; round++) {
        const { apiKey, secret } = await a.create('client', `bench ${round}`);
        if (!(await b.authenticate(secret))) throw new Error('B did not accept a fresh key');
        await sleep(Math.random() * 1000); // revoke at any point of B's cache lifetime
        await a.revoke(apiKey.id);
        const revokedAt = performance.now();
        while (await b.authenticate(secret)) await sleep(1);
        delays.push(performance.now() - revokedAt);
      }
      delays.sort((x, y) => x - y);
      const ms = (v: number) => `${v.toFixed(1)} ms`;
      console.log(`${label}: ${rounds} revocations, still accepted on B for median ${ms(percentile(delays, 50))}, p95 ${ms(percentile(delays, 95))}, max ${ms(delays[delays.length - 1])}`);
    }
  } finally {
    for (const channel of channels) channel.close();
    for (const redis of connections) redis.disconnect();
    await db.drop();
  }
}
