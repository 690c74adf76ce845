import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Prediction's score tables, keyed by model version like every score table (retiring a version
 * empties them; deleting it cascades), and an index for reading one stored session's events.
 */
export class Prediction1764700000000 implements MigrationInterface {
  name = 'Prediction1764700000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE purchase_propensity_scores (
        model_version_id integer NOT NULL REFERENCES model_versions (id) ON DELETE CASCADE,
        user_id          integer NOT NULL,
        propensity       real NOT NULL,
        scored_at        timestamptz NOT NULL,
        PRIMARY KEY (model_version_id, user_id)
      )`);
    await q.query(`
      CREATE TABLE next_step_transitions (
        model_version_id integer NOT NULL REFERENCES model_versions (id) ON DELETE CASCADE,
        state            text NOT NULL,
        action           text NOT NULL,
        probability      real NOT NULL,
        PRIMARY KEY (model_version_id, state, action)
      )`);
    // predictNextStep(sessionId) reads one session; without this it would scan the log.
    await q.query(`CREATE INDEX events_session ON events (session_id, ts, id) WHERE session_id IS NOT NULL`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX events_session`);
    await q.query(`DROP TABLE next_step_transitions`);
    await q.query(`DROP TABLE purchase_propensity_scores`);
  }
}
