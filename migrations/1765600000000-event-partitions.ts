import { MigrationInterface, QueryRunner } from 'typeorm';

/** The event columns, in the table's order (every later migration's column included). */
const COLUMNS = 'id, event_id, user_id, session_id, type, item_id, ts, props, ingested_at, tx';

/**
 * Copies every trigger a user made on `from` onto `to` (the ingest guard, the ClickHouse sync's
 * deletion log when it is installed), whatever other migrations or the sync added: each definition
 * is PostgreSQL's own (`pg_get_triggerdef`) with the table name swapped.
 */
const MOVE_TRIGGERS = (from: string, to: string, except: string[]) => `
  DO $$
  DECLARE
    r record;
  BEGIN
    FOR r IN SELECT tgname, pg_get_triggerdef(oid) AS def FROM pg_trigger
             WHERE tgrelid = '${from}'::regclass AND NOT tgisinternal AND tgname <> ALL (ARRAY[${except.map((name) => `'${name}'`).join(', ') || "''"}]::name[])
    LOOP
      EXECUTE regexp_replace(r.def, ' ON (\\S+\\.)?${from} ', ' ON ${to} ');
    END LOOP;
  END $$`;

/**
 * Retention by whole months (docs/privacy.md, "Retention"): `events` becomes `PARTITION BY RANGE (ts)`
 * with one partition per UTC calendar month (`events_pYYYYMM`), so the retention job removes a month
 * with `DETACH PARTITION … CONCURRENTLY` and `DROP TABLE` instead of deleting rows from the hot table.
 *
 * - **Idempotency stays exact.** A unique index on a partitioned table must contain the partition
 *   key, so `event_id` alone can no longer be unique in `events`. `event_ids` (event id → its time)
 *   keeps it: the row trigger `claim_event_id` inserts the id there first and skips the event when it
 *   was already claimed (also by an earlier row of the same statement), which is what `ON CONFLICT
 *   (event_id) DO NOTHING` did, for every writer, without any writer knowing. A concurrent claim of
 *   the same id waits on the primary key for the other transaction, exactly as the old unique index
 *   did. Deleting an event (erasure) releases its id (`release_event_id`), TRUNCATE all of them; retention prunes the ids
 *   of dropped months in bounded batches (a narrow table, not `events`).
 * - **Primary key** `(id, ts)`: ids still come from `events_id_seq`, in ingestion order.
 * - **No default partition**: `DETACH … CONCURRENTLY` is refused on a table that has one. Months
 *   are created ahead (this one and the next two) by the API and the worker, and on demand by the
 *   writers for any other month a batch needs (`ensure_event_partitions`, which creates the table on
 *   its own and attaches it: ATTACH takes SHARE UPDATE EXCLUSIVE on `events`, so ingest and funnel
 *   reads go on meanwhile).
 * - **`retention_runs`**: one row per retention run, `cutoff` being the month boundary before which no
 *   event is kept any more. Writers skip events older than the latest cutoff; every API process
 *   polls the highest finished run and reloads its funnel mirror (src/privacy/retention-watch.ts).
 * - Triggers (`events_ingest_guard`, the sync's `events_record_deletion`), `tx` with its values (the
 *   funnel mirror and the ClickHouse sync catch up by it) and every index move to the new table;
 *   existing rows are copied into their months in one statement.
 */
export class EventPartitions1765600000000 implements MigrationInterface {
  name = 'EventPartitions1765600000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE event_ids (event_id text PRIMARY KEY, ts timestamptz NOT NULL)`);
    await q.query(`INSERT INTO event_ids (event_id, ts) SELECT event_id, ts FROM events`);
    await q.query(`CREATE INDEX event_ids_ts ON event_ids USING brin (ts)`);
    await q.query(`
      CREATE TABLE retention_runs (
        id           bigserial PRIMARY KEY,
        requested_by text NOT NULL,
        cutoff       timestamptz NOT NULL,
        started_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
        finished_at  timestamptz,
        removed      jsonb NOT NULL DEFAULT '[]'::jsonb
      )`);

    await q.query(`ALTER TABLE events RENAME TO events_unpartitioned`);
    await q.query(`
      DO $$
      DECLARE
        r record;
      BEGIN
        FOR r IN SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() AND tablename = 'events_unpartitioned' LOOP
          EXECUTE format('ALTER INDEX %I RENAME TO %I', r.indexname, r.indexname || '_unpartitioned');
        END LOOP;
      END $$`);
    await q.query(`
      CREATE TABLE events (
        id          bigint NOT NULL DEFAULT nextval('events_id_seq'::regclass),
        event_id    text NOT NULL,
        user_id     integer NOT NULL,
        session_id  text,
        type        text NOT NULL,
        item_id     integer,
        ts          timestamptz NOT NULL,
        props       jsonb,
        ingested_at timestamptz NOT NULL DEFAULT now(),
        tx          xid8 DEFAULT pg_current_xact_id(),
        CONSTRAINT events_pkey PRIMARY KEY (id, ts)
      ) PARTITION BY RANGE (ts)`);
    await q.query(`ALTER SEQUENCE events_id_seq OWNED BY events.id`);
    await q.query(`CREATE INDEX events_user_ts ON events (user_id, ts, id)`);
    await q.query(`CREATE INDEX events_ts_brin ON events USING brin (ts)`);
    await q.query(`CREATE INDEX events_tx ON events (tx) WHERE tx IS NOT NULL`);
    await q.query(`CREATE INDEX events_recommendation_id ON events ((props->>'recommendationId')) WHERE props ? 'recommendationId'`);

    // A month: a table of its own, attached (SHARE UPDATE EXCLUSIVE on events: inserts and reads go
    // on). The advisory lock keeps two processes from creating the same month at once.
    await q.query(`
      CREATE FUNCTION ensure_event_partitions(from_ts timestamptz, to_ts timestamptz) RETURNS integer LANGUAGE plpgsql AS $$
      DECLARE
        month_start timestamp := date_trunc('month', from_ts AT TIME ZONE 'UTC');
        last_month  timestamp := date_trunc('month', to_ts AT TIME ZONE 'UTC');
        name        text;
        created     integer := 0;
      BEGIN
        IF from_ts IS NULL OR to_ts IS NULL THEN RETURN 0; END IF;
        -- Never a month that retention removed: its events are refused anyway.
        IF month_start < (SELECT max(cutoff) FROM retention_runs) THEN
          month_start := date_trunc('month', (SELECT max(cutoff) FROM retention_runs) AT TIME ZONE 'UTC');
        END IF;
        WHILE month_start <= last_month LOOP
          name := 'events_p' || to_char(month_start, 'YYYYMM');
          IF to_regclass(quote_ident(name)) IS NULL THEN
            PERFORM pg_advisory_xact_lock(hashtext('funnelcast.event_partitions'));
            IF to_regclass(quote_ident(name)) IS NULL THEN
              EXECUTE format('CREATE TABLE %I (LIKE events INCLUDING DEFAULTS)', name);
              EXECUTE format('ALTER TABLE events ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)', name,
                             month_start AT TIME ZONE 'UTC', (month_start + interval '1 month') AT TIME ZONE 'UTC');
              created := created + 1;
            END IF;
          END IF;
          month_start := month_start + interval '1 month';
        END LOOP;
        RETURN created;
      END $$`);
    await q.query(`SELECT ensure_event_partitions(coalesce((SELECT min(ts) FROM events_unpartitioned), now()), now() + interval '2 months')`);
    await q.query(`INSERT INTO events (${COLUMNS}) SELECT ${COLUMNS} FROM events_unpartitioned`);

    await q.query(MOVE_TRIGGERS('events_unpartitioned', 'events', []));
    await q.query(`
      CREATE FUNCTION claim_event_id() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        INSERT INTO event_ids (event_id, ts) VALUES (NEW.event_id, NEW.ts) ON CONFLICT (event_id) DO NOTHING;
        IF NOT FOUND THEN RETURN NULL; END IF;
        RETURN NEW;
      END $$`);
    await q.query(`CREATE TRIGGER events_claim_event_id BEFORE INSERT ON events FOR EACH ROW EXECUTE FUNCTION claim_event_id()`);
    await q.query(`
      CREATE FUNCTION release_event_id() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        DELETE FROM event_ids WHERE event_id = OLD.event_id;
        RETURN OLD;
      END $$`);
    await q.query(`CREATE TRIGGER events_release_event_id AFTER DELETE ON events FOR EACH ROW EXECUTE FUNCTION release_event_id()`);
    // TRUNCATE fires no row trigger: emptying events empties the ids with it.
    await q.query(`CREATE FUNCTION release_all_event_ids() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN TRUNCATE event_ids; RETURN NULL; END $$`);
    await q.query(`CREATE TRIGGER events_release_all_event_ids AFTER TRUNCATE ON events FOR EACH STATEMENT EXECUTE FUNCTION release_all_event_ids()`);
    await q.query(`DROP TABLE events_unpartitioned`);
    await q.query(`ANALYZE events`);
    await q.query(`ANALYZE event_ids`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE events_unpartitioned (
        id          bigint NOT NULL DEFAULT nextval('events_id_seq'::regclass) PRIMARY KEY,
        event_id    text NOT NULL,
        user_id     integer NOT NULL,
        session_id  text,
        type        text NOT NULL,
        item_id     integer,
        ts          timestamptz NOT NULL,
        props       jsonb,
        ingested_at timestamptz NOT NULL DEFAULT now(),
        tx          xid8 DEFAULT pg_current_xact_id()
      )`);
    await q.query(`INSERT INTO events_unpartitioned (${COLUMNS}) SELECT ${COLUMNS} FROM events ORDER BY id`);
    await q.query(`ALTER SEQUENCE events_id_seq OWNED BY events_unpartitioned.id`);
    await q.query(MOVE_TRIGGERS('events', 'events_unpartitioned', ['events_claim_event_id', 'events_release_event_id', 'events_release_all_event_ids']));
    await q.query(`DROP TABLE events`);
    await q.query(`ALTER TABLE events_unpartitioned RENAME TO events`);
    await q.query(`ALTER INDEX events_unpartitioned_pkey RENAME TO events_pkey`);
    await q.query(`CREATE UNIQUE INDEX events_event_id ON events (event_id)`);
    await q.query(`CREATE INDEX events_user_ts ON events (user_id, ts, id)`);
    await q.query(`CREATE INDEX events_ts_brin ON events USING brin (ts)`);
    await q.query(`CREATE INDEX events_tx ON events (tx) WHERE tx IS NOT NULL`);
    await q.query(`CREATE INDEX events_recommendation_id ON events ((props->>'recommendationId')) WHERE props ? 'recommendationId'`);
    await q.query(`DROP FUNCTION release_all_event_ids()`);
    await q.query(`DROP FUNCTION release_event_id()`);
    await q.query(`DROP FUNCTION claim_event_id()`);
    await q.query(`DROP FUNCTION ensure_event_partitions(timestamptz, timestamptz)`);
    await q.query(`DROP TABLE retention_runs`);
    await q.query(`DROP TABLE event_ids`);
    await q.query(`ANALYZE events`);
  }
}
