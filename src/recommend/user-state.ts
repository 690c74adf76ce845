import type { DataSource } from 'typeorm';
import { pgPool } from '../db/data-source';
import { HistoryItem, historyFromEvents } from './fold-in';
import { DEFAULT_EVENT_WEIGHTS, ITEM_EVENT_TYPES, SESSION_GAP_MS } from './item-events';
import type { UserItemEvents } from './reengagement';
import { pseudonymousId } from '../privacy/pseudonym';

/** Recent events of a user that fold-in and the live session read (one indexed query per request). */
export const RECENT_EVENTS = 50;

/** What serving knows of one user at request time. */
export interface UserState {
  /** users.id; null for a visitor never seen before. */
  id: number | null;
  /** Most recent first: distinct items with their strongest event weight. */
  history: HistoryItem[];
  /** The live session (the newest visit, if its last event is at most 30 minutes before now or asOf), oldest first. */
  session: number[];
  purchased: Set<number>;
  latestEventMs: number | null;
  /** The same last RECENT_EVENTS item events one by one, newest first, with type codes and times (what re-engagement scores). */
  recent: RecentItemEvents;
}

/** Parallel arrays, newest first: items.id, ITEM_EVENT_TYPES index (−1 for other types), epoch ms. */
export interface RecentItemEvents extends UserItemEvents {
  items: number[];
  types: number[];
  times: number[];
}

interface UserStateRow {
  id: number;
  /** The last RECENT_EVENTS item events, newest first (ts, then id). */
  items: number[] | null;
  /** Their DEFAULT_EVENT_WEIGHTS (0 for types without one). */
  weights: number[] | null;
  /** Their ITEM_EVENT_TYPES index (−1 for other types). */
  types: number[] | null;
  /** Their times, epoch ms. */
  times: number[] | null;
  /** The newest event's time, epoch ms. */
  latest: number | null;
  /** How many of them, from the newest, belong to the newest visit. */
  visit_length: number | null;
  purchased: number[] | null;
}

const weightCase = `CASE type ${Object.entries(DEFAULT_EVENT_WEIGHTS)
  .map(([type, weight]) => `WHEN '${type}' THEN ${weight}`)
  .join(' ')} ELSE 0 END`;
const typeCodeCase = `CASE type ${ITEM_EVENT_TYPES.map((type, code) => `WHEN '${type}' THEN ${code}`).join(' ')} ELSE -1 END`;

/**
 * One prepared statement (planning it cost more than running it). PostgreSQL does the per-event
 * work: the weights, and where the newest visit ends — an event belongs to the same visit as the
 * next newer one when they share a session id, or when neither has one and they are at most 30
 * minutes apart — so the row holds number arrays and no strings. With asOf ($2) it reads the events
 * at or before that instant only (the same index range, bounded above).
 */
const USER_STATE_SQL = `
SELECT u.id, r.items, r.weights, r.types, r.times, r.latest, r.visit_length,
       ARRAY(SELECT DISTINCT p.item_id FROM events p WHERE p.user_id = u.id AND p.type = 'purchase' AND p.item_id IS NOT NULL
             AND p.ts <= coalesce($2::timestamptz, 'infinity')) AS purchased
FROM users u
LEFT JOIN LATERAL (
  SELECT array_agg(e.item_id ORDER BY e.position) AS items,
         array_agg(e.weight ORDER BY e.position) AS weights,
         array_agg(e.type_code ORDER BY e.position) AS types,
         array_agg(e.ms ORDER BY e.position) AS times,
         min(e.ms) FILTER (WHERE e.position = 1) AS latest,
         coalesce(min(e.position) FILTER (WHERE NOT e.same_visit) - 1, count(*))::int AS visit_length
  FROM (
    SELECT item_id, weight, type_code, ms, position,
           position = 1 OR CASE WHEN session_id IS NOT NULL OR newer_session IS NOT NULL THEN session_id IS NOT DISTINCT FROM newer_session
                                ELSE newer_ms - ms <= ${SESSION_GAP_MS} END AS same_visit
    FROM (
      SELECT item_id, ${weightCase} AS weight, ${typeCodeCase} AS type_code, session_id, (extract(epoch FROM ts) * 1000)::float8 AS ms,
             lag(session_id) OVER newest AS newer_session, lag((extract(epoch FROM ts) * 1000)::float8) OVER newest AS newer_ms,
             row_number() OVER newest AS position
      FROM (SELECT item_id, type, session_id, ts, id FROM events WHERE user_id = u.id AND item_id IS NOT NULL AND ts <= coalesce($2::timestamptz, 'infinity') ORDER BY ts DESC, id DESC LIMIT ${RECENT_EVENTS}) recent
      WINDOW newest AS (ORDER BY ts DESC, id DESC)
    ) ordered
  ) e
) r ON true
WHERE u.external_id = $1`;

/**
 * The user's recent history, live session, purchases and newest event time, in one query. With
 * `asOf` the state is the one at that instant: only events at or before it count, and the newest
 * visit is live when its last event is at most 30 minutes before it; default now.
 */
export async function readUserState(dataSource: DataSource, userId: string, asOf: Date | null = null): Promise<UserState> {
  const { rows } = await pgPool(dataSource).query<UserStateRow>({ name: 'recommend-user-state-v3', text: USER_STATE_SQL, values: [pseudonymousId(userId), asOf] });
  if (rows.length === 0) return { id: null, history: [], session: [], purchased: new Set(), latestEventMs: null, recent: { items: [], types: [], times: [] } };
  const row = rows[0];
  const items = row.items ?? [];
  const weights = row.weights ?? [];
  // The live session: the newest visit's items with a weight, oldest first, without immediate repeats,
  // if that visit is still going (its last event at most 30 minutes before now or asOf).
  const session: number[] = [];
  if (row.latest !== null && (asOf?.getTime() ?? Date.now()) - row.latest <= SESSION_GAP_MS) {
    const length = Math.min(row.visit_length ?? 0, items.length);
    for (let n = 0; n < length; n++) if (weights[n] > 0 && session[0] !== items[n]) session.unshift(items[n]);
  }
  return {
    id: row.id,
    history: historyFromEvents(items, weights, RECENT_EVENTS),
    session,
    purchased: new Set(row.purchased ?? []),
    latestEventMs: row.latest,
    recent: { items, types: row.types ?? [], times: row.times ?? [] },
  };
}
