import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ChdbClient } from '../src/analytics/clickhouse-client';
import { ClickHouseTrainingEvents, sharedClickHouse } from '../src/analytics/clickhouse-training-events';
import { ClickHouseSync } from '../src/analytics/clickhouse-sync';
import { intFlag, parseArgs } from '../src/cli/args';
import { createDemoShop } from '../src/sim';
import { PostgresTrainingEvents, type TrainingEventReader } from '../src/training-events';
import { benchDatabase, elapsedSeconds, loadBenchShop } from './support';

/**
 * `npm run bench training-readers -- [--events 1000000] [--repeat 3]`
 *
 * The training readers' full scans (docs/analytics-store.md, "Training from ClickHouse") from
 * PostgreSQL and from ClickHouse (embedded chdb in a temporary folder) on the demo shop (seed 1, 14
 * days, about 13 events a user): every item event (what the recommenders read), every user's
 * history (the prediction kinds) and the anomaly features of every user-day. The shop is loaded
 * into a scratch PostgreSQL database, copied to ClickHouse by the sync (timed: the first copy a
 * training folder makes), then each read is timed, the median of `--repeat`, ClickHouse's including
 * its catch-up before the read (nothing to copy then), as in a training job. The two stores must
 * return the same number of rows, or the run fails.
 */
export async function run(argv: string[]): Promise<void> {
  const args = parseArgs(argv, { flags: { events: 'string', repeat: 'string' } });
  const events = intFlag(args, 'events', 1_000_000, 1000);
  const repeat = intFlag(args, 'repeat', 3, 1);
  const shop = createDemoShop({ users: Math.max(100, Math.round(events / 13)), days: 14, seed: 1 });
  const db = await benchDatabase('train_readers');
  const folder = mkdtempSync(path.join(tmpdir(), 'funnelcast-bench-readers-'));
  const client = new ChdbClient(folder);
  try {
    let started = process.hrtime.bigint();
    const loaded = await loadBenchShop(db.dataSource, shop);
    await db.dataSource.query('ANALYZE events');
    console.log(`demo shop: ${loaded.imported.toLocaleString('en-US')} events, ${shop.options.users.toLocaleString('en-US')} users, loaded into PostgreSQL in ${elapsedSeconds(started).toFixed(1)} s`);
    const database = 'funnelcast_bench';
    started = process.hrtime.bigint();
    const copied = await new ClickHouseSync(db.dataSource, client, { database, batchSize: 100_000 }).catchUp();
    console.log(`first copy to ClickHouse (chdb): ${copied.events.toLocaleString('en-US')} events in ${elapsedSeconds(started).toFixed(1)} s`);

    const readers: TrainingEventReader[] = [new PostgresTrainingEvents(db.dataSource), new ClickHouseTrainingEvents(db.dataSource, sharedClickHouse(client), { database, batchSize: 100_000 })];
    const to = new Date(shop.options.endMs + 1);
    const scans: [string, (reader: TrainingEventReader) => Promise<number>][] = [
      ['item events', async (reader) => (await reader.itemEvents({ from: null, to })).items.length],
      ['histories', async (reader) => (await reader.histories(null, to)).reduce((sum, history) => sum + history.events.length, 0)],
      ['anomaly features', async (reader) => (await reader.userFeatures({ from: null, to })).events],
    ];
    const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
    console.log(`median of ${repeat}; seconds per full read`);
    for (const [name, scan] of scans) {
      const figures: { engine: string; rows: number; seconds: number }[] = [];
      for (const reader of readers) {
        const seconds: number[] = [];
        let rows = 0;
        for (let n = 0; n < repeat; n++) {
          const start = process.hrtime.bigint();
          rows = await scan(reader);
          seconds.push(elapsedSeconds(start));
        }
        figures.push({ engine: reader.engine, rows, seconds: median(seconds) });
      }
      if (figures[0].rows !== figures[1].rows) throw new Error(`${name}: PostgreSQL read ${figures[0].rows} rows, ClickHouse ${figures[1].rows}`);
      console.log(
        `${name.padEnd(17)} ${figures[0].rows.toLocaleString('en-US').padStart(11)} events  postgres ${figures[0].seconds.toFixed(2)} s  clickhouse ${figures[1].seconds.toFixed(2)} s  clickhouse / postgres ${(figures[1].seconds / figures[0].seconds).toFixed(2)}`,
      );
    }
  } finally {
    await client.close();
    rmSync(folder, { recursive: true, force: true });
    await db.drop();
  }
}
