import type { PoolClient } from 'pg';
import { to as copyTo } from 'pg-copy-streams';

/**
 * Reads the result of `COPY (query) TO STDOUT` (PostgreSQL's text format) row by row without
 * building a JavaScript object per row: the mirror loads tens of millions of rows this way, and
 * the per-row cost of a regular query (objects, type parsers) would dominate the load.
 */
export interface CopyRow {
  /** True when field i is SQL NULL (`\N`). */
  isNull(field: number): boolean;
  /** Field i as a number (integers parsed from the bytes; other forms through Number()). */
  number(field: number): number;
  /** Field i as text, COPY escapes undone. */
  text(field: number): string;
  /** A timestamptz field printed in UTC (`SET timezone = 'UTC'`), as microseconds since the epoch. */
  microseconds(field: number): number;
  /**
   * Each integer of field i in order: an integer array (`{1,2,3}`) or a single integer, read from
   * the bytes without building strings.
   */
  eachInteger(field: number, each: (value: number) => void): void;
}

const TAB = 9;
const NEWLINE = 10;
const BACKSLASH = 92;
const MINUS = 45;

function unescapeCopyText(raw: string): string {
  return raw.replace(/\\(.)/g, (_match, next: string) => {
    switch (next) {
      case 'n':
        return '\n';
      case 'r':
        return '\r';
      case 't':
        return '\t';
      case 'b':
        return '\b';
      case 'f':
        return '\f';
      case 'v':
        return '\v';
      default:
        return next;
    }
  });
}

/** Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's civil-date algorithm). */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yearOfEra = y - era * 400;
  const dayOfYear = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1;
  const dayOfEra = yearOfEra * 365 + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100) + dayOfYear;
  return era * 146_097 + dayOfEra - 719_468;
}

class RowView implements CopyRow {
  buffer: Buffer = Buffer.alloc(0);
  starts: number[] = [];
  ends: number[] = [];

  isNull(field: number): boolean {
    const start = this.starts[field];
    return this.ends[field] - start === 2 && this.buffer[start] === BACKSLASH && this.buffer[start + 1] === 78; // \N
  }

  number(field: number): number {
    const buffer = this.buffer;
    let i = this.starts[field];
    const end = this.ends[field];
    let negative = false;
    if (buffer[i] === MINUS) {
      negative = true;
      i++;
    }
    let value = 0;
    for (; i < end; i++) {
      const digit = buffer[i] - 48;
      if (digit < 0 || digit > 9) return Number(buffer.toString('latin1', this.starts[field], end));
      value = value * 10 + digit;
    }
    return negative ? -value : value;
  }

  microseconds(field: number): number {
    const b = this.buffer;
    const s = this.starts[field];
    const end = this.ends[field];
    const digits = (from: number, count: number): number => {
      let value = 0;
      for (let i = from; i < from + count; i++) value = value * 10 + (b[i] - 48);
      return value;
    };
    // "YYYY-MM-DD HH:MM:SS[.ffffff]+00"; anything else (BC, 5-digit years) takes the slow path.
    if (end - s < 22 || b[s + 4] !== 45 || b[s + 10] !== 32 || b[end - 3] !== 43 || b[end - 2] !== 48 || b[end - 1] !== 48) {
      return Date.parse(this.text(field).replace(' ', 'T').replace(/\+00$/, 'Z')) * 1000;
    }
    let micros = 0;
    if (b[s + 19] === 46) {
      const fractionDigits = end - 3 - (s + 20);
      micros = digits(s + 20, fractionDigits) * 10 ** (6 - fractionDigits);
    }
    const day = daysFromCivil(digits(s, 4), digits(s + 5, 2), digits(s + 8, 2));
    const seconds = day * 86_400 + digits(s + 11, 2) * 3600 + digits(s + 14, 2) * 60 + digits(s + 17, 2);
    return seconds * 1_000_000 + micros;
  }

  eachInteger(field: number, each: (value: number) => void): void {
    const buffer = this.buffer;
    let value = 0;
    let digits = false;
    let negative = false;
    for (let i = this.starts[field], end = this.ends[field]; i < end; i++) {
      const byte = buffer[i];
      if (byte >= 48 && byte <= 57) {
        value = value * 10 + (byte - 48);
        digits = true;
      } else if (byte === MINUS) {
        negative = true;
      } else {
        if (digits) each(negative ? -value : value);
        value = 0;
        digits = false;
        negative = false;
      }
    }
    if (digits) each(negative ? -value : value);
  }

  text(field: number): string {
    const raw = this.buffer.toString('utf8', this.starts[field], this.ends[field]);
    return raw.includes('\\') ? unescapeCopyText(raw) : raw;
  }
}

/**
 * Streams `COPY (sql) TO STDOUT` and calls `onRow` for each row; resolves with the row count. Runs
 * in its own transaction with the time zone set to UTC, which `microseconds()` relies on.
 */
export async function copyRows(client: PoolClient, sql: string, onRow: (row: CopyRow) => void): Promise<number> {
  await client.query('BEGIN');
  try {
    await client.query("SET LOCAL timezone = 'UTC'");
    const rows = await streamRows(client, sql, onRow);
    await client.query('COMMIT');
    return rows;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

/** A COPY to run beside another, in that one's snapshot, on a connection of its own. */
export interface CopyBeside {
  sql: string;
  onRow: (row: CopyRow) => void;
  /** Lends a second connection for the time of `work` (the caller's pool). */
  connect: <T>(work: (client: PoolClient) => Promise<T>) => Promise<T>;
}

/**
 * Like `copyRows`, inside a read-only REPEATABLE READ transaction, and also returns that
 * transaction's snapshot (`pg_current_snapshot()` as text, `xmin:xmax:xip,…`): the COPY sees
 * exactly the rows of the transactions that snapshot counts as committed. A `beside` COPY runs at
 * the same time on a second connection that imports the snapshot (`pg_export_snapshot`), so it sees
 * exactly the same rows; both finish before this resolves, and either failing fails it.
 */
export async function copyRowsInSnapshot(
  client: PoolClient,
  sql: string,
  onRow: (row: CopyRow) => void,
  beside?: CopyBeside,
): Promise<{ rows: number; snapshot: string }> {
  await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
  try {
    await client.query("SET LOCAL timezone = 'UTC'");
    // Catch-ups are small index lookups run before every funnel: compiling them costs more than it saves.
    await client.query('SET LOCAL jit = off');
    // Under REPEATABLE READ every statement uses the snapshot the first one took, this one included.
    const { rows: snapshotRows } = await client.query<{ snapshot: string; exported: string | null }>(
      `SELECT pg_current_snapshot()::text AS snapshot${beside ? ', pg_export_snapshot() AS exported' : ''}`,
    );
    const besideDone = beside
      ? beside.connect(async (other) => {
          await other.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
          try {
            await other.query(`SET TRANSACTION SNAPSHOT '${snapshotRows[0].exported}'`);
            await other.query("SET LOCAL timezone = 'UTC'");
            await streamRows(other, beside.sql, beside.onRow);
            await other.query('COMMIT');
          } catch (error) {
            await other.query('ROLLBACK').catch(() => undefined);
            throw error;
          }
        })
      : Promise.resolve();
    // The exporting transaction stays open until the other has imported its snapshot and finished.
    const [streamed, besideResult] = await Promise.allSettled([streamRows(client, sql, onRow), besideDone]);
    if (streamed.status === 'rejected') throw streamed.reason;
    if (besideResult.status === 'rejected') throw besideResult.reason;
    await client.query('COMMIT');
    return { rows: streamed.value, snapshot: snapshotRows[0].snapshot };
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

async function streamRows(client: PoolClient, sql: string, onRow: (row: CopyRow) => void): Promise<number> {
  const stream = client.query(copyTo(`COPY (${sql}) TO STDOUT`));
  const row = new RowView();
  // The unfinished line so far; a long one (an aggregated array) spans many chunks, joined once.
  let carry: Buffer[] = [];
  let rows = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    if (carry.length > 0 && chunk.indexOf(NEWLINE) < 0) {
      carry.push(chunk);
      continue;
    }
    const buffer: Buffer = carry.length > 0 ? Buffer.concat([...carry, chunk]) : chunk;
    row.buffer = buffer;
    let lineStart = 0;
    for (;;) {
      const lineEnd = buffer.indexOf(NEWLINE, lineStart);
      if (lineEnd < 0) break;
      // Tabs and newlines inside values are escaped in the text format, so raw ones always delimit.
      let field = 0;
      let fieldStart = lineStart;
      for (let i = lineStart; i < lineEnd; i++) {
        if (buffer[i] === TAB) {
          row.starts[field] = fieldStart;
          row.ends[field] = i;
          field++;
          fieldStart = i + 1;
        }
      }
      row.starts[field] = fieldStart;
      row.ends[field] = lineEnd;
      onRow(row);
      rows++;
      lineStart = lineEnd + 1;
    }
    carry = lineStart < buffer.length ? [buffer.subarray(lineStart)] : [];
  }
  return rows;
}
