import { ClickHouseAnalytics } from '../analytics/clickhouse-analytics';
import { tableName } from '../analytics/clickhouse-schema';
import { ClickHouseSync } from '../analytics/clickhouse-sync';
import { config } from '../config';
import { parseArgs } from './args';
import { withDatabase } from './database';

const USAGE = `Usage: funnelcast clickhouse-backfill [--reset]

Copies every event of DATABASE_URL that ClickHouse does not have yet (all of them the first time)
into ClickHouse, in commit order and in batches of FUNNELCAST_CLICKHOUSE_SYNC_BATCH, and prints
progress. ClickHouse is the server at FUNNELCAST_CLICKHOUSE_URL or, without one, embedded chdb in
FUNNELCAST_CLICKHOUSE_PATH; FUNNELCAST_ANALYTICS need not be set yet (run this before switching).
Safe to run again or to interrupt: it resumes from the last complete copy, and an event copied
twice is stored once.

  --reset   empty ClickHouse's copy first and copy everything again (after TRUNCATE events, or a
            restore of PostgreSQL from a dump)`;

/** `funnelcast clickhouse-backfill`: bring ClickHouse's copy of the events up to date (docs/analytics-store.md). */
export async function run(argv: string[]): Promise<number> {
  const { flags } = parseArgs(argv, { flags: { reset: 'boolean' } });
  if (flags.help) {
    console.log(USAGE);
    return 0;
  }
  const settings = config();
  await withDatabase(async (dataSource) => {
    const analytics = ClickHouseAnalytics.fromConfig(dataSource, settings);
    try {
      const { sync, client } = analytics;
      await sync.ready();
      if (flags.reset) {
        await client.command(`TRUNCATE TABLE ${tableName(settings.clickhouseDatabase, 'events')}`);
        await client.command(`TRUNCATE TABLE ${tableName(settings.clickhouseDatabase, 'sync_position')}`);
        console.log(`Emptied ClickHouse's copy of the events (${client.description}).`);
      }
      const started = performance.now();
      const progress = new ClickHouseSync(dataSource, client, {
        database: settings.clickhouseDatabase,
        batchSize: settings.clickhouseSyncBatch,
        deletionLogDays: settings.clickhouseDeletionLogDays,
        onBatch: ({ events, deletions }) => process.stdout.write(`\r${events.toLocaleString('en')} events, ${deletions.toLocaleString('en')} deletions copied`),
      });
      const copied = await progress.catchUp();
      const [{ stored }] = await client.query<{ stored: number }>(`SELECT count() AS stored FROM ${tableName(settings.clickhouseDatabase, 'events')} FINAL`);
      const seconds = Math.round(performance.now() - started) / 1000;
      console.log(
        `\nCopied ${copied.events.toLocaleString('en')} events and ${copied.deletions.toLocaleString('en')} deletions in ${seconds} s; ` +
          `ClickHouse (${client.description}) now holds ${Number(stored).toLocaleString('en')} events.`,
      );
    } finally {
      await analytics.close();
    }
  });
  return 0;
}
