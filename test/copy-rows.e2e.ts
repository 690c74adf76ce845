/**
 * The mirror's COPY reader in PostgreSQL's binary format (copy-rows.ts `copyRowsInSnapshot`): rows
 * that straddle the stream's chunks, NULLs, negative and 53-bit integers of every width, timestamps
 * before and after PostgreSQL's 2000 epoch, and texts with tabs, newlines, backslashes and
 * non-Latin letters; each checked against values computed here from the row number, and the
 * `beside` COPY against the same rows in the same snapshot.
 */
import { withPgClient } from '../src/db/data-source';
import { to as copyTo } from 'pg-copy-streams';
import { copyRowsInSnapshot, CopyRow, readBinaryCopy } from '../src/funnel/copy-rows';
import { startTestApp, TestApp } from './support/app';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp('copy_rows');
});
afterAll(() => t.stop());

const ROWS = 120_000; // several of the stream's chunks
const TEXTS = ['plain', 'tab\there', 'line\nbreak', 'back\\slash', '浏览 加购', ''];

/** Row n as the SQL below makes it, computed independently. */
function expected(n: number) {
  return {
    big: n % 7 === 0 ? null : (n * 1_000_003 - 50_000_000) * 1_000_003, // within ±2^53
    int: n % 2 === 0 ? 0 - n || 0 : n, // (0, not -0)
    small: (n % 65_536) - 32_768,
    micros: Date.UTC(1999, 11, 31, 23, 0, 0) * 1000 + n * 60_000_001, // crosses 2000-01-01 at n = 59
    text: n % 5 === 0 ? null : `${TEXTS[n % TEXTS.length]}-${'x'.repeat(n % 300)}`,
    top: 2 ** 53 - 1 - n,
  };
}

const SQL = `
  SELECT CASE WHEN n % 7 = 0 THEN NULL ELSE (n * 1000003 - 50000000) * 1000003 END::int8,
         (CASE WHEN n % 2 = 0 THEN -n ELSE n END)::int4,
         ((n % 65536) - 32768)::int2,
         timestamptz '1999-12-31 23:00:00+00' + n * interval '60.000001 seconds',
         CASE WHEN n % 5 = 0 THEN NULL ELSE (ARRAY[${TEXTS.map((text) => `'${text.replace(/'/g, "''")}'`).join(', ')}])[(n % ${TEXTS.length})::int4 + 1] || '-' || repeat('x', (n % 300)::int4) END,
         (9007199254740991 - n)::int8
  FROM generate_series(0::int8, ${ROWS - 1}) AS n ORDER BY n + 0`; // (plain "n" would name the CASE column, which takes its name from n)

function read(row: CopyRow) {
  return {
    big: row.isNull(0) ? null : row.number(0),
    int: row.number(1),
    small: row.number(2),
    micros: row.microseconds(3),
    text: row.isNull(4) ? null : row.text(4),
    top: row.number(5),
  };
}

it('reads every field of rows spread over many chunks, and a beside COPY sees the same snapshot', async () => {
  // standard_conforming_strings is on: backslashes in the literals above are literal.
  const [{ on }]: { on: string }[] = await t.app.services.dataSource.query(`SELECT current_setting('standard_conforming_strings') AS on`);
  expect(on).toBe('on');
  const seen: ReturnType<typeof read>[] = [];
  let besideRows = 0;
  const { rows, snapshot } = await withPgClient(t.app.services.dataSource, (client) =>
    copyRowsInSnapshot(client, SQL, (row) => seen.push(read(row)), {
      sql: `SELECT count(*)::int8 FROM generate_series(1, 3)`,
      onRow: (row) => (besideRows += row.number(0)),
      connect: (work) => withPgClient(t.app.services.dataSource, work),
    }),
  );
  expect(rows).toBe(ROWS);
  expect(besideRows).toBe(3);
  expect(snapshot).toMatch(/^\d+:\d+:/);
  for (let n = 0; n < ROWS; n++) {
    if (n % 997 !== 0 && n > 400) continue; // a sample plus the first rows keeps failures readable
    expect(seen[n]).toEqual(expected(n));
  }
  // And all of them, compactly.
  let mismatches = 0;
  for (let n = 0; n < ROWS; n++) if (JSON.stringify(seen[n]) !== JSON.stringify(expected(n))) mismatches++;
  expect(mismatches).toBe(0);
});

it('decodes the same rows however the stream is cut into chunks', async () => {
  // The real bytes of a smaller result, then fed back cut at every offset in turn, and into single bytes.
  const sql = SQL.replace(String(ROWS - 1), '60');
  const bytes = await withPgClient(t.app.services.dataSource, async (client) => {
    const chunks: Buffer[] = [];
    for await (const chunk of client.query(copyTo(`COPY (${sql}) TO STDOUT (FORMAT binary)`)) as AsyncIterable<Buffer>) chunks.push(chunk);
    return Buffer.concat(chunks);
  });
  const decode = async (pieces: Buffer[]) => {
    const seen: ReturnType<typeof read>[] = [];
    async function* feed() {
      yield* pieces;
    }
    await readBinaryCopy(feed(), (row) => seen.push(read(row)));
    return seen;
  };
  const want = Array.from({ length: 61 }, (_, n) => expected(n));
  expect(await decode([bytes])).toEqual(want);
  for (let cut = 1; cut < bytes.length; cut += 37) expect(await decode([bytes.subarray(0, cut), bytes.subarray(cut)])).toEqual(want);
  expect(await decode(Array.from(bytes, (byte) => Buffer.from([byte])))).toEqual(want);
  // Cut short inside a row, or not binary COPY at all: an error, not fewer rows.
  await expect(decode([bytes.subarray(0, bytes.length - 10)])).rejects.toThrow(/ended inside a row/);
  await expect(decode([Buffer.from('1\t2\n\\.\n')])).rejects.toThrow(/Not a PostgreSQL binary COPY stream/);
});

it('fails, and rolls back, when the beside COPY fails', async () => {
  await expect(
    withPgClient(t.app.services.dataSource, (client) =>
      copyRowsInSnapshot(client, 'SELECT 1::int4', () => undefined, {
        sql: 'SELECT 1 / 0',
        onRow: () => undefined,
        connect: (work) => withPgClient(t.app.services.dataSource, work),
      }),
    ),
  ).rejects.toThrow(/division by zero/);
});
