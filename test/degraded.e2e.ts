import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { startTestApp, TestApp } from './support/app';

const run = promisify(execFile);
const CLI = resolve(__dirname, '../dist/src/cli/main.js');

describe('without Redis', () => {
  let t: TestApp;
  // Port 1 on loopback: nothing listens there, so every Redis command fails at once.
  beforeAll(async () => {
    t = await startTestApp('noredis', { REDIS_URL: 'redis://127.0.0.1:1', FUNNELCAST_HEALTH_TIMEOUT_MS: '2000' });
  });
  afterAll(() => t.stop());

  it('keeps serving and reports Redis as down in health', async () => {
    const health = await t.gql('{ health { status database { ok } redis { ok error } } }', {}, null);
    expect(health.data!.health.status).toBe('degraded');
    expect(health.data!.health.database.ok).toBe(true);
    expect(health.data!.health.redis.ok).toBe(false);
    expect(health.data!.health.redis.error).toBeTruthy();
    const ingest = await t.gql(`mutation { ingestEvents(events: [{eventId: "r1", type: "view", userId: "u", timestamp: "2026-01-05T00:00:00Z"}]) { accepted } }`);
    expect(ingest.data!.ingestEvents.accepted).toBe(1);
  });

  it('answers the queue dashboard 503 at once and scrapes metrics without the queue depths', async () => {
    const origin = new URL(t.url).origin;
    for (const path of ['/admin/queues', '/admin/queues/api/queues']) {
      const board = await fetch(`${origin}${path}`, { headers: { authorization: `Bearer ${t.adminKey}` } });
      expect(board.status).toBe(503);
      expect(((await board.json()) as { errors: { extensions: { code: string } }[] }).errors[0].extensions.code).toBe('SERVICE_UNAVAILABLE');
    }
    const scrape = await fetch(t.app.server.metricsUrl!);
    expect(scrape.status).toBe(200);
    const text = await scrape.text();
    expect(text).toContain('# TYPE funnelcast_queue_jobs gauge');
    expect(text).not.toContain('funnelcast_queue_jobs{');
    expect(text).toContain('funnelcast_ingest_events_total{outcome="accepted"} 1');
  });
});

describe('funnelcast keys (CLI)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp('clikeys');
  });
  afterAll(() => t.stop());

  it('creates a key that the API accepts, lists it, and revokes it', async () => {
    const env = { ...process.env, DATABASE_URL: t.db.url, LOG_LEVEL: 'silent' };
    const created = await run(process.execPath, [CLI, 'keys', 'create', '--role', 'analyst', '--name', 'cli analyst'], { env });
    const secret = /Secret \(shown once\): (\S+)/.exec(created.stdout)![1];
    const id = /\(id ([0-9a-f-]{36})\)/.exec(created.stdout)![1];
    const stats = `{ eventStats(from: "2026-01-01T00:00:00Z", to: "2026-02-01T00:00:00Z") { total } }`;
    expect((await t.gql(stats, {}, secret)).data!.eventStats.total).toBe(0);

    const listed = await run(process.execPath, [CLI, 'keys', 'list'], { env });
    expect(listed.stdout).toContain(id);
    expect(listed.stdout).not.toContain(secret);

    await run(process.execPath, [CLI, 'keys', 'revoke', id], { env });
    // The server caches verified keys for a few seconds; a fresh process sees the revocation at once.
    const fresh = await startTestAppOn(t);
    expect((await fresh.gql(stats, {}, secret)).errors![0].extensions!.code).toBe('UNAUTHENTICATED');
  });

  it('explains a wrong role', async () => {
    const env = { ...process.env, DATABASE_URL: t.db.url, LOG_LEVEL: 'silent' };
    await expect(run(process.execPath, [CLI, 'keys', 'create', '--role', 'owner', '--name', 'x'], { env })).rejects.toMatchObject({
      stderr: expect.stringMatching(/--role must be one of admin, analyst, server, client/),
    });
  });
});

/** A second API process on the same database, to read state without the first one's caches. */
async function startTestAppOn(t: TestApp) {
  const { startApp } = await import('../src/app');
  const { loadConfig } = await import('../src/config');
  const app = await startApp({ ...loadConfig({ ...process.env, HOST: '127.0.0.1' }), databaseUrl: t.db.url }, { port: 0 });
  return {
    async gql(query: string, variables: Record<string, unknown>, key: string) {
      try {
        const response = await fetch(app.server.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
          body: JSON.stringify({ query, variables }),
        });
        return (await response.json()) as { errors?: { extensions?: { code?: string } }[] };
      } finally {
        await app.stop();
      }
    },
  };
}
