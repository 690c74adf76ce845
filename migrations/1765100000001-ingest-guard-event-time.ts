import { MigrationInterface, QueryRunner } from 'typeorm';

/** The guard function as 1764500000000-anomaly.ts created it, restored by down() (and the peer of `npm run bench ingest-rules`). */
export const ARRIVAL_ORDER_GUARD = `
  CREATE OR REPLACE FUNCTION mark_suspect_users() RETURNS trigger LANGUAGE plpgsql AS $$
  DECLARE
    limit_per_minute integer;
  BEGIN
    SELECT max_events_per_minute INTO limit_per_minute FROM ingest_guard;
    IF limit_per_minute IS NULL OR limit_per_minute <= 0 THEN RETURN NULL; END IF;
    INSERT INTO suspect_users AS s (user_id, since, peak_events_per_minute)
    SELECT user_id, min(ts), max(in_minute)
    FROM (
      SELECT e.user_id, e.ts,
             count(*) OVER (PARTITION BY e.user_id ORDER BY e.ts RANGE BETWEEN interval '60 seconds' PRECEDING AND CURRENT ROW) AS in_minute
      FROM events e
      JOIN (SELECT user_id, min(ts) - interval '60 seconds' AS low, max(ts) AS high FROM new_events GROUP BY user_id
            HAVING count(*) > limit_per_minute OR EXISTS (SELECT 1 FROM events o WHERE o.user_id = new_events.user_id AND o.ts >= min(new_events.ts) - interval '60 seconds' AND o.ts < min(new_events.ts))) b
        ON e.user_id = b.user_id AND e.ts BETWEEN b.low AND b.high
    ) w
    WHERE in_minute > limit_per_minute
    GROUP BY user_id
    ON CONFLICT (user_id) DO UPDATE SET
      since = least(s.since, excluded.since),
      peak_events_per_minute = greatest(s.peak_events_per_minute, excluded.peak_events_per_minute);
    RETURN NULL;
  END $$`;

/**
 * The ingest guard judges on event time, whatever order the events arrive in. It used to look
 * only at stored events up to the batch's latest timestamp, so a burst sent newest batch first
 * (the later half stored, then the earlier half) was never seen whole: the events just after the
 * new ones were left out. Every 60-second window holding one of the new events ends within 60 s
 * after one, so the guard now reads each user's events from a minute before their earliest new
 * event to a minute after their latest, and only when that stretch holds more events than the
 * limit at all (an index count stopped at limit + 1), which keeps ordinary batches cheap.
 */
export class IngestGuardEventTime1765100000001 implements MigrationInterface {
  name = 'IngestGuardEventTime1765100000001';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE OR REPLACE FUNCTION mark_suspect_users() RETURNS trigger LANGUAGE plpgsql AS $$
      DECLARE
        limit_per_minute integer;
      BEGIN
        SELECT max_events_per_minute INTO limit_per_minute FROM ingest_guard;
        IF limit_per_minute IS NULL OR limit_per_minute <= 0 THEN RETURN NULL; END IF;
        INSERT INTO suspect_users AS s (user_id, since, peak_events_per_minute)
        SELECT user_id, min(ts), max(in_minute)
        FROM (
          SELECT e.user_id, e.ts,
                 count(*) OVER (PARTITION BY e.user_id ORDER BY e.ts RANGE BETWEEN interval '60 seconds' PRECEDING AND CURRENT ROW) AS in_minute
          FROM (
            SELECT span.user_id, span.low, span.high
            FROM (SELECT user_id, min(ts) - interval '60 seconds' AS low, max(ts) + interval '60 seconds' AS high
                  FROM new_events GROUP BY user_id) span
            WHERE (SELECT count(*) FROM (SELECT 1 FROM events c
                                         WHERE c.user_id = span.user_id AND c.ts BETWEEN span.low AND span.high
                                         LIMIT limit_per_minute + 1) enough) > limit_per_minute
          ) b
          JOIN events e ON e.user_id = b.user_id AND e.ts BETWEEN b.low AND b.high
        ) w
        WHERE in_minute > limit_per_minute
        GROUP BY user_id
        ON CONFLICT (user_id) DO UPDATE SET
          since = least(s.since, excluded.since),
          peak_events_per_minute = greatest(s.peak_events_per_minute, excluded.peak_events_per_minute);
        RETURN NULL;
      END $$`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(ARRIVAL_ORDER_GUARD);
  }
}
