import { randomBytes } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { from as copyFrom } from 'pg-copy-streams';
import { startApp } from '../src/app';
import { parseArgs, intFlag } from '../src/cli/args';
import { loadConfig } from '../src/config';
import { withPgClient } from '../src/db/data-source';
import { copyValue } from '../src/events/import/staging-batch';
import { benchDatabase, elapsedSeconds, rate } from './support';

interface BenchEvent {
  eventId: string;
  type: string;
  userId: string;
  sessionId: string;
  itemId: string;
  timestamp: string;
  properties: Record<string, unknown>;
}

const TYPES = ['view', 'view', 'view', 'view', 'view', 'view', 'cart', 'fav', 'checkout', 'purchase'];

/** Deterministic shop-like events: 10k users, 2k items, a few properties each. */
function makeEvents(count: number): BenchEvent[] {
  const start = Date.UTC(2026, 0, 5);
  return Array.from({ length: count }, (_, n) => {
    const user = (n * 7919) % 10_000;
    return {
      eventId: `bench-${n}`,
      type: TYPES[n % TYPES.length],
      userId: `u${user}`,
      sessionId: `s${user}-${Math.floor(n / 50_000)}`,
      itemId: `i${(n * 104_729) % 2_000}`,
      timestamp: new Date(start + n * 1000).toISOString(),
      properties: { device: n % 3 === 0 ? 'mobile' : 'desktop', channel: 'organic', price: (n % 100) + 0.99 },
    };
  });
}

/**
 * `npm run bench ingest [--batches 100] [--batch-size 1000] [--concurrency 4]`: events/s through the
 * `ingestEvents` GraphQL mutation over HTTP, against a raw COPY of the same rows into the same table.
 */
export async function run(argv: string[]): Promise<void> {
  const args = parseArgs(argv, { flags: { batches: 'string', 'batch-size': 'string', concurrency: 'string' } });
  const batches = intFlag(args, 'batches', 100, 1);
  const batchSize = intFlag(args, 'batch-size', 1000, 1);
  const concurrency = intFlag(args, 'concurrency', 4, 1);
  process.env.LOG_LEVEL ??= 'warn';
  const events = makeEvents(batches * batchSize);
  console.log(`ingest benchmark: ${events.length.toLocaleString('en-US')} events, batches of ${batchSize}, ${concurrency} in flight`);

  // (a) through the API
  const apiDb = await benchDatabase('bench_ingest');
  const key = `bench-${randomBytes(12).toString('hex')}`;
  const config = loadConfig({ ...process.env, LOG_LEVEL: 'warn', HOST: '127.0.0.1', FUNNELCAST_BOOTSTRAP_ADMIN_KEY: key, FUNNELCAST_MAX_INGEST_BATCH: String(Math.max(batchSize, 5000)) });
  await apiDb.dataSource.destroy();
  const app = await startApp({ ...config, databaseUrl: apiDb.url }, { port: 0 });
  const mutation = 'mutation($events: [EventInput!]!) { ingestEvents(events: $events) { accepted duplicates rejected { index } } }';
  const bodies = Array.from({ length: batches }, (_, b) => JSON.stringify({ query: mutation, variables: { events: events.slice(b * batchSize, (b + 1) * batchSize) } }));
  let next = 0;
  let accepted = 0;
  const apiStarted = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < bodies.length) {
        const body = bodies[next++];
        const response = await fetch(app.server.url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` }, body });
        const result = (await response.json()) as { data?: { ingestEvents: { accepted: number } }; errors?: unknown };
        if (!result.data) throw new Error(`ingest failed: ${JSON.stringify(result.errors)}`);
        accepted += result.data.ingestEvents.accepted;
      }
    }),
  );
  const apiSeconds = elapsedSeconds(apiStarted);
  if (accepted !== events.length) throw new Error(`expected ${events.length} accepted, got ${accepted}`);

  // The same rows, ids already resolved, for the raw COPY peer.
  const users: { id: number; external_id: string }[] = await app.services.dataSource.query('SELECT id, external_id FROM users');
  const items: { id: number; external_id: string }[] = await app.services.dataSource.query('SELECT id, external_id FROM items');
  await app.stop();
  await apiDb.drop();
  const userIds = new Map(users.map((u) => [u.external_id, u.id]));
  const itemIds = new Map(items.map((i) => [i.external_id, i.id]));
  const lines = events.map(
    (e) =>
      [e.eventId, userIds.get(e.userId)!, e.sessionId, e.type, itemIds.get(e.itemId)!, e.timestamp, JSON.stringify(e.properties)]
        .map((value) => copyValue(String(value)))
        .join('\t') + '\n',
  );

  // (b) raw COPY into an identical, empty table (same indexes)
  const copyDb = await benchDatabase('bench_copy');
  // The raw COPY goes straight into `events`: its months' partitions first, as the writers make them.
  await copyDb.dataSource.query(`SELECT ensure_event_partitions($1, $2)`, [events[0].timestamp, events[events.length - 1].timestamp]);
  const copyStarted = process.hrtime.bigint();
  await withPgClient(copyDb.dataSource, async (client) => {
    const sink = client.query(copyFrom('COPY events (event_id, user_id, session_id, type, item_id, ts, props) FROM STDIN'));
    await pipeline(Readable.from(lines), sink);
  });
  const copySeconds = elapsedSeconds(copyStarted);
  const [{ n }] = await copyDb.dataSource.query('SELECT count(*)::int AS n FROM events');
  await copyDb.drop();
  if (n !== events.length) throw new Error(`COPY stored ${n} rows, expected ${events.length}`);

  console.log(`GraphQL ingestEvents : ${apiSeconds.toFixed(2)} s  ${rate(events.length, apiSeconds)}`);
  console.log(`raw COPY (same rows) : ${copySeconds.toFixed(2)} s  ${rate(events.length, copySeconds)}`);
  console.log(`ratio                : ingest runs at ${((copySeconds / apiSeconds) * 100).toFixed(1)}% of raw COPY speed (COPY is ${(apiSeconds / copySeconds).toFixed(2)}× faster)`);
}
