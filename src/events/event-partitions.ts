import type { DataSource } from 'typeorm';

/**
 * The monthly partitions of `events` (migration 1765600000000; docs/privacy.md, "Retention").
 * There is no default partition (it would forbid `DETACH … CONCURRENTLY`), so a month must exist
 * before an event of it is inserted: the API and the worker create this month and the next
 * `MONTHS_AHEAD` at start and hourly, and the two writers (ingest, import) call
 * `ensureEventMonths` for the span of each batch, which costs nothing once a month is known to this
 * process. Creating one is the SQL function `ensure_event_partitions`: a table of its own, then
 * ATTACH (SHARE UPDATE EXCLUSIVE on `events`, so inserts and reads go on), skipping months before
 * the retention cutoff.
 */
export const MONTHS_AHEAD = 2;

/** Anything whose `query(sql)` resolves to the rows (a DataSource, a wrapped pg client). */
export interface RowsQueryable {
  query(sql: string): Promise<any[]>; // eslint-disable-line @typescript-eslint/no-explicit-any
}

/** How long creating a month may wait for its lock before the batch fails (and is retried by the client). */
const LOCK_TIMEOUT = '10s';

/** First day (UTC, ms) of the month holding `ms`. */
export function monthStart(ms: number): number {
  const d = new Date(ms);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
}

/** `ms` plus `months` calendar months, at the first of that month (UTC). */
export function addMonths(ms: number, months: number): number {
  const d = new Date(ms);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + months, 1);
}

/** Months (their first day, UTC ms) known to exist, per database; only ever added to (dropped months lie before the cutoff, whose events never reach an insert). */
const known = new WeakMap<DataSource, Set<number>>();

/**
 * Makes sure every month from `fromMs` to `toMs` (UTC, inclusive) has its partition, creating the
 * missing ones (months before the retention cutoff are skipped). Returns how many were created.
 */
export async function ensureEventMonths(dataSource: DataSource, fromMs: number, toMs: number): Promise<number> {
  let months = known.get(dataSource);
  if (!months) known.set(dataSource, (months = new Set()));
  let missing = false;
  for (let m = monthStart(fromMs); m <= toMs; m = addMonths(m, 1)) {
    if (!months.has(m)) {
      missing = true;
      break;
    }
  }
  if (!missing) return 0;
  const created = await dataSource.transaction(async (manager) => {
    await manager.query(`SET LOCAL lock_timeout = '${LOCK_TIMEOUT}'`);
    const [row]: { created: number }[] = await manager.query(`SELECT ensure_event_partitions($1, $2) AS created`, [new Date(fromMs), new Date(toMs)]);
    return row.created;
  });
  for (const m of await eventMonths(dataSource)) months.add(m);
  return created;
}

/**
 * Makes sure each of `months` (UTC month starts, ms) has its partition: only those, not the months
 * between them, so a batch with one event in 1970 and one today creates two partitions at most.
 * Returns how many were created.
 */
export async function ensureMonthsOf(dataSource: DataSource, months: Iterable<number>): Promise<number> {
  let created = 0;
  for (const month of months) created += await ensureEventMonths(dataSource, month, month);
  return created;
}

/** This month and the next MONTHS_AHEAD (what the API and the worker keep ready). */
export function ensureMonthsAhead(dataSource: DataSource, nowMs = Date.now()): Promise<number> {
  return ensureEventMonths(dataSource, nowMs, addMonths(nowMs, MONTHS_AHEAD));
}

/** One partition of `events`: its table and the months it covers, [from, to). */
export interface EventPartition {
  name: string;
  from: Date;
  to: Date;
}

/** The attached partitions, oldest first (bounds read from the catalogue, not from names). */
export async function eventPartitions(dataSource: RowsQueryable): Promise<EventPartition[]> {
  const rows: { name: string; from: Date | null; to: Date | null; bound: string }[] = await dataSource.query(
    `SELECT name, bound, (regexp_match(bound, 'FROM \\(''([^'']+)''\\)'))[1]::timestamptz AS "from",
            (regexp_match(bound, 'TO \\(''([^'']+)''\\)'))[1]::timestamptz AS "to"
     FROM (SELECT c.relname AS name, pg_get_expr(c.relpartbound, c.oid) AS bound
           FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
           WHERE i.inhparent = 'events'::regclass AND NOT i.inhdetachpending) p`,
  );
  const partitions = rows.map(({ name, from, to, bound }) => {
    if (!from || !to) throw new Error(`events partition ${name} has an unexpected bound: ${bound}`);
    return { name, from, to };
  });
  return partitions.sort((a, b) => a.from.getTime() - b.from.getTime());
}

async function eventMonths(dataSource: DataSource): Promise<number[]> {
  return (await eventPartitions(dataSource)).map((p) => p.from.getTime());
}

/** The latest retention cutoff (no event before it is kept; ingest and import refuse older ones), or null when retention never ran. */
export async function retentionCutoff(dataSource: RowsQueryable): Promise<Date | null> {
  const [row]: { cutoff: Date | null }[] = await dataSource.query(`SELECT max(cutoff) AS cutoff FROM retention_runs`);
  return row.cutoff;
}

/** SQL for "at or after the retention cutoff", for writers' INSERT … SELECT (the race guard behind their own check). */
export const WITHIN_RETENTION = `>= coalesce((SELECT max(cutoff) FROM retention_runs), '-infinity')`;
