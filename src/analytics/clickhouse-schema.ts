/**
 * The ClickHouse tables Funnelcast keeps, the same through chdb and a server.
 *
 * `events` is a ReplacingMergeTree keyed (through its sorting key) by event id: the sync may insert
 * an event more than once (a catch-up that failed half-way is read again, two API processes catch
 * up at once) and every query reads it `FINAL`, so each event counts once. A deleted event gets a
 * second row with a higher version and `deleted = 1`, which `FINAL` drops together with the event.
 * Sorting by (user, time, id) keeps each user's events together in the order the funnel engine
 * scans them; partitions by month let retention drop whole months.
 *
 * `sync_position` holds the PostgreSQL snapshot up to which `events` is complete (clickhouse-sync.ts),
 * beside the data it describes: a wiped data folder starts over from nothing, as it must.
 */
import type { ClickHouseClient } from './clickhouse-client';

/** Version of an event's row as inserted, and of its deletion (the higher one wins in FINAL). */
export const EVENT_VERSION = 1;
export const DELETION_VERSION = 2;

/** `database`.`table` for statements (the database name is checked by config: letters, digits, _). */
export function tableName(database: string, table: 'events' | 'sync_position'): string {
  return `${database}.${table}`;
}

/** Creates the database and tables when missing; safe to run at every start. */
export async function ensureClickHouseSchema(client: ClickHouseClient, database: string): Promise<void> {
  await client.command(`CREATE DATABASE IF NOT EXISTS ${database}`);
  await client.command(`
CREATE TABLE IF NOT EXISTS ${tableName(database, 'events')} (
  id UInt64,
  user_id UInt32,
  session_id Nullable(String),
  type LowCardinality(String),
  item_id Nullable(Int32),
  ts Int64 COMMENT 'microseconds since the epoch, UTC',
  props String COMMENT 'the properties object as JSON text; empty when none',
  version UInt8,
  deleted UInt8
) ENGINE = ReplacingMergeTree(version, deleted)
PARTITION BY toYYYYMM(fromUnixTimestamp64Micro(ts, 'UTC'))
ORDER BY (user_id, ts, id)`);
  await client.command(`
CREATE TABLE IF NOT EXISTS ${tableName(database, 'sync_position')} (
  name String,
  snapshot String,
  written_at DateTime64(6, 'UTC')
) ENGINE = ReplacingMergeTree(written_at)
ORDER BY name`);
}
