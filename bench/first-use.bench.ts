import { cpus } from 'node:os';
import { parseArgs, stringFlag } from '../src/cli/args';
import { openDatabase } from '../src/db/data-source';
import { EventMirror } from '../src/funnel/event-mirror';
import { elapsedSeconds } from './support';

/**
 * `npm run bench first-use -- --database NAME [--keys device,channel,category]`
 *
 * The funnel event mirror's load, then the first use of property keys and of sessions: a key's
 * column is derived from the properties column read at load (or, past FUNNELCAST_MIRROR_PROPS_LIMIT
 * distinct objects, read from PostgreSQL); sessions are read at load. Each first use is timed right
 * after its peer, PostgreSQL's own scan of the same rows (`SELECT count(*) FROM events WHERE props ?
 * key`, nothing sent back), and the ratio printed; also a catch-up with nothing new. Run it on a copy of the 10M-event bench shop
 * (`createdb -T fc_bench_funnel_… copy`): opening a database applies pending migrations. Reads only.
 */
export async function run(argv: string[]): Promise<void> {
  const args = parseArgs(argv, { flags: { database: 'string', keys: 'string' } });
  const database = stringFlag(args, 'database');
  if (!database) throw new Error('--database NAME is required (a copy of the bench shop; migrations are applied to it)');
  const keys = (stringFlag(args, 'keys') ?? 'device,channel,category').split(',').filter((key) => key !== '');
  process.env.LOG_LEVEL ??= 'warn';
  const serverUrl = new URL(process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test');
  serverUrl.pathname = `/${database}`;
  const dataSource = await openDatabase(serverUrl.toString(), { poolSize: 4 });
  const timed = async (work: () => Promise<unknown>): Promise<number> => {
    const started = process.hrtime.bigint();
    await work();
    return elapsedSeconds(started);
  };
  try {
    console.log(`machine: ${cpus().length} × ${cpus()[0]?.model ?? 'CPU'}, Node ${process.version}`);
    const mirror = new EventMirror(dataSource);
    const load = await timed(() => mirror.sync());
    console.log(`mirror load: ${mirror.eventCount.toLocaleString('en-US')} events in ${load.toFixed(1)} s`);
    // A catch-up with nothing new: one REPEATABLE READ transaction and an index lookup on events.tx.
    const idle: number[] = [];
    for (let i = 0; i < 5; i++) idle.push(await timed(() => mirror.sync()));
    console.log(`catch-up with nothing new: ${idle.map((seconds) => (seconds * 1000).toFixed(1)).join(', ')} ms\n`);
    const cases = [
      ...keys.map((key) => ({ label: `property "${key}"`, present: `props ? '${key.replace(/'/g, "''")}'`, needs: { propertyKeys: [key] } })),
      { label: 'sessions', present: 'session_id IS NOT NULL', needs: { sessions: true } },
    ];
    for (const { label, present, needs } of cases) {
      let rows = 0;
      const peer = await timed(async () => {
        const [row]: { rows: string }[] = await dataSource.query(`SELECT count(*) AS rows FROM events WHERE ${present}`);
        rows = Number(row.rows);
      });
      const ours = await timed(() => mirror.snapshot(needs));
      console.log(
        `${`first use of ${label}`.padEnd(34)} ${ours.toFixed(2).padStart(6)} s   PostgreSQL count(*) of its ${rows.toLocaleString('en-US')} rows ${peer.toFixed(2).padStart(6)} s   ratio ${(ours / peer).toFixed(2)}×`,
      );
    }
  } finally {
    await dataSource.destroy();
  }
}
