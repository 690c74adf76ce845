/**
 * FUNNELCAST_ANALYTICS=clickhouse (embedded through chdb, in a temporary folder): the served funnels
 * answer exactly as the in-process engine does on random logs (every kind of funnel query, every
 * mode, sessions, filters, exclusions, breakdowns, cohorts), before and after new events and
 * deletions; and the PostgreSQL → ClickHouse sync stores each event once whatever is read twice,
 * resumes from its stored position, and misses no late commit.
 *
 * chdb loads a ~550 MB native library and allows one data folder per process, so everything that
 * needs ClickHouse shares this one file and the app's one client.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { promisify } from 'node:util';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ClickHouseClient } from '../src/analytics/clickhouse-client';
import { ClickHouseSync, StaleCopyError } from '../src/analytics/clickhouse-sync';
import { withPgClient } from '../src/db/data-source';
import { EventService } from '../src/events/event.service';
import type { FunnelSpec } from '../src/funnel/funnel-definition';
import { encodeFactor } from '../src/funnel/funnel-drivers';
import { FunnelService } from '../src/funnel/funnel.service';
import { Rng } from '../src/ml/random';
import { everyFunnelAnswer } from './support/funnel-answers';
import { parsePrometheus, sampleValue } from './support/prometheus';
import { startTestApp, TestApp } from './support/app';

const START = Date.UTC(2026, 2, 2, 20);
const MINUTE = 60_000;
const FROM = new Date(START);
const TO = new Date(START + 3 * 24 * 60 * MINUTE);
const DATABASE = 'funnelcast_test';

/** Random events over three days on whole minutes: few users and sessions, so chains, ties in time and repeats are common. */
function randomEvents(seed: number, count: number, round: number) {
  const random = Rng.stream(seed * 7919);
  const pick = <T>(values: T[]): T => values[random.below(values.length)];
  return Array.from({ length: count }, (_, n) => ({
    eventId: `c${seed}-${round}-${n}`,
    type: pick(['a', 'a', 'b', 'b', 'c', 'x']),
    userId: `u${random.below(100)}`,
    sessionId: random.next() < 0.1 ? null : `s${random.below(3)}-r${round}`,
    itemId: random.next() < 0.2 ? null : `i${random.below(12)}`,
    timestamp: START + random.below(3 * 24 * 60) * MINUTE,
    properties: pick([{ p: random.below(4), device: pick(['mobile', 'desktop']) }, { p: String(random.below(4)) }, { device: null }, {}]),
  }));
}

const MODES: string[][] = [
  [],
  ['strict_order'],
  ['strict_deduplication'],
  ['strict_increase'],
  ['strict_once'],
  ['strict_order', 'allow_reentry'],
  ['strict_increase', 'strict_once', 'strict_deduplication'],
];

function specs(): { name: string; spec: FunnelSpec }[] {
  const base = { conversionWindowSeconds: 3 * 3600, from: FROM, to: TO };
  const list: { name: string; spec: FunnelSpec }[] = [];
  for (const countBy of ['user', 'session'] as const) {
    for (const modes of MODES) {
      list.push({ name: `plain ${countBy} ${modes}`, spec: { ...base, countBy, modes, steps: [{ type: 'a' }, { type: 'b' }, { type: 'c' }] } });
    }
    list.push({
      name: `repeated step type ${countBy}`,
      spec: { ...base, countBy, modes: ['strict_increase'], steps: [{ type: 'a' }, { type: 'a' }, { type: 'b' }] },
    });
    list.push({
      name: `filters, exclusion, breakdown ${countBy}`,
      spec: {
        ...base,
        countBy,
        steps: [{ type: 'a', filters: [{ property: 'p', op: 'lt', value: 3 }] }, { type: 'b' }, { type: 'c', filters: [{ property: 'device', op: 'neq', value: 'desktop' }] }],
        exclusions: [{ type: 'x', fromStep: 1, toStep: 2 }],
        breakdown: { property: 'device', limit: 2 },
      },
    });
    list.push({
      name: `item filters, breakdown by category ${countBy}`,
      spec: {
        ...base,
        countBy,
        steps: [{ type: 'a', filters: [{ property: 'itemId', op: 'in', value: ['i1', 'i2', 'i3', 'i4', 'i5'] }] }, { type: 'b' }],
        breakdown: { property: 'item.category' },
      },
    });
    // Property filters compiled to SQL (clickhouse-filters.ts): levels pushed into windowFunnel. `p` is
    // a number or a numeric string, so lt/gte read both; one type named by two steps with disjoint filters.
    list.push({
      name: `property filters pushed down, repeated type, breakdown ${countBy}`,
      spec: {
        ...base,
        countBy,
        steps: [{ type: 'a', filters: [{ property: 'p', op: 'lt', value: 2 }] }, { type: 'a', filters: [{ property: 'p', op: 'gte', value: 2 }] }, { type: 'b', filters: [{ property: 'device', op: 'isSet' }] }],
        breakdown: { property: 'device' },
      },
    });
    list.push({
      name: `property filters pushed down, strict order ${countBy}`,
      spec: {
        ...base,
        countBy,
        modes: ['strict_order'],
        steps: [{ type: 'b', filters: [{ property: 'device', op: 'in', value: ['mobile'] }] }, { type: 'a', filters: [{ property: 'p', op: 'neq', value: 3 }] }, { type: 'c' }],
      },
    });
    // Type-only funnels with breakdowns: levels pushed into windowFunnel, the step-1 event from ClickHouse.
    list.push({ name: `breakdown by property ${countBy}`, spec: { ...base, countBy, steps: [{ type: 'a' }, { type: 'b' }, { type: 'c' }], breakdown: { property: 'device' } } });
    list.push({
      name: `breakdown by category, strict order ${countBy}`,
      spec: { ...base, countBy, modes: ['strict_order'], steps: [{ type: 'b' }, { type: 'a' }], breakdown: { property: 'item.category', limit: 2 } },
    });
    // Controls (FUNNEL-SEMANTICS.md "Controls"): never pushed into windowFunnel, evaluated per unit by controlled-funnel.ts on both engines.
    list.push({
      name: `controls: optional step, step window, minimum gap, held device, two breakdowns ${countBy}`,
      spec: {
        ...base,
        countBy,
        modes: ['strict_order'],
        steps: [{ type: 'a' }, { type: 'b', optional: true, windowSeconds: 3600 }, { type: 'c', minSecondsFromPrevious: 600 }],
        holdConstant: ['device'],
        breakdowns: [{ property: 'device' }, { property: 'item.category', limit: 3 }],
      },
    });
    list.push({
      name: `controls: held item, exclusion ${countBy}`,
      spec: { ...base, countBy, steps: [{ type: 'a' }, { type: 'b', windowSeconds: 5400 }, { type: 'c' }], holdConstant: ['itemId'], exclusions: [{ type: 'x', fromStep: 1, toStep: 2 }] },
    });
    list.push({
      name: `cohort, narrow range, strict order ${countBy}`,
      spec: {
        ...base,
        countBy,
        modes: ['strict_order'],
        from: new Date(START + 600 * MINUTE),
        to: new Date(START + 2000 * MINUTE),
        steps: [{ type: 'b' }, { type: 'a' }],
        cohort: { userIds: ['u1', 'u2', 'u3', 'u5', 'u8', 'u13', 'u21', 'u34', 'u55', 'u89'] },
      },
    });
  }
  return list;
}

/** eventStats ranges: the whole log, one cut at odd minutes across UTC midnights, and one after every event. */
const STATS_RANGES: [Date, Date][] = [
  [FROM, TO],
  [new Date(START + 97 * MINUTE), new Date(START + 2 * 24 * 60 * MINUTE + 13 * MINUTE)],
  [new Date(TO.getTime() + 86_400_000), new Date(TO.getTime() + 2 * 86_400_000)],
];

/** Every funnel query on one service (test/support/funnel-answers.ts). */
const everything = (service: FunnelService): Promise<Record<string, unknown>> => everyFunnelAnswer(service, specs(), { pageSize: 9, maxPages: 3, concurrent: false });

let folder: string;
let t: TestApp;
let inProcess: FunnelService;
let clickhouse: ClickHouseClient;

async function storedCount(final = true): Promise<number> {
  const [row] = await clickhouse.query<{ n: number }>(`SELECT count() AS n FROM ${DATABASE}.events${final ? ' FINAL' : ''}`);
  return Number(row.n);
}

async function postgresCount(): Promise<number> {
  const [row]: { n: number }[] = await t.app.services.dataSource.query('SELECT count(*)::int AS n FROM events');
  return row.n;
}

beforeAll(async () => {
  folder = mkdtempSync(join(tmpdir(), 'funnelcast-chdb-'));
  t = await startTestApp('clickhouse', {
    FUNNELCAST_ANALYTICS: 'clickhouse',
    FUNNELCAST_CLICKHOUSE_PATH: folder,
    FUNNELCAST_CLICKHOUSE_DATABASE: DATABASE,
    // Small pages, so a catch-up is several INSERTs; the background loop stays out of the way.
    FUNNELCAST_CLICKHOUSE_SYNC_BATCH: '700',
    FUNNELCAST_CLICKHOUSE_SYNC_INTERVAL_MS: '3600000',
  });
  clickhouse = t.app.services.analytics!.client;
  inProcess = new FunnelService(t.app.services.dataSource, undefined, { workers: 0 });
  await t.app.services.catalog.upsert(Array.from({ length: 12 }, (_, n) => ({ id: `i${n}`, category: n % 3 === 0 ? null : `cat-${n % 3}` })));
});

afterAll(async () => {
  await inProcess?.close();
  await t?.stop();
  if (folder) rmSync(folder, { recursive: true, force: true });
});

it('answers every funnel query and eventStats exactly as the in-process engine, before and after new events and deletions', async () => {
  const served = t.app.services.funnels;
  // eventStats as the in-process server counts it: in PostgreSQL.
  const postgresStats = new EventService(t.app.services.dataSource, { maxBatch: 5000, maxPropertiesBytes: 16_384 });
  expect(served.engine?.description).toMatch(/^clickhouse \(chdb /);
  let compared = 0;
  for (let round = 0; round < 3; round++) {
    expect((await t.app.services.events.ingest(randomEvents(round + 1, 1500, round))).accepted).toBe(1500);
    if (round === 1) {
      // User erasure: every event of two users; retention: the first hours. The mirror assumes an
      // append-only table, so it reloads; ClickHouse gets tombstones through event_deletions.
      await t.app.services.dataSource.query(`DELETE FROM events WHERE user_id IN (SELECT id FROM users WHERE external_id IN ('u7', 'u8')) OR ts < $1`, [
        new Date(START + 300 * MINUTE),
      ]);
      await inProcess.mirror.reset();
    }
    if (round === 2) await t.app.services.catalog.upsert([{ id: 'i4', category: 'cat-moved' }]);
    const expected = await everything(inProcess);
    // Both ClickHouse paths: levels from windowFunnel where it provably agrees, and every unit
    // evaluated here; in the last round (after deletions and a catalog change) the second reads
    // slices of about 500 events (several slices of users), whose partial answers must merge into
    // the one-pass answer. (Slices cost a query each; one round of every query kind is the check.)
    for (const [pushLevels, sliceEvents] of [[true, 1_000_000], [false, round === 2 ? 500 : 1_000_000]] as const) {
      t.app.services.analytics!.funnels.pushLevels = pushLevels;
      t.app.services.analytics!.funnels.sliceEvents = sliceEvents;
      const actual = await everything(served);
      for (const key of Object.keys(expected)) {
        expect({ key, pushLevels, sliceEvents, value: actual[key] }).toEqual({ key, pushLevels, sliceEvents, value: expected[key] });
        compared++;
      }
    }
    t.app.services.analytics!.funnels.pushLevels = true;
    t.app.services.analytics!.funnels.sliceEvents = 1_000_000;
    for (const [from, to] of STATS_RANGES) {
      expect({ round, from, stats: await t.app.services.events.stats(from, to) }).toEqual({ round, from, stats: await postgresStats.stats(from, to) });
    }
    expect(await storedCount()).toBe(await postgresCount());
  }
  expect(compared).toBe(3 * specs().length * 4 * 2);
  // Both ways of pushing down ran: units answered by their ClickHouse level alone, and units with ties kept per unit.
  const stats = t.app.services.analytics!.funnels.pushdownStats;
  expect(stats.levelOnly).toBeGreaterThan(100);
  expect(stats.tied).toBeGreaterThan(0);
  // The sliced round read several slices a query (about 4,500 events in range / 500); the others one.
  const { queries, slices } = t.app.services.analytics!.funnels.sliceStats;
  expect(slices - queries).toBeGreaterThan(specs().length * 4 * 2);
  // Not empty answers: the plain funnel converts somewhere, and a breakdown has groups.
  const plain = (await served.funnel(specs()[0].spec)).steps;
  expect(plain[2].count).toBeGreaterThan(0);
  expect((await served.funnel(specs().find((s) => s.name.startsWith('filters'))!.spec)).breakdown!.length).toBeGreaterThan(1);
});

it('answers funnels with property filters from their ClickHouse levels, and keeps item filters per unit', async () => {
  const funnels = t.app.services.analytics!.funnels;
  const filtered = specs().filter((s) => s.name.startsWith('property filters pushed down'));
  expect(filtered.length).toBe(4);
  for (const { name, spec } of filtered) {
    const before = funnels.pushdownStats.levelOnly;
    expect({ name, answer: await t.app.services.funnels.funnel(spec) }).toEqual({ name, answer: await inProcess.funnel(spec) });
    expect({ name, pushedDown: funnels.pushdownStats.levelOnly > before }).toEqual({ name, pushedDown: true });
  }
  const itemFiltered = specs().find((s) => s.name.startsWith('item filters'))!.spec;
  const before = funnels.pushdownStats.levelOnly;
  await t.app.services.funnels.funnel(itemFiltered);
  expect(funnels.pushdownStats.levelOnly).toBe(before);
});

it('counts eventStats in ClickHouse: a row only ClickHouse holds is counted, and its tombstone takes it away', async () => {
  const day = new Date(Date.UTC(2026, 5, 1));
  const next = new Date(day.getTime() + 86_400_000);
  const stats = () => t.app.services.events.stats(day, next);
  expect((await stats()).total).toBe(0);
  const row = { id: 990000001, user_id: 1, session_id: 's-only-here', type: 'only_in_clickhouse', item_id: null, ts: (day.getTime() + 3_600_000) * 1000, props: '' };
  await clickhouse.insert(`${DATABASE}.events`, [{ ...row, version: 1, deleted: 0 }]);
  expect(await stats()).toMatchObject({ total: 1, distinctUsers: 1, distinctSessions: 1, byType: [{ type: 'only_in_clickhouse', count: 1 }] });
  await clickhouse.insert(`${DATABASE}.events`, [{ ...row, session_id: null, type: '', version: 2, deleted: 1 }]);
  expect(await stats()).toMatchObject({ total: 0, distinctUsers: 0, distinctSessions: 0, byType: [], byDay: [] });
});

it('keeps a unit with a tie in time on the per-unit path, where ClickHouse windowFunnel would order the tie by step (FUNNEL-SEMANTICS.md)', async () => {
  // Ingested b then a, both at one instant: for us the b comes first, so a → b stops at step 1;
  // ClickHouse's windowFunnel sorts (ts, condition) and would count the unit converted.
  const at = START + 17 * MINUTE + 30_000;
  await t.app.services.events.ingest([{ eventId: 'tie-b', userId: 'tie-user', type: 'b', timestamp: at }]);
  await t.app.services.events.ingest([{ eventId: 'tie-a', userId: 'tie-user', type: 'a', timestamp: at }]);
  const spec: FunnelSpec = { steps: [{ type: 'a' }, { type: 'b' }], conversionWindowSeconds: 3600, from: FROM, to: TO, cohort: { userIds: ['tie-user'] } };
  const tiedBefore = t.app.services.analytics!.funnels.pushdownStats.tied;
  const served = await t.app.services.funnels.funnel(spec);
  expect(served.steps.map((step) => step.count)).toEqual([1, 0]);
  expect(t.app.services.analytics!.funnels.pushdownStats.tied).toBeGreaterThan(tiedBefore);
  expect(served).toEqual(await inProcess.funnel(spec));
  // The documented difference is real: ClickHouse's own level for this unit is 2.
  const [{ level }] = await clickhouse.query<{ level: number }>(
    `SELECT windowFunnel(3600000000)(toUInt64(ts), type = 'a', type = 'b') AS level FROM ${DATABASE}.events FINAL WHERE ts = ${at * 1000}`,
  );
  expect(Number(level)).toBe(2);
});

it('serves a funnel over GraphQL from ClickHouse and shows the engine and its lag in health', async () => {
  const query = `query($input: FunnelInput!) { funnel(input: $input) { totalUnits steps { count conversionFromFirst timeFromPrevious { median p90 average } } } }`;
  const input = { steps: [{ type: 'a' }, { type: 'b' }], conversionWindowSeconds: 3600, from: FROM.toISOString(), to: TO.toISOString() };
  const response = await t.gql(query, { input });
  expect(response.errors).toBeUndefined();
  const reference = await inProcess.funnel({ ...input, from: FROM, to: TO });
  expect(response.data!.funnel.totalUnits).toBe(reference.totalUnits);
  expect(response.data!.funnel.steps.map((step: { count: number }) => step.count)).toEqual(reference.steps.map((step) => step.count));
  const health = await t.gql('{ health { status analytics { engine lagSeconds syncedAt lastError } } }', {}, null);
  expect(health.data!.health.status).toBe('ok');
  expect(health.data!.health.analytics).toMatchObject({ engine: 'clickhouse', lastError: null });
  expect(health.data!.health.analytics.lagSeconds).toBeGreaterThanOrEqual(0);
});

it('answers ANALYTICS_UNSUPPORTED, saying how to get an answer, for what ClickHouse cannot answer (conversion drivers)', async () => {
  const input = { steps: [{ type: 'a' }, { type: 'b' }], conversionWindowSeconds: 3600, from: FROM.toISOString(), to: TO.toISOString() };
  const drivers = await t.gql('query($input: FunnelInput!) { funnelDrivers(input: $input, step: 1) { positive { label } } }', { input });
  expect(drivers.data).toBeNull();
  expect(drivers.errors).toHaveLength(1);
  expect(drivers.errors![0].extensions).toEqual({ code: 'ANALYTICS_UNSUPPORTED', engine: 'clickhouse' });
  expect(drivers.errors![0].message).toMatch(/^funnelDrivers cannot be answered from ClickHouse, .*\(FUNNELCAST_ANALYTICS=clickhouse\)\. Use a server with FUNNELCAST_ANALYTICS=inprocess \(docs/);
  // droppedOff answers, and with a driver factor (a well-formed one: the in-process engine accepts it) says to drop the option.
  const factor = encodeFactor({ kind: 'eventType', key: 'x', value: 'done', range: null });
  const spec = { ...input, from: FROM, to: TO };
  await expect(inProcess.droppedOff(spec, 1, 5, null, {}, factor)).resolves.toMatchObject({ totalCount: expect.any(Number) });
  const query = 'query($input: FunnelInput!, $factor: String) { droppedOff(input: $input, afterStep: 1, factor: $factor) { totalCount } }';
  const plain = await t.gql(query, { input });
  expect(plain.errors).toBeUndefined();
  expect(plain.data!.droppedOff.totalCount).toBe((await inProcess.droppedOff(spec, 1, 5, null)).totalCount);
  const withFactor = await t.gql(query, { input, factor });
  expect(withFactor.errors![0].extensions!.code).toBe('ANALYTICS_UNSUPPORTED');
  expect(withFactor.errors![0].message).toMatch(/FUNNELCAST_ANALYTICS=inprocess, or drop the `factor` argument/);
});

it('shows the sync\'s rows, failures and lag, and funnel latency by engine, in /metrics', async () => {
  const scrape = async () => parsePrometheus(await (await fetch(t.app.server.metricsUrl!)).text());
  const sync = t.app.services.analytics!.sync;
  const delta = (after: ReturnType<typeof parsePrometheus>, before: ReturnType<typeof parsePrometheus>, name: string, labels: Record<string, string> = {}) =>
    (sampleValue(after, name, labels) ?? 0) - (sampleValue(before, name, labels) ?? 0);
  await sync.catchUp();
  const before = await scrape();
  // 40 new events, copied by the catch-up before the served funnel; two of them deleted, copied as 2 tombstones.
  expect((await t.app.services.events.ingest(randomEvents(21, 40, 21))).accepted).toBe(40);
  const spec: FunnelSpec = { steps: [{ type: 'a' }, { type: 'b' }], conversionWindowSeconds: 3600, from: FROM, to: TO };
  expect(await t.app.services.funnels.funnel(spec)).toEqual(await inProcess.funnel(spec));
  await t.app.services.dataSource.query(`DELETE FROM events WHERE event_id IN ('c21-21-0', 'c21-21-1')`);
  const catchUpStarted = performance.now();
  await sync.catchUp();
  // A catch-up that fails: ClickHouse does not answer.
  const away = () => Promise.reject(new Error('ClickHouse is away'));
  const down: ClickHouseClient = { description: 'down', command: away, query: away, insert: away, insertTabSeparated: away, close: async () => undefined };
  await expect(new ClickHouseSync(t.app.services.dataSource, down, { database: DATABASE, batchSize: 500 }).catchUp()).rejects.toThrow('ClickHouse is away');
  const after = await scrape();
  expect(delta(after, before, 'funnelcast_clickhouse_sync_events_total', { kind: 'event' })).toBe(40);
  expect(delta(after, before, 'funnelcast_clickhouse_sync_events_total', { kind: 'deletion' })).toBe(2);
  expect(delta(after, before, 'funnelcast_clickhouse_sync_failures_total')).toBe(1);
  expect(delta(after, before, 'funnelcast_funnel_query_duration_seconds_count', { query: 'report', outcome: 'ok', engine: 'clickhouse' })).toBe(1);
  expect(delta(after, before, 'funnelcast_funnel_query_duration_seconds_count', { query: 'report', outcome: 'ok', engine: 'inprocess' })).toBe(1);
  // The lag is the age of the last complete catch-up's snapshot: taken after catchUpStarted.
  const lag = sampleValue(after, 'funnelcast_clickhouse_sync_lag_seconds');
  expect(lag).toBeGreaterThanOrEqual(0);
  expect(lag).toBeLessThanOrEqual((performance.now() - catchUpStarted) / 1000 + 0.01);
});

describe('the PostgreSQL → ClickHouse sync', () => {
  const options = { database: DATABASE, batchSize: 500 };

  it('stores an event once when a batch is copied again (an old position written back)', async () => {
    const sync = t.app.services.analytics!.sync;
    await sync.catchUp();
    const before = await sync.position();
    await t.app.services.events.ingest(randomEvents(11, 1200, 11));
    expect((await sync.catchUp()).events).toBe(1200);
    // As if the position write had been lost: the next catch-up reads the same 1200 events again.
    await clickhouse.insert(`${DATABASE}.sync_position`, [{ name: 'events', snapshot: before, written_at: new Date().toISOString().replace('T', ' ').replace('Z', '') }]);
    expect(await sync.position()).toBe(before);
    expect((await sync.catchUp()).events).toBe(1200);
    expect(await storedCount()).toBe(await postgresCount());
  });

  it('resumes from its stored position after a restart, and after a catch-up that failed half-way', async () => {
    await t.app.services.analytics!.sync.catchUp();
    // A new process: nothing in memory, the position read back from ClickHouse.
    const restarted = new ClickHouseSync(t.app.services.dataSource, clickhouse, options);
    expect((await restarted.catchUp()).events).toBe(0);
    await t.app.services.events.ingest(randomEvents(12, 1300, 12));
    // The second INSERT fails: the first 500 events are in, the position has not moved.
    let inserts = 0;
    const failing: ClickHouseClient = {
      ...clickhouse,
      description: clickhouse.description,
      command: (sql) => clickhouse.command(sql),
      query: (sql) => clickhouse.query(sql),
      insertTabSeparated: (table, columns, body) => clickhouse.insertTabSeparated(table, columns, body),
      close: async () => undefined,
      insert: async (table, rows) => {
        if (++inserts === 2) throw new Error('connection reset');
        return clickhouse.insert(table, rows);
      },
    };
    const crashing = new ClickHouseSync(t.app.services.dataSource, failing, options);
    const position = await crashing.position();
    await expect(crashing.catchUp()).rejects.toThrow('connection reset');
    expect(crashing.status.lastError).toBe('connection reset');
    expect(await crashing.position()).toBe(position);
    expect(await storedCount()).toBe((await postgresCount()) - 1300 + 500);
    // The next process reads the 1300 again; the 500 copied twice are stored once.
    const next = new ClickHouseSync(t.app.services.dataSource, clickhouse, options);
    expect((await next.catchUp()).events).toBe(1300);
    expect(next.status.lastError).toBeNull();
    expect(await storedCount()).toBe(await postgresCount());
    expect(await storedCount(false)).toBeGreaterThan(await storedCount());
  });

  it('copies a transaction that commits after later ones were copied (commit order, not id order)', async () => {
    const sync = new ClickHouseSync(t.app.services.dataSource, clickhouse, options);
    await sync.catchUp();
    const [{ id: user }]: { id: number }[] = await t.app.services.dataSource.query(`SELECT id FROM users WHERE external_id = 'u1'`);
    await withPgClient(t.app.services.dataSource, async (late) => {
      await late.query('BEGIN');
      // Takes its id now, commits last.
      await late.query(`INSERT INTO events (event_id, user_id, type, ts) VALUES ('late-1', $1, 'a', $2)`, [user, FROM]);
      await t.app.services.events.ingest([{ eventId: 'early-1', userId: 'u1', type: 'b', timestamp: START + MINUTE }]);
      await sync.catchUp();
      const seen = async (): Promise<string[]> => {
        const ids: { id: string }[] = await t.app.services.dataSource.query(`SELECT id::text FROM events WHERE event_id IN ('late-1', 'early-1') ORDER BY event_id`);
        const rows = await clickhouse.query<{ id: number }>(`SELECT id FROM ${DATABASE}.events FINAL WHERE id IN (${ids.map((row) => row.id).join(', ')})`);
        return rows.map((row) => String(row.id));
      };
      expect(await seen()).toHaveLength(1);
      await late.query('COMMIT');
      await sync.catchUp();
      expect(await seen()).toHaveLength(2);
    });
    expect(await storedCount()).toBe(await postgresCount());
  });

  it('installs the deletion log itself, prunes rows older than its days, and refuses a copy older than that', async () => {
    const dataSource = t.app.services.dataSource;
    // On the partitioned table itself (each month's partition holds a clone of the same name).
    const triggers = async () => Number((await dataSource.query(`SELECT count(*) AS n FROM pg_trigger WHERE tgname = 'events_record_deletion' AND tgrelid = 'events'::regclass`))[0].n);
    // The migration leaves it out (a shop without ClickHouse logs nothing: test/funnel.e2e.ts); a sync's start puts it in.
    await t.app.services.analytics!.sync.catchUp();
    expect(await triggers()).toBe(1);
    await dataSource.query(`DROP TRIGGER events_record_deletion ON events`);
    expect(await triggers()).toBe(0);
    const sync = new ClickHouseSync(dataSource, clickhouse, { ...options, deletionLogDays: 3 });
    await sync.catchUp();
    expect(await triggers()).toBe(1);

    // A row deleted four days ago is past a 3-day log; one deleted two days ago is kept.
    await dataSource.query(
      `INSERT INTO event_deletions (event_pk, user_id, ts, deleted_at) VALUES (900000001, 1, now(), now() - interval '4 days'), (900000002, 1, now(), now() - interval '2 days')`,
    );
    // A fresh instance prunes on its first catch-up (one instance prunes at most once an hour).
    await new ClickHouseSync(dataSource, clickhouse, { ...options, deletionLogDays: 3 }).catchUp();
    // (Their tombstones name no stored event: nothing to drop in ClickHouse.)
    const kept: { event_pk: string }[] = await dataSource.query(`SELECT event_pk::text FROM event_deletions WHERE event_pk > 900000000 ORDER BY event_pk`);
    expect(kept.map((row) => row.event_pk)).toEqual(['900000002']);

    // A position taken four days ago: deletions since may have been pruned, so the copy stops and says how to recover.
    const position = await sync.position();
    const fourDaysAgo = new Date(Date.now() - 4 * 86_400_000).toISOString().replace('T', ' ').replace('Z', '');
    // (The newest write wins in FINAL: the fresher rows go first.)
    await clickhouse.command(`TRUNCATE TABLE ${DATABASE}.sync_position`);
    await clickhouse.insert(`${DATABASE}.sync_position`, [{ name: 'events', snapshot: position, written_at: fourDaysAgo }]);
    const stale = new ClickHouseSync(dataSource, clickhouse, { ...options, deletionLogDays: 3 });
    const refusal = stale.catchUp();
    await expect(refusal).rejects.toBeInstanceOf(StaleCopyError);
    await expect(refusal).rejects.toThrow(/last brought up to date 4\.0 days ago, longer than the deletion log keeps deletions \(FUNNELCAST_CLICKHOUSE_DELETION_LOG_DAYS = 3\).*funnelcast clickhouse-backfill --reset/);
    // With a longer log the same copy goes on, and its position is fresh again.
    expect((await new ClickHouseSync(dataSource, clickhouse, { ...options, deletionLogDays: 7 }).catchUp()).events).toBe(0);
    await expect(new ClickHouseSync(dataSource, clickhouse, { ...options, deletionLogDays: 3 }).catchUp()).resolves.toBeDefined();
  });
});

it('backfills an existing shop with `funnelcast clickhouse-backfill` (its own process and data folder), and a second run copies nothing', async () => {
  const own = mkdtempSync(join(tmpdir(), 'funnelcast-backfill-'));
  try {
    const env = { ...process.env, FUNNELCAST_ENV_FILE: '', DATABASE_URL: t.db.url, FUNNELCAST_CLICKHOUSE_PATH: own, FUNNELCAST_CLICKHOUSE_SYNC_BATCH: '1000' };
    // Both runs in one process: chdb's native library loads once.
    const script = `const { main } = require('./dist/src/cli/main'); (async () => { for (let i = 0; i < 2; i++) await main(['clickhouse-backfill']); })()`;
    const { stdout } = await promisify(execFile)(process.execPath, ['-e', script], { env, cwd: join(__dirname, '..') });
    const events = await postgresCount();
    const holds = [...stdout.matchAll(/Copied ([\d,]+) events .* now holds ([\d,]+) events/g)].map((match) => [match[1], match[2]].map((n) => Number(n.replace(/,/g, ''))));
    expect(holds).toEqual([
      [events, events],
      [0, events],
    ]);
  } finally {
    rmSync(own, { recursive: true, force: true });
  }
});
