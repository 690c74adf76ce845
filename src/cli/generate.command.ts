import { createWriteStream } from 'node:fs';
import { UsageError, intFlag, parseArgs, stringFlag } from './args';
import { withDatabase } from './database';
import { generateProgressBar, loadProgressBar, withProgress } from './progress';
import { createDemoShop } from '../sim/generator';
import { loadDemoShop } from '../sim/load';
import { writeLabelsCsv } from '../sim/labels-csv';
import { NdjsonSink } from '../sim/ndjson-sink';
import { startEndingToday } from '../sim/options';
import { SHOP_PROFILES, isShopProfile } from '../sim/profiles';
import { pumpDemoShop, type ShopSink } from '../sim/sink';

const USAGE = `Usage: funnelcast generate [--users N] [--days D] [--seed S] [--items N] [--start ISO]
                           [--profile realistic|classic] [--out FILE | --load] [--labels FILE]

Generates a deterministic synthetic shop as NDJSON: one {"item":…} line per catalog item, then one
event per line (grouped by user, chronological within each user). Same seed and
start, same bytes.

  --users N       visitors, genuine and abnormal (default 10000)
  --days D        length of the period in days (default 14)
  --seed S        random seed, a whole number (default 1)
  --items N       catalog size (default max(50, 2 × users); max(50, users / 4) for classic)
  --start ISO     first instant of the period (default: D days before the last UTC midnight,
                  so the shop ends today; pass a date for byte-identical output on any day)
  --profile P     realistic (default: fitted to real shops' statistics, docs/demo-shop.md) or
                  classic (the earlier shop: small catalogue, long sessions, more purchases)
  --out FILE      write here instead of stdout
  --load          load straight into the database at DATABASE_URL (through the importer's COPY path)
  --labels FILE   also write ground-truth labels as CSV: user_id,label (genuine|click_farm|fake_order)
  --help          show this text`;

const FLAGS = {
  users: 'string',
  days: 'string',
  seed: 'string',
  items: 'string',
  start: 'string',
  profile: 'string',
  out: 'string',
  labels: 'string',
  load: 'boolean',
} as const;

export async function run(argv: string[]): Promise<number> {
  try {
    const args = parseArgs(argv, { flags: FLAGS });
    if (args.flags.help) {
      console.log(USAGE);
      return 0;
    }
    const itemsFlag = stringFlag(args, 'items');
    const profile = stringFlag(args, 'profile') ?? 'realistic';
    if (!isShopProfile(profile)) throw new UsageError(`--profile must be one of ${SHOP_PROFILES.join(', ')} (got ${profile})`);
    const shop = createDemoShop({
      profile,
      users: intFlag(args, 'users', 10_000, 1),
      days: intFlag(args, 'days', 14, 1),
      seed: intFlag(args, 'seed', 1, 0),
      items: itemsFlag === undefined ? undefined : intFlag(args, 'items', 0, 1),
      start: stringFlag(args, 'start') ?? startEndingToday(intFlag(args, 'days', 14, 1)),
    });
    const out = stringFlag(args, 'out');
    if (out && args.flags.load) throw new UsageError('use either --out FILE or --load, not both');
    const startedAt = process.hrtime.bigint();
    if (args.flags.load) {
      const summary = await withProgress(loadProgressBar(shop), (onProgress) => withDatabase((dataSource) => loadDemoShop(dataSource, shop, onProgress)));
      const labelsFile = stringFlag(args, 'labels');
      if (labelsFile) await writeLabelsCsv(shop, createWriteStream(labelsFile));
      const seconds = Number(process.hrtime.bigint() - startedAt) / 1e9;
      console.error(
        `loaded ${summary.imported} events (${summary.duplicates} already stored, ${summary.rejected} rejected) and ` +
          `${summary.itemsUpserted} items in ${seconds.toFixed(2)} s, ${Math.round(summary.rowsRead / seconds)} rows/s`,
      );
      return summary.rejected === 0 ? 0 : 1;
    }
    // `--load` (the importer's database sink) plugs in here: any ShopSink will do.
    const sink: ShopSink = out ? new NdjsonSink(createWriteStream(out, { highWaterMark: 1 << 20 })) : new NdjsonSink(process.stdout, false);
    // No bar when the events themselves go to the terminal.
    const bar = out || !process.stdout.isTTY ? generateProgressBar(shop) : null;
    const report = await withProgress(bar, (onBatch) => pumpDemoShop(shop, sink, undefined, onBatch));
    const labelsFile = stringFlag(args, 'labels');
    if (labelsFile) await writeLabelsCsv(shop, createWriteStream(labelsFile));
    const seconds = Number(process.hrtime.bigint() - startedAt) / 1e9;
    console.error(
      `generated ${report.events} events for ${report.users} users (${report.labels.click_farm} click-farm bots, ` +
        `${report.labels.fake_order} fake-order accounts) and ${report.items} items in ${seconds.toFixed(2)} s, ` +
        `${Math.round(report.events / seconds)} events/s`,
    );
    return 0;
  } catch (error) {
    if (error instanceof UsageError || error instanceof RangeError) {
      console.error(`${error.message}\n\n${USAGE}`);
      return 2;
    }
    // The reader went away (`generate | head`): nothing left to do, and nothing went wrong here.
    if ((error as NodeJS.ErrnoException).code === 'EPIPE') return 0;
    throw error;
  }
}
