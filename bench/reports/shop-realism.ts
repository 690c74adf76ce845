import { createReadStream, existsSync } from 'node:fs';
import { join } from 'node:path';
import type { ShopEvent } from '../../src/events/event.types';
import { readTextRows } from '../../src/events/import/csv-reader';
import { FORMAT_READERS, formatOfHeader } from '../../src/events/import/import-formats';
import type { ImportFormat } from '../../src/events/import/import.types';
import { createDemoShop, SHOP_PROFILES, type ShopProfile } from '../../src/sim';
import { shopStats, type ShopStats } from '../../src/sim/shop-stats';

/**
 * The side-by-side table of docs/demo-shop.md: the statistics of src/sim/shop-stats.ts on the real
 * samples in ../shared/data and on the demo shop in each profile. The samples cover two and three
 * hours, so the demo shop is also described through windows of the same length (one per day of its
 * period, pooled); its whole period gives the per-user figures a sample cannot (sessions per user,
 * repeat views across days).
 *
 *   npm run build && npm run bench shop-realism -- [--users N] [--days D] [--seed S] [--data DIR]
 *
 * The samples are read from ../shared/data (or --data DIR) when there, and left out with a message
 * when not; no database is needed.
 */

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

interface Column {
  name: string;
  stats: ShopStats;
}

function flag(argv: string[], name: string, fallback: string): string {
  const at = argv.indexOf(`--${name}`);
  return at >= 0 && at + 1 < argv.length ? argv[at + 1] : fallback;
}

/** A sample file read through the importer's own format reader; rejected rows are counted and left out. */
async function readSample(path: string, format: ImportFormat): Promise<{ events: ShopEvent[]; rejected: number }> {
  const reader = FORMAT_READERS[format];
  const events: ShopEvent[] = [];
  let rejected = 0;
  for await (const rows of readTextRows(createReadStream(path), reader.mode)) {
    for (const row of rows) {
      if (row.line === 1 && formatOfHeader(row.text) === reader) continue;
      const record = reader.toRecord(row);
      if (record.kind === 'event') events.push(record.event);
      else if (record.kind === 'reject') rejected++;
    }
  }
  return { events, rejected };
}

/**
 * The shop's events inside windows of `hours` starting at `startHourUtc` on each day, each window
 * with user and session ids of its own so that no user or session spans two windows: the pooled
 * windows read like many samples of the real slice's length.
 */
function dailyWindows(events: Iterable<ShopEvent>, startMs: number, days: number, startHourUtc: number, hours: number): ShopEvent[] {
  const out: ShopEvent[] = [];
  for (const event of events) {
    const day = Math.floor((event.timestamp - startMs) / DAY_MS);
    if (day < 0 || day >= days) continue;
    const from = startMs + day * DAY_MS + startHourUtc * HOUR_MS;
    if (event.timestamp < from || event.timestamp >= from + hours * HOUR_MS) continue;
    out.push({ ...event, userId: `${event.userId}@${day}`, sessionId: event.sessionId === null ? null : `${event.sessionId}@${day}` });
  }
  return out;
}

const percent = (value: number) => `${(100 * value).toFixed(1)} %`;
const number = (value: number, digits = 2) => value.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const whole = (value: number) => Math.round(value).toLocaleString('en-US');
const spread = (value: { mean: number; median: number; p90: number }, digits = 1) =>
  `${number(value.mean, digits)} / ${number(value.median, digits)} / ${number(value.p90, digits)}`;

const ROWS: [string, (stats: ShopStats) => string][] = [
  ['events', (s) => whole(s.events)],
  ['users', (s) => whole(s.users)],
  ['items (distinct)', (s) => whole(s.items)],
  ['sessions', (s) => whole(s.sessions)],
  ['span (hours)', (s) => number(s.spanHours, 1)],
  ['events per user (mean / median / p90)', (s) => spread(s.eventsPerUser)],
  ['distinct items per user', (s) => spread(s.distinctItemsPerUser)],
  ['sessions per user', (s) => spread(s.sessionsPerUser)],
  ['repeat views (item viewed before by the user)', (s) => percent(s.repeatViewShare)],
  ['repeat views within the session', (s) => percent(s.repeatViewShareInSession)],
  ['events per session', (s) => spread(s.sessionEvents)],
  ['session length, s', (s) => spread(s.sessionSeconds, 0)],
  ['gap between events in a session, s', (s) => spread(s.gapSeconds, 0)],
  ['view share', (s) => percent(s.typeShares.view ?? 0)],
  ['cart share', (s) => percent(s.typeShares.cart ?? 0)],
  ['purchase share', (s) => percent(s.typeShares.purchase ?? 0)],
  ['users who buy', (s) => percent(s.buyerShare)],
  ['sessions with a purchase', (s) => percent(s.purchaseSessionShare)],
  ['events on the top 1 % of items', (s) => percent(s.topItemsShare)],
  ['Gini of events per item', (s) => number(s.itemGini, 3)],
  ['distinct items / item events', (s) => number(s.distinctItemsPerEvent, 3)],
  ['users with a held-out last item', (s) => whole(s.nextItem.users)],
  ['last item in the top 20 by popularity', (s) => percent(s.nextItem.popularity)],
  ['last item among the 20 recently viewed', (s) => percent(s.nextItem.recentlyViewed)],
];

function printTable(title: string, columns: Column[]): void {
  console.log(`\n### ${title}\n`);
  console.log(`| statistic | ${columns.map((c) => c.name).join(' | ')} |`);
  console.log(`|---|${columns.map(() => '---:').join('|')}|`);
  for (const [label, cell] of ROWS) console.log(`| ${label} | ${columns.map((c) => cell(c.stats)).join(' | ')} |`);
}

export async function run(argv: string[]): Promise<void> {
  const users = Number(flag(argv, 'users', '5000'));
  const days = Number(flag(argv, 'days', '14'));
  const seed = Number(flag(argv, 'seed', '42'));
  // ../shared/data beside the checkout (from the repository root, or from dist/bench/reports), unless --data says.
  const candidates = [join(process.cwd(), '../shared/data'), join(__dirname, '../../../../shared/data')];
  const dataDir = flag(argv, 'data', candidates.find((dir) => existsSync(dir)) ?? candidates[0]);
  console.log(`# Demo shop against real samples (${users} users, ${days} days, seed ${seed})`);

  const samples: { name: string; file: string; format: ImportFormat; hours: number }[] = [
    { name: 'Taobao slice', file: 'taobao_userbehavior_timeslice.csv', format: 'taobao', hours: 2 },
    { name: 'REES46 head', file: 'rees46_2019oct_head.csv', format: 'rees46', hours: 3 },
  ];
  const real: (Column & { hours: number })[] = [];
  for (const sample of samples) {
    const path = join(dataDir, sample.file);
    if (!existsSync(path)) {
      console.log(`(${sample.name}: ${path} not found, so it is left out; pass --data DIR to point at the samples)`);
      continue;
    }
    const { events, rejected } = await readSample(path, sample.format);
    if (rejected > 0) console.log(`(${sample.name}: ${rejected} rows the importer rejects are left out)`);
    real.push({ name: sample.name, stats: shopStats(events), hours: sample.hours });
  }

  const shops = SHOP_PROFILES.map((profile: ShopProfile) => ({ profile, shop: createDemoShop({ users, days, seed, profile }) }));
  const windowHours = [...new Set(real.map((column) => column.hours).concat(real.length === 0 ? [2] : []))];
  for (const hours of windowHours) {
    const columns: Column[] = real.filter((column) => column.hours === hours);
    for (const { profile, shop } of shops) {
      const events = dailyWindows(shop.events(), shop.options.startMs, days, 10, hours);
      columns.push({ name: `demo ${profile}, ${hours} h windows`, stats: shopStats(events) });
    }
    printTable(`${hours}-hour windows`, columns);
  }
  printTable(
    `whole period (${days} days)`,
    shops.map(({ profile, shop }) => ({ name: `demo ${profile}`, stats: shopStats(shop.events()) })),
  );
}
