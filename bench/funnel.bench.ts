import { createWriteStream, existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { unlink } from 'node:fs/promises';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { DuckDBInstance } from '@duckdb/node-api';
import { Session as ChdbSession } from 'chdb';
import { Client } from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import type { DataSource } from 'typeorm';
import { intFlag, parseArgs } from '../src/cli/args';
import { openDatabase, withPgClient } from '../src/db/data-source';
import { EventService } from '../src/events/event.service';
import type { FunnelSpec } from '../src/funnel/funnel-definition';
import { FunnelService } from '../src/funnel/funnel.service';
import { createDemoShop } from '../src/sim';
import { elapsedSeconds, loadBenchShop } from './support';

/**
 * `npm run bench funnel -- [--events 10000000 | --users N] [--days 14] [--seed 1] [--repeat 3] [--reuse] [--skip-pg] [--workers N] [--split-repeat N]`
 *
 * A 4-step funnel (view → cart → checkout → purchase, 7-day window, per user, default mode) over
 * the demo shop, timed three ways in one run: (a) Funnelcast's FunnelService (in-process mirror +
 * windowFunnel engine), (b) DuckDB over the same events with the SQL an analyst would write,
 * (c) the same SQL on PostgreSQL, (d) ClickHouse's own `windowFunnel` (embedded, chdb) over the
 * same events, on 1 and on 2 threads (`max_threads`). All must report identical step counts.
 *
 * Funnelcast runs twice over one mirror, runs interleaved so both see the same machine load: on one
 * worker thread, and split across `--workers` workers (default: one per core, at least 2), with
 * the ratio of the two (`--split-repeat` pairs of runs, default `--repeat`).
 *
 * The shop is loaded once into a database named after its size and seed and kept; `--reuse` skips
 * the load when that database is already complete (loading 10 M events takes several minutes).
 */
const EVENTS_PER_USER = 13; // what the demo shop produces on average (measured)
const STEPS = ['view', 'cart', 'checkout', 'purchase'];
const WINDOW_SECONDS = 7 * 86_400;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

async function timed<T>(work: () => Promise<T>): Promise<{ value: T; seconds: number }> {
  const started = process.hrtime.bigint();
  const value = await work();
  return { value, seconds: elapsedSeconds(started) };
}

/**
 * CPU time per thread of this process so far (ns, Linux /proc; empty elsewhere). On a shared box
 * whose scheduler groups each session's threads (autogroup), a second thread gets no more CPU while
 * the others are busy, so wall time cannot show parallelism there; the busiest thread's CPU time
 * per funnel (the critical path) still can.
 */
function threadCpuNs(): Map<string, number> {
  const times = new Map<string, number>();
  try {
    for (const tid of readdirSync('/proc/self/task')) {
      times.set(tid, Number(readFileSync(`/proc/self/task/${tid}/schedstat`, 'utf8').split(' ')[0]));
    }
  } catch {
    // a thread that ended meanwhile, or no /proc: what was read so far
  }
  return times;
}

/** CPU milliseconds between two threadCpuNs readings: the busiest thread's, and all threads' together. */
function cpuBetween(before: Map<string, number>, after: Map<string, number>): { busiest: number; total: number } {
  const deltas = [...after].map(([tid, ns]) => (ns - (before.get(tid) ?? 0)) / 1e6);
  return { busiest: Math.max(0, ...deltas), total: deltas.reduce((sum, ms) => sum + ms, 0) };
}

/** repeatTimed for synchronous work (chdb's query blocks the thread it runs on). */
function repeatTimedSync<T>(times: number, work: () => T): { value: T; seconds: number[] } {
  const seconds: number[] = [];
  let value: T | undefined;
  for (let i = 0; i < times; i++) {
    const started = process.hrtime.bigint();
    value = work();
    seconds.push(elapsedSeconds(started));
  }
  return { value: value as T, seconds };
}

async function repeatTimed<T>(times: number, work: () => Promise<T>): Promise<{ value: T; seconds: number[] }> {
  const seconds: number[] = [];
  let value: T | undefined;
  for (let i = 0; i < times; i++) {
    const run = await timed(work);
    value = run.value;
    seconds.push(run.seconds);
  }
  return { value: value as T, seconds };
}

/** The straightforward SQL: for each step-1 event, the earliest next step in (ts, id) order within the window; a user's level is the best start. */
function analystSql(dialect: 'duckdb' | 'postgres', from: string, to: string): string {
  const window = dialect === 'duckdb' ? `INTERVAL ${WINDOW_SECONDS} SECOND` : `interval '${WINDOW_SECONDS} seconds'`;
  const time = (text: string) => (dialect === 'duckdb' ? `TIMESTAMP '${text}'` : `timestamptz '${text}'`);
  const [s1, s2, s3, s4] = STEPS.map((step) => `'${step}'`);
  return `
    WITH ev AS (
      SELECT user_id, type, ts, row_number() OVER (PARTITION BY user_id ORDER BY ts, id) AS seq
      FROM events
      WHERE type IN (${s1}, ${s2}, ${s3}, ${s4}) AND ts >= ${time(from)} AND ts < ${time(to)} + ${window}
    ),
    step1 AS (SELECT user_id, ts AS t1, seq AS q1 FROM ev WHERE type = ${s1} AND ts < ${time(to)}),
    step2 AS (
      SELECT a.user_id, a.t1, min(e.seq) AS q2 FROM step1 a
      JOIN ev e ON e.user_id = a.user_id AND e.type = ${s2} AND e.seq > a.q1 AND e.ts <= a.t1 + ${window}
      GROUP BY a.user_id, a.t1, a.q1
    ),
    step3 AS (
      SELECT a.user_id, a.t1, min(e.seq) AS q3 FROM step2 a
      JOIN ev e ON e.user_id = a.user_id AND e.type = ${s3} AND e.seq > a.q2 AND e.ts <= a.t1 + ${window}
      GROUP BY a.user_id, a.t1, a.q2
    ),
    step4 AS (
      SELECT DISTINCT a.user_id FROM step3 a
      JOIN ev e ON e.user_id = a.user_id AND e.type = ${s4} AND e.seq > a.q3 AND e.ts <= a.t1 + ${window}
    )
    SELECT (SELECT count(DISTINCT user_id) FROM step1) AS c1, (SELECT count(DISTINCT user_id) FROM step2) AS c2,
           (SELECT count(DISTINCT user_id) FROM step3) AS c3, (SELECT count(*) FROM step4) AS c4`;
}

async function databaseExists(serverUrl: string, name: string): Promise<boolean> {
  const admin = new Client({ connectionString: serverUrl });
  await admin.connect();
  try {
    const { rowCount } = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    return (rowCount ?? 0) > 0;
  } finally {
    await admin.end();
  }
}

async function recreateDatabase(serverUrl: string, name: string): Promise<void> {
  const admin = new Client({ connectionString: serverUrl });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    await admin.query(`CREATE DATABASE "${name}"`);
  } finally {
    await admin.end();
  }
}

function withDatabaseName(url: string, name: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${name}`;
  return parsed.toString();
}

/** Opens (and if needed loads) the bench database; a `bench_meta` row marks a finished load. */
async function benchShop(options: { users: number; days: number; seed: number; reuse: boolean }): Promise<{ dataSource: DataSource; name: string; events: number; from: Date; to: Date }> {
  const serverUrl = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
  const name = `fc_bench_funnel_u${options.users}_d${options.days}_s${options.seed}`;
  const shop = createDemoShop({ users: options.users, days: options.days, seed: options.seed });
  const range = { from: new Date(shop.options.startMs), to: new Date(shop.options.endMs) };
  if (options.reuse && (await databaseExists(serverUrl, name))) {
    const dataSource = await openDatabase(withDatabaseName(serverUrl, name), { poolSize: 4 });
    const done: { events: string }[] = await dataSource.query(`SELECT events FROM bench_meta`).catch(() => []);
    if (done.length === 1) {
      console.log(`reusing database ${name} (${Number(done[0].events).toLocaleString('en-US')} events)`);
      return { dataSource, name, events: Number(done[0].events), ...range };
    }
      await dataSource.destroy();
  }
  await recreateDatabase(serverUrl, name);
  const dataSource = await openDatabase(withDatabaseName(serverUrl, name), { poolSize: 4 });
  console.log(`loading the demo shop (${options.users.toLocaleString('en-US')} users, ${options.days} days, seed ${options.seed}) into ${name} through the importer…`);
  const load = await timed(() => loadBenchShop(dataSource, shop));
  await dataSource.query('ANALYZE events');
  await dataSource.query('CREATE TABLE bench_meta (events bigint NOT NULL)');
  await dataSource.query('INSERT INTO bench_meta VALUES ($1)', [load.value.imported]);
  console.log(`loaded ${load.value.imported.toLocaleString('en-US')} events in ${load.seconds.toFixed(0)} s`);
  return { dataSource, name, events: load.value.imported, ...range };
}

/** The events as CSV (id, user_id, type, µs since the epoch), exported once from PostgreSQL; with --reuse the file is kept beside the database for the next run. */
async function eventsCsv(dataSource: DataSource, name: string, reuse: boolean): Promise<string> {
  const file = path.join(tmpdir(), `${name}.csv`);
  if (!(reuse && existsSync(file) && statSync(file).size > 0)) {
    await withPgClient(dataSource, async (client) => {
      const stream = client.query(copyTo(`COPY (SELECT id, user_id, type, (extract(epoch FROM ts) * 1000000)::bigint FROM events) TO STDOUT WITH (FORMAT csv)`));
      await pipeline(stream, createWriteStream(file));
    });
  }
  return file;
}

/** The same events in DuckDB: read_csv of eventsCsv's file. */
async function duckdbCopy(dataSource: DataSource, name: string, reuse: boolean): Promise<{ connection: Awaited<ReturnType<DuckDBInstance['connect']>>; close: () => void; seconds: number }> {
  const started = process.hrtime.bigint();
  const file = await eventsCsv(dataSource, name, reuse);
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  await connection.run(`
    CREATE TABLE events AS
    SELECT id, user_id, type, make_timestamp(us) AS ts
    FROM read_csv('${file}', header = false, columns = {'id': 'BIGINT', 'user_id': 'INTEGER', 'type': 'VARCHAR', 'us': 'BIGINT'})`);
  const seconds = elapsedSeconds(started);
  return { connection, close: () => (connection.closeSync(), instance.closeSync()), seconds };
}

/**
 * The same events in embedded ClickHouse (chdb), in a MergeTree table ordered by (user_id, us) as
 * a ClickHouse user would keep them, loaded from eventsCsv's file (`seconds` counts the load only).
 */
function clickhouseCopy(file: string): { session: ChdbSession; seconds: number } {
  const session = new ChdbSession();
  const started = process.hrtime.bigint();
  session.query('CREATE TABLE events (id Int64, user_id Int32, type LowCardinality(String), us UInt64) ENGINE = MergeTree ORDER BY (user_id, us)');
  session.query(`INSERT INTO events SELECT * FROM file('${file}', CSV, 'id Int64, user_id Int32, type String, us UInt64')`);
  session.query('OPTIMIZE TABLE events FINAL');
  return { session, seconds: elapsedSeconds(started) };
}

/**
 * Step counts by ClickHouse's `windowFunnel` in its default mode, with our range rule in SQL
 * (src/funnel/FUNNEL-SEMANTICS.md, "Time range": step 1 before `to`, later steps up to `to` + window;
 * a view after `to` matches step 1 only and is left out, which in the default mode changes nothing).
 */
function clickhouseSql(fromMicros: number, toMicros: number, threads: number): string {
  const windowMicros = WINDOW_SECONDS * 1_000_000;
  const [s1, ...rest] = STEPS.map((step) => `type = '${step}'`);
  return `
    SELECT ${STEPS.map((_, k) => `countIf(level >= ${k + 1})`).join(', ')}
    FROM (
      SELECT user_id, windowFunnel(${windowMicros})(us, ${s1} AND us < ${toMicros}, ${rest.join(', ')}) AS level
      FROM events
      WHERE type IN (${STEPS.map((step) => `'${step}'`).join(', ')}) AND us >= ${fromMicros} AND us < ${toMicros + windowMicros}
        AND NOT (us >= ${toMicros} AND ${s1})
      GROUP BY user_id
    )
    SETTINGS max_threads = ${threads}`;
}

function clickhouseCounts(session: ChdbSession, fromMicros: number, toMicros: number, threads: number): number[] {
  return session.query(clickhouseSql(fromMicros, toMicros, threads), 'CSV').trim().split(',').map(Number);
}

export async function run(argv: string[]): Promise<void> {
  const args = parseArgs(argv, { flags: { events: 'string', users: 'string', days: 'string', seed: 'string', repeat: 'string', workers: 'string', 'split-repeat': 'string', reuse: 'boolean', 'skip-pg': 'boolean' } });
  const events = intFlag(args, 'events', 10_000_000, 1000);
  const users = intFlag(args, 'users', Math.max(100, Math.round(events / EVENTS_PER_USER)), 10);
  const days = intFlag(args, 'days', 14, 1);
  const seed = intFlag(args, 'seed', 1, 0);
  const repeat = intFlag(args, 'repeat', 3, 1);
  const workers = intFlag(args, 'workers', Math.max(2, availableParallelism()), 2);
  const splitRepeat = intFlag(args, 'split-repeat', repeat, 1);
  const reuse = args.flags.reuse === true;
  process.env.LOG_LEVEL ??= 'warn';

  const shop = await benchShop({ users, days, seed, reuse });
  const { dataSource } = shop;
  const spec: FunnelSpec = {
    steps: STEPS.map((type) => ({ type })),
    conversionWindowSeconds: WINDOW_SECONDS,
    from: shop.from,
    to: shop.to,
  };
  const fromText = shop.from.toISOString().replace('T', ' ').replace('Z', '');
  const toText = shop.to.toISOString().replace('T', ' ').replace('Z', '');
  console.log(`funnel: ${STEPS.join(' → ')}, 7-day window, per user, default mode, chains starting in [${shop.from.toISOString()}, ${shop.to.toISOString()})`);
  console.log(`machine: ${cpus().length} × ${cpus()[0]?.model ?? 'CPU'}, Node ${process.version}`);

  // (a) Funnelcast through its service API: one worker, and every worker on one funnel (split), over
  // one mirror. No time limit: on a busy machine the first use of a property key alone can take 20 s.
  const funnels = new FunnelService(dataSource, undefined, { workers: 1, timeoutMs: 3_600_000 });
  const splitFunnels = new FunnelService(dataSource, funnels.mirror, { workers, splitEvents: 0, timeoutMs: 3_600_000 });
  const cold = await timed(() => funnels.mirror.sync());
  const byChannel: FunnelSpec = { ...spec, breakdown: { property: 'channel', limit: 10 } };
  // Outside the timings, as in a long-running server: the first funnels derive the channel column
  // once, and start each pool's workers, compile the engine there and size their scratch arrays.
  for (const service of [funnels, splitFunnels]) for (const query of [spec, byChannel]) await service.funnel(query);
  const interleaved = async (query: FunnelSpec) => {
    const one: number[] = [];
    const all: number[] = [];
    const cpu = { one: [] as { busiest: number; total: number }[], all: [] as { busiest: number; total: number }[] };
    let value: Awaited<ReturnType<FunnelService['funnel']>> | undefined;
    let same = true;
    for (let n = 0; n < splitRepeat; n++) {
      // Alternate which goes first, so neither always runs right after the other's garbage.
      const order = n % 2 === 0 ? [funnels, splitFunnels] : [splitFunnels, funnels];
      const answers: string[] = [];
      for (const service of order) {
        const before = threadCpuNs();
        const run = await timed(() => service.funnel(query));
        cpu[service === funnels ? 'one' : 'all'].push(cpuBetween(before, threadCpuNs()));
        (service === funnels ? one : all).push(run.seconds);
        answers.push(JSON.stringify(run.value));
        value ??= run.value;
      }
      same &&= answers[0] === answers[1];
    }
    return { value: value!, seconds: one, all, same, cpu };
  };
  const ours = await interleaved(spec);
  const ourCounts = ours.value.steps.map((step) => step.count);
  const withBreakdown = await interleaved(byChannel);
  const breakdownTotals = STEPS.map((_, k) => withBreakdown.value.breakdown!.reduce((sum, group) => sum + group.steps[k].count, 0));
  const sessions = await repeatTimed(1, () => funnels.funnel({ ...spec, countBy: 'session' }));
  // (b) DuckDB, same events.
  const duck = await duckdbCopy(dataSource, shop.name, reuse);
  const duckRun = await repeatTimed(repeat, async () => (await duck.connection.runAndReadAll(analystSql('duckdb', fromText, toText))).getRows()[0].map(Number));
  duck.close();
  // (d) ClickHouse windowFunnel, same events, 1 and 2 threads.
  const clickhouse = clickhouseCopy(await eventsCsv(dataSource, shop.name, reuse));
  const [fromMicros, toMicros] = [shop.from.getTime() * 1000, shop.to.getTime() * 1000];
  const clickhouseRuns = [1, 2].map((threads) => ({ threads, ...repeatTimedSync(repeat, () => clickhouseCounts(clickhouse.session, fromMicros, toMicros, threads)) }));
  clickhouse.session.cleanup();
  if (!reuse) await unlink(await eventsCsv(dataSource, shop.name, true));

  // (c) PostgreSQL, same SQL (one run: it is the slow one).
  const pgRun = args.flags['skip-pg'] === true ? null : await repeatTimed(1, async () => {
    const [row]: Record<string, string>[] = await dataSource.query(analystSql('postgres', fromText, toText));
    return ['c1', 'c2', 'c3', 'c4'].map((column) => Number(row[column]));
  });
  // Freshness: one new event by a new user, then the same funnel (the mirror catches up before
  // answering). Removed again afterwards, so a reused database and CSV stay identical.
  const freshUser = `bench-fresh-${Date.now()}`;
  await new EventService(dataSource, { maxBatch: 10, maxPropertiesBytes: 16_384 }).ingest([
    { eventId: freshUser, type: 'view', userId: freshUser, timestamp: shop.from.getTime() + 1000 },
  ]);
  const fresh = await timed(() => funnels.funnel(spec));
  await dataSource.query('DELETE FROM events WHERE event_id = $1', [freshUser]);
  await funnels.close();
  await splitFunnels.close();
  await dataSource.query('DELETE FROM users WHERE external_id = $1', [freshUser]);
  await dataSource.destroy();

  // The fresh event is a lone view by a new user: one more unit at step 1 in the last answer only.
  const freshCounts = fresh.value.steps.map((step) => step.count);
  const expectFresh = [ourCounts[0] + 1, ...ourCounts.slice(1)];
  const agree = (counts: number[]) => counts.every((count, k) => count === ourCounts[k]);
  const line = (label: string, seconds: number[]) =>
    `${label.padEnd(44)} median ${(median(seconds) * 1000).toFixed(0).padStart(6)} ms   (runs: ${seconds.map((s) => (s * 1000).toFixed(0)).join(', ')} ms)`;

  console.log(`\nevents: ${shop.events.toLocaleString('en-US')}, users: ${users.toLocaleString('en-US')}`);
  console.log(`step counts  Funnelcast ${ourCounts.join(' / ')}`);
  console.log(`             DuckDB     ${duckRun.value.join(' / ')}${agree(duckRun.value) ? '  (identical)' : '  MISMATCH'}`);
  if (pgRun) console.log(`             PostgreSQL ${pgRun.value.join(' / ')}${agree(pgRun.value) ? '  (identical)' : '  MISMATCH'}`);
  for (const run of clickhouseRuns) console.log(`             ClickHouse ${run.value.join(' / ')}${agree(run.value) ? '  (identical)' : '  MISMATCH'}  windowFunnel, ${run.threads} thread(s)`);
  console.log(`             breakdown by channel, summed: ${breakdownTotals.join(' / ')}${agree(breakdownTotals) ? '  (identical)' : '  MISMATCH'}`);
  console.log(`             after one fresh event: ${freshCounts.join(' / ')}${freshCounts.every((c, k) => c === expectFresh[k]) ? '  (as expected)' : '  WRONG'}`);
  console.log('');
  console.log(`Funnelcast mirror load (once per process)     ${cold.seconds.toFixed(1)} s`);
  console.log(`DuckDB load (PostgreSQL → CSV → table)        ${duck.seconds.toFixed(1)} s`);
  console.log(`ClickHouse load (CSV → MergeTree, chdb)       ${clickhouse.seconds.toFixed(1)} s`);
  console.log(line('(a) Funnelcast funnel (service API, 1 worker)', ours.seconds));
  console.log(line(`    … split across ${workers} workers`, ours.all));
  console.log(line('    … with breakdown by channel (top 10)', withBreakdown.seconds));
  console.log(line(`    … with breakdown, split across ${workers} workers`, withBreakdown.all));
  for (const [label, runs] of [['funnel', ours], ['with breakdown', withBreakdown]] as const) {
    const ms = (values: number[]) => median(values).toFixed(0);
    console.log(
      `    CPU per ${label} (median): 1 worker: busiest thread ${ms(runs.cpu.one.map((c) => c.busiest))} ms, all threads ${ms(runs.cpu.one.map((c) => c.total))} ms; ` +
        `split: busiest thread ${ms(runs.cpu.all.map((c) => c.busiest))} ms, all threads ${ms(runs.cpu.all.map((c) => c.total))} ms`,
    );
  }
  console.log(line('    … counting sessions (first run builds units)', sessions.seconds));
  console.log(line('    … right after one new event (catch-up)', [fresh.seconds]));
  console.log(line('(b) DuckDB, analyst SQL', duckRun.seconds));
  if (pgRun) console.log(line('(c) PostgreSQL, analyst SQL', pgRun.seconds));
  for (const run of clickhouseRuns) console.log(line(`(d) ClickHouse windowFunnel, ${run.threads} thread(s)`, run.seconds));
  const ourMedian = median(ours.seconds);
  console.log(`ratios: ${clickhouseRuns.map((run) => `ClickHouse ${run.threads}t / Funnelcast = ${(median(run.seconds) / ourMedian).toFixed(2)}×`).join(', ')}`);
  console.log(`\nratios: DuckDB / Funnelcast = ${(median(duckRun.seconds) / ourMedian).toFixed(2)}×` + (pgRun ? `, PostgreSQL / Funnelcast = ${(median(pgRun.seconds) / ourMedian).toFixed(1)}×` : ''));
  console.log(
    `        Funnelcast 1 worker / ${workers} workers (split) = ${(ourMedian / median(ours.all)).toFixed(2)}×, with breakdown ${(median(withBreakdown.seconds) / median(withBreakdown.all)).toFixed(2)}×` +
      ` (answers identical: ${ours.same && withBreakdown.same ? 'yes' : 'NO'})`,
  );
  const criticalPath = (runs: typeof ours) => median(runs.cpu.one.map((c) => c.busiest)) / median(runs.cpu.all.map((c) => c.busiest));
  console.log(`        busiest thread's CPU, 1 worker / split = ${criticalPath(ours).toFixed(2)}×, with breakdown ${criticalPath(withBreakdown).toFixed(2)}× (what the split gives where each thread has a core of its own)`);
  const ok =
    ours.same &&
    withBreakdown.same &&
    clickhouseRuns.every((run) => agree(run.value)) &&
    agree(duckRun.value) &&
    (!pgRun || agree(pgRun.value)) &&
    agree(breakdownTotals) &&
    freshCounts.every((c, k) => c === expectFresh[k]);
  if (!ok) {
    console.error('step counts differ: see above');
    process.exitCode = 1;
  }
}
