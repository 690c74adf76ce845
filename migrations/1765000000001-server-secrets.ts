import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `server_secrets`: secrets every API process must share, generated once by the first process that
 * needs one (today the key that signs recommendation ids, unless FUNNELCAST_RECOMMENDATION_SECRET
 * is set). Never exposed through the API.
 */
export class ServerSecrets1765000000001 implements MigrationInterface {
  name = 'ServerSecrets1765000000001';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE server_secrets (
        name       text PRIMARY KEY,
        value      bytea NOT NULL CHECK (length(value) >= 16),
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE server_secrets`);
  }
}
