import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Funnels an analyst keeps under a name; `definition` is the FunnelInput as JSON, run again with any
 * time range. IF NOT EXISTS: development databases created before this migration was renumbered
 * (it was 1764500000000) already have the table.
 */
export class SavedFunnels1764600000000 implements MigrationInterface {
  name = 'SavedFunnels1764600000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE IF NOT EXISTS saved_funnels (
        id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        name       text NOT NULL,
        definition jsonb NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX IF NOT EXISTS saved_funnels_created_at ON saved_funnels (created_at)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE saved_funnels`);
  }
}
