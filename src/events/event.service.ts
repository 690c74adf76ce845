import type { DataSource } from 'typeorm';
import { UserFacingError, badInput } from '../graphql/errors';
import { EventStats, IngestResult, RejectedEvent } from './event.input';
import { incomingEventProblem, type IncomingEvent } from './event-checks';
import { metrics } from '../metrics/metrics';
import { pseudonymousId } from '../privacy/pseudonym';
import { ensureMonthsOf, monthStart, retentionCutoff, WITHIN_RETENTION } from './event-partitions';

export type { IncomingEvent } from './event-checks';

export interface IngestOptions {
  maxBatch: number;
  maxPropertiesBytes: number;
  /** Where eventStats counts events when not in PostgreSQL: ClickHouse under FUNNELCAST_ANALYTICS=clickhouse. */
  statsSource?: EventCountsSource | null;
  /**
   * ingestEvents refuses events more than this many days old (TOO_OLD; FUNNELCAST_INGEST_MAX_PAST_DAYS,
   * default 730): each month of events is a partition, created on demand, so a client key (public)
   * sending one event per month back to 1970 would otherwise add hundreds of partitions that every
   * query on `events` then plans over. History goes in through `funnelcast import` (admin).
   */
  maxPastDays?: number;
}

/** Default of FUNNELCAST_INGEST_MAX_PAST_DAYS. */
export const DEFAULT_INGEST_MAX_PAST_DAYS = 730;

/**
 * The counts behind eventStats for events with from ≤ ts < to: events per (UTC day, type), distinct
 * users, and distinct sessions, a session being a (user, session id) pair, events without a
 * session id in none (docs/data-model.md). Rows come in any order.
 */
export interface EventCounts {
  /** `day` is the UTC date, YYYY-MM-DD; `count` ≥ 1. */
  byDayType: { day: string; type: string; count: number }[];
  distinctUsers: number;
  distinctSessions: number;
}

/** A store that counts events for eventStats instead of PostgreSQL (src/analytics/clickhouse-analytics.ts). */
export interface EventCountsSource {
  /** The counts of every event committed before the call, with from ≤ ts < to (from < to, checked by the caller). */
  eventCounts(from: Date, to: Date): Promise<EventCounts>;
}

/**
 * Writes and summarises behaviour events. All GraphQL writes to `events`, `users` and the
 * placeholder rows of `items` go through here; bulk files go through the importer, which keeps
 * the same rules (dictionary ids, eventId idempotency, ingestion order).
 */
export class EventService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly options: IngestOptions,
  ) {}

  async ingest(events: IncomingEvent[]): Promise<IngestResult> {
    if (events.length > this.options.maxBatch) {
      throw new UserFacingError(
        'BATCH_TOO_LARGE',
        `A batch holds at most ${this.options.maxBatch} events; this one has ${events.length}. Split it and send the parts in order.`,
        { maxBatch: this.options.maxBatch },
      );
    }
    const now = Date.now();
    const rejected: RejectedEvent[] = [];
    const eventIds: string[] = [];
    /** Each stored candidate's position in `events`. */
    const positions: number[] = [];
    const userIds: string[] = [];
    const sessionIds: (string | null)[] = [];
    const types: string[] = [];
    const itemIds: (string | null)[] = [];
    const timestamps: string[] = [];
    const properties: (string | null)[] = [];
    // Events older than the retention cutoff would be dropped with their month (docs/privacy.md).
    const cutoff = (await retentionCutoff(this.dataSource))?.getTime() ?? -Infinity;
    const maxPastDays = this.options.maxPastDays ?? DEFAULT_INGEST_MAX_PAST_DAYS;
    const oldest = now - maxPastDays * 86_400_000;
    /** The UTC months the batch's stored candidates fall in: only these get partitions. */
    const months = new Set<number>();
    events.forEach((event, index) => {
      const checked = incomingEventProblem(event, this.options.maxPropertiesBytes, now);
      if ('code' in checked) {
        rejected.push({ index, code: checked.code, message: checked.message });
        return;
      }
      const stored = checked.event;
      if (stored.timestamp < cutoff) {
        rejected.push({ index, code: 'BEYOND_RETENTION', message: `events before ${new Date(cutoff).toISOString()} are no longer kept (FUNNELCAST_RETENTION_DAYS); this one is not stored` });
        return;
      }
      if (stored.timestamp < oldest) {
        rejected.push({
          index,
          code: 'TOO_OLD',
          message: `timestamp ${new Date(stored.timestamp).toISOString()} is more than ${maxPastDays} days old; ingestEvents takes recent events (FUNNELCAST_INGEST_MAX_PAST_DAYS): load history with \`funnelcast import\``,
        });
        return;
      }
      months.add(monthStart(stored.timestamp));
      positions.push(index);
      eventIds.push(stored.eventId);
      userIds.push(pseudonymousId(stored.userId));
      sessionIds.push(stored.sessionId);
      types.push(stored.type);
      itemIds.push(stored.itemId);
      timestamps.push(new Date(stored.timestamp).toISOString());
      properties.push(checked.properties);
    });
    if (eventIds.length === 0) return counted({ accepted: 0, duplicates: 0, rejected });
    // The batch's months must exist (no default partition); free once this process knows them.
    await ensureMonthsOf(this.dataSource, months);

    const { accepted, erased } = await this.dataSource.transaction(async (manager) => {
      // Only ids not yet known reach the INSERT, so concurrent batches do not burn sequence values.
      await manager.query(
        `INSERT INTO users (external_id)
         SELECT DISTINCT u FROM unnest($1::text[]) AS u
         WHERE NOT EXISTS (SELECT 1 FROM users WHERE external_id = u)
         ON CONFLICT (external_id) DO NOTHING`,
        [userIds],
      );
      await manager.query(
        `INSERT INTO items (external_id)
         SELECT DISTINCT i FROM unnest($1::text[]) AS i
         WHERE i IS NOT NULL AND NOT EXISTS (SELECT 1 FROM items WHERE external_id = i)
         ON CONFLICT (external_id) DO NOTHING`,
        [itemIds],
      );
      // ORDER BY ord makes ids follow array order, the tie-break for equal timestamps. FOR KEY SHARE:
      // an erasure of one of these users (privacy/erasure.service.ts) waits for this batch, and a
      // batch that waited for an erasure finds the user gone and stores none of their events. An
      // event id already stored (or earlier in the batch) is skipped by the row trigger
      // `claim_event_id` (migration 1765600000000). The cutoff test guards against a retention run
      // that committed since the check above.
      const inserted: unknown[] = await manager.query(
        `INSERT INTO events (event_id, user_id, session_id, type, item_id, ts, props)
         SELECT t.event_id, u.id, t.session_id, t.type, i.id, t.ts, t.props
         FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::timestamptz[], $7::jsonb[])
              WITH ORDINALITY AS t(event_id, user_ext, session_id, type, item_ext, ts, props, ord)
         JOIN users u ON u.external_id = t.user_ext
         LEFT JOIN items i ON i.external_id = t.item_ext
         WHERE t.ts ${WITHIN_RETENTION}
         ORDER BY t.ord
         FOR KEY SHARE OF u
         RETURNING 1`,
        [eventIds, userIds, sessionIds, types, itemIds, timestamps, properties],
      );
      // Fewer stored than sent: duplicates, or users an erasure refuses (privacy/erasure.service.ts),
      // whose row the tombstone kept from being created. Only then is it worth asking which.
      const gone: { u: string }[] =
        inserted.length < eventIds.length
          ? await manager.query(`SELECT DISTINCT u FROM unnest($1::text[]) AS u WHERE NOT EXISTS (SELECT 1 FROM users WHERE external_id = u)`, [userIds])
          : [];
      return { accepted: inserted.length, erased: new Set(gone.map((row) => row.u)) };
    });
    if (erased.size > 0) {
      userIds.forEach((userId, n) => {
        if (erased.has(userId)) rejected.push({ index: positions[n], code: 'USER_ERASED', message: 'this user was forgotten (forgetUser); their events are not stored. Stop sending them.' });
      });
      rejected.sort((a, b) => a.index - b.index);
    }
    const refused = rejected.filter((r) => r.code === 'USER_ERASED').length; // (BEYOND_RETENTION never reached the insert)
    return counted({ accepted, duplicates: eventIds.length - accepted - refused, rejected });
  }

  /**
   * The counts behind a differentially private `eventStats`, with every user's influence bounded
   * so one user changes the cells by at most `eventsPerUser` in total (L1), `users` by 1 and
   * `sessions` by `sessionsPerUser`. Types not in `types` are counted under `otherType`.
   */
  async clampedCounts(from: Date, to: Date, bounds: { eventsPerUser: number; sessionsPerUser: number; types: readonly string[]; otherType: string }): Promise<ClampedEventCounts> {
    if (!(from.getTime() < to.getTime())) throw badInput('`from` must be earlier than `to`');
    const rows: { day: string; type: string; count: string }[] = await this.dataSource.query(
      `SELECT to_char(date_trunc('day', ts AT TIME ZONE 'UTC'), 'YYYY-MM-DD') AS day,
              CASE WHEN type = ANY($4::text[]) THEN type ELSE $5 END AS type, count(*) AS count
       FROM (SELECT ts, type, row_number() OVER (PARTITION BY user_id ORDER BY ts, id) AS n
             FROM events WHERE ts >= $1 AND ts < $2) ranked
       WHERE n <= $3
       GROUP BY 1, 2`,
      [from, to, bounds.eventsPerUser, bounds.types, bounds.otherType],
    );
    const [people]: { users: string; sessions: string | null }[] = await this.dataSource.query(
      `SELECT count(*) AS users, sum(least(sessions, $3)) AS sessions
       FROM (SELECT user_id, count(DISTINCT session_id) AS sessions FROM events WHERE ts >= $1 AND ts < $2 GROUP BY user_id) per_user`,
      [from, to, bounds.sessionsPerUser],
    );
    return {
      cells: rows.map((row) => ({ day: row.day, type: row.type, count: Number(row.count) })),
      users: Number(people.users),
      sessions: Number(people.sessions ?? 0),
    };
  }

  /**
   * Totals by event type and by UTC day for events with from ≤ ts < to, with distinct users and
   * sessions; from ClickHouse when the server answers analyses from it (the same numbers: it holds
   * a copy of `events`, caught up before the count), else from PostgreSQL. BAD_USER_INPUT unless
   * from < to.
   */
  async stats(from: Date, to: Date): Promise<EventStats> {
    if (!(from.getTime() < to.getTime())) throw badInput('`from` must be earlier than `to`');
    const counts = this.options.statsSource ? await this.options.statsSource.eventCounts(from, to) : await this.postgresCounts(from, to);
    return eventStatsOf(from, to, counts);
  }

  private async postgresCounts(from: Date, to: Date): Promise<EventCounts> {
    const rows: { day: string; type: string; count: string }[] = await this.dataSource.query(
      `SELECT to_char(date_trunc('day', ts AT TIME ZONE 'UTC'), 'YYYY-MM-DD') AS day, type, count(*) AS count
       FROM events WHERE ts >= $1 AND ts < $2
       GROUP BY 1, 2`,
      [from, to],
    );
    // A session is a (user, session id) pair, as in funnels counted by session (docs/data-model.md):
    // two users sending the same session id have two sessions; events without one are in none.
    // Distinct pairs first (a hash aggregate), then users among them: as fast as the old
    // count(DISTINCT session_id), where count(DISTINCT (user_id, session_id)) took 2–3 times as long.
    const [distinct]: { users: string; sessions: string }[] = await this.dataSource.query(
      `SELECT count(DISTINCT user_id) AS users, count(*) FILTER (WHERE session_id IS NOT NULL) AS sessions
       FROM (SELECT DISTINCT user_id, session_id FROM events WHERE ts >= $1 AND ts < $2) pairs`,
      [from, to],
    );
    return {
      byDayType: rows.map((row) => ({ day: row.day, type: row.type, count: Number(row.count) })),
      distinctUsers: Number(distinct.users),
      distinctSessions: Number(distinct.sessions),
    };
  }
}

/** Exact counts with each user's contribution bounded, for differentially private event stats (src/privacy/private-analytics.ts). */
export interface ClampedEventCounts {
  /** Events by UTC day (YYYY-MM-DD) and type bucket, counting each user's first `eventsPerUser` events in the range (by time, then id). */
  cells: { day: string; type: string; count: number }[];
  /** Users with an event in the range. */
  users: number;
  /** Σ over users of min(their sessions in the range, sessionsPerUser); a session is a (user, session id) pair. */
  sessions: number;
}

/** Code-unit order (the C collation's for these ASCII strings), the same whichever store counted. */
const byCodeUnits = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * eventStats from its counts: days in date order, each day's types in code-unit order; the
 * overall byType by count, descending, then type.
 */
export function eventStatsOf(from: Date, to: Date, counts: EventCounts): EventStats {
  const rows = [...counts.byDayType].sort((a, b) => byCodeUnits(a.day, b.day) || byCodeUnits(a.type, b.type));
  const byType = new Map<string, number>();
  const byDay = new Map<string, { total: number; byType: { type: string; count: number }[] }>();
  let total = 0;
  for (const row of rows) {
    total += row.count;
    byType.set(row.type, (byType.get(row.type) ?? 0) + row.count);
    const day = byDay.get(row.day) ?? { total: 0, byType: [] };
    day.total += row.count;
    day.byType.push({ type: row.type, count: row.count });
    byDay.set(row.day, day);
  }
  return {
    from,
    to,
    total,
    distinctUsers: counts.distinctUsers,
    distinctSessions: counts.distinctSessions,
    byType: [...byType].map(([type, count]) => ({ type, count })).sort((a, b) => b.count - a.count || a.type.localeCompare(b.type)),
    byDay: [...byDay].map(([day, value]) => ({ day, ...value })),
  };
}

/** Counts a batch's outcome in the ingest metrics (funnelcast_ingest_events_total, …) and hands it back. */
function counted(result: IngestResult): IngestResult {
  const { ingestEvents, ingestRejections } = metrics();
  ingestEvents.inc({ outcome: 'accepted' }, result.accepted);
  ingestEvents.inc({ outcome: 'duplicate' }, result.duplicates);
  ingestEvents.inc({ outcome: 'rejected' }, result.rejected.length);
  for (const rejection of result.rejected) ingestRejections.inc({ code: rejection.code });
  return result;
}
