/**
 * Transactions that commit after others that took later ids (issue #12, "late-committing
 * transactions"). Ids come from a sequence at insert time, so the order of ids is not the order of
 * commits; the event mirror must still end up with every committed row exactly once, whatever the
 * number, size and order of late commits. Sizes exceed the 20,000 skipped ids the old catch-up
 * re-checked, which is what made it lose rows.
 *
 * Expected counts are worked out by hand from what each transaction inserts (comments below); the
 * mirror's ids are also compared with PostgreSQL's own list and with a mirror loaded from scratch.
 */
import { Client } from 'pg';
import { EventMirror, MirrorSnapshot } from '../src/funnel/event-mirror';
import { startTestApp, TestApp } from './support/app';

const INGEST = 'mutation($events: [EventInput!]!) { ingestEvents(events: $events) { accepted } }';
const FUNNEL = 'query($input: FunnelInput!) { funnel(input: $input) { steps { count } } }';
const DAY = '2026-02-10';

let t: TestApp;
let clientKey: string;
let analystKey: string;
let eventNumber = 0;
const open: Client[] = [];

beforeAll(async () => {
  t = await startTestApp('funnel_late');
  clientKey = await t.createKey('client');
  analystKey = await t.createKey('analyst');
  // Rows are inserted straight into `events` here, so the month's partition is made first (the writers do it themselves).
  await t.app.services.dataSource.query(`SELECT ensure_event_partitions($1, $1)`, [`${DAY}T00:00:00Z`]);
});
afterAll(async () => {
  await Promise.all(open.map((client) => client.end().catch(() => undefined)));
  await t.stop();
});

async function connection(): Promise<Client> {
  const client = new Client({ connectionString: t.db.url });
  await client.connect();
  open.push(client);
  return client;
}

async function ingest(userId: string, type: string, time = '09:00'): Promise<void> {
  const response = await t.gql(INGEST, { events: [{ eventId: `ingested-${eventNumber++}`, userId, type, timestamp: `${DAY}T${time}:00Z` }] }, clientKey);
  expect(response.data?.ingestEvents.accepted).toBe(1);
}

/**
 * Opens a transaction on its own connection that inserts `users` new users (`prefix`-1 …), each
 * with a view at 10:00 and a cart at 10:05 (2 rows per user), and leaves it open.
 */
async function openInsert(prefix: string, users: number): Promise<Client> {
  const client = await connection();
  await client.query('BEGIN');
  await client.query(`INSERT INTO users (external_id) SELECT $1 || g FROM generate_series(1, $2::int) g`, [`${prefix}-`, users]);
  await client.query(
    `INSERT INTO events (event_id, user_id, type, ts)
     SELECT u.external_id || '-' || s.type, u.id, s.type, s.ts
     FROM users u CROSS JOIN (VALUES ('view', timestamptz '${DAY}T10:00:00Z'), ('cart', timestamptz '${DAY}T10:05:00Z')) s(type, ts)
     WHERE u.external_id LIKE $1
     ORDER BY u.id, s.ts`,
    [`${prefix}-%`],
  );
  return client;
}

async function funnelCounts(): Promise<number[]> {
  const input = { steps: [{ type: 'view' }, { type: 'cart' }], conversionWindowSeconds: 3600, from: `${DAY}T00:00:00Z`, to: `${DAY}T23:59:59Z` };
  const response = await t.gql(FUNNEL, { input }, analystKey);
  expect(response.errors).toBeUndefined();
  return response.data!.funnel.steps.map((step: { count: number }) => step.count);
}

it('counts a 25,000-row transaction that commits after a later event was read (the reproduction)', async () => {
  await funnelCounts(); // the server's mirror is loaded before anything is held open
  // 12,500 users × (view, cart) = 25,000 rows, ids taken now, committed later.
  const held = await openInsert('held', 12_500);
  // One view of another user takes the next id and commits first.
  await ingest('early', 'view');
  expect(await funnelCounts()).toEqual([1, 0]);
  await held.query('COMMIT');
  // early's view + 12,500 held views; 12,500 held carts within 5 minutes.
  expect(await funnelCounts()).toEqual([12_501, 12_500]);
});

describe('the mirror under overlapping late transactions', () => {
  let live: EventMirror;

  const pgIds = async (): Promise<number[]> =>
    ((await t.app.services.dataSource.query('SELECT id FROM events ORDER BY id')) as { id: string }[]).map((row) => Number(row.id));
  /** Every event id the snapshot holds: the delta's users from the delta, the others from the base. */
  const sortedIds = (snapshot: MirrorSnapshot): number[] => {
    const { base, delta } = snapshot;
    const inDelta = new Set(delta.userIds!);
    const ids = Array.from(delta.ids.subarray(0, delta.size));
    for (let p = 0; p < base.size; p++) if (!inDelta.has(base.users[p])) ids.push(base.ids[p]);
    return ids.sort((a, b) => a - b);
  };

  /** The live mirror holds `expected` rows, the same ids as PostgreSQL and as a fresh load. */
  async function expectMirrored(expected: number): Promise<void> {
    const snapshot = await live.snapshot();
    expect(snapshot.eventCount).toBe(expected);
    const ids = sortedIds(snapshot);
    expect(ids.length).toBe(expected);
    expect(ids).toEqual(await pgIds());
    const fresh = await new EventMirror(t.app.services.dataSource).snapshot();
    expect(ids).toEqual(sortedIds(fresh));
  }

  it('ends up with every committed row once, whatever the commit order', async () => {
    live = new EventMirror(t.app.services.dataSource);
    const base = (await pgIds()).length; // what the reproduction stored: 25,001 rows
    expect(base).toBe(25_001);
    await expectMirrored(base);

    const a = await openInsert('a', 15_000); // 30,000 rows, the lowest ids of this test
    const b = await openInsert('b', 3); // 6 rows
    await ingest('c', 'view'); // 1 row, committed at once
    await expectMirrored(base + 1);
    const d = await openInsert('d', 11_000); // 22,000 rows
    await b.query('COMMIT');
    await expectMirrored(base + 1 + 6);
    const e = await openInsert('e', 4); // 8 rows, never committed
    await e.query('ROLLBACK');
    await ingest('c', 'cart');
    await expectMirrored(base + 1 + 6 + 1);
    await d.query('COMMIT');
    await expectMirrored(base + 8 + 22_000);
    const f = await openInsert('f', 2); // 4 rows, ids above everything else open
    await f.query('COMMIT');
    await expectMirrored(base + 8 + 22_000 + 4);
    await a.query('COMMIT');
    await expectMirrored(base + 8 + 22_000 + 4 + 30_000);
  });

  it('keeps its read position when a catch-up fails during its COPY', async () => {
    live = new EventMirror(t.app.services.dataSource);
    const before = (await live.snapshot()).eventCount;
    // 1 row the failing catch-up's snapshot counts as committed: were its snapshot to become the
    // read position without its rows, no later catch-up would read this row.
    await ingest('h', 'view');
    const locker = await connection();
    await locker.query('BEGIN');
    await locker.query('LOCK TABLE events IN ACCESS EXCLUSIVE MODE');
    const failing = live.sync();
    const outcome = failing.then(
      () => 'caught up',
      () => 'failed',
    );
    // The catch-up has taken its snapshot and waits for the lock to read events: end its connection there.
    let terminated = false;
    for (let attempt = 0; attempt < 600 && !terminated; attempt++) {
      const { rows } = await locker.query(`SELECT pg_terminate_backend(pid) AS done FROM pg_locks WHERE relation = 'events'::regclass AND NOT granted`);
      terminated = rows.some((row: { done: boolean }) => row.done);
      if (!terminated) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(terminated).toBe(true);
    expect(await outcome).toBe('failed');
    await locker.query('ROLLBACK');
    await expectMirrored(before + 1);
  });
});
