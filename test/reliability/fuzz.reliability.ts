import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import Redis from 'ioredis';
import { PUBLIC_ERROR_CODES } from '../../src/graphql/errors';
import { buildFunnelcastSchema } from '../../src/schema';
import { ApiProcess } from '../support/api-process';
import { createTestDatabase, TestDatabase } from '../support/database';
import { FuzzCase, fuzzCases } from '../support/graphql-fuzz';
import { freePort } from '../../bench/free-port';

/**
 * The schema-driven fuzzer against a real API process (dist/, as `npm start` runs it) on a small
 * seeded database: a few thousand hostile requests over every argument of every query and
 * mutation. No 5xx, no INTERNAL_SERVER_ERROR, no SQL or stack text in any message, nothing stored
 * by a refused mutation, the process alive and its memory roughly flat.
 */
const SEED = 11;
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const CONCURRENCY = 4;
/** What must never reach a client: SQL, driver or JS error names, stack frames, file paths. */
const LEAK =
  /\b(SELECT|INSERT INTO|UPDATE \w+ SET|DELETE FROM|WHERE|RETURNING)\b|syntax error|violates|duplicate key|relation "|column "|invalid input syntax|out of range for type|QueryFailedError|TypeError|RangeError|ReferenceError|Cannot read propert|\bat \S+ \(|\.[jt]s:\d+|node_modules|\/src\//;

function rssBytes(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) * 1024 : 0;
}

interface Outcome {
  status: number;
  body: { data?: Record<string, unknown> | null; errors?: { message: string; extensions?: { code?: string } }[] } | null;
}

describe('GraphQL fuzzer', () => {
  let db: TestDatabase;
  let api: ApiProcess;
  let url: string;
  const adminKey = `fuzz-admin-${randomBytes(12).toString('hex')}`;
  const prefix = `fuzz-${process.pid}-${Date.now().toString(36)}`;

  async function send(query: string, variables: Record<string, unknown> = {}): Promise<Outcome> {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${adminKey}` },
      body: JSON.stringify({ query, variables }),
      signal: AbortSignal.timeout(60_000),
    });
    const text = await response.text();
    let body: Outcome['body'] = null;
    try {
      body = JSON.parse(text);
    } catch {
      body = { errors: [{ message: text.slice(0, 300) }] };
    }
    return { status: response.status, body };
  }

  async function rowCounts(): Promise<Record<string, number>> {
    const tables: { name: string }[] = await db.dataSource.query(
      `SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY 1`,
    );
    const [counts] = await db.dataSource.query(`SELECT ${tables.map((t) => `(SELECT count(*)::int FROM "${t.name}") AS "${t.name}"`).join(', ')}`);
    return counts;
  }

  beforeAll(async () => {
    db = await createTestDatabase('fuzz');
    const port = await freePort();
    api = new ApiProcess(db.url, port, adminKey, { REDIS_URL, FUNNELCAST_QUEUE_PREFIX: prefix });
    url = `${api.url}/graphql`;
    await api.ready();
    // A small shop: 20 items, 40 users over January 2026, one saved funnel.
    const items = Array.from({ length: 20 }, (_, i) => ({ id: `sku-${i}`, title: `Item ${i}`, category: `c${i % 4}`, price: 10 + i }));
    const seeded = await send(`mutation($items: [ItemInput!]!) { upsertItems(items: $items) { created } }`, { items });
    expect(seeded.body?.errors).toBeUndefined();
    const events = [];
    for (let u = 0; u < 40; u++) {
      const types = ['view', 'view', 'cart', 'checkout', 'purchase'].slice(0, 1 + (u % 5));
      for (let s = 0; s < types.length; s++) {
        events.push({
          eventId: `seed-${u}-${s}`,
          type: types[s],
          userId: `user-${u}`,
          sessionId: `session-${u}`,
          itemId: `sku-${(u + s) % 20}`,
          timestamp: new Date(Date.UTC(2026, 0, 1 + (u % 28), 10, s * 5)).toISOString(),
          properties: { device: u % 2 ? 'mobile' : 'desktop', price: 10 + s },
        });
      }
    }
    const ingested = await send(`mutation($events: [EventInput!]!) { ingestEvents(events: $events) { accepted } }`, { events });
    expect(ingested.body?.data).toEqual({ ingestEvents: { accepted: events.length } });
    const funnel = {
      from: '2026-01-01T00:00:00Z',
      to: '2026-02-01T00:00:00Z',
      conversionWindowSeconds: 86400,
      steps: [{ type: 'view' }, { type: 'cart' }],
    };
    const saved = await send(`mutation($input: FunnelInput!) { saveFunnel(input: $input, name: "seeded") { id } }`, { input: funnel });
    expect(saved.body?.errors).toBeUndefined();
  }, 120_000);

  afterAll(async () => {
    await api?.stop();
    await db?.drop();
    // Remove only this run's own queue keys.
    const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
    try {
      await redis.connect();
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
        if (keys.length) await redis.del(...keys);
        cursor = next;
      } while (cursor !== '0');
    } catch {
      // Redis gone: nothing of ours to remove.
    } finally {
      redis.disconnect();
    }
  });

  it('survives a few thousand hostile requests over every argument of every operation', async () => {
    const schema = await buildFunnelcastSchema();
    const cases = fuzzCases(schema, { seed: SEED, valuesPerPath: 12, maxDepth: 3 });
    const failures: string[] = [];
    const fail = (c: FuzzCase, why: string) => failures.push(`${c.operation} ${c.field} ${c.path} = ${c.label}: ${why}`);

    function judge(c: FuzzCase, outcome: Outcome): boolean {
      if (outcome.status >= 500) fail(c, `HTTP ${outcome.status} ${JSON.stringify(outcome.body).slice(0, 300)}`);
      const errors = outcome.body?.errors ?? [];
      for (const error of errors) {
        const code = error.extensions?.code;
        if (typeof code !== 'string' || !PUBLIC_ERROR_CODES.has(code)) fail(c, `${code ?? 'no code'}: ${error.message.slice(0, 200)}`);
        if (LEAK.test(error.message)) fail(c, `leaks internals: ${error.message.slice(0, 300)}`);
      }
      return errors.length > 0 && !outcome.body?.data;
    }

    async function query(c: FuzzCase): Promise<void> {
      try {
        judge(c, await send(c.query, c.variables));
      } catch (error) {
        fail(c, `request failed: ${(error as Error).message}`);
      }
    }
    // Mutations run one at a time, so a refused one can be checked for anything it stored.
    async function mutation(c: FuzzCase): Promise<void> {
      const before = await rowCounts();
      let refused = false;
      try {
        refused = judge(c, await send(c.query, c.variables));
      } catch (error) {
        fail(c, `request failed: ${(error as Error).message}`);
      }
      if (refused) {
        const after = await rowCounts();
        const changed = Object.keys(after).filter((table) => after[table] !== before[table]);
        if (changed.length) fail(c, `refused, yet rows changed in ${changed.join(', ')}`);
      }
    }

    // The requests with the largest bodies (100,001-entry lists, 100,000-character strings, deep or
    // long JSON) go first, one at a time: they set the process's high-water mark, which V8 keeps.
    // The memory taken after them is the baseline the other few thousand requests must not grow.
    const heavy = (c: FuzzCase) => /100,00|20,000|5,001|levels deep/.test(c.label);
    for (const c of cases.filter(heavy)) await (c.operation === 'query' ? query(c) : mutation(c));
    const rssBefore = rssBytes(api.child.pid!);
    const light = cases.filter((c) => !heavy(c));
    const queries = light.filter((c) => c.operation === 'query');
    let next = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < queries.length) await query(queries[next++]);
      }),
    );
    for (const c of light.filter((c) => c.operation === 'mutation')) await mutation(c);

    const rssAfter = rssBytes(api.child.pid!);
    const health = await fetch(url.replace('/graphql', '/healthz'));
    const fields = new Set(cases.map((c) => `${c.operation}.${c.field}`));
    const paths = new Set(cases.map((c) => `${c.operation}.${c.field}.${c.path}`));
    // Printed for docs/reliability.md.
    console.log(
      `fuzz: ${cases.length} requests over ${fields.size} operations and ${paths.size} argument paths; ` +
        `API RSS ${Math.round(rssBefore / 2 ** 20)} MiB after the heaviest requests, ${Math.round(rssAfter / 2 ** 20)} MiB after all; ${failures.length} failures`,
    );
    expect(failures.slice(0, 60)).toEqual([]);
    expect(api.alive).toBe(true);
    expect(health.status).toBe(200);
    expect(cases.length).toBeGreaterThan(2000);
    expect(rssAfter).toBeLessThan(rssBefore * 2 + 100 * 2 ** 20);
  }, 600_000);
});
