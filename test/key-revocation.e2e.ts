import { startApp, App } from '../src/app';
import { ApiKeyService, AUTH_CACHE_TTL_MS, KEY_PREFIX_LENGTH } from '../src/auth/api-key.service';
import { KeyRevocations } from '../src/auth/key-revocations';
import { loadConfig } from '../src/config';
import { connectRedis } from '../src/redis';
import { ShortKeyPrefixes1765000000000 } from '../migrations/1765000000000-short-key-prefixes';
import { GraphQLResponse, startTestApp, TestApp } from './support/app';
import { sleep } from './support/worker';

/**
 * Two API processes on one database and one Redis: a key revoked on one stops working on the
 * other within a second (pub/sub tells it at once; the 1 s cache bounds it when the message is lost).
 */

const PREFIX = `key-revocation-${process.pid}`;
const CREATE = 'mutation($role: Role!, $name: String!) { createApiKey(role: $role, name: $name) { secret apiKey { id prefix } } }';
const REVOKE = 'mutation($id: ID!) { revokeApiKey(id: $id) { id revokedAt } }';

async function gqlAt<T = Record<string, any>>(url: string, query: string, key: string, variables?: Record<string, unknown>): Promise<GraphQLResponse<T>> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify({ query, variables }),
  });
  return { ...((await response.json()) as GraphQLResponse<T>), status: response.status };
}

async function until<T>(what: string, probe: () => Promise<T | null | undefined | false>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`${what} did not happen within ${timeoutMs} ms`);
    await sleep(20);
  }
}

describe('API key revocation across API processes', () => {
  let a: TestApp;
  let b: App;
  /** An admin key of the test's own, for when the bootstrap key has been revoked. */
  let admin: string;

  /** A second API process on A's database and Redis, with the same bootstrap secret. */
  function startB(): Promise<App> {
    const config = loadConfig({
      ...process.env,
      LOG_LEVEL: process.env.LOG_LEVEL ?? 'silent',
      HOST: '127.0.0.1',
      FUNNELCAST_BOOTSTRAP_ADMIN_KEY: a.adminKey,
      FUNNELCAST_QUEUE_PREFIX: PREFIX,
      FUNNELCAST_FUNNEL_WARMUP: 'false',
    });
    return startApp({ ...config, databaseUrl: a.db.url }, { port: 0 });
  }

  async function createKey(role: string): Promise<{ secret: string; id: string; prefix: string }> {
    const created = await a.gql<{ createApiKey: { secret: string; apiKey: { id: string; prefix: string } } }>(CREATE, { role, name: `${role} key` }, admin);
    if (!created.data) throw new Error(JSON.stringify(created.errors));
    return { secret: created.data.createApiKey.secret, ...created.data.createApiKey.apiKey };
  }

  beforeAll(async () => {
    a = await startTestApp('keyrevoke', { FUNNELCAST_QUEUE_PREFIX: PREFIX, FUNNELCAST_FUNNEL_WARMUP: 'false' });
    b = await startB();
    admin = await a.createKey('admin', 'test admin');
    await until('both processes connected to Redis', async () => a.app.services.redis.status === 'ready' && b.services.redis.status === 'ready');
  });

  afterAll(async () => {
    await b?.stop();
    await a?.stop();
  });

  it('rejects a key on B once A revoked it, after the pub/sub message reached B', async () => {
    const key = await createKey('ADMIN');
    expect((await gqlAt(b.server.url, '{ apiKeys { id } }', key.secret)).data).toBeDefined(); // B has it cached now
    const heardBefore = b.services.apiKeys.revocationMessages;

    const revoked = await a.gql(REVOKE, { id: key.id });
    expect(revoked.errors).toBeUndefined();
    expect((await a.gql('{ apiKeys { id } }', undefined, key.secret)).errors![0].extensions!.code).toBe('UNAUTHENTICATED'); // A: at once

    await until('B hearing of the revocation', async () => b.services.apiKeys.revocationMessages > heardBefore);
    const onB = await gqlAt(b.server.url, '{ apiKeys { id } }', key.secret);
    expect(onB.errors![0].extensions!.code).toBe('UNAUTHENTICATED');
    expect(onB.errors![0].message).toMatch(/not valid or has been revoked/);
  });

  it('drops a revoked key from another process’s cache by pub/sub alone, however long it would cache it', async () => {
    // Two services as in two processes, caching answers for a minute: only the message can make B let go.
    const redisA = connectRedis(loadConfig(process.env).redisUrl);
    const redisB = connectRedis(loadConfig(process.env).redisUrl);
    const channelA = new KeyRevocations(redisA, PREFIX);
    const channelB = new KeyRevocations(redisB, PREFIX);
    const serviceA = new ApiKeyService(a.app.services.dataSource, { revocations: channelA, cacheTtlMs: 60_000 });
    const serviceB = new ApiKeyService(a.app.services.dataSource, { revocations: channelB, cacheTtlMs: 60_000 });
    const withoutChannel = new ApiKeyService(a.app.services.dataSource, { cacheTtlMs: 60_000 });
    try {
      await until('both channels connected', async () => redisA.status === 'ready' && redisB.status === 'ready');
      const key = await createKey('CLIENT');
      expect(await serviceB.authenticate(key.secret)).toMatchObject({ keyId: key.id });
      expect(await withoutChannel.authenticate(key.secret)).toMatchObject({ keyId: key.id });
      // B's subscription is asynchronous; keep announcing until B has heard one (announcing twice is harmless).
      await serviceA.revoke(key.id);
      await until('B dropping the key', async () => {
        if ((await serviceB.authenticate(key.secret)) === null) return true;
        await channelA.publish(key.id);
        return false;
      });
      expect(serviceB.revocationMessages).toBeGreaterThan(0);
      // The control: a process that hears nothing keeps trusting its cache for the whole lifetime.
      expect(await withoutChannel.authenticate(key.secret)).toMatchObject({ keyId: key.id });
    } finally {
      serviceA.close();
      serviceB.close();
      redisA.disconnect();
      redisB.disconnect();
    }
  });

  it('without pub/sub (Redis away), the cache lifetime of at most 1 s bounds how long a revoked key works', async () => {
    expect(AUTH_CACHE_TTL_MS).toBeLessThanOrEqual(1000);
    let clock = 1_000_000;
    const deadRedis = connectRedis('redis://127.0.0.1:1');
    const serviceA = new ApiKeyService(a.app.services.dataSource, { revocations: new KeyRevocations(deadRedis, PREFIX) });
    const serviceB = new ApiKeyService(a.app.services.dataSource, { revocations: new KeyRevocations(deadRedis, PREFIX), now: () => clock });
    try {
      const key = await createKey('ANALYST');
      expect(await serviceB.authenticate(key.secret)).toMatchObject({ keyId: key.id }); // cached at `clock`
      await serviceA.revoke(key.id); // its announcement fails: Redis is not there
      clock += AUTH_CACHE_TTL_MS - 1;
      expect(await serviceB.authenticate(key.secret)).toMatchObject({ keyId: key.id }); // still the cached answer
      clock += 2;
      expect(await serviceB.authenticate(key.secret)).toBeNull(); // expired: the database says revoked
      expect(serviceB.revocationMessages).toBe(0);
    } finally {
      serviceA.close();
      serviceB.close();
      deadRedis.disconnect();
    }
  });

  it('keeps a revoked bootstrap admin key revoked when the API restarts with the same secret', async () => {
    const other = await createKey('ADMIN');
    const [bootstrap] = (await a.gql<{ apiKeys: { id: string; name: string }[] }>('{ apiKeys { id name } }')).data!.apiKeys.filter((k) => k.name === 'bootstrap admin');
    expect((await a.gql(REVOKE, { id: bootstrap.id }, other.secret)).errors).toBeUndefined();

    await b.stop();
    b = await startB(); // starts with FUNNELCAST_BOOTSTRAP_ADMIN_KEY = the revoked secret
    const rejected = await gqlAt(b.server.url, '{ apiKeys { id } }', a.adminKey);
    expect(rejected.errors![0].extensions!.code).toBe('UNAUTHENTICATED');
    expect(await b.services.apiKeys.ensureBootstrapAdmin(a.adminKey)).toBe('revoked');
    const all = (await gqlAt<{ apiKeys: { id: string; revokedAt: string | null }[] }>(b.server.url, '{ apiKeys(includeRevoked: true) { id revokedAt } }', other.secret)).data!.apiKeys;
    expect(all.find((k) => k.id === bootstrap.id)!.revokedAt).not.toBeNull();
    expect(all.filter((k) => k.revokedAt === null).map((k) => k.id)).not.toContain(bootstrap.id);
  });

  it('shows at most 6 characters of a secret as its prefix, old keys included', async () => {
    expect(KEY_PREFIX_LENGTH).toBe(6);
    const key = await createKey('CLIENT');
    expect(key.prefix).toBe(key.secret.slice(0, 6));
    // A key stored before the change kept 12 characters; the migration cuts it to 6.
    const dataSource = a.app.services.dataSource;
    await dataSource.query(`UPDATE api_keys SET key_prefix = $2 WHERE id = $1`, [key.id, key.secret.slice(0, 12)]);
    const runner = dataSource.createQueryRunner();
    try {
      await new ShortKeyPrefixes1765000000000().up(runner);
    } finally {
      await runner.release();
    }
    const other = await createKey('ADMIN');
    const listed = (await a.gql<{ apiKeys: { id: string; prefix: string }[] }>('{ apiKeys(includeRevoked: true) { id prefix } }', undefined, other.secret)).data!.apiKeys;
    expect(listed.length).toBeGreaterThan(2);
    for (const k of listed) expect(k.prefix.length).toBeLessThanOrEqual(6);
    expect(listed.find((k) => k.id === key.id)!.prefix).toBe(key.secret.slice(0, 6));
  });
});
