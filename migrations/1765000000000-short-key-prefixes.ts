import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `api_keys.key_prefix` keeps at most 6 characters of a secret (it was 12): enough to tell keys apart
 * in a list, too few to help anyone guess the rest. Shortens the prefixes stored before.
 */
export class ShortKeyPrefixes1765000000000 implements MigrationInterface {
  name = 'ShortKeyPrefixes1765000000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`UPDATE api_keys SET key_prefix = left(key_prefix, 6) WHERE length(key_prefix) > 6`);
  }

  async down(): Promise<void> {
    // The cut characters are gone; the shorter prefixes stay.
  }
}
