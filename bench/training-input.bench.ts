import { parseArgs, intFlag, stringFlag } from '../src/cli/args';
import { createDataSource } from '../src/db/data-source';
import { loadItemEvents } from '../src/recommend/item-events';
import { trainingInputFingerprint } from '../src/training/training-input';
import { elapsedSeconds } from './support';

/**
 * `npm run bench training-input -- --database fc_bench_funnel_u769231_d14_s1 [--repeat 3]`
 *
 * What `trainModel` pays to fingerprint its training data (src/training/training-input.ts) on an
 * existing shop, against the peer measured in the same run: the first thing every recommender's
 * training does, reading the same range's item events into memory (`loadItemEvents`). Ranges: the
 * last day and the last three days of the shop (peer and ratio), and every event (fingerprint only:
 * reading 10M events into memory is the training itself). Reads only; runs no migration.
 */
export async function run(argv: string[]): Promise<void> {
  const args = parseArgs(argv, { flags: { database: 'string', repeat: 'string' } });
  const name = stringFlag(args, 'database');
  if (!name) throw new Error('--database <name> is required: an existing shop, e.g. the one `npm run bench funnel -- --events 10000000 --reuse` keeps');
  const repeat = intFlag(args, 'repeat', 3, 1);
  const url = new URL(process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test');
  url.pathname = `/${name}`;
  const dataSource = await createDataSource(url.toString(), { poolSize: 2 }).initialize();
  try {
    const [{ events, last }] = await dataSource.query(`SELECT count(*)::bigint AS events, max(ts) AS last FROM events`);
    console.log(`database ${name}: ${Number(events).toLocaleString('en-US')} events, the newest at ${last.toISOString()}; median of ${repeat}`);
    const end = new Date(last.getTime() + 1);
    const day = 86_400_000;
    const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
    async function timeIt(work: () => Promise<unknown>): Promise<number> {
      const seconds: number[] = [];
      for (let i = 0; i < repeat; i++) {
        const started = process.hrtime.bigint();
        await work();
        seconds.push(elapsedSeconds(started));
      }
      return median(seconds);
    }
    for (const [label, from, withPeer] of [
      ['last day', new Date(end.getTime() - day), true],
      ['last 3 days', new Date(end.getTime() - 3 * day), true],
      ['every event', null, false],
    ] as const) {
      const fingerprint = await timeIt(() => trainingInputFingerprint(dataSource, { from, to: from ? end : null }, true));
      if (!withPeer) {
        console.log(`${label.padEnd(12)} fingerprint ${fingerprint.toFixed(2)} s`);
        continue;
      }
      let rows = 0;
      const read = await timeIt(async () => {
        rows = (await loadItemEvents(dataSource, { from, to: end })).items.length;
      });
      console.log(
        `${label.padEnd(12)} fingerprint ${fingerprint.toFixed(2)} s; training read of ${rows.toLocaleString('en-US')} item events ${read.toFixed(2)} s; fingerprint / read = ${(fingerprint / read).toFixed(2)}`,
      );
    }
  } finally {
    await dataSource.destroy();
  }
}
