import { execFileSync, fork } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { ClickHouseAnalytics } from '../src/analytics/clickhouse-analytics';
import { ChdbClient, tsvField } from '../src/analytics/clickhouse-client';
import { ensureClickHouseSchema, EVENT_VERSION, tableName } from '../src/analytics/clickhouse-schema';
import { intFlag, parseArgs, stringFlag } from '../src/cli/args';
import { openDatabase } from '../src/db/data-source';
import type { FunnelSpec } from '../src/funnel/funnel-definition';
import type { FunnelResult } from '../src/funnel/funnel.types';
import { FunnelService } from '../src/funnel/funnel.service';
import { EventService } from '../src/events/event.service';
import type { IncomingEvent } from '../src/events/event-checks';
import type { DataSource } from 'typeorm';
import { createDemoShop, type DemoShop } from '../src/sim';
import { benchDatabase, elapsedSeconds, loadBenchShop } from './support';

/**
 * `npm run bench analytics-scale -- [--sizes 1000000,10000000] [--with-100m] [--inprocess-max 1000000]
 *   [--repeat 3] [--dir DIR] [--fresh] [--keep-pg] [--pushdown-only]`
 *
 * How the two analytics engines cost as the events grow. For each size the demo shop (seed 1, 14
 * days, about 13 events a user) is generated **straight into ClickHouse** (embedded chdb, on disk
 * under `--dir`, kept and reused between runs unless `--fresh`), never through PostgreSQL. Then, each
 * in a process of its own (chdb allows one data folder per process, and RSS must be the engine's):
 *
 * - **clickhouse**: a FunnelService on ClickHouseAnalytics (FUNNELCAST_ANALYTICS=clickhouse) over
 *   that folder, with the level pushed into ClickHouse's `windowFunnel` where it provably agrees
 *   ("pushdown", the default) and, as the peer for that step, with every unit evaluated in the API
 *   process ("per-unit"; left out with `--pushdown-only`).
 * - **inprocess** (sizes up to `--inprocess-max`, default 1 M: it needs the events in PostgreSQL,
 *   loaded through the importer in its own process first): a FunnelService on the in-process mirror.
 *
 * Each reports the funnel (view → cart → checkout → purchase, 7-day window, per user, default mode)
 * and the same funnel broken down by `channel` (top 10): the first answer (cold) and the median of
 * `--repeat` more; resident memory after the queries and the process's peak (VmHWM); the data on disk
 * (ClickHouse's active parts; PostgreSQL's `events` with its indexes); for ClickHouse, the
 * ingest-to-visible lag after the queries (`ingestToVisible`). Step counts must be identical
 * across engines and variants, or the run fails. Ratios against the in-process engine are printed
 * where both ran at a size.
 */
const EVENTS_PER_USER = 13; // what the demo shop produces on average (measured)
const STEPS = ['view', 'cart', 'checkout', 'purchase'];
const WINDOW_SECONDS = 7 * 86_400;
const DAYS = 14;
const SEED = 1;
const DATABASE = 'funnelcast';
const INSERT_BATCH = 200_000;
const EVENT_COLUMNS = ['id', 'user_id', 'session_id', 'type', 'item_id', 'ts', 'props', 'version', 'deleted'];

type Role = 'generate' | 'load-pg' | 'clickhouse' | 'inprocess';

interface GenerateResult {
  events: number;
  seconds: number;
  optimizeSeconds: number;
  diskBytes: number;
  folderBytes: number;
  peakRssBytes: number;
  reused: boolean;
}

interface LoadResult {
  events: number;
  seconds: number;
  diskBytes: number;
}

interface QueryResult {
  engine: string;
  /** Mirror load (in-process) before the first query; 0 for ClickHouse. */
  warmSeconds: number;
  funnelFirst: number;
  funnel: number[];
  breakdownFirst: number;
  breakdown: number[];
  counts: number[];
  breakdownCounts: number[];
  rssBytes: number;
  peakRssBytes: number;
  /** ClickHouse only: LAG_EVENTS ingested into PostgreSQL after the queries, and the catch-up that made them visible. */
  lagEvents?: number;
  ingestSeconds?: number;
  catchUpSeconds?: number;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** Peak resident set size of this process so far (Linux VmHWM), bytes; the current RSS elsewhere. */
function peakRss(): number {
  try {
    const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
    if (match) return Number(match[1]) * 1024;
  } catch {
    // not Linux
  }
  return process.memoryUsage().rss;
}

function shopOf(events: number): DemoShop {
  return createDemoShop({ users: Math.max(100, Math.round(events / EVENTS_PER_USER)), days: DAYS, seed: SEED });
}

function folderOf(dir: string, shop: DemoShop): string {
  return path.join(dir, `u${shop.options.users}_d${shop.options.days}_s${shop.options.seed}`);
}

function pgNameOf(shop: DemoShop): string {
  return `fc_bench_scale_u${shop.options.users}_d${shop.options.days}_s${shop.options.seed}`;
}

function serverUrl(): string {
  return process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
}

function withDatabaseName(url: string, name: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${name}`;
  return parsed.toString();
}

async function adminQuery(sql: string): Promise<void> {
  const admin = new Client({ connectionString: serverUrl() });
  await admin.connect();
  try {
    await admin.query(sql);
  } finally {
    await admin.end();
  }
}

/**
 * The demo shop straight into ClickHouse: the generator's events, in its order, as the sync would
 * write them (user `uN` → user_id N + 1, item `iN` → item_id N + 1, ids in stream order, the same
 * order PostgreSQL's importer gives them), INSERT_BATCH rows per INSERT, then the parts merged
 * (OPTIMIZE … FINAL, as background merges would leave a table that stopped growing).
 */
async function generate(folder: string, shop: DemoShop, fresh: boolean): Promise<GenerateResult> {
  const marker = path.join(folder, 'funnelcast-bench-complete.json');
  if (!fresh && existsSync(marker)) return { ...(JSON.parse(readFileSync(marker, 'utf8')) as GenerateResult), reused: true, peakRssBytes: peakRss() };
  rmSync(folder, { recursive: true, force: true });
  mkdirSync(folder, { recursive: true });
  const client = new ChdbClient(folder);
  await ensureClickHouseSchema(client, DATABASE);
  const itemIds = new Map(shop.items.map((item, i) => [item.itemId, i + 1]));
  const table = tableName(DATABASE, 'events');
  const started = process.hrtime.bigint();
  // TabSeparated text, one INSERT per INSERT_BATCH rows; the next batch is written while ClickHouse
  // parses the previous one (chdb inserts off the event loop), so the two cores work together.
  let lines: string[] = [];
  let pending: Promise<void> = Promise.resolve();
  const flush = async (): Promise<void> => {
    const body = Buffer.from(lines.join(''));
    lines = [];
    await pending;
    pending = client.insertTabSeparated(table, EVENT_COLUMNS, body);
  };
  let id = 0;
  for (const story of shop.shoppers()) {
    for (const event of story.events) {
      const itemId = event.itemId === null ? undefined : itemIds.get(event.itemId);
      lines.push(
        `${++id}\t${Number(event.userId.slice(1)) + 1}\t${event.sessionId === null ? '\\N' : tsvField(event.sessionId)}\t${tsvField(event.type)}\t` +
          `${itemId ?? '\\N'}\t${event.timestamp * 1000}\t${event.properties === null ? '' : tsvField(JSON.stringify(event.properties))}\t${EVENT_VERSION}\t0\n`,
      );
    }
    if (lines.length >= INSERT_BATCH) {
      await flush();
      if (process.stderr.isTTY) process.stderr.write(`\r  ${id.toLocaleString('en-US')} events into ClickHouse`);
    }
  }
  await flush();
  await pending;
  if (process.stderr.isTTY) process.stderr.write('\n');
  const seconds = elapsedSeconds(started);
  const merging = process.hrtime.bigint();
  await client.command(`OPTIMIZE TABLE ${table} FINAL`);
  const optimizeSeconds = elapsedSeconds(merging);
  const [parts] = await client.query<{ bytes: number }>(`SELECT sum(bytes_on_disk) AS bytes FROM system.parts WHERE database = '${DATABASE}' AND table = 'events' AND active`);
  await client.close();
  const folderBytes = Number(execFileSync('du', ['-sb', folder], { encoding: 'utf8' }).split('\t')[0]);
  const result: GenerateResult = { events: id, seconds, optimizeSeconds, diskBytes: Number(parts.bytes), folderBytes, peakRssBytes: peakRss(), reused: false };
  writeFileSync(marker, JSON.stringify(result));
  return result;
}

/** The same shop into PostgreSQL through the importer (a database named after the shop, kept with --keep-pg). */
async function loadPg(shop: DemoShop): Promise<LoadResult> {
  const name = pgNameOf(shop);
  await adminQuery(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  await adminQuery(`CREATE DATABASE "${name}"`);
  const dataSource = await openDatabase(withDatabaseName(serverUrl(), name), { poolSize: 4 });
  try {
    const started = process.hrtime.bigint();
    const summary = await loadBenchShop(dataSource, shop);
    await dataSource.query('ANALYZE events');
    const seconds = elapsedSeconds(started);
    // `events` is partitioned by month: its size is its partitions' (with their indexes).
    const [{ bytes }] = await dataSource.query(
      `SELECT (pg_total_relation_size('events') + COALESCE((SELECT sum(pg_total_relation_size(inhrelid)) FROM pg_inherits WHERE inhparent = 'events'::regclass), 0))::bigint AS bytes`,
    );
    return { events: summary.imported, seconds, diskBytes: Number(bytes) };
  } finally {
    await dataSource.destroy();
  }
}

async function timed<T>(work: () => Promise<T>): Promise<{ value: T; seconds: number }> {
  const started = process.hrtime.bigint();
  const value = await work();
  return { value, seconds: elapsedSeconds(started) };
}

/** The funnel and the breakdown, first (cold) and `repeat` times more, through FunnelService as the resolver calls it. */
async function measureQueries(engine: string, funnels: FunnelService, shop: DemoShop, repeat: number, warmSeconds: number): Promise<QueryResult> {
  const spec: FunnelSpec = {
    steps: STEPS.map((type) => ({ type })),
    conversionWindowSeconds: WINDOW_SECONDS,
    from: new Date(shop.options.startMs),
    to: new Date(shop.options.endMs),
  };
  const byChannel: FunnelSpec = { ...spec, breakdown: { property: 'channel', limit: 10 } };
  const first = await timed(() => funnels.funnel(spec));
  const firstBreakdown = await timed(() => funnels.funnel(byChannel));
  const funnel: number[] = [];
  const breakdown: number[] = [];
  let last: FunnelResult = first.value;
  let lastBreakdown: FunnelResult = firstBreakdown.value;
  for (let n = 0; n < repeat; n++) {
    const a = await timed(() => funnels.funnel(spec));
    funnel.push(a.seconds);
    last = a.value;
    const b = await timed(() => funnels.funnel(byChannel));
    breakdown.push(b.seconds);
    lastBreakdown = b.value;
  }
  const counts = last.steps.map((step) => step.count);
  if (JSON.stringify(first.value) !== JSON.stringify(last)) throw new Error(`${engine}: the funnel's answers changed between runs`);
  if (JSON.stringify(firstBreakdown.value) !== JSON.stringify(lastBreakdown)) throw new Error(`${engine}: the breakdown's answers changed between runs`);
  const breakdownCounts = STEPS.map((_, k) => (lastBreakdown.breakdown ?? []).reduce((sum, group) => sum + group.steps[k].count, 0));
  return {
    engine,
    warmSeconds,
    funnelFirst: first.seconds,
    funnel,
    breakdownFirst: firstBreakdown.seconds,
    breakdown,
    counts,
    breakdownCounts,
    rssBytes: process.memoryUsage().rss,
    peakRssBytes: peakRss(),
  };
}

async function queryClickHouse(folder: string, shop: DemoShop, repeat: number, pushdown: boolean): Promise<QueryResult> {
  // PostgreSQL stays the system of record (users, items, cohorts) but holds no events here: the
  // catch-up before each funnel finds nothing to copy.
  const db = await benchDatabase('fc_bench_scale_ch');
  try {
    const engine = new ClickHouseAnalytics(db.dataSource, new ChdbClient(folder), { database: DATABASE, batchSize: 100_000, pushLevels: pushdown });
    const funnels = new FunnelService(db.dataSource, undefined, { engine, timeoutMs: 3_600_000 });
    try {
      const result = await measureQueries(`clickhouse ${pushdown ? 'pushdown' : 'per-unit'}`, funnels, shop, repeat, 0);
      return { ...result, ...(await ingestToVisible(db.dataSource, engine, shop)) };
    } finally {
      await funnels.close();
    }
  } finally {
    await db.drop();
  }
}

/** Events a burst of ingest writes before the lag is measured (a small shop's worth, ingested in batches of 5,000). */
const LAG_EVENTS = 20_000;

/**
 * Ingest-to-visible lag on a store of this size: a burst of LAG_EVENTS new events (a second, small
 * demo shop) through EventService into PostgreSQL, then the catch-up every funnel query runs before
 * it reads (clickhouse-sync.ts): the events are in ClickHouse, and so in every answer, once it
 * returns. Its duration is the lag a funnel query right after the burst pays, and the longest a
 * background loop leaves them invisible (plus its interval). The burst's days are moved to a month
 * of their own (two months after the shop's end), so that dropping that month's partition
 * afterwards leaves the generated store exactly as it was for the next run.
 */
async function ingestToVisible(dataSource: DataSource, engine: ClickHouseAnalytics, shop: DemoShop): Promise<{ lagEvents: number; ingestSeconds: number; catchUpSeconds: number }> {
  const burst = createDemoShop({ users: Math.ceil((1.5 * LAG_EVENTS) / EVENTS_PER_USER), days: shop.options.days, seed: SEED + 1 });
  const end = new Date(shop.options.endMs);
  const month = Date.UTC(end.getUTCFullYear(), end.getUTCMonth() + 2, 1);
  const shift = month - burst.options.startMs;
  const partition = new Date(month).toISOString().slice(0, 7).replace('-', '');
  const incoming: IncomingEvent[] = [];
  for (const story of burst.shoppers()) {
    for (const event of story.events) {
      if (incoming.length === LAG_EVENTS) break;
      incoming.push({ eventId: `lag-${event.eventId}`, type: event.type, userId: event.userId, sessionId: event.sessionId, itemId: event.itemId, timestamp: event.timestamp + shift, properties: event.properties });
    }
  }
  if (incoming.length < LAG_EVENTS) throw new Error(`the burst shop made ${incoming.length} events, fewer than ${LAG_EVENTS}`);
  await engine.sync.catchUp();
  const events = new EventService(dataSource, { maxBatch: 5000, maxPropertiesBytes: 16_384, maxPastDays: 36_500 });
  const ingesting = process.hrtime.bigint();
  for (let n = 0; n < incoming.length; n += 5000) await events.ingest(incoming.slice(n, n + 5000));
  const ingestSeconds = elapsedSeconds(ingesting);
  const catchingUp = process.hrtime.bigint();
  const copied = await engine.sync.catchUp();
  const catchUpSeconds = elapsedSeconds(catchingUp);
  if (copied.events !== incoming.length) throw new Error(`the catch-up copied ${copied.events} events, not the ${incoming.length} ingested`);
  await engine.client.command(`ALTER TABLE ${tableName(DATABASE, 'events')} DROP PARTITION ID '${partition}'`);
  return { lagEvents: incoming.length, ingestSeconds, catchUpSeconds };
}

async function queryInProcess(shop: DemoShop, repeat: number): Promise<QueryResult> {
  const dataSource = await openDatabase(withDatabaseName(serverUrl(), pgNameOf(shop)), { poolSize: 4 });
  const funnels = new FunnelService(dataSource, undefined, { timeoutMs: 3_600_000 });
  try {
    const warm = await timed(() => funnels.mirror.sync());
    return await measureQueries('inprocess', funnels, shop, repeat, warm.seconds);
  } finally {
    await funnels.close();
    await dataSource.destroy();
  }
}

/** Runs one role in a child process of its own and returns what it sends back. */
function inChild<T>(role: Role, events: number, options: { dir: string; repeat: number; fresh: boolean; pushdown?: boolean }): Promise<T> {
  const args = ['analytics-scale', '--role', role, '--events', String(events), '--dir', options.dir, '--repeat', String(options.repeat)];
  if (options.fresh) args.push('--fresh');
  if (options.pushdown === false) args.push('--per-unit');
  return new Promise((resolve, reject) => {
    const child = fork(process.argv[1], args, { stdio: 'inherit', env: { ...process.env, LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn' } });
    let result: T | undefined;
    child.on('message', (message) => (result = message as T));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 && result !== undefined ? resolve(result) : reject(new Error(`${role} (${events} events) exited with ${code}`))));
  });
}

async function child(role: Role, events: number, dir: string, repeat: number, fresh: boolean, pushdown: boolean): Promise<void> {
  const shop = shopOf(events);
  const folder = folderOf(dir, shop);
  let result: unknown;
  if (role === 'generate') result = await generate(folder, shop, fresh);
  else if (role === 'load-pg') result = await loadPg(shop);
  else if (role === 'clickhouse') result = await queryClickHouse(folder, shop, repeat, pushdown);
  else result = await queryInProcess(shop, repeat);
  // Run by hand (no parent): print what a parent would receive.
  if (!process.send) console.log(JSON.stringify(result));
  else await new Promise<void>((resolve) => process.send!(result, () => resolve()));
}

const mb = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(0)} MB`;
const ms = (seconds: number): string => `${(seconds * 1000).toFixed(0)} ms`;

export async function run(argv: string[]): Promise<void> {
  const args = parseArgs(argv, {
    flags: { role: 'string', events: 'string', sizes: 'string', 'with-100m': 'boolean', 'inprocess-max': 'string', repeat: 'string', dir: 'string', fresh: 'boolean', 'keep-pg': 'boolean', 'per-unit': 'boolean', 'pushdown-only': 'boolean' },
  });
  const repeat = intFlag(args, 'repeat', 3, 1);
  const dir = path.resolve(stringFlag(args, 'dir') ?? path.join(tmpdir(), 'funnelcast-analytics-scale'));
  const fresh = args.flags.fresh === true;
  process.env.LOG_LEVEL ??= 'warn';
  const role = stringFlag(args, 'role') as Role | undefined;
  if (role !== undefined) {
    await child(role, intFlag(args, 'events', 1_000_000, 1000), dir, repeat, fresh, args.flags['per-unit'] !== true);
    return;
  }
  const sizes = (stringFlag(args, 'sizes') ?? '1000000,10000000').split(',').map(Number);
  if (args.flags['with-100m'] === true) sizes.push(100_000_000);
  const inprocessMax = intFlag(args, 'inprocess-max', 1_000_000, 0);
  mkdirSync(dir, { recursive: true });
  console.log(`machine: ${cpus().length} × ${cpus()[0]?.model ?? 'CPU'}, Node ${process.version}, load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  console.log(`funnel: ${STEPS.join(' → ')}, 7-day window, per user, default mode, the shop's ${DAYS} days; breakdown by channel (top 10); ${repeat} runs after the first`);
  let failed = false;
  const rows: string[] = [];
  for (const events of sizes) {
    const shop = shopOf(events);
    console.log(`\n== ${events.toLocaleString('en-US')} events (${shop.options.users.toLocaleString('en-US')} users) ==`);
    const generated = await inChild<GenerateResult>('generate', events, { dir, repeat, fresh });
    console.log(
      `generated into ClickHouse (chdb, ${folderOf(dir, shop)}): ${generated.events.toLocaleString('en-US')} events` +
        (generated.reused ? ' (reused from an earlier run; its figures follow)' : '') +
        ` in ${generated.seconds.toFixed(1)} s (${Math.round(generated.events / generated.seconds).toLocaleString('en-US')}/s), merge ${generated.optimizeSeconds.toFixed(1)} s, ` +
        `parts ${mb(generated.diskBytes)} (${(generated.diskBytes / generated.events).toFixed(1)} B/event), folder ${mb(generated.folderBytes)}`,
    );
    const results: QueryResult[] = [];
    results.push(await inChild<QueryResult>('clickhouse', events, { dir, repeat, fresh: false, pushdown: true }));
    if (args.flags['pushdown-only'] !== true) results.push(await inChild<QueryResult>('clickhouse', events, { dir, repeat, fresh: false, pushdown: false }));
    let loaded: LoadResult | null = null;
    if (events <= inprocessMax) {
      try {
        loaded = await inChild<LoadResult>('load-pg', events, { dir, repeat, fresh });
        console.log(`loaded into PostgreSQL through the importer: ${loaded.events.toLocaleString('en-US')} events in ${loaded.seconds.toFixed(1)} s; events table with indexes ${mb(loaded.diskBytes)} (${(loaded.diskBytes / loaded.events).toFixed(0)} B/event)`);
        results.push(await inChild<QueryResult>('inprocess', events, { dir, repeat, fresh: false }));
      } finally {
        if (args.flags['keep-pg'] !== true) await adminQuery(`DROP DATABASE IF EXISTS "${pgNameOf(shop)}" WITH (FORCE)`);
      }
    }
    console.log(`${'engine'.padEnd(22)} ${'funnel 1st'.padStart(10)} ${'funnel med'.padStart(10)} ${'brkdn 1st'.padStart(10)} ${'brkdn med'.padStart(10)} ${'RSS'.padStart(9)} ${'peak RSS'.padStart(9)}  step counts`);
    for (const r of results) {
      console.log(
        `${r.engine.padEnd(22)} ${ms(r.funnelFirst).padStart(10)} ${ms(median(r.funnel)).padStart(10)} ${ms(r.breakdownFirst).padStart(10)} ${ms(median(r.breakdown)).padStart(10)} ` +
          `${mb(r.rssBytes).padStart(9)} ${mb(r.peakRssBytes).padStart(9)}  ${r.counts.join(' / ')}` +
          (r.warmSeconds > 0 ? `  (mirror load ${r.warmSeconds.toFixed(1)} s before)` : ''),
      );
      console.log(`${''.padEnd(22)} runs: funnel ${r.funnel.map((s) => (s * 1000).toFixed(0)).join(', ')} ms; breakdown ${r.breakdown.map((s) => (s * 1000).toFixed(0)).join(', ')} ms`);
      if (r.catchUpSeconds !== undefined) {
        console.log(`${''.padEnd(22)} ingest-to-visible: ${r.lagEvents} events ingested in ${r.ingestSeconds!.toFixed(2)} s, visible after a ${ms(r.catchUpSeconds)} catch-up`);
      }
      rows.push(
        `| ${events.toLocaleString('en-US')} | ${r.engine} | ${ms(median(r.funnel))} | ${ms(median(r.breakdown))} | ${mb(r.rssBytes)} / ${mb(r.peakRssBytes)} | ` +
          `${r.engine === 'inprocess' ? mb(loaded!.diskBytes) + ' (PostgreSQL)' : mb(generated.diskBytes)} | ${r.catchUpSeconds === undefined ? '—' : ms(r.catchUpSeconds)} |`,
      );
    }
    const reference = results[0];
    for (const r of results) {
      const same = r.counts.every((c, k) => c === reference.counts[k]) && r.breakdownCounts.every((c, k) => c === r.counts[k]);
      if (!same) {
        console.error(`MISMATCH: ${r.engine} ${r.counts.join(' / ')} (breakdown sums ${r.breakdownCounts.join(' / ')}) against ${reference.engine} ${reference.counts.join(' / ')}`);
        failed = true;
      }
    }
    const pushdown = results[0];
    const perUnit = results.find((r) => r.engine === 'clickhouse per-unit');
    const inprocess = results.find((r) => r.engine === 'inprocess');
    const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}×`;
    if (perUnit) {
      console.log(
        `pushdown / per-unit: funnel ${ratio(median(pushdown.funnel), median(perUnit.funnel))}, breakdown ${ratio(median(pushdown.breakdown), median(perUnit.breakdown))}, ` +
          `peak RSS ${ratio(pushdown.peakRssBytes, perUnit.peakRssBytes)}`,
      );
    }
    if (inprocess) {
      console.log(
        `ClickHouse (pushdown) / in-process: funnel ${ratio(median(pushdown.funnel), median(inprocess.funnel))}, breakdown ${ratio(median(pushdown.breakdown), median(inprocess.breakdown))}, ` +
          `RSS ${ratio(pushdown.rssBytes, inprocess.rssBytes)}, peak RSS ${ratio(pushdown.peakRssBytes, inprocess.peakRssBytes)}, disk ${ratio(generated.diskBytes, loaded!.diskBytes)} (ClickHouse parts / PostgreSQL events)`,
      );
    }
  }
  console.log(`\n| events | engine | funnel (median) | breakdown (median) | RSS after / peak | on disk | ${LAG_EVENTS.toLocaleString('en-US')} new events visible after |\n|---:|---|---:|---:|---:|---:|---:|`);
  for (const row of rows) console.log(row);
  console.log(`load average at the end: ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  if (failed) {
    console.error('step counts differ: see above');
    process.exitCode = 1;
  }
}
