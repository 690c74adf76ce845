/**
 * Switching a running shop to ClickHouse, as docs/analytics-store.md ("Switching a shop") tells an
 * operator to, with ingest going on throughout:
 *
 *   1. the API serves funnels in-process while events arrive;
 *   2. `funnelcast clickhouse-backfill` runs in its own process (embedded chdb on a folder) while
 *      the in-process API keeps ingesting and answering;
 *   3. more events arrive after the backfill;
 *   4. the API restarts with FUNNELCAST_ANALYTICS=clickhouse on that folder, while another writer
 *      (a second API replica) keeps ingesting;
 *   5. more events arrive through the restarted API.
 *
 * Then every funnel query and eventStats must equal the in-process engine's answers on the same
 * database, ClickHouse must hold exactly PostgreSQL's events, and the restarted API must have
 * copied only what the backfill had not (it resumed from the backfill's position).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DataSource } from 'typeorm';
import { openDatabase } from '../src/db/data-source';
import { EventService, type IncomingEvent } from '../src/events/event.service';
import type { FunnelSpec } from '../src/funnel/funnel-definition';
import { FunnelService } from '../src/funnel/funnel.service';
import { Rng } from '../src/ml/random';
import { everyFunnelAnswer } from './support/funnel-answers';
import { startTestApp, TestApp } from './support/app';

const START = Date.UTC(2026, 4, 4);
const MINUTE = 60_000;
const FROM = new Date(START);
const TO = new Date(START + 2 * 24 * 60 * MINUTE);

/** `count` random events of batch `batch`: 60 users, a few sessions each, types a/b/c/x over two days. */
function batchOf(batch: number, count: number): IncomingEvent[] {
  const random = Rng.stream(1000 + batch);
  const pick = <T>(values: T[]): T => values[random.below(values.length)];
  return Array.from({ length: count }, (_, n) => ({
    eventId: `switch-${batch}-${n}`,
    type: pick(['a', 'a', 'b', 'b', 'c', 'x']),
    userId: `u${random.below(60)}`,
    sessionId: random.next() < 0.1 ? null : `s${random.below(3)}`,
    timestamp: START + random.below(2 * 24 * 60) * MINUTE,
    properties: { device: pick(['mobile', 'desktop']) },
  }));
}

const SPECS: { name: string; spec: FunnelSpec }[] = [
  { name: 'users', spec: { steps: [{ type: 'a' }, { type: 'b' }, { type: 'c' }], conversionWindowSeconds: 3 * 3600, from: FROM, to: TO } },
  {
    name: 'sessions, strict order, breakdown',
    spec: { steps: [{ type: 'a' }, { type: 'b' }], conversionWindowSeconds: 3600, from: FROM, to: TO, countBy: 'session', modes: ['strict_order'], breakdown: { property: 'device' } },
  },
  {
    name: 'exclusion, filter',
    spec: {
      steps: [{ type: 'a', filters: [{ property: 'device', op: 'eq', value: 'mobile' }] }, { type: 'b' }, { type: 'c' }],
      exclusions: [{ type: 'x', fromStep: 1, toStep: 2 }],
      conversionWindowSeconds: 2 * 3600,
      from: FROM,
      to: TO,
    },
  },
];

const INGEST = 'mutation($events: [EventInput!]!) { ingestEvents(events: $events) { accepted } }';
const FUNNEL = 'query($input: FunnelInput!) { funnel(input: $input) { steps { count } } }';
const FUNNEL_INPUT = { steps: [{ type: 'a' }, { type: 'b' }], conversionWindowSeconds: 3600, from: FROM.toISOString(), to: TO.toISOString() };

let t: TestApp;
let folder: string;
let replica: DataSource;
let batch = 0;

/** One batch through the API, as a shop's client sends it. */
async function ingestThroughApi(count: number): Promise<void> {
  const result = await t.gql(INGEST, { events: batchOf(batch++, count).map((event) => ({ ...event, timestamp: new Date(event.timestamp as number).toISOString() })) });
  expect(result.errors).toBeUndefined();
  expect(result.data!.ingestEvents.accepted).toBe(count);
}

/** The first step's count as the API serves it now. */
async function servedStepOne(): Promise<number> {
  const result = await t.gql(FUNNEL, { input: FUNNEL_INPUT });
  expect(result.errors).toBeUndefined();
  return result.data!.funnel.steps[0].count;
}

async function postgresCount(): Promise<number> {
  const [row]: { n: number }[] = await replica.query('SELECT count(*)::int AS n FROM events');
  return row.n;
}

beforeAll(async () => {
  folder = mkdtempSync(join(tmpdir(), 'funnelcast-switch-'));
  // In-process explicitly: this file is the switch, whichever pass runs it.
  t = await startTestApp('ch_switch', { FUNNELCAST_ANALYTICS: 'inprocess', FUNNELCAST_CLICKHOUSE_SYNC_INTERVAL_MS: '3600000' });
  replica = await openDatabase(t.db.url);
});

afterAll(async () => {
  await replica?.destroy();
  await t?.stop();
  if (folder) rmSync(folder, { recursive: true, force: true });
});

it('switches a running shop: backfill while the in-process API serves, restart with FUNNELCAST_ANALYTICS=clickhouse, the same answers', async () => {
  // 1. In-process, serving.
  await ingestThroughApi(800);
  expect(t.app.services.analytics).toBeNull();
  let stepOne = await servedStepOne();
  expect(stepOne).toBeGreaterThan(0);

  // 2. The backfill in its own process (as `npm run cli -- clickhouse-backfill`), small pages;
  //    the API ingests and answers until it has finished.
  const env = { ...process.env, FUNNELCAST_ENV_FILE: '', DATABASE_URL: t.db.url, FUNNELCAST_CLICKHOUSE_PATH: folder, FUNNELCAST_CLICKHOUSE_SYNC_BATCH: '100' };
  const script = `require('./dist/src/cli/main').main(['clickhouse-backfill']).then((code) => { process.exitCode = code; })`;
  let finished = false;
  const backfill = new Promise<string>((resolve, reject) =>
    execFile(process.execPath, ['-e', script], { env, cwd: join(__dirname, '..') }, (error, stdout) => {
      finished = true;
      if (error) reject(error);
      else resolve(stdout);
    }),
  );
  let duringBackfill = 0;
  while (!finished) {
    await ingestThroughApi(50);
    duringBackfill++;
    const now = await servedStepOne();
    expect(now).toBeGreaterThanOrEqual(stepOne); // more events, never fewer users at step 1
    stepOne = now;
  }
  const stdout = await backfill;
  expect(duringBackfill).toBeGreaterThan(0);
  const [, copiedText] = /Copied ([\d,]+) events/.exec(stdout)!;
  const backfilled = Number(copiedText.replace(/,/g, ''));
  expect(backfilled).toBeGreaterThanOrEqual(800);

  // 3. Events after the backfill: not in its copy.
  await ingestThroughApi(200);
  expect(backfilled).toBeLessThan(await postgresCount());

  // 4. Restart on ClickHouse while a second writer ingests.
  const writer = new EventService(replica, { maxBatch: 5000, maxPropertiesBytes: 16_384 });
  const [, written] = await Promise.all([
    t.restart({ FUNNELCAST_ANALYTICS: 'clickhouse', FUNNELCAST_CLICKHOUSE_PATH: folder }),
    writer.ingest(batchOf(batch++, 150)),
  ]);
  expect(written.accepted).toBe(150);
  expect(t.app.services.analytics).not.toBeNull();
  const health = await t.gql('{ health { status analytics { engine lastError } } }', {}, null);
  expect(health.data!.health).toEqual({ status: 'ok', analytics: { engine: 'clickhouse', lastError: null } });

  // 5. Ingest through the restarted API.
  await ingestThroughApi(100);

  // Every answer as the in-process engine gives it on the same database.
  const inProcess = new FunnelService(replica, undefined, { workers: 0 });
  try {
    const options = { pageSize: 9, maxPages: 2, concurrent: false };
    const expected = await everyFunnelAnswer(inProcess, SPECS, options);
    const actual = await everyFunnelAnswer(t.app.services.funnels, SPECS, options);
    for (const key of Object.keys(expected)) expect({ key, value: actual[key] }).toEqual({ key, value: expected[key] });
  } finally {
    await inProcess.close();
  }
  const postgresStats = new EventService(replica, { maxBatch: 5000, maxPropertiesBytes: 16_384 });
  expect(await t.app.services.events.stats(FROM, TO)).toEqual(await postgresStats.stats(FROM, TO));

  // ClickHouse holds PostgreSQL's events; the restarted API copied exactly what the backfill had not.
  const total = await postgresCount();
  expect(total).toBe(800 + 50 * duringBackfill + 200 + 150 + 100);
  const [{ n }] = await t.app.services.analytics!.client.query<{ n: number }>('SELECT count() AS n FROM funnelcast.events FINAL');
  expect(Number(n)).toBe(total);
  expect(t.app.services.analytics!.sync.status.eventsCopied).toBe(total - backfilled);
});
