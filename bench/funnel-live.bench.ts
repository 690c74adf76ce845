import { cpus } from 'node:os';
import path from 'node:path';
import { intFlag, parseArgs, stringFlag, UsageError } from '../src/cli/args';
import { openDatabase } from '../src/db/data-source';
import { EventService, IncomingEvent } from '../src/events/event.service';
import type { FunnelSpec } from '../src/funnel/funnel-definition';
import { FunnelService } from '../src/funnel/funnel.service';
import { Rng } from '../src/ml/random';
import { elapsedSeconds } from './support';

/**
 * `npm run bench funnel-live -- --database NAME [--rate 1000] [--rounds 3] [--seconds 20] [--idle 3] [--fresh 2] [--before DIR]`
 *
 * Issue #12's "freshness at scale": the 4-step funnel of `npm run bench funnel` (view → cart →
 * checkout → purchase, 7 days, per user) over the whole range, timed back to back (a) idle and
 * (b) while events arrive at `--rate` events/s through the real ingest path (EventService, what the
 * `ingestEvents` mutation calls) in the same process, as in the API; and (c) the first funnel after
 * one new event. Idle and live windows alternate for `--rounds` rounds (`--idle` funnels, then
 * `--seconds` of ingest, then `--fresh` single events), so a busy machine's drift weighs on both
 * alike; before each idle window the mirror is compacted, so idle means one segment. Printed: p50 /
 * p99 of each, and the ratios against the idle p50 of the same run (the issue's goal: p50 under
 * ingest ≤ 1.25 × idle p50).
 *
 * `--before DIR`: the same, afterwards, with the FunnelService of another build (DIR/dist, e.g. a
 * checkout of the commit before the mirror had segments), as a peer.
 *
 * The bench WRITES events, so `--database` must be a copy of a bench shop, never the shared one:
 *   createdb -h 127.0.0.1 -U postgres -T fc_bench_funnel_u769231_d14_s1 fc_live_copy
 * Ingested events are existing users' (sampled from `users`) plus a few new ones, with timestamps
 * inside the shop's range, so every batch changes some users' histories (late events) and the
 * funnel's answer. They are deleted again at the end, so the copy can be reused.
 */
const STEPS = ['view', 'cart', 'checkout', 'purchase'];
const WINDOW_SECONDS = 7 * 86_400;
/** Ingest sends a batch this often (a shop's clients send small batches all the time). */
const BATCH_INTERVAL_MS = 100;
const EVENT_PREFIX = 'bench-live-';

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const h = (sorted.length - 1) * p;
  const lower = Math.floor(h);
  const upper = Math.min(lower + 1, sorted.length - 1);
  return sorted[lower] + (h - lower) * (sorted[upper] - sorted[lower]);
}

const ms = (seconds: number) => `${(seconds * 1000).toFixed(0).padStart(6)} ms`;

/** What the bench needs of a FunnelService, this build's or an earlier one's. */
interface Funnels {
  funnel(spec: FunnelSpec): Promise<unknown>;
  close(): Promise<void>;
  mirror: { sync(): Promise<void>; eventCount: number; compact?: () => Promise<void>; stats?: { compactions: number; deltaRows: number; deltaUsers: number } };
}

interface Settings {
  rate: number;
  rounds: number;
  seconds: number;
  idleRuns: number;
  freshRuns: number;
}

export async function run(argv: string[]): Promise<void> {
  const args = parseArgs(argv, { flags: { database: 'string', rate: 'string', rounds: 'string', seconds: 'string', idle: 'string', fresh: 'string', before: 'string' } });
  const database = stringFlag(args, 'database');
  if (!database) throw new UsageError('--database NAME is required: a copy of a bench shop that this bench may write into (see the file header).');
  if (/^fc_bench_funnel_/.test(database)) throw new UsageError(`${database} is a shared bench shop; copy it (createdb -T) and pass the copy.`);
  const settings: Settings = {
    rate: intFlag(args, 'rate', 1000, 1),
    rounds: intFlag(args, 'rounds', 3, 1),
    seconds: intFlag(args, 'seconds', 20, 1),
    idleRuns: intFlag(args, 'idle', 3, 1),
    freshRuns: intFlag(args, 'fresh', 2, 1),
  };
  const before = stringFlag(args, 'before');
  process.env.LOG_LEVEL ??= 'warn';
  const serverUrl = new URL(process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test');
  serverUrl.pathname = `/${database}`;
  const dataSource = await openDatabase(serverUrl.toString(), { poolSize: 6 });
  try {
    await dataSource.query('DELETE FROM events WHERE event_id LIKE $1', [`${EVENT_PREFIX}%`]);
    const [range]: { from: Date; to: Date }[] = await dataSource.query(
      `SELECT date_trunc('day', min(ts)) AS "from", date_trunc('day', max(ts)) + interval '1 day' AS "to" FROM events`,
    );
    console.log(`database ${database}; funnel: ${STEPS.join(' → ')}, 7-day window, per user, over [${range.from.toISOString()}, ${range.to.toISOString()})`);
    console.log(`machine: ${cpus().length} × ${cpus()[0]?.model ?? 'CPU'}, Node ${process.version}`);
    const users: { external_id: string }[] = await dataSource.query('SELECT external_id FROM users ORDER BY random() LIMIT 200000');
    const events = new EventService(dataSource, { maxBatch: 10_000, maxPropertiesBytes: 16_384 });
    const spec: FunnelSpec = { steps: STEPS.map((type) => ({ type })), conversionWindowSeconds: WINDOW_SECONDS, from: range.from, to: range.to };
    const random = Rng.stream(12);
    const spanMs = range.to.getTime() - range.from.getTime();
    let written = 0;
    const newEvents = (count: number): IncomingEvent[] =>
      Array.from({ length: count }, () => {
        const n = written++;
        // One event in 50 from a new user; the rest from existing users, anywhere in the range.
        const userId = n % 50 === 0 ? `${EVENT_PREFIX}user-${n}` : users[Math.floor(random.next() * users.length)].external_id;
        return {
          eventId: `${EVENT_PREFIX}${n}`,
          type: STEPS[Math.floor(random.next() * random.next() * STEPS.length)],
          userId,
          timestamp: range.from.getTime() + Math.floor(random.next() * spanMs),
        };
      });

    const ours = await measure('this build', new FunnelService(dataSource), spec, settings, (count) => events.ingest(newEvents(count)));
    if (before) {
      // The peer starts from the same events.
      await dataSource.query('DELETE FROM events WHERE event_id LIKE $1', [`${EVENT_PREFIX}%`]);
      const { FunnelService: BeforeService } = (await import(path.resolve(before, 'dist/src/funnel/funnel.service.js'))) as {
        FunnelService: new (dataSource: unknown) => Funnels;
      };
      const theirs = await measure(`before (${before})`, new BeforeService(dataSource), spec, settings, (count) => events.ingest(newEvents(count)));
      console.log(`\nthis build / before: idle p50 ${(ours.idle / theirs.idle).toFixed(2)}×, p50 under ingest ${(ours.live / theirs.live).toFixed(2)}×, after one event ${(ours.fresh / theirs.fresh).toFixed(2)}×`);
    }
  } finally {
    await dataSource.query('DELETE FROM events WHERE event_id LIKE $1', [`${EVENT_PREFIX}%`]).catch(() => undefined);
    await dataSource.query('DELETE FROM users WHERE external_id LIKE $1', [`${EVENT_PREFIX}%`]).catch(() => undefined);
    await dataSource.destroy();
  }
}

/** Rounds of idle funnels, funnels under ingest, and funnels right after one event; prints and returns the p50s. */
async function measure(
  label: string,
  funnels: Funnels,
  spec: FunnelSpec,
  settings: Settings,
  ingest: (count: number) => Promise<{ accepted: number }>,
): Promise<{ idle: number; live: number; fresh: number }> {
  const { rate, rounds, seconds, idleRuns, freshRuns } = settings;
  const timedFunnel = async (): Promise<number> => {
    const started = process.hrtime.bigint();
    await funnels.funnel(spec);
    return elapsedSeconds(started);
  };
  try {
    console.log(`\n${label}:`);
    const loadStarted = process.hrtime.bigint();
    await funnels.mirror.sync();
    console.log(`mirror loaded: ${funnels.mirror.eventCount.toLocaleString('en-US')} events in ${elapsedSeconds(loadStarted).toFixed(1)} s`);
    await timedFunnel(); // workers started, JIT warm

    const idle: number[] = [];
    const live: number[] = [];
    const fresh: number[] = [];
    let ingested = 0;
    let liveSeconds = 0;
    const perBatch = Math.max(1, Math.round((rate * BATCH_INTERVAL_MS) / 1000));
    for (let round = 0; round < rounds; round++) {
      await funnels.mirror.compact?.();
      for (let i = 0; i < idleRuns; i++) idle.push(await timedFunnel());

      // Funnels back to back while ingest runs at `rate`.
      let ingestError: unknown = null;
      let stopping = false;
      const ingestLoop = (async () => {
        const started = Date.now();
        let sent = 0;
        while (!stopping) {
          // Catch up with the schedule after a slow batch, so the rate holds on average.
          const due = Math.floor(((Date.now() - started) / 1000) * rate);
          const count = Math.min(Math.max(due - sent, perBatch), 10 * perBatch);
          sent += count;
          try {
            ingested += (await ingest(count)).accepted;
          } catch (error) {
            ingestError = error;
            return;
          }
          const wait = started + (sent / rate) * 1000 - Date.now();
          if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
        }
      })();
      const liveStarted = process.hrtime.bigint();
      await new Promise((resolve) => setTimeout(resolve, 1000)); // the ingest reaches its pace first
      while (elapsedSeconds(liveStarted) < seconds && ingestError === null) live.push(await timedFunnel());
      stopping = true;
      await ingestLoop;
      liveSeconds += elapsedSeconds(liveStarted);
      if (ingestError) throw ingestError;

      // The first funnel after one new event (a late event of an existing user).
      for (let i = 0; i < freshRuns; i++) {
        await ingest(1);
        fresh.push(await timedFunnel());
      }
    }

    const idleP50 = percentile(idle, 0.5);
    const line = (name: string, values: number[]) =>
      `${name.padEnd(46)} p50 ${ms(percentile(values, 0.5))}   p99 ${ms(percentile(values, 0.99))}   (${values.length} runs)`;
    console.log(line('(a) idle', idle));
    console.log(line(`(b) while ingesting ${rate.toLocaleString('en-US')} events/s`, live));
    console.log(line('(c) first funnel after one new event', fresh));
    console.log(`ingest: ${ingested.toLocaleString('en-US')} events in ${liveSeconds.toFixed(0)} s of live windows = ${Math.round(ingested / liveSeconds).toLocaleString('en-US')}/s`);
    const stats = funnels.mirror.stats;
    if (stats) console.log(`mirror: ${stats.compactions} compactions; delta at the end ${stats.deltaRows.toLocaleString('en-US')} rows of ${stats.deltaUsers.toLocaleString('en-US')} users`);
    console.log(
      `ratios: under ingest p50 / idle p50 = ${(percentile(live, 0.5) / idleP50).toFixed(2)}× (goal ≤ 1.25×), p99 / idle p50 = ${(percentile(live, 0.99) / idleP50).toFixed(2)}×, ` +
        `after one event / idle p50 = ${(percentile(fresh, 0.5) / idleP50).toFixed(2)}×`,
    );
    return { idle: idleP50, live: percentile(live, 0.5), fresh: percentile(fresh, 0.5) };
  } finally {
    await funnels.close();
  }
}
