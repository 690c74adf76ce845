import type { PoolClient } from 'pg';
import { to as copyTo } from 'pg-copy-streams';

/**
 * Reads the result of `COPY (query) TO STDOUT` row by row without building a JavaScript object per
 * row: the mirror loads tens of millions of rows this way, and the per-row cost of a regular query
 * (objects, type parsers) would dominate the load. Two wire formats: PostgreSQL's text format
 * (`copyRows`), and its binary format (`copyRowsInSnapshot`, the mirror's catch-ups and first load),
 * where every field comes with its length and integers and timestamps as fixed-width big-endian
 * numbers, so nothing is scanned for delimiters or parsed from digits.
 */
export interface CopyRow {
  /** True when field i is SQL NULL (`\N`). */
  isNull(field: number): boolean;
  /**
   * Field i as a number. Text format: integers parsed from the bytes, other forms through Number().
   * Binary format: a smallint, integer or bigint (by the field's width; a bigint must lie within
   * ±2^53, as ids and the mirror's 53-bit hashes do, or it loses its low bits).
   */
  number(field: number): number;
  /** Field i as text (text format: COPY escapes undone; binary format: a text-typed column's UTF-8). */
  text(field: number): string;
  /** A timestamptz field as microseconds since the epoch (text format: printed in UTC, `SET timezone = 'UTC'`). */
  microseconds(field: number): number;
  /**
   * Each integer of field i in order: an integer array (`{1,2,3}`) or a single integer, read from
   * the bytes without building strings. Text format only.
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

/** Microseconds from the Unix epoch to PostgreSQL's (2000-01-01 00:00 UTC), where binary timestamps count from. */
const PG_EPOCH_MICROS = 946_684_800_000_000;
/** "PGCOPY\n\xff\r\n\0", then 32-bit flags and a 32-bit header extension length. */
const BINARY_SIGNATURE = Buffer.from([0x50, 0x47, 0x43, 0x4f, 0x50, 0x59, 0x0a, 0xff, 0x0d, 0x0a, 0x00]);

/** A row of a binary COPY: also its fields' raw bytes, for callers that intern them without making strings. */
export interface BinaryCopyRow extends CopyRow {
  /** The bytes of field i are buffer[start(i), start(i) + length(i)); length -1 is NULL. */
  readonly buffer: Buffer;
  start(field: number): number;
  length(field: number): number;
}

class BinaryRowView implements BinaryCopyRow {
  buffer: Buffer = Buffer.alloc(0);
  /** Start of field i's bytes; -1 for NULL. */
  starts: number[] = [];
  lengths: number[] = [];

  isNull(field: number): boolean {
    return this.lengths[field] < 0;
  }

  number(field: number): number {
    const b = this.buffer;
    const s = this.starts[field];
    switch (this.lengths[field]) {
      case 8:
        // High word signed, low word unsigned: exact for |value| < 2^53.
        return ((b[s] << 24) | (b[s + 1] << 16) | (b[s + 2] << 8) | b[s + 3]) * 4_294_967_296 + (((b[s + 4] << 24) | (b[s + 5] << 16) | (b[s + 6] << 8) | b[s + 7]) >>> 0);
      case 4:
        return (b[s] << 24) | (b[s + 1] << 16) | (b[s + 2] << 8) | b[s + 3];
      case 2:
        return ((b[s] << 24) | (b[s + 1] << 16)) >> 16;
      default:
        throw new Error(`A binary COPY field of ${this.lengths[field]} bytes is not a smallint, integer or bigint.`);
    }
  }

  microseconds(field: number): number {
    return this.number(field) + PG_EPOCH_MICROS;
  }

  text(field: number): string {
    return this.buffer.toString('utf8', this.starts[field], this.starts[field] + this.lengths[field]);
  }

  eachInteger(): void {
    throw new Error('eachInteger reads the text format only.');
  }

  start(field: number): number {
    return this.starts[field];
  }

  length(field: number): number {
    return this.lengths[field];
  }
}

/** Streams `COPY (sql) TO STDOUT (FORMAT binary)` and calls `onRow` for each row; resolves with the row count. */
function streamBinaryRows(client: PoolClient, sql: string, onRow: (row: BinaryCopyRow) => void): Promise<number> {
  return readBinaryCopy(client.query(copyTo(`COPY (${sql}) TO STDOUT (FORMAT binary)`)) as AsyncIterable<Buffer>, onRow);
}

/**
 * Decodes a binary COPY stream cut into chunks anywhere (a row, a length, even the header may span
 * chunks) and calls `onRow` for each row; resolves with the row count. Throws when the stream is
 * not binary COPY or ends before its trailer.
 */
export async function readBinaryCopy(chunks: AsyncIterable<Buffer>, onRow: (row: BinaryCopyRow) => void): Promise<number> {
  const row = new BinaryRowView();
  let carry: Buffer | null = null;
  let headerDone = false;
  let trailerSeen = false;
  let rows = 0;
  for await (const chunk of chunks) {
    const buffer: Buffer = carry === null ? chunk : Buffer.concat([carry, chunk]);
    let at = 0;
    if (!headerDone) {
      if (buffer.length < BINARY_SIGNATURE.length + 8) {
        carry = buffer;
        continue;
      }
      if (!buffer.subarray(0, BINARY_SIGNATURE.length).equals(BINARY_SIGNATURE)) throw new Error('Not a PostgreSQL binary COPY stream.');
      const extension = buffer.readUInt32BE(BINARY_SIGNATURE.length + 4);
      at = BINARY_SIGNATURE.length + 8 + extension;
      if (buffer.length < at) {
        carry = buffer;
        continue;
      }
      headerDone = true;
    }
    row.buffer = buffer;
    const end = buffer.length;
    for (;;) {
      // A tuple: 16-bit field count (-1: the trailer), then per field a 32-bit length (-1: NULL) and its bytes.
      if (at + 2 > end) break;
      const fields = (buffer[at] << 8) | buffer[at + 1];
      if (fields === 0xffff) {
        trailerSeen = true;
        at = end;
        break;
      }
      let p = at + 2;
      let complete = true;
      for (let f = 0; f < fields; f++) {
        if (p + 4 > end) {
          complete = false;
          break;
        }
        const length = (buffer[p] << 24) | (buffer[p + 1] << 16) | (buffer[p + 2] << 8) | buffer[p + 3];
        p += 4;
        row.starts[f] = p;
        row.lengths[f] = length;
        if (length > 0) p += length;
        if (p > end) {
          complete = false;
          break;
        }
      }
      if (!complete) break;
      onRow(row);
      rows++;
      at = p;
    }
    carry = at < end ? buffer.subarray(at) : null;
  }
  if (!headerDone) throw new Error('Not a PostgreSQL binary COPY stream (it ended before its header).');
  if (!trailerSeen) throw new Error('A binary COPY stream ended inside a row (no trailer).');
  return rows;
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
 * Like `copyRows`, in the binary format (CopyRow's notes: select text, not jsonb, for `text()`;
 * no `eachInteger`), inside a read-only REPEATABLE READ transaction, and also returns that
 * transaction's snapshot (`pg_current_snapshot()` as text, `xmin:xmax:xip,…`): the COPY sees
 * exactly the rows of the transactions that snapshot counts as committed. A `beside` COPY runs at
 * the same time on a second connection that imports the snapshot (`pg_export_snapshot`), so it sees
 * exactly the same rows; both finish before this resolves, and either failing fails it.
 */
export async function copyRowsInSnapshot(
  client: PoolClient,
  sql: string,
  onRow: (row: BinaryCopyRow) => void,
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
            await streamBinaryRows(other, beside.sql, beside.onRow);
            await other.query('COMMIT');
          } catch (error) {
            await other.query('ROLLBACK').catch(() => undefined);
            throw error;
          }
        })
      : Promise.resolve();
    // The exporting transaction stays open until the other has imported its snapshot and finished.
    const [streamed, besideResult] = await Promise.allSettled([streamBinaryRows(client, sql, onRow), besideDone]);
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
