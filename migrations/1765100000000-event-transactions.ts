import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `events.tx`: the id of the transaction that inserted the row, written by the column default
 * (`pg_current_xact_id()`), so every insert path (ingest, the importer's INSERT … SELECT, anything
 * that names its columns) gets it without knowing. The funnel event mirror catches up by snapshot:
 * a catch-up reads exactly the rows whose transaction was not yet visible in the previous
 * catch-up's snapshot (src/funnel/event-mirror.ts), which is exact whatever order transactions
 * commit in, where ids (taken at insert, not at commit) are not.
 *
 * The column is added without a default first and the default set afterwards, so existing rows
 * keep NULL without a table rewrite; the mirror's first full load reads them. The index serves only
 * the catch-up's `tx >= xmax OR tx = ANY(in-flight)` lookups, so it leaves those NULLs out.
 */
export class EventTransactions1765100000000 implements MigrationInterface {
  name = 'EventTransactions1765100000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE events ADD COLUMN tx xid8`);
    await q.query(`ALTER TABLE events ALTER COLUMN tx SET DEFAULT pg_current_xact_id()`);
    await q.query(`CREATE INDEX events_tx ON events (tx) WHERE tx IS NOT NULL`);
    // Without statistics the planner guesses a third of the table for `tx >= …` (and may JIT-compile
    // every catch-up); a sample of the new column tells it that column is NULL so far.
    await q.query(`ANALYZE events (tx)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX events_tx`);
    await q.query(`ALTER TABLE events DROP COLUMN tx`);
  }
}
