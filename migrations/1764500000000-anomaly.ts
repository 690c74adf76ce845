import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Anomaly detection: per-user scores of each anomaly model version, admin labels, and the ingest
 * guard. The guard is a statement-level trigger on `events`, so every write path (GraphQL ingest,
 * file import, demo load) marks users whose rate is far above any human's in the same transaction
 * that stores their events, before any model runs; nothing is dropped.
 */
export class Anomaly1764500000000 implements MigrationInterface {
  name = 'Anomaly1764500000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE anomaly_scores (
        model_version_id integer NOT NULL REFERENCES model_versions (id) ON DELETE CASCADE,
        user_id          integer NOT NULL,
        score            real NOT NULL,
        first_event_at   timestamptz NOT NULL,
        last_event_at    timestamptz NOT NULL,
        findings         jsonb NOT NULL DEFAULT '[]'::jsonb,
        PRIMARY KEY (model_version_id, user_id)
      )`);
    await q.query(`CREATE INDEX anomaly_scores_by_user ON anomaly_scores (user_id)`);
    await q.query(`
      CREATE TABLE user_labels (
        user_id     integer PRIMARY KEY,
        label       text NOT NULL CHECK (label IN ('BOT', 'FRAUD', 'GENUINE')),
        note        text,
        labelled_by uuid,
        labelled_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`
      CREATE TABLE ingest_guard (
        singleton             boolean PRIMARY KEY DEFAULT true CHECK (singleton),
        max_events_per_minute integer NOT NULL
      )`);
    await q.query(`INSERT INTO ingest_guard (max_events_per_minute) VALUES (120)`);
    await q.query(`
      CREATE TABLE suspect_users (
        user_id                integer PRIMARY KEY,
        since                  timestamptz NOT NULL,
        peak_events_per_minute integer NOT NULL,
        marked_at              timestamptz NOT NULL DEFAULT now()
      )`);
    // For each user in the statement, the most events within any 60 seconds among their events
    // from a minute before the batch's first to its last; over the limit → suspect from then on.
    await q.query(`
      CREATE FUNCTION mark_suspect_users() RETURNS trigger LANGUAGE plpgsql AS $$
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
      END $$`);
    await q.query(`
      CREATE TRIGGER events_ingest_guard AFTER INSERT ON events
      REFERENCING NEW TABLE AS new_events FOR EACH STATEMENT EXECUTE FUNCTION mark_suspect_users()`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TRIGGER events_ingest_guard ON events`);
    await q.query(`DROP FUNCTION mark_suspect_users()`);
    await q.query(`DROP TABLE suspect_users`);
    await q.query(`DROP TABLE ingest_guard`);
    await q.query(`DROP TABLE user_labels`);
    await q.query(`DROP TABLE anomaly_scores`);
  }
}
