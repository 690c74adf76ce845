import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Recommenders beyond matrix factorisation, and their feedback loop.
 *
 * - `popularity_scores`: one ranked list per (version, category); category '' is the whole shop.
 * - `item_neighbours`: per (version, relation, item) the top neighbours: relation `similar` and
 *   `bought_together` (ITEM_KNN), `session_next` (SESSION_GRU: what follows a one-click session).
 * - `recommendation_feedback`: impressions and clicks clients report for a served recommendation
 *   (idempotent per recommendation id and type). Served lists are not written at serve time: the
 *   recommendation id itself names the recommender, model version and item.
 */
export class Recommendations1764900000000 implements MigrationInterface {
  name = 'Recommendations1764900000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE popularity_scores (
        model_version_id integer NOT NULL REFERENCES model_versions (id) ON DELETE CASCADE,
        category         text NOT NULL,
        item_ids         integer[] NOT NULL,
        scores           real[] NOT NULL,
        PRIMARY KEY (model_version_id, category)
      )`);
    await q.query(`
      CREATE TABLE item_neighbours (
        model_version_id integer NOT NULL REFERENCES model_versions (id) ON DELETE CASCADE,
        relation         text NOT NULL CHECK (relation IN ('similar', 'bought_together', 'session_next')),
        item_id          integer NOT NULL,
        neighbour_ids    integer[] NOT NULL,
        scores           real[] NOT NULL,
        PRIMARY KEY (model_version_id, relation, item_id)
      )`);
    await q.query(`
      CREATE TABLE recommendation_feedback (
        id                bigserial PRIMARY KEY,
        recommendation_id text NOT NULL,
        type              text NOT NULL CHECK (type IN ('impression', 'click')),
        source            text NOT NULL,
        model_version_id  integer,
        item_id           integer NOT NULL,
        user_external_id  text NOT NULL,
        ts                timestamptz NOT NULL,
        UNIQUE (recommendation_id, type)
      )`);
    await q.query(`CREATE INDEX recommendation_feedback_ts ON recommendation_feedback (ts)`);
    // Serving keeps the catalogue in memory and reads what changed since its last look.
    await q.query(`CREATE INDEX items_updated_at ON items (updated_at)`);
    // Events that carry a recommendation id (clicks, carts, purchases reported through ingestEvents).
    await q.query(`CREATE INDEX events_recommendation_id ON events ((props->>'recommendationId')) WHERE props ? 'recommendationId'`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX events_recommendation_id`);
    await q.query(`DROP INDEX items_updated_at`);
    await q.query(`DROP TABLE recommendation_feedback`);
    await q.query(`DROP TABLE item_neighbours`);
    await q.query(`DROP TABLE popularity_scores`);
  }
}
