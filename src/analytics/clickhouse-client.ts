/**
 * The one way Funnelcast talks to ClickHouse: SQL text in, JSON rows out. Two implementations share
 * every statement: embedded ClickHouse through chdb (a Session on an on-disk folder, for one machine
 * and for the tests) and a ClickHouse server or cluster through the official @clickhouse/client.
 * Nothing else in the code knows which one it has.
 */
import type { Config } from '../config';

export interface ClickHouseClient {
  /** What this client reaches, for logs and health ("chdb ./clickhouse-data", "server http://ch:8123"); never a password. */
  readonly description: string;
  /** Runs a statement that returns nothing (DDL, INSERT … SELECT, DELETE). */
  command(sql: string): Promise<void>;
  /** Runs a SELECT and returns its rows as objects (JSONEachRow; 64-bit integers as numbers). */
  query<T = Record<string, unknown>>(sql: string): Promise<T[]>;
  /** Inserts objects into `table` (JSONEachRow); one call is one INSERT. */
  insert(table: string, rows: readonly Record<string, unknown>[]): Promise<void>;
  /**
   * Inserts TabSeparated text (one row per line, fields in `columns`' order, escaped by `tsvField`,
   * NULL as `\N`) into `table`; one call is one INSERT. Several times cheaper than objects for
   * bulk loads: no object per row on either side.
   */
  insertTabSeparated(table: string, columns: readonly string[], body: Buffer): Promise<void>;
  close(): Promise<void>;
}

/**
 * Settings every query runs with: 64-bit integers as JSON numbers (ids and microseconds stay below
 * 2^53); and FINAL merges each partition on its own, which is exact here because an event's rows
 * (its copies and its deletion) share its `ts` and so its month partition (clickhouse-schema.ts), and
 * lets ClickHouse skip the merge for a partition that is already one part.
 */
const QUERY_SETTINGS = { output_format_json_quote_64bit_integers: 0, do_not_merge_across_partitions_select_final: 1 } as const;
const QUERY_SETTINGS_SQL = Object.entries(QUERY_SETTINGS)
  .map(([name, value]) => `${name} = ${value}`)
  .join(', ');

/** Bytes decoded at a time: a whole result can pass V8's longest string (512 MiB) at 10 M events. */
const DECODE_CHUNK_BYTES = 32 * 1024 * 1024;
const NEWLINE = 0x0a;

/** JSONEachRow output as objects, decoded in chunks that end at a line break, so no result is too long for one string. */
export function parseJsonLines<T>(bytes: Uint8Array, chunkBytes = DECODE_CHUNK_BYTES): T[] {
  const decoder = new TextDecoder('utf-8');
  const rows: T[] = [];
  let start = 0;
  while (start < bytes.length) {
    let end = Math.min(bytes.length, start + chunkBytes);
    if (end < bytes.length) {
      const newline = bytes.lastIndexOf(NEWLINE, end - 1);
      // A single line longer than a chunk: extend to its end.
      end = newline >= start ? newline + 1 : (bytes.indexOf(NEWLINE, end) + 1 || bytes.length);
    }
    for (const line of decoder.decode(bytes.subarray(start, end)).split('\n')) if (line !== '') rows.push(JSON.parse(line) as T);
    start = end;
  }
  return rows;
}

interface ChdbSession {
  query(sql: string, format?: string): string;
  queryAsync(sql: string, opts?: { format?: string }): Promise<{ text(): string; bytes(): Uint8Array }>;
  insert(params: { table: string; values: string | Buffer; format: 'JSONEachRow' | 'TabSeparated'; columns?: readonly string[] }): Promise<unknown>;
  close(): void;
}

/**
 * Embedded ClickHouse in this process (chdb), its data in `path`. chdb loads a ~550 MB native
 * library on first use, so it is required here, lazily, and only when this client is made. chdb
 * allows one data folder per process: a second client on another folder fails.
 */
export class ChdbClient implements ClickHouseClient {
  readonly description: string;
  private readonly session: ChdbSession;

  constructor(readonly path: string) {
    let chdb: { Session: new (path: string) => ChdbSession };
    try {
      chdb = require('chdb') as typeof chdb;
    } catch (error) {
      throw new Error(
        'FUNNELCAST_ANALYTICS=clickhouse without FUNNELCAST_CLICKHOUSE_URL uses embedded ClickHouse, which needs the package `chdb` ' +
          `and its native library (npm install chdb), or set FUNNELCAST_CLICKHOUSE_URL to a ClickHouse server. (${String(error)})`,
      );
    }
    this.session = new chdb.Session(path);
    this.description = `chdb ${path}`;
  }

  async command(sql: string): Promise<void> {
    await this.session.queryAsync(sql, { format: 'Null' });
  }

  async query<T>(sql: string): Promise<T[]> {
    const result = await this.session.queryAsync(`${sql}\nSETTINGS ${QUERY_SETTINGS_SQL}`, { format: 'JSONEachRow' });
    return parseJsonLines<T>(result.bytes());
  }

  async insert(table: string, rows: readonly Record<string, unknown>[]): Promise<void> {
    if (rows.length === 0) return;
    await this.session.insert({ table, values: rows.map((row) => JSON.stringify(row)).join('\n'), format: 'JSONEachRow' });
  }

  async insertTabSeparated(table: string, columns: readonly string[], body: Buffer): Promise<void> {
    if (body.length === 0) return;
    await this.session.insert({ table, values: body, format: 'TabSeparated', columns });
  }

  async close(): Promise<void> {
    this.session.close();
  }
}

/** A ClickHouse server or cluster over HTTP(S) through @clickhouse/client. */
export class ServerClient implements ClickHouseClient {
  readonly description: string;
  private readonly client: import('@clickhouse/client').ClickHouseClient;

  constructor(options: { url: string; user: string; password: string; database?: string }) {
    const { createClient } = require('@clickhouse/client') as typeof import('@clickhouse/client');
    this.client = createClient({ url: options.url, username: options.user, password: options.password, database: options.database });
    const url = new URL(options.url);
    this.description = `server ${url.protocol}//${url.host}`;
  }

  async command(sql: string): Promise<void> {
    await this.client.command({ query: sql });
  }

  async query<T>(sql: string): Promise<T[]> {
    const result = await this.client.query({ query: sql, format: 'JSONEachRow', clickhouse_settings: QUERY_SETTINGS });
    // Row by row: a funnel's unit lists at 10 M events pass the longest string V8 can hold.
    const rows: T[] = [];
    for await (const batch of result.stream<T>()) for (const row of batch) rows.push(row.json<T>());
    return rows;
  }

  async insert(table: string, rows: readonly Record<string, unknown>[]): Promise<void> {
    if (rows.length === 0) return;
    await this.client.insert({ table, values: rows as Record<string, unknown>[], format: 'JSONEachRow' });
  }

  async insertTabSeparated(table: string, columns: readonly string[], body: Buffer): Promise<void> {
    if (body.length === 0) return;
    const { Readable } = require('node:stream') as typeof import('node:stream');
    await this.client.insert({ table, values: Readable.from([body]), format: 'TabSeparated', columns: [...columns] as [string, ...string[]] });
  }

  async close(): Promise<void> {
    await this.client.close();
  }
}

/** The client the configuration names: the server when FUNNELCAST_CLICKHOUSE_URL is set, else chdb on FUNNELCAST_CLICKHOUSE_PATH. */
export function clickhouseClientOf(config: Pick<Config, 'clickhouseUrl' | 'clickhousePath' | 'clickhouseUser' | 'clickhousePassword'>): ClickHouseClient {
  if (config.clickhouseUrl) {
    // No default database: every statement names its tables in full, and the database may not exist yet.
    return new ServerClient({ url: config.clickhouseUrl, user: config.clickhouseUser, password: config.clickhousePassword });
  }
  return new ChdbClient(config.clickhousePath);
}

/**
 * A string as one TabSeparated field: backslash, tab, newline and carriage return escaped (ClickHouse's
 * TSV escaping); write NULL as `\N` yourself. Text without a backslash or control character is
 * returned as is (the common case, checked without a regular expression's allocation).
 */
export function tsvField(value: string): string {
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if (code === 0x5c || code === 0x09 || code === 0x0a || code === 0x0d) {
      return value.replace(/[\\\t\n\r]/g, (c) => (c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : '\\r'));
    }
  }
  return value;
}

/** A ClickHouse string literal: backslashes and single quotes escaped. */
export function sqlString(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}
