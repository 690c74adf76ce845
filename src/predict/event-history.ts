import type { DataSource } from 'typeorm';
import { withPgClient } from '../db/data-source';
import type { UserHistory } from './datasets';
import type { PredictionEvent } from './session-events';
import { TrainingDataError } from '../training/training-errors';
import { pseudonymousId } from '../privacy/pseudonym';
import type { TrainingEventReader } from '../training-events';

/**
 * The one way prediction reads the event log: events as PredictionEvent, the item's category and
 * price from the catalog where the event does not carry them, ordered by (user, ts, id) along
 * the `events (user_id, ts, id)` index.
 */

const COLUMNS = `e.user_id, e.session_id, e.type, (extract(epoch FROM e.ts) * 1000)::float8 AS ms,
  COALESCE(i.category, e.props->>'category', e.props->>'categoryCode', e.props->>'categoryId') AS category,
  CASE WHEN jsonb_typeof(e.props->'price') = 'number' THEN (e.props->>'price')::float8 ELSE i.price::float8 END AS price,
  e.props->>'device' AS device, e.props->>'channel' AS channel`;

/** One event as prediction reads it: user id, session id, type, epoch ms, category, price, device, channel. */
export type HistoryRow = [number, string | null, string, number, string | null, number | null, string | null, string | null];
type Row = HistoryRow;

function eventOf(row: Row): PredictionEvent {
  return { sessionId: row[1], type: row[2], timestamp: row[3], category: row[4], price: row[5], device: row[6], channel: row[7] };
}

/** Every user's events with from ≤ ts < to (from null: since the first), keyed by the dense user id. */
export async function loadHistories(dataSource: DataSource, from: Date | null, to: Date, userIds?: readonly number[]): Promise<UserHistory[]> {
  const rows = await withPgClient(dataSource, async (client) => {
    const result = await client.query<Row>({
      text: `SELECT ${COLUMNS} FROM events e LEFT JOIN items i ON i.id = e.item_id
             WHERE ($1::timestamptz IS NULL OR e.ts >= $1) AND e.ts < $2 AND ($3::int[] IS NULL OR e.user_id = ANY($3))
             ORDER BY e.user_id, e.ts, e.id`,
      values: [from, to, userIds ?? null],
      rowMode: 'array',
    });
    return result.rows;
  });
  return historiesOf(rows);
}

/** Rows in (user, ts, id) order grouped into one history per user (shared by the PostgreSQL and ClickHouse readers). */
export function historiesOf(rows: readonly HistoryRow[]): UserHistory[] {
  const histories: UserHistory[] = [];
  let current: UserHistory | null = null;
  for (const row of rows) {
    const key = String(row[0]);
    if (!current || current.userKey !== key) {
      current = { userKey: key, events: [] };
      histories.push(current);
    }
    current.events.push(eventOf(row));
  }
  return histories;
}

/**
 * One user's most recent events before `to` (newest `limit`, returned oldest first), the user given
 * by dense id or by the shop's id; the lookup of the shop's id happens in the same statement, so a
 * live request makes one read. Null when no such user exists (a user without events before `to`
 * gets an empty list).
 */
export async function loadRecentEvents(dataSource: DataSource, user: { id: number } | { externalId: string }, to: Date, limit: number): Promise<{ userId: number; events: PredictionEvent[] } | null> {
  const byId = 'id' in user;
  const rows = await withPgClient(dataSource, async (client) => {
    const result = await client.query<[number, ...Row]>({
      text: `SELECT u.id, recent.* FROM users u LEFT JOIN LATERAL (
               SELECT ${COLUMNS}, e.ts AS sort_ts, e.id AS sort_id FROM events e LEFT JOIN items i ON i.id = e.item_id
               WHERE e.user_id = u.id AND e.ts < $2 ORDER BY e.ts DESC, e.id DESC LIMIT $3) recent ON true
             WHERE ${byId ? 'u.id = $1' : 'u.external_id = $1'}
             ORDER BY recent.sort_ts, recent.sort_id`,
      values: [byId ? user.id : pseudonymousId(user.externalId), to, limit],
      rowMode: 'array',
    });
    return result.rows;
  });
  if (rows.length === 0) return null;
  // No event: the lateral join's one row of nulls.
  const events = rows[0][3] === null ? [] : rows.map((row) => eventOf(row.slice(1) as Row));
  return { userId: rows[0][0], events };
}

/**
 * Several users' most recent events before `to` (each user's newest `limit`, oldest first), by dense
 * user id; a user without such events is absent from the map. One statement, one index walk per user.
 */
export async function loadRecentEventsOfUsers(dataSource: DataSource, userIds: readonly number[], to: Date, limit: number): Promise<Map<number, PredictionEvent[]>> {
  const rows = await withPgClient(dataSource, async (client) => {
    const result = await client.query<Row>({
      text: `SELECT recent.* FROM unnest($1::int[]) AS u(id) CROSS JOIN LATERAL (
               SELECT ${COLUMNS}, e.ts AS sort_ts, e.id AS sort_id FROM events e LEFT JOIN items i ON i.id = e.item_id
               WHERE e.user_id = u.id AND e.ts < $2 ORDER BY e.ts DESC, e.id DESC LIMIT $3) recent
             ORDER BY recent.user_id, recent.sort_ts, recent.sort_id`,
      values: [[...new Set(userIds)], to, limit],
      rowMode: 'array',
    });
    return result.rows;
  });
  const byUser = new Map<number, PredictionEvent[]>();
  for (const row of rows) {
    let events = byUser.get(row[0]);
    if (!events) byUser.set(row[0], (events = []));
    events.push(eventOf(row));
  }
  return byUser;
}

/**
 * The events of one stored session, oldest first, with the dense id of its user. A session is a
 * (user, session id) pair (docs/data-model.md), so `user` (the shop's id) picks whose session it
 * is; without it the session id must belong to one user, else the answer is how many share it.
 * Null when no such events are stored.
 */
export async function loadSession(
  dataSource: DataSource,
  sessionId: string,
  user: string | null,
): Promise<{ userId: number; events: PredictionEvent[] } | { sharedBy: number } | null> {
  const rows = await withPgClient(dataSource, async (client) => {
    const result = await client.query<[...Row, number]>({
      text: `SELECT ${COLUMNS}, (SELECT count(DISTINCT user_id) FROM events WHERE session_id = $1)::int AS users
             FROM events e LEFT JOIN items i ON i.id = e.item_id
             WHERE e.session_id = $1 AND ($2::text IS NULL OR e.user_id = (SELECT id FROM users WHERE external_id = $2))
             ORDER BY e.ts, e.id LIMIT 5000`,
      values: [sessionId, user === null ? null : pseudonymousId(user)],
      rowMode: 'array',
    });
    return result.rows;
  });
  if (rows.length === 0) return null;
  const sharedBy = rows[0][8];
  if (user === null && sharedBy > 1) return { sharedBy };
  return { userId: rows[0][0], events: rows.map((row) => eventOf(row.slice(0, 8) as Row)) };
}

/** What both prediction kinds train on: every user's history in the range, less the excluded users. */
export interface TrainingHistories {
  histories: UserHistory[];
  eventCount: number;
  /** The first event's time (ms); the range's start when it has one. */
  fromMs: number;
  /**
   * The range's end (ms, exclusive) as the data has it: the run's `to`, or 1 ms after the last
   * event when that comes earlier. A range left open ("everything up to now") over a shop whose
   * events stopped a while ago ends at its last event, so splits and horizons fall on the data.
   */
  toMs: number;
}

/**
 * Loads the run's histories through its reader (PostgreSQL or ClickHouse), leaving out the users the run excludes (the anomalous ones, as every
 * behaviour model does), and refuses a range without events with a message saying what to do.
 */
export async function loadTrainingHistories(
  events: TrainingEventReader,
  range: { from: Date | null; to: Date; excludedUsers: ReadonlySet<number> },
): Promise<TrainingHistories> {
  const histories = (await events.histories(range.from, range.to)).filter((h) => !range.excludedUsers.has(Number(h.userKey)));
  let eventCount = 0;
  let firstMs = Infinity;
  let lastMs = -Infinity;
  // A loop, not Math.min(...): a spread of a million users overflows the call stack.
  for (const history of histories) {
    eventCount += history.events.length;
    if (history.events.length > 0) {
      firstMs = Math.min(firstMs, history.events[0].timestamp);
      lastMs = Math.max(lastMs, history.events[history.events.length - 1].timestamp);
    }
  }
  if (eventCount === 0) {
    throw new TrainingDataError(
      `There are no events between ${range.from?.toISOString() ?? 'the beginning'} and ${range.to.toISOString()}; ingest events or widen the range.`,
    );
  }
  return { histories, eventCount, fromMs: range.from?.getTime() ?? firstMs, toMs: Math.min(range.to.getTime(), lastMs + 1) };
}
