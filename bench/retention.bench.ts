import { randomBytes } from 'node:crypto';
import { startApp } from '../src/app';
import { parseArgs, intFlag } from '../src/cli/args';
import { loadConfig } from '../src/config';
import { addMonths, ensureEventMonths, monthStart } from '../src/events/event-partitions';
import { RetentionService } from '../src/privacy/retention.service';
import { benchDatabase, elapsedSeconds } from './support';

const DAY = 86_400_000;
const TYPES = ['view', 'view', 'view', 'view', 'cart', 'fav', 'checkout', 'purchase'];

/**
 * `npm run bench retention [--events 1000000] [--months 6] [--before 15] [--batch-size 500] [--concurrency 4]`:
 * a shop of `events` events spread evenly over the last `months` months and this one (10,000 users),
 * loaded straight into `events` (the id trigger fills `event_ids`); then, while `ingestEvents` runs
 * without pause (`concurrency` batches of `batch-size` in flight over HTTP), (1) `before` seconds of
 * ingest alone, (2) a retention run that drops the oldest month (DETACH … CONCURRENTLY + DROP, and
 * the batched prune of its `event_ids`), and, as the peer, (3) the next month removed the way this
 * replaces: one `DELETE FROM events WHERE ts < …`. Prints ingest events/s in each window and the
 * longest batch; then what idempotency through `event_ids` costs a raw insert (`idempotencyCost`).
 */
export async function run(argv: string[]): Promise<void> {
  const args = parseArgs(argv, { flags: { events: 'string', months: 'string', before: 'string', 'batch-size': 'string', concurrency: 'string' } });
  const total = intFlag(args, 'events', 1_000_000, 1000);
  const months = intFlag(args, 'months', 6, 2);
  const beforeSeconds = intFlag(args, 'before', 15, 1);
  const batchSize = intFlag(args, 'batch-size', 500, 1);
  const concurrency = intFlag(args, 'concurrency', 4, 1);
  process.env.LOG_LEVEL ??= 'warn';
  const now = Date.now();
  const first = addMonths(monthStart(now), -months);
  const span = now - DAY - first;

  const db = await benchDatabase('bench_retention');
  await ensureEventMonths(db.dataSource, first, now);
  const loadStarted = process.hrtime.bigint();
  await db.dataSource.query(`INSERT INTO users (external_id) SELECT 'u' || g FROM generate_series(0, 9999) g`);
  for (let from = 0; from < total; from += 1_000_000) {
    const to = Math.min(total, from + 1_000_000) - 1;
    await db.dataSource.query(
      `INSERT INTO events (event_id, user_id, session_id, type, ts, props)
       SELECT 'old-' || g, 1 + (g * 7919) % 10000, 's' || ((g * 7919) % 10000) || '-' || (g / 50000),
              (ARRAY[${TYPES.map((type) => `'${type}'`).join(', ')}])[1 + g % ${TYPES.length}],
              to_timestamp($1::float8 / 1000 + (g::float8 / $3) * $2::float8 / 1000), jsonb_build_object('device', CASE WHEN g % 3 = 0 THEN 'mobile' ELSE 'desktop' END)
       FROM generate_series($4::bigint, $5::bigint) g`,
      [first, span, total, from, to],
    );
  }
  await db.dataSource.query('VACUUM ANALYZE events');
  await db.dataSource.query('VACUUM ANALYZE event_ids');
  const loadSeconds = elapsedSeconds(loadStarted);
  const perMonth: { month: string; n: number }[] = await db.dataSource.query(
    `SELECT to_char(date_trunc('month', ts AT TIME ZONE 'UTC'), 'YYYY-MM') AS month, count(*)::int AS n FROM events GROUP BY 1 ORDER BY 1`,
  );
  console.log(`retention benchmark: ${total.toLocaleString('en-US')} events loaded in ${loadSeconds.toFixed(1)} s; per month: ${perMonth.map((m) => `${m.month} ${m.n}`).join(', ')}`);

  const key = `bench-${randomBytes(12).toString('hex')}`;
  const config = loadConfig({ ...process.env, LOG_LEVEL: 'warn', HOST: '127.0.0.1', FUNNELCAST_BOOTSTRAP_ADMIN_KEY: key, FUNNELCAST_FUNNEL_WARMUP: 'false' });
  const app = await startApp({ ...config, databaseUrl: db.url }, { port: 0 });
  const mutation = 'mutation($events: [EventInput!]!) { ingestEvents(events: $events) { accepted } }';
  let sent = 0;
  let stop = false;
  /** Completion time (ms since start) and duration of every batch. */
  const done: { at: number; ms: number }[] = [];
  const t0 = performance.now();
  const loop = Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (!stop) {
        const base = sent;
        sent += batchSize;
        const events = Array.from({ length: batchSize }, (_, i) => {
          const n = base + i;
          return { eventId: `live-${n}`, userId: `u${(n * 104_729) % 10_000}`, sessionId: `live-${n % 997}`, type: TYPES[n % TYPES.length], timestamp: new Date(Date.now() - 1000).toISOString() };
        });
        const started = performance.now();
        const response = await fetch(app.server.url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` }, body: JSON.stringify({ query: mutation, variables: { events } }) });
        const result = (await response.json()) as { data?: { ingestEvents: { accepted: number } }; errors?: unknown };
        if (result.data?.ingestEvents.accepted !== batchSize) throw new Error(`ingest failed: ${JSON.stringify(result.errors ?? result.data)}`);
        done.push({ at: performance.now() - t0, ms: performance.now() - started });
      }
    }),
  );
  const window = (from: number, to: number) => {
    const inside = done.filter((d) => d.at > from && d.at <= to);
    const seconds = (to - from) / 1000;
    return { rate: (inside.length * batchSize) / seconds, longest: Math.max(0, ...inside.map((d) => d.ms)), seconds };
  };
  const line = (label: string, w: ReturnType<typeof window>) =>
    console.log(`${label.padEnd(44)} ${w.seconds.toFixed(2).padStart(7)} s  ingest ${Math.round(w.rate).toLocaleString('en-US').padStart(7)} events/s  longest batch ${Math.round(w.longest)} ms`);

  await new Promise((resolve) => setTimeout(resolve, beforeSeconds * 1000));
  const beforeEnd = performance.now() - t0;
  // Keep the oldest month's events only: the cutoff is the first day of the second-oldest month.
  const cutoffMonth = addMonths(first, 1);
  const days = Math.floor((now - cutoffMonth) / DAY);
  const retention = new RetentionService(app.services.dataSource, { eventDays: days, feedbackDays: undefined });
  const dropStart = performance.now() - t0;
  const result = await retention.run({ requestedBy: 'bench', now: new Date(now) });
  const dropEnd = performance.now() - t0;
  // The peer: the next month by a row-by-row DELETE on the hot table.
  const deleteStart = performance.now() - t0;
  const deleted = await app.services.dataSource.query(`DELETE FROM events WHERE ts < $1`, [new Date(addMonths(first, 2))]);
  const deleteEnd = performance.now() - t0;
  await new Promise((resolve) => setTimeout(resolve, 2000));
  stop = true;
  await loop;

  const month = result.months[0];
  line(`ingest alone`, window(1000, beforeEnd));
  line(`retention: drop ${month?.partition} (${month?.events ?? 0} events)`, window(dropStart, dropEnd));
  console.log(`  run ${result.seconds.toFixed(3)} s: DETACH CONCURRENTLY + DROP ${result.dropSeconds.toFixed(3)} s, event_ids pruned ${result.eventIds} (${(result.seconds - result.dropSeconds).toFixed(3)} s with the rest)`);
  line(`peer: DELETE of the next month (${(deleted[1] ?? '?').toLocaleString('en-US')} rows)`, window(deleteStart, deleteEnd));
  await app.stop();
  await db.drop();
  await idempotencyCost();
}

/**
 * What exact idempotency costs on the partitioned table: 200,000-row INSERT … SELECTs into `events`
 * (row trigger `claim_event_id` into `event_ids`) against a plain table with the old layout (unique
 * `event_id` index, `ON CONFLICT (event_id) DO NOTHING`), in one fresh database, twice each.
 */
async function idempotencyCost(): Promise<void> {
  const db = await benchDatabase('bench_claim');
  const q = (sql: string) => db.dataSource.query(sql);
  await q(`SELECT ensure_event_partitions(now() - interval '1 day', now())`);
  await q(`CREATE TABLE plain (id bigserial PRIMARY KEY, event_id text NOT NULL, user_id int NOT NULL, type text NOT NULL, ts timestamptz NOT NULL, tx xid8 DEFAULT pg_current_xact_id())`);
  await q(`CREATE UNIQUE INDEX ON plain (event_id)`);
  await q(`CREATE INDEX ON plain (user_id, ts, id)`);
  await q(`CREATE INDEX ON plain USING brin (ts)`);
  await q(`CREATE INDEX ON plain (tx) WHERE tx IS NOT NULL`);
  const rows = (prefix: string) => `SELECT '${prefix}' || g, g % 1000, 'view', now() - interval '1 hour' + g * interval '1 ms' FROM generate_series(1, 200000) g`;
  const timed = async (label: string, sql: string) => {
    const started = process.hrtime.bigint();
    await q(sql);
    const seconds = elapsedSeconds(started);
    console.log(`${label.padEnd(52)} ${seconds.toFixed(2).padStart(6)} s  ${Math.round(200_000 / seconds).toLocaleString('en-US').padStart(7)} rows/s`);
  };
  for (let round = 0; round < 2; round++) {
    await timed('partitioned events + claim_event_id trigger', `INSERT INTO events (event_id, user_id, type, ts) ${rows(`r${round}-`)}`);
    await timed('plain table + unique index, ON CONFLICT DO NOTHING', `INSERT INTO plain (event_id, user_id, type, ts) ${rows(`r${round}-`)} ON CONFLICT (event_id) DO NOTHING`);
  }
  await db.drop();
}
