import { eventQuantileSplit } from '../ml/evaluation';
import type { DataSource } from 'typeorm';
import { TrainingDataError } from '../training/training-errors';
import { withPgClient } from '../db/data-source';
import type { TrainingEventReader } from '../training-events';

/** The item event types the recommenders learn from, strongest signal last. */
export const ITEM_EVENT_TYPES = ['view', 'fav', 'cart', 'checkout', 'purchase'] as const;
export type ItemEventType = (typeof ITEM_EVENT_TYPES)[number];
export const PURCHASE = ITEM_EVENT_TYPES.indexOf('purchase');
/** Default weight of each type: purchase > cart > view. */
export const DEFAULT_EVENT_WEIGHTS: Record<ItemEventType, number> = { view: 1, fav: 2, cart: 3, checkout: 3, purchase: 5 };

/** A visit without a client session id ends after this much quiet (RetailRocket and Taobao have none). */
export const SESSION_GAP_MS = 30 * 60 * 1000;

/**
 * Item events in (user, time) order, one typed column each. `sessions` numbers visits 0, 1, …: a
 * visit is a (user, client session id) pair, as everywhere (docs/data-model.md, Sessions), so one
 * visit's events need not be adjacent when a user's session ids interleave (two tabs); a user's
 * events without a session id form visits of their own, a new one after SESSION_GAP_MS of quiet
 * between them. Visits are numbered in the order of their first event.
 */
export interface ItemEventLog {
  users: Int32Array;
  items: Int32Array;
  types: Uint8Array;
  times: Float64Array;
  sessions: Int32Array;
  sessionCount: number;
}

export async function loadItemEvents(
  dataSource: DataSource,
  range: { from: Date | null; to: Date; excludeUsers?: ReadonlySet<number> },
): Promise<ItemEventLog> {
  const rows = await withPgClient(dataSource, async (client) => {
    const result = await client.query<ItemEventRow>({
      text: `SELECT user_id, session_id, item_id, type, (extract(epoch FROM ts) * 1000)::float8
             FROM events
             WHERE item_id IS NOT NULL AND type = ANY($3::text[]) AND ($1::timestamptz IS NULL OR ts >= $1) AND ts < $2
               AND NOT (user_id = ANY($4::int[]))
             ORDER BY user_id, ts, id`,
      values: [range.from, range.to, ITEM_EVENT_TYPES, [...(range.excludeUsers ?? [])]],
      rowMode: 'array',
    });
    return result.rows;
  });
  return itemEventLogOf(rows);
}

/** One item event as the readers return it: user id, client session id, item id, type, epoch ms. */
export type ItemEventRow = [number, string | null, number, string, number];

/** The typed log of rows already in (user, ts, id) order, visits numbered (shared by the PostgreSQL and ClickHouse readers). */
export function itemEventLogOf(rows: readonly ItemEventRow[]): ItemEventLog {
  const log: ItemEventLog = {
    users: new Int32Array(rows.length),
    items: new Int32Array(rows.length),
    types: new Uint8Array(rows.length),
    times: new Float64Array(rows.length),
    sessions: new Int32Array(rows.length),
    sessionCount: 0,
  };
  for (let n = 0; n < rows.length; n++) {
    const [user, , item, type, time] = rows[n];
    log.users[n] = user;
    log.items[n] = item;
    log.types[n] = ITEM_EVENT_TYPES.indexOf(type as ItemEventType);
    log.times[n] = time;
  }
  const visits = visitNumbers(log.users, (n) => rows[n][1], log.times);
  log.sessions = visits.sessions;
  log.sessionCount = visits.count;
  return log;
}

/** Visit number per event of a (user, time)-ordered log; see ItemEventLog.sessions for the rule. */
export function visitNumbers(users: Int32Array, sessionIdOf: (n: number) => string | null, times: Float64Array): { sessions: Int32Array; count: number } {
  const sessions = new Int32Array(users.length);
  const visitOfSessionId = new Map<string, number>();
  let count = 0;
  let sessionlessVisit = -1;
  let lastSessionlessAt = -Infinity;
  for (let n = 0; n < users.length; n++) {
    if (n === 0 || users[n] !== users[n - 1]) {
      visitOfSessionId.clear();
      sessionlessVisit = -1;
    }
    const sessionId = sessionIdOf(n);
    if (sessionId !== null) {
      let visit = visitOfSessionId.get(sessionId);
      if (visit === undefined) visitOfSessionId.set(sessionId, (visit = count++));
      sessions[n] = visit;
      continue;
    }
    if (sessionlessVisit < 0 || times[n] - lastSessionlessAt > SESSION_GAP_MS) sessionlessVisit = count++;
    sessions[n] = sessionlessVisit;
    lastSessionlessAt = times[n];
  }
  return { sessions, count };
}

/** Event weights by type code, from a `{view: 1, …}` object. */
export function weightsByCode(weights: Record<string, number>): Float32Array {
  return Float32Array.from(ITEM_EVENT_TYPES, (type) => weights[type] ?? 0);
}

/**
 * The range's start (the run's `from`, else the first event) and the split instant of a log: the
 * latest `holdoutFraction` of its events are held out (`eventQuantileSplit`, robust to stray early
 * events). Throws TrainingDataError for a log of fewer than two events.
 */
export function splitOf(log: ItemEventLog, from: Date | null, holdoutFraction: number): { from: Date; splitAt: Date } {
  if (log.times.length < 2) throw new TrainingDataError(`The range holds ${log.times.length} item event; a time split needs at least two. Ingest more events or widen the range.`);
  let first = Infinity;
  for (let n = 0; n < log.times.length; n++) if (log.times[n] < first) first = log.times[n];
  return { from: from ?? new Date(first), splitAt: new Date(eventQuantileSplit(log.times, holdoutFraction)) };
}

/**
 * The item events a recommender kind trains on, read by the run's reader (PostgreSQL or ClickHouse): the run's range, less the users it excludes (the
 * anomalous ones by default). A range without item events is refused with what to do about it.
 */
export async function loadTrainingItemEvents(
  events: TrainingEventReader,
  run: { from: Date | null; to: Date; excludedUsers: ReadonlySet<number> },
): Promise<ItemEventLog> {
  const log = await events.itemEvents({ from: run.from, to: run.to, excludeUsers: run.excludedUsers });
  if (log.items.length === 0) {
    throw new TrainingDataError(
      `There are no item events between ${run.from?.toISOString() ?? 'the beginning'} and ${run.to.toISOString()}; ingest events or widen the range.`,
    );
  }
  return log;
}
