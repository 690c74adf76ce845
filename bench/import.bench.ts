import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { cpus } from 'node:os';
import path from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Client } from 'pg';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import type { DataSource } from 'typeorm';
import { intFlag, parseArgs, stringFlag } from '../src/cli/args';
import { openDatabase, withPgClient } from '../src/db/data-source';
import { importFile, type ImportFormat } from '../src/events/import/import.service';

/**
 * `npm run bench import [--repeat N] [--data DIR]`
 *
 * Times `importFile` on the public samples against its floor: a raw COPY of the very rows the import
 * stored (user and item ids already resolved, properties already JSON) into an empty copy of
 * `events` with the same indexes. The ratio is what parsing, validation, dictionaries, staging and
 * the duplicate check cost on top of PostgreSQL's own bulk load.
 */
const SAMPLES: { format: ImportFormat; file: string }[] = [
  { format: 'taobao', file: 'taobao_userbehavior_timeslice.csv' },
  { format: 'rees46', file: 'rees46_2019oct_head.csv' },
];

const EVENT_COLUMNS = 'event_id, user_id, session_id, type, item_id, ts, props';

interface Run {
  rows: number;
  importSeconds: number;
  rerunSeconds: number;
  copySeconds: number;
}

async function withFreshDatabase<T>(work: (dataSource: DataSource) => Promise<T>): Promise<T> {
  const serverUrl = process.env.DATABASE_URL ?? process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
  const name = `bench_import_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
  const admin = new Client({ connectionString: serverUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE "${name}"`);
    const url = new URL(serverUrl);
    url.pathname = `/${name}`;
    const dataSource = await openDatabase(url.toString(), { poolSize: 2 });
    try {
      return await work(dataSource);
    } finally {
      await dataSource.destroy();
    }
  } finally {
    await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    await admin.end();
  }
}

/** The stored events as COPY text, held in memory so the timed COPY reads nothing from disk. */
async function storedEventRows(dataSource: DataSource): Promise<Buffer[]> {
  const chunks: Buffer[] = [];
  await withPgClient(dataSource, (client) =>
    pipeline(
      client.query(copyTo(`COPY (SELECT ${EVENT_COLUMNS} FROM events ORDER BY id) TO STDOUT`)),
      new Writable({
        write(chunk: Buffer, _encoding, done) {
          chunks.push(chunk);
          done();
        },
      }),
    ),
  );
  return chunks;
}

async function timeRawCopy(dataSource: DataSource, rows: Buffer[]): Promise<number> {
  return withPgClient(dataSource, async (client) => {
    await client.query('DROP TABLE IF EXISTS events_raw_copy');
    // LIKE … INCLUDING ALL brings the same indexes (primary key, unique event_id, (user, ts, id), BRIN on ts).
    await client.query('CREATE TABLE events_raw_copy (LIKE events INCLUDING ALL)');
    const started = process.hrtime.bigint();
    await pipeline(Readable.from(rows), client.query(copyFrom(`COPY events_raw_copy (${EVENT_COLUMNS}) FROM STDIN`)));
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    await client.query('DROP TABLE events_raw_copy');
    return seconds;
  });
}

async function measure(dataSource: DataSource, format: ImportFormat, file: string): Promise<Run> {
  await dataSource.query('TRUNCATE events, users, items RESTART IDENTITY');
  await dataSource.query('CHECKPOINT');
  const first = await importFile(dataSource, format, file);
  const rerun = await importFile(dataSource, format, file);
  if (rerun.imported !== 0) throw new Error(`a re-run imported ${rerun.imported} rows; expected none`);
  const rows = await storedEventRows(dataSource);
  await dataSource.query('CHECKPOINT');
  const copySeconds = await timeRawCopy(dataSource, rows);
  return { rows: first.imported, importSeconds: first.seconds, rerunSeconds: rerun.seconds, copySeconds };
}

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const perSecond = (rows: number, seconds: number): string => Math.round(rows / seconds).toLocaleString('en-US').padStart(9);

export async function run(argv: string[]): Promise<void> {
  const args = parseArgs(argv, { flags: { repeat: 'string', data: 'string' } });
  const repeat = intFlag(args, 'repeat', 3, 1);
  const dataDir = path.resolve(stringFlag(args, 'data') ?? path.resolve(process.cwd(), '../shared/data'));
  const samples = SAMPLES.filter((s) => existsSync(path.join(dataDir, s.file)));
  if (samples.length === 0) {
    console.log(`Skipping the import benchmark: no sample files in ${dataDir} (pass --data DIR).`);
    return;
  }
  console.log(`import benchmark: ${cpus().length} CPUs, ${repeat} runs per file, medians (best in brackets)\n`);
  await withFreshDatabase(async (dataSource) => {
    const [{ version }] = await dataSource.query('SELECT version()');
    console.log(`${String(version).split(' on ')[0]}, Node ${process.version}\n`);
    console.log('file                               rows   import rows/s   re-run rows/s   raw COPY rows/s   import ÷ COPY');
    for (const sample of samples) {
      const runs: Run[] = [];
      for (let i = 0; i < repeat; i++) runs.push(await measure(dataSource, sample.format, path.join(dataDir, sample.file)));
      const rows = runs[0].rows;
      const importS = median(runs.map((r) => r.importSeconds));
      const rerunS = median(runs.map((r) => r.rerunSeconds));
      const copyS = median(runs.map((r) => r.copySeconds));
      const bestImport = Math.min(...runs.map((r) => r.importSeconds));
      const bestCopy = Math.min(...runs.map((r) => r.copySeconds));
      console.log(
        `${sample.file.padEnd(34)} ${rows.toLocaleString('en-US').padStart(7)}  ${perSecond(rows, importS)} (${perSecond(rows, bestImport).trim()})` +
          `  ${perSecond(rows, rerunS)}   ${perSecond(rows, copyS)} (${perSecond(rows, bestCopy).trim()})` +
          `   ${(importS / copyS).toFixed(2)}× (best ${(bestImport / bestCopy).toFixed(2)}×)`,
      );
    }
  });
}
