import { intFlag, parseArgs } from '../src/cli/args';
import { FORMAT_READERS } from '../src/events/import/import-formats';
import { createDemoShop } from '../src/sim';
import { ARRIVAL_ORDER_GUARD } from '../migrations/1765100000001-ingest-guard-event-time';
import { benchDatabase, elapsedSeconds, loadBenchShop, rate } from './support';

/**
 * `npm run bench ingest-rules [--lines N] [--users N] [--repeat N]`: what the issue #12 ingest
 * rules cost, each against a peer in the same run.
 *
 * 1. NDJSON reading: the ndjson reader (checks, timestamp rules, exact numeric ids) on lines whose
 *    ids are strings, small numbers, or numbers above 2^53 (those lines are parsed twice); peer:
 *    bare `JSON.parse` of the same lines.
 * 2. The ingest guard: one INSERT of new events into a loaded demo shop (rolled back, then
 *    VACUUM, each time) under the event-time guard, under the arrival-order guard it replaced
 *    (migration 1765100000001), and with the guard off, interleaved.
 */
function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

function ndjsonLines(count: number, ids: 'string' | 'number' | 'big'): string[] {
  const id = (prefix: string, n: number): string =>
    ids === 'string' ? JSON.stringify(`${prefix}${n}`) : ids === 'number' ? String(n) : (9007199254740993n + BigInt(n)).toString();
  return Array.from({ length: count }, (_, n) =>
    `{"eventId":${id('e', n)},"type":"${n % 7 ? 'view' : 'cart'}","userId":${id('u', n % 5000)},"sessionId":${id('s', n % 9000)},` +
      `"itemId":${id('i', n % 2000)},"timestamp":"2026-01-05T${String(n % 24).padStart(2, '0')}:00:00Z","properties":{"device":"mobile","price":19.99}}`,
  );
}

function timeLines(lines: string[], read: (text: string, line: number) => unknown): number {
  const started = process.hrtime.bigint();
  for (let i = 0; i < lines.length; i++) read(lines[i], i + 1);
  return elapsedSeconds(started);
}

async function ndjsonReading(count: number, repeat: number): Promise<void> {
  const reader = FORMAT_READERS.ndjson;
  console.log(`NDJSON reading, ${count.toLocaleString('en-US')} lines, median of ${repeat}:`);
  console.log('| ids | reader lines/s | JSON.parse lines/s | reader ÷ JSON.parse time |');
  console.log('|---|---:|---:|---:|');
  for (const ids of ['string', 'number', 'big'] as const) {
    const lines = ndjsonLines(count, ids);
    const sample = reader.toRecord({ line: 1, text: lines[1], fields: [] });
    if (sample.kind !== 'event' || typeof sample.event.userId !== 'string') throw new Error(`line not read: ${JSON.stringify(sample)}`);
    const readerSeconds: number[] = [];
    const parseSeconds: number[] = [];
    for (let r = 0; r < repeat; r++) {
      readerSeconds.push(timeLines(lines, (text, line) => reader.toRecord({ line, text, fields: [] })));
      parseSeconds.push(timeLines(lines, (text) => JSON.parse(text)));
    }
    const ours = median(readerSeconds);
    const peer = median(parseSeconds);
    console.log(`| ${ids} | ${rate(count, ours)} | ${rate(count, peer)} | ${(ours / peer).toFixed(2)}× |`);
  }
}

async function guardCost(users: number, repeat: number): Promise<void> {
  const db = await benchDatabase('bench_ingest_rules');
  try {
    const shop = createDemoShop({ users, days: 7, seed: 3 });
    const loaded = await loadBenchShop(db.dataSource, shop);
    const [{ eventTimeGuard }] = await db.dataSource.query(`SELECT pg_get_functiondef('mark_suspect_users'::regproc) AS "eventTimeGuard"`);
    // Every fifth stored event again, 7 s later: new events among each user's own, as a live shop sends them.
    const insert = `INSERT INTO events (event_id, user_id, session_id, type, item_id, ts, props)
                    SELECT 'again-' || id, user_id, session_id, type, item_id, ts + interval '7 seconds', props FROM events WHERE id % 5 = 0`;
    const variants: Record<string, () => Promise<void>> = {
      'event-time guard (new)': async () => {
        await db.dataSource.query(eventTimeGuard);
        await db.dataSource.query('UPDATE ingest_guard SET max_events_per_minute = 120');
      },
      'arrival-order guard (old)': async () => {
        await db.dataSource.query(ARRIVAL_ORDER_GUARD);
        await db.dataSource.query('UPDATE ingest_guard SET max_events_per_minute = 120');
      },
      'guard off': async () => {
        await db.dataSource.query('UPDATE ingest_guard SET max_events_per_minute = 0');
      },
    };
    const seconds: Record<string, number[]> = Object.fromEntries(Object.keys(variants).map((name) => [name, []]));
    let rows = 0;
    for (let r = 0; r < repeat; r++) {
      for (const [name, prepare] of Object.entries(variants)) {
        await prepare();
        // Each rolled-back INSERT leaves 40k dead tuples exactly where the next one's guard looks; a live shop has none.
        await db.dataSource.query('VACUUM ANALYZE events');
        const runner = db.dataSource.createQueryRunner();
        try {
          await runner.startTransaction();
          const started = process.hrtime.bigint();
          const result = await runner.query(`${insert} RETURNING 1`);
          seconds[name].push(elapsedSeconds(started));
          rows = result.length;
          await runner.rollbackTransaction();
        } finally {
          await runner.release();
        }
      }
    }
    console.log(
      `\nIngest guard: ${loaded.imported.toLocaleString('en-US')} demo-shop events (${users.toLocaleString('en-US')} users, 7 days, seed 3), ` +
        `one INSERT of ${rows.toLocaleString('en-US')} new events (rolled back), median of ${repeat}:`,
    );
    console.log('| trigger | INSERT s | events/s |');
    console.log('|---|---:|---:|');
    for (const [name, values] of Object.entries(seconds)) console.log(`| ${name} | ${median(values).toFixed(3)} | ${rate(rows, median(values))} |`);
    const ratio = median(seconds['event-time guard (new)']) / median(seconds['arrival-order guard (old)']);
    console.log(`new ÷ old: ${ratio.toFixed(2)}×`);
  } finally {
    await db.drop();
  }
}

export async function run(argv: string[]): Promise<void> {
  const args = parseArgs(argv, { flags: { repeat: 'string', lines: 'string', users: 'string' } });
  const repeat = intFlag(args, 'repeat', 5, 1);
  await ndjsonReading(intFlag(args, 'lines', 200_000, 1), repeat);
  await guardCost(intFlag(args, 'users', 20_000, 10), repeat);
}
