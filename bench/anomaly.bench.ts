import { parseArgs, stringFlag } from '../src/cli/args';
import { createDataSource } from '../src/db/data-source';
import { fitIsolation, fitStatistical, scoreIsolation, scoreStatistical, scoreSupervised, supervisedInputs, SUPERVISED_DIMENSIONS } from '../src/anomaly/detectors';
import { extractUserFeatures } from '../src/anomaly/feature-extraction';
import { ISOLATION_FOREST_DEFAULTS } from '../src/anomaly/isolation-forest';
import { Rng } from '../src/ml/random';
import { elapsedSeconds, rate } from './support';

/**
 * `npm run bench anomaly [--database URL]`: per-(user, UTC day) feature extraction (COPY stream of
 * every event in (user, ts, id) order) and scoring throughput on the 10M-event demo shop, read-only. The peer is
 * the bare COPY of the same rows discarded unread, so the ratio shows what feature extraction adds
 * on top of getting the events out of PostgreSQL.
 */
export async function run(argv: string[]): Promise<void> {
  const args = parseArgs(argv, { flags: { database: 'string' } });
  const url = stringFlag(args, 'database') ?? process.env.BENCH_10M_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/fc_10m';
  // Read-only: no migrations are applied to the shared 10M-event database.
  const dataSource = await createDataSource(url, { poolSize: 2 }).initialize();
  try {
    const to = new Date('2100-01-01T00:00:00Z');
    let started = process.hrtime.bigint();
    const table = await extractUserFeatures(dataSource, { from: null, to });
    const extractSeconds = elapsedSeconds(started);
    console.log(`feature extraction: ${table.rows.toLocaleString('en-US')} user-days of ${table.users.toLocaleString('en-US')} users, ${table.events.toLocaleString('en-US')} events in ${extractSeconds.toFixed(1)} s → ${rate(table.rows, extractSeconds)} user-days, ${rate(table.events, extractSeconds)} events`);

    started = process.hrtime.bigint();
    const statistical = fitStatistical(table);
    const fitStatSeconds = elapsedSeconds(started);
    started = process.hrtime.bigint();
    const statScores = scoreStatistical(statistical, table);
    const statSeconds = elapsedSeconds(started);
    console.log(`statistical: fit (medians, MADs) ${fitStatSeconds.toFixed(2)} s; scoring ${rate(table.rows, statSeconds)} user-days`);

    started = process.hrtime.bigint();
    const isolation = fitIsolation(table, ISOLATION_FOREST_DEFAULTS, Rng.stream(42));
    const fitIsoSeconds = elapsedSeconds(started);
    started = process.hrtime.bigint();
    const isoScores = scoreIsolation(isolation, table);
    const isoSeconds = elapsedSeconds(started);
    console.log(`isolation forest (100 trees, ψ 256): fit incl. scoring the population for calibration ${fitIsoSeconds.toFixed(2)} s; scoring ${rate(table.rows, isoSeconds)} user-days`);

    started = process.hrtime.bigint();
    const inputs = supervisedInputs(statistical, table, statScores, isoScores);
    const regression = {
      mean: new Array<number>(SUPERVISED_DIMENSIONS).fill(0),
      scale: new Array<number>(SUPERVISED_DIMENSIONS).fill(1),
      weights: [-1, ...Array.from({ length: SUPERVISED_DIMENSIONS }, (_, d) => (d % 3) - 1)],
    };
    scoreSupervised({ regression, labelled: { positives: 0, negatives: 0 } }, inputs, table.rows);
    const supSeconds = elapsedSeconds(started);
    console.log(`supervised (inputs + logistic regression): scoring ${rate(table.rows, supSeconds)} user-days`);

    started = process.hrtime.bigint();
    const [{ n }]: { n: string }[] = await dataSource.query(`SELECT count(*) AS n FROM (SELECT e.user_id, e.ts, e.type, e.session_id, e.item_id, i.category, e.props->>'device', e.props->>'ip' FROM events e LEFT JOIN items i ON i.id = e.item_id ORDER BY e.user_id, e.ts, e.id) s`);
    const scanSeconds = elapsedSeconds(started);
    console.log(`peer: the same ordered scan counted inside PostgreSQL: ${Number(n).toLocaleString('en-US')} rows in ${scanSeconds.toFixed(1)} s; extraction takes ${(extractSeconds / scanSeconds).toFixed(2)}× as long`);
    const total = extractSeconds + statSeconds + isoSeconds + supSeconds;
    console.log(`end to end (extract + score all three): ${rate(table.rows, total)} user-days`);
  } finally {
    await dataSource.destroy();
  }
}
