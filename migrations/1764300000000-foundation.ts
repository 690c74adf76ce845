import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Users and items get dense integer ids (dictionary tables) so models and the funnel engine work on
 * integers; the client's own ids stay in `external_id`. `events.id` is assigned in ingestion order,
 * which is the tie-break for equal timestamps everywhere. Events carry no foreign keys: the ingest
 * and import paths are the only writers and always resolve ids through the dictionaries first, and
 * per-row key checks would cost bulk loads more than they protect.
 */
export class Foundation1764300000000 implements MigrationInterface {
  name = 'Foundation1764300000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE users (
        id          serial PRIMARY KEY,
        external_id text NOT NULL UNIQUE,
        properties  jsonb NOT NULL DEFAULT '{}'::jsonb,
        created_at  timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`
      CREATE TABLE items (
        id          serial PRIMARY KEY,
        external_id text NOT NULL UNIQUE,
        title       text,
        category    text,
        brand       text,
        price       numeric(14, 2),
        properties  jsonb NOT NULL DEFAULT '{}'::jsonb,
        available   boolean NOT NULL DEFAULT true,
        updated_at  timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX items_category ON items (category)`);
    await q.query(`
      CREATE TABLE events (
        id          bigserial PRIMARY KEY,
        event_id    text NOT NULL,
        user_id     integer NOT NULL,
        session_id  text,
        type        text NOT NULL,
        item_id     integer,
        ts          timestamptz NOT NULL,
        props       jsonb,
        ingested_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE UNIQUE INDEX events_event_id ON events (event_id)`);
    await q.query(`CREATE INDEX events_user_ts ON events (user_id, ts, id)`);
    await q.query(`CREATE INDEX events_ts_brin ON events USING brin (ts)`);
    await q.query(`
      CREATE TABLE api_keys (
        id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        name         text NOT NULL,
        role         text NOT NULL CHECK (role IN ('admin', 'analyst', 'client')),
        key_hash     text NOT NULL UNIQUE,
        key_prefix   text NOT NULL,
        created_at   timestamptz NOT NULL DEFAULT now(),
        revoked_at   timestamptz,
        last_used_at timestamptz
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE api_keys`);
    await q.query(`DROP TABLE events`);
    await q.query(`DROP TABLE items`);
    await q.query(`DROP TABLE users`);
  }
}
