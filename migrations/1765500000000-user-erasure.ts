import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Forgetting a user (src/privacy/erasure.service.ts).
 *
 * - `user_erasures`: the audit log, one row per request: who asked (API key id and name, or the
 *   command line), when, how long it took, and rows removed per table. It never holds the user's
 *   id. Every API process polls its highest id and, on a new one, drops what it holds in memory
 *   (funnel mirror, recommendation caches and factors): that is the broadcast.
 * - `erased_users`: tombstones. `user_key` is SHA-256 of a server secret (`server_secrets`
 *   'erasure-tombstones') followed by the id, so the table does not list ids in the clear; until
 *   `until`, the trigger below refuses to create the user again, so events that arrive for them
 *   during and after the erasure are dropped (ingest and import create a user before its events).
 */
export class UserErasure1765500000000 implements MigrationInterface {
  name = 'UserErasure1765500000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE user_erasures (
        id            bigserial PRIMARY KEY,
        requested_by  text NOT NULL,
        requested_at  timestamptz NOT NULL DEFAULT now(),
        finished_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
        user_found    boolean NOT NULL,
        removed       jsonb NOT NULL
      )`);
    await q.query(`
      CREATE TABLE erased_users (
        user_key   text PRIMARY KEY,
        erased_at  timestamptz NOT NULL DEFAULT now(),
        until      timestamptz NOT NULL
      )`);
    await q.query(`
      CREATE FUNCTION refuse_erased_users() RETURNS trigger LANGUAGE plpgsql AS $$
      DECLARE
        secret bytea;
      BEGIN
        SELECT value INTO secret FROM server_secrets WHERE name = 'erasure-tombstones';
        IF secret IS NULL THEN RETURN NEW; END IF;
        IF EXISTS (SELECT 1 FROM erased_users
                   WHERE user_key = encode(sha256(secret || convert_to(NEW.external_id, 'UTF8')), 'hex') AND until > now()) THEN
          RETURN NULL;
        END IF;
        RETURN NEW;
      END $$`);
    await q.query(`CREATE TRIGGER users_refuse_erased BEFORE INSERT ON users FOR EACH ROW EXECUTE FUNCTION refuse_erased_users()`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TRIGGER users_refuse_erased ON users`);
    await q.query(`DROP FUNCTION refuse_erased_users()`);
    await q.query(`DROP TABLE erased_users`);
    await q.query(`DROP TABLE user_erasures`);
  }
}
