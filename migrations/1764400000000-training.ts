import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The training platform: jobs (PostgreSQL is their record, BullMQ only carries ids), schedules,
 * the model registry with each version's artifact, and the first score table. A version's scores
 * are written in the same transaction that makes it READY, and resolvers read scores only through
 * the ACTIVE version, so switching versions is one UPDATE and a half-trained model is never served.
 */
export class Training1764400000000 implements MigrationInterface {
  name = 'Training1764400000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE training_schedules (
        id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        kind       text NOT NULL,
        cron       text NOT NULL,
        params     jsonb NOT NULL DEFAULT '{}'::jsonb,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`
      CREATE TABLE training_jobs (
        id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        request_key      text NOT NULL,
        kind             text NOT NULL,
        params           jsonb NOT NULL,
        data_from        timestamptz,
        data_to          timestamptz NOT NULL,
        activate         boolean NOT NULL,
        schedule_id      uuid REFERENCES training_schedules (id) ON DELETE SET NULL,
        state            text NOT NULL DEFAULT 'QUEUED' CHECK (state IN ('QUEUED', 'RUNNING', 'COMPLETED', 'FAILED', 'CANCELLED')),
        progress         real NOT NULL DEFAULT 0,
        message          text,
        attempts         integer NOT NULL DEFAULT 0,
        error            text,
        model_version_id integer,
        created_at       timestamptz NOT NULL DEFAULT now(),
        started_at       timestamptz,
        finished_at      timestamptz,
        updated_at       timestamptz NOT NULL DEFAULT now()
      )`);
    // The same request (kind, params, data) is trained once: at most one live or finished job per key.
    await q.query(`CREATE UNIQUE INDEX training_jobs_request ON training_jobs (request_key) WHERE state IN ('QUEUED', 'RUNNING', 'COMPLETED')`);
    await q.query(`CREATE INDEX training_jobs_listing ON training_jobs (created_at DESC, id DESC)`);
    await q.query(`
      CREATE TABLE model_versions (
        id               serial PRIMARY KEY,
        kind             text NOT NULL,
        version          integer NOT NULL,
        status           text NOT NULL CHECK (status IN ('TRAINING', 'READY', 'ACTIVE', 'FAILED', 'RETIRED')),
        params           jsonb NOT NULL,
        metrics          jsonb,
        backend          text NOT NULL,
        trained_from     timestamptz,
        trained_to       timestamptz NOT NULL,
        event_count      bigint,
        training_seconds real,
        artifact         bytea,
        training_job_id  uuid UNIQUE REFERENCES training_jobs (id) ON DELETE SET NULL,
        created_at       timestamptz NOT NULL DEFAULT now(),
        activated_at     timestamptz,
        UNIQUE (kind, version)
      )`);
    // Exactly one active version per kind is what every resolver relies on.
    await q.query(`CREATE UNIQUE INDEX model_versions_one_active ON model_versions (kind) WHERE status = 'ACTIVE'`);
    await q.query(`ALTER TABLE training_jobs ADD FOREIGN KEY (model_version_id) REFERENCES model_versions (id) ON DELETE SET NULL`);
    await q.query(`
      CREATE TABLE recommendation_scores (
        model_version_id integer NOT NULL REFERENCES model_versions (id) ON DELETE CASCADE,
        user_id          integer NOT NULL,
        item_ids         integer[] NOT NULL,
        scores           real[] NOT NULL,
        PRIMARY KEY (model_version_id, user_id)
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE recommendation_scores`);
    await q.query(`ALTER TABLE training_jobs DROP COLUMN model_version_id`);
    await q.query(`DROP TABLE model_versions`);
    await q.query(`DROP TABLE training_jobs`);
    await q.query(`DROP TABLE training_schedules`);
  }
}
