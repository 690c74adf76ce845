import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Anomaly scores per user and UTC day instead of per user over the training range. Rows written
 * before this migration score a whole range and cannot be split into days, so they are removed and
 * their anomaly model versions retired: until the detectors are retrained only the ingest guard
 * flags anyone.
 */
export class AnomalyDays1764800000000 implements MigrationInterface {
  name = 'AnomalyDays1764800000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`DELETE FROM anomaly_scores`);
    await q.query(`UPDATE model_versions SET status = 'RETIRED', artifact = NULL WHERE kind LIKE 'ANOMALY\\_%' AND status IN ('READY', 'ACTIVE')`);
    await q.query(`ALTER TABLE anomaly_scores DROP CONSTRAINT anomaly_scores_pkey`);
    await q.query(`ALTER TABLE anomaly_scores ADD COLUMN day date NOT NULL`);
    await q.query(`ALTER TABLE anomaly_scores ADD PRIMARY KEY (model_version_id, user_id, day)`);
    await q.query(`DROP INDEX anomaly_scores_by_user`);
    await q.query(`CREATE INDEX anomaly_scores_by_user ON anomaly_scores (user_id, day)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DELETE FROM anomaly_scores`);
    await q.query(`UPDATE model_versions SET status = 'RETIRED', artifact = NULL WHERE kind LIKE 'ANOMALY\\_%' AND status IN ('READY', 'ACTIVE')`);
    await q.query(`ALTER TABLE anomaly_scores DROP CONSTRAINT anomaly_scores_pkey`);
    await q.query(`ALTER TABLE anomaly_scores DROP COLUMN day`);
    await q.query(`ALTER TABLE anomaly_scores ADD PRIMARY KEY (model_version_id, user_id)`);
    await q.query(`DROP INDEX anomaly_scores_by_user`);
    await q.query(`CREATE INDEX anomaly_scores_by_user ON anomaly_scores (user_id)`);
  }
}
