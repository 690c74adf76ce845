/**
 * Migration 1765600000000 (events partitioned by month) on a database that already holds events:
 * every row lands in the partition of its UTC month with all its columns (tx included), the ids
 * stay claimed (a re-sent event id is skipped, whatever its time), the triggers move (the ingest
 * guard, the ClickHouse deletion log), ids keep coming from the same sequence, and `down` puts the
 * plain table back with its unique event id. Expected values are the rows inserted here.
 */
import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { migrations } from '../migrations';
import { createDataSource } from '../src/db/data-source';
import { ensureDeletionLog } from '../src/analytics/clickhouse-sync';
import { TEST_ADMIN_URL } from './support/database';

const NAME = `fc_partmig_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
const url = (() => {
  const parsed = new URL(TEST_ADMIN_URL);
  parsed.pathname = `/${NAME}`;
  return parsed.toString();
})();

async function admin(sql: string): Promise<void> {
  const client = new Client({ connectionString: TEST_ADMIN_URL });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** A data source that knows the migrations up to and including `count`. */
function upTo(count: number): DataSource {
  const ds = createDataSource(url, { poolSize: 2 });
  ds.setOptions({ migrations: migrations.slice(0, count) });
  return ds;
}

const ROWS = [
  // event id, user, time, type
  ['a-1', 'u1', '2025-11-30T23:59:59.999Z', 'view'],
  ['a-2', 'u1', '2025-12-01T00:00:00.000Z', 'cart'],
  ['b-1', 'u2', '2025-12-15T12:00:00.000Z', 'view'],
  ['b-2', 'u2', '2026-02-01T08:00:00.000Z', 'purchase'],
];

let ds: DataSource;
beforeAll(async () => {
  await admin(`CREATE DATABASE "${NAME}"`);
});
afterAll(async () => {
  if (ds?.isInitialized) await ds.destroy();
  await admin(`DROP DATABASE IF EXISTS "${NAME}" WITH (FORCE)`);
});

test('existing events move into their months, keep tx and triggers, and down restores the plain table', async () => {
  const index = migrations.findIndex((m) => m.name === 'EventPartitions1765600000000');
  expect(index).toBeGreaterThan(0);
  ds = upTo(index);
  await ds.initialize();
  await ds.runMigrations({ transaction: 'each' });
  await ds.query(`INSERT INTO users (external_id) VALUES ('u1'), ('u2')`);
  for (const [eventId, user, ts, type] of ROWS) {
    await ds.query(`INSERT INTO events (event_id, user_id, type, ts, props) SELECT $1, id, $3, $4, '{"k":1}' FROM users WHERE external_id = $2`, [eventId, user, type, ts]);
  }
  await ensureDeletionLog(ds);
  const before: { id: string; event_id: string; tx: string; ts: Date }[] = await ds.query(`SELECT id::text, event_id, tx::text, ts FROM events ORDER BY id`);
  await ds.destroy();

  ds = upTo(index + 1);
  await ds.initialize();
  await ds.runMigrations({ transaction: 'each' });
  const after: { id: string; event_id: string; tx: string; ts: Date; part: string; props: unknown }[] = await ds.query(
    `SELECT id::text, event_id, tx::text, ts, tableoid::regclass::text AS part, props FROM events ORDER BY id`,
  );
  expect(after.map(({ id, event_id, tx, ts }) => ({ id, event_id, tx, ts }))).toEqual(before);
  expect(after.map((row) => row.part)).toEqual(['events_p202511', 'events_p202512', 'events_p202512', 'events_p202602']);
  expect(after.every((row) => JSON.stringify(row.props) === '{"k":1}')).toBe(true);
  // Months from the oldest event to two after today exist, so today's ingest needs no DDL.
  const parts: { name: string }[] = await ds.query(`SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'events'::regclass ORDER BY 1`);
  expect(parts[0].name).toBe('events_p202511');
  const now = new Date();
  const month = (offset: number) => {
    const d = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + offset, 1));
    return `events_p${d.getUTCFullYear()}${String(d.getUTCMonth() + 1).padStart(2, '0')}`;
  };
  expect(parts.map((p) => p.name)).toEqual(expect.arrayContaining([month(0), month(1), month(2)]));
  const triggers: { tgname: string }[] = await ds.query(`SELECT tgname FROM pg_trigger WHERE tgrelid = 'events'::regclass AND NOT tgisinternal ORDER BY 1`);
  expect(triggers.map((t) => t.tgname)).toEqual(['events_claim_event_id', 'events_ingest_guard', 'events_record_deletion', 'events_release_all_event_ids', 'events_release_event_id']);

  // Idempotency: the same event id again is skipped, at any time (also within one statement).
  const [{ max }] = await ds.query(`SELECT max(id)::text AS max FROM events`);
  const again = await ds.query(`INSERT INTO events (event_id, user_id, type, ts) VALUES ('a-1', 1, 'view', '2025-12-02Z'), ('c-1', 1, 'view', '2025-12-02Z'), ('c-1', 1, 'cart', '2025-12-03Z') RETURNING id::text, type`);
  // (a skipped row still took a sequence value, as ON CONFLICT's did: defaults come before the check)
  expect(again.map((row: { type: string }) => row.type)).toEqual(['view']);
  expect(Number(again[0].id)).toBeGreaterThan(Number(max));
  // A delete writes the deletion log (the moved trigger) and frees the id.
  await ds.query(`DELETE FROM events WHERE event_id = 'b-1'`);
  expect(await ds.query(`SELECT count(*)::int AS n FROM event_deletions`)).toEqual([{ n: 1 }]);
  expect(await ds.query(`SELECT count(*)::int AS n FROM event_ids WHERE event_id = 'b-1'`)).toEqual([{ n: 0 }]);

  await ds.undoLastMigration({ transaction: 'each' });
  const plain: { relkind: string }[] = await ds.query(`SELECT relkind FROM pg_class WHERE oid = 'events'::regclass`);
  expect(plain).toEqual([{ relkind: 'r' }]);
  const restored: { event_id: string }[] = await ds.query(`SELECT event_id FROM events ORDER BY id`);
  expect(restored.map((r) => r.event_id)).toEqual(['a-1', 'a-2', 'b-2', 'c-1']);
  await expect(ds.query(`INSERT INTO events (event_id, user_id, type, ts) VALUES ('a-1', 1, 'view', now())`)).rejects.toThrow(/events_event_id/);
  const kept: { tgname: string }[] = await ds.query(`SELECT tgname FROM pg_trigger WHERE tgrelid = 'events'::regclass AND NOT tgisinternal ORDER BY 1`);
  expect(kept.map((t) => t.tgname)).toEqual(['events_ingest_guard', 'events_record_deletion']);
});
