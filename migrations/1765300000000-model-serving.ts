import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Switches a recommender kind off for serving without retiring its versions (`setModelServing`):
 * a row with `serving = false` makes the API processes leave that kind's ACTIVE version out of their
 * snapshot, so its lists stop contributing within about a second; switching it on again serves the
 * same version. No row means serving.
 */
export class ModelServing1765300000000 implements MigrationInterface {
  name = 'ModelServing1765300000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE model_serving (kind text PRIMARY KEY, serving boolean NOT NULL, changed_at timestamptz NOT NULL DEFAULT now())`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE model_serving`);
  }
}
