import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Differential privacy budgets per API key (docs/privacy.md, "Differential privacy"): a key with a
 * budget gets noisy answers and spends epsilon per query. `numeric` so that spending 0.1 ten times
 * adds up to exactly 1 (a double would drift and refuse, or allow, the last query by rounding).
 */
export class PrivacyBudgets1765610000000 implements MigrationInterface {
  name = 'PrivacyBudgets1765610000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE privacy_budgets (
        key_id uuid PRIMARY KEY REFERENCES api_keys(id) ON DELETE CASCADE,
        epsilon numeric(14, 6) NOT NULL CHECK (epsilon > 0),
        spent numeric(14, 6) NOT NULL DEFAULT 0 CHECK (spent >= 0),
        queries integer NOT NULL DEFAULT 0,
        reset_at timestamptz NOT NULL DEFAULT now(),
        CHECK (spent <= epsilon)
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE privacy_budgets`);
  }
}
