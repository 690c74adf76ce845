import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The `server` role: a trusted backend's key, which may do what a client key may plus read
 * predictions with their explanations (purchase propensity, next step), which public client keys
 * no longer may (docs/privacy.md). Existing keys keep their roles: a backend that reads
 * predictions with a client key needs a server key from now on.
 */
export class ServerRole1765500000001 implements MigrationInterface {
  name = 'ServerRole1765500000001';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE api_keys DROP CONSTRAINT api_keys_role_check`);
    await q.query(`ALTER TABLE api_keys ADD CONSTRAINT api_keys_role_check CHECK (role IN ('admin', 'analyst', 'server', 'client'))`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE api_keys DROP CONSTRAINT api_keys_role_check`);
    await q.query(`ALTER TABLE api_keys ADD CONSTRAINT api_keys_role_check CHECK (role IN ('admin', 'analyst', 'client'))`);
  }
}
