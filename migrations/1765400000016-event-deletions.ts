import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `event_deletions`: one row per event deleted from `events` (user erasure, retention), written by
 * the trigger function `record_event_deletion` so every delete path records it without knowing.
 * Copies of the events kept elsewhere (ClickHouse, src/analytics/clickhouse-sync.ts) read it in
 * commit order exactly as they read new events: `tx` is the deleting transaction, and a catch-up
 * reads the rows its previous snapshot did not see as committed. The row keeps what the copy needs
 * to find the event (id, user, time).
 *
 * The trigger itself is not created here: the ClickHouse sync installs it before its first copy
 * (`ensureDeletionLog`), so a shop that never uses ClickHouse pays nothing per delete and keeps no
 * log; the sync also prunes rows older than FUNNELCAST_CLICKHOUSE_DELETION_LOG_DAYS.
 */
export class EventDeletions1765400000016 implements MigrationInterface {
  name = 'EventDeletions1765400000016';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE event_deletions (
        event_pk   bigint NOT NULL,
        user_id    integer NOT NULL,
        ts         timestamptz NOT NULL,
        deleted_at timestamptz NOT NULL DEFAULT now(),
        tx         xid8 NOT NULL DEFAULT pg_current_xact_id()
      )`);
    await q.query(`CREATE INDEX event_deletions_tx ON event_deletions (tx)`);
    await q.query(`CREATE INDEX event_deletions_deleted_at ON event_deletions (deleted_at)`);
    await q.query(`
      CREATE FUNCTION record_event_deletion() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        INSERT INTO event_deletions (event_pk, user_id, ts) VALUES (OLD.id, OLD.user_id, OLD.ts);
        RETURN OLD;
      END $$`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TRIGGER IF EXISTS events_record_deletion ON events`);
    await q.query(`DROP FUNCTION record_event_deletion()`);
    await q.query(`DROP TABLE event_deletions`);
  }
}
