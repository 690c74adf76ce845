import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Training jobs that start after others (`trainAll`: behaviour models after the anomaly detectors,
 * so they leave out the users the detectors flag). A QUEUED job whose `waits_for` holds a QUEUED or
 * RUNNING job stays out of BullMQ; once every job it waits for has finished (in any state) it is
 * queued by the worker that finished the last one, or by the next queue reconciliation.
 */
export class TrainingDependencies1765200000000 implements MigrationInterface {
  name = 'TrainingDependencies1765200000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE training_jobs ADD COLUMN waits_for uuid[] NOT NULL DEFAULT '{}'`);
    // The few jobs still waiting, for the release that runs whenever a job finishes.
    await q.query(`CREATE INDEX training_jobs_waiting ON training_jobs (created_at, id) WHERE state = 'QUEUED' AND waits_for <> '{}'`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX training_jobs_waiting`);
    await q.query(`ALTER TABLE training_jobs DROP COLUMN waits_for`);
  }
}
