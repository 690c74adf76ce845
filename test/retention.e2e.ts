/**
 * Retention by whole months (docs/privacy.md, "Retention"), on the real server and PostgreSQL:
 * events before the cutoff month are gone from `events` (their partitions dropped, not deleted row
 * by row) and from `event_ids`; the in-process funnel mirror answers without them, here and in a
 * process that only polls; feedback older than its period is gone; nothing newer is touched; ingest
 * goes on while a DETACH waits for a long reader; events older than the cutoff are then refused
 * (BEYOND_RETENTION) by ingest and import.
 *
 * Expected values are worked out by hand from the events written below: with 60 days kept, the
 * cutoff is the first day (UTC) of the month holding now − 60 days, computed here with Date.UTC.
 */
import { Client } from 'pg';
import { ErasureWatch, RETENTION_RUNS } from '../src/privacy/erasure-watch';
import { importRecords } from '../src/events/import/import.service';
import { startTestApp, TestApp } from './support/app';
import { sleep } from './support/worker';

const INGEST = 'mutation($events: [EventInput!]!) { ingestEvents(events: $events) { accepted duplicates rejected { index code } } }';
const FUNNEL = 'query($input: FunnelInput!) { funnel(input: $input) { steps { count } } }';
const DAY = 86_400_000;

const now = Date.now();
const back = new Date(now - 60 * DAY);
/** The cutoff: events before it go. */
const C = Date.UTC(back.getUTCFullYear(), back.getUTCMonth(), 1);
const prevMonth = Date.UTC(back.getUTCFullYear(), back.getUTCMonth() - 1, 1);
const iso = (ms: number) => new Date(ms).toISOString();
const monthName = (ms: number) => `events_p${new Date(ms).getUTCFullYear()}${String(new Date(ms).getUTCMonth() + 1).padStart(2, '0')}`;

let t: TestApp;
let clientKey: string;
let analystKey: string;
const open: Client[] = [];

beforeAll(async () => {
  t = await startTestApp('retention', { FUNNELCAST_RETENTION_DAYS: '60', FUNNELCAST_ERASURE_POLL_MS: '100' });
  clientKey = await t.createKey('client');
  analystKey = await t.createKey('analyst');
});
afterAll(async () => {
  await Promise.all(open.map((client) => client.end().catch(() => undefined)));
  await t.stop();
});

async function ingest(events: { eventId: string; userId: string; type: string; timestamp: string }[]) {
  const response = await t.gql(INGEST, { events }, clientKey);
  expect(response.errors).toBeUndefined();
  return response.data!.ingestEvents as { accepted: number; duplicates: number; rejected: { index: number; code: string }[] };
}

/** view → cart within an hour, over everything from two months before the cutoff to now. */
async function funnel(): Promise<number[]> {
  const input = { steps: [{ type: 'view' }, { type: 'cart' }], conversionWindowSeconds: 3600, from: iso(prevMonth - 31 * DAY), to: iso(now + DAY) };
  const response = await t.gql(FUNNEL, { input }, analystKey);
  expect(response.errors).toBeUndefined();
  return response.data!.funnel.steps.map((step: { count: number }) => step.count);
}

test('old months leave PostgreSQL, the mirrors and the id table; feedback by its own cutoff; ingest goes on; old events are refused', async () => {
  // Users a and b convert only in the month before the cutoff (dropped); c converts across the
  // cutoff's first instant (view 1 ms before C: dropped; cart at C: kept); d converts after C.
  const written = [
    { eventId: 'a-view', userId: 'a', type: 'view', timestamp: iso(prevMonth + 2 * DAY) },
    { eventId: 'a-cart', userId: 'a', type: 'cart', timestamp: iso(prevMonth + 2 * DAY + 60_000) },
    { eventId: 'b-view', userId: 'b', type: 'view', timestamp: iso(prevMonth - 20 * DAY) },
    { eventId: 'b-cart', userId: 'b', type: 'cart', timestamp: iso(prevMonth - 20 * DAY + 60_000) },
    { eventId: 'c-view', userId: 'c', type: 'view', timestamp: iso(C - 1) },
    { eventId: 'c-cart', userId: 'c', type: 'cart', timestamp: iso(C) },
    { eventId: 'd-view', userId: 'd', type: 'view', timestamp: iso(now - 3_600_000) },
    { eventId: 'd-cart', userId: 'd', type: 'cart', timestamp: iso(now - 3_000_000) },
  ];
  expect((await ingest(written)).accepted).toBe(8);
  // Before: a, b, c, d view; a, b, c, d convert.
  expect(await funnel()).toEqual([4, 4]);

  // Feedback: 61 days old goes, 59 days old stays (its cutoff is exact: now − 60 days).
  await t.app.services.dataSource.query(
    `INSERT INTO recommendation_feedback (recommendation_id, type, source, item_id, user_external_id, ts)
     VALUES ('r-old', 'impression', 'test', 1, 'a', $1), ('r-new', 'impression', 'test', 1, 'a', $2)`,
    [new Date(now - 61 * DAY), new Date(now - 59 * DAY)],
  );

  // A second process's view: a watch that only polls (as every other API process does).
  let polled = 0;
  const elsewhere = new ErasureWatch(t.app.services.dataSource, [() => void polled++], RETENTION_RUNS);
  await elsewhere.start(100);

  const dry = await t.app.services.retention.run({ dryRun: true, requestedBy: 'test' });
  expect(dry.eventCutoff?.getTime()).toBe(C);
  const expectedMonths = [monthName(prevMonth - 20 * DAY), monthName(prevMonth)];
  const byMonth = new Map(dry.months.map((m) => [m.partition, m.events]));
  expect(byMonth.get(monthName(prevMonth))).toBe(3); // a-view, a-cart, c-view
  expect(byMonth.get(monthName(prevMonth - 20 * DAY))).toBe(2); // b
  expect(dry.feedback).toBe(1);
  expect(await t.app.services.dataSource.query(`SELECT count(*)::int AS n FROM events`)).toEqual([{ n: 8 }]);

  // A long reader holds every month: DETACH … CONCURRENTLY waits for it, ingest must not.
  const reader = new Client({ connectionString: t.db.url });
  await reader.connect();
  open.push(reader);
  await reader.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
  expect((await reader.query(`SELECT count(*)::int AS n FROM events`)).rows).toEqual([{ n: 8 }]);
  const running = t.app.services.retention.run({ requestedBy: 'test' });
  const waiting = async () => (await t.app.services.dataSource.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE query LIKE 'ALTER TABLE events DETACH%' AND wait_event_type = 'Lock'`))[0].n;
  for (let i = 0; i < 600 && (await waiting()) === 0; i++) await sleep(50);
  expect(await waiting()).toBe(1);
  for (let batch = 0; batch < 3; batch++) {
    const during = await ingest([{ eventId: `during-${batch}`, userId: 'e', type: 'view', timestamp: iso(now - 60_000 * (batch + 1)) }]);
    expect(during.accepted).toBe(1);
  }
  expect(await waiting()).toBe(1); // still waiting: the batches went in beside it
  await reader.query('COMMIT');
  const result = await running;
  expect(result.months.map((m) => m.partition).sort()).toEqual([...expectedMonths].sort());
  expect(result.months.reduce((sum, m) => sum + m.events, 0)).toBe(5);
  expect(result.eventIds).toBe(5);
  expect(result.feedback).toBe(1);

  const db = t.app.services.dataSource;
  const left: { event_id: string }[] = await db.query(`SELECT event_id FROM events ORDER BY event_id`);
  expect(left.map((r) => r.event_id)).toEqual(['c-cart', 'd-cart', 'd-view', 'during-0', 'during-1', 'during-2']);
  const ids: { event_id: string }[] = await db.query(`SELECT event_id FROM event_ids ORDER BY event_id`);
  expect(ids.map((r) => r.event_id)).toEqual(['c-cart', 'd-cart', 'd-view', 'during-0', 'during-1', 'during-2']);
  const tables: { n: number }[] = await db.query(`SELECT count(*)::int AS n FROM pg_class WHERE relname = ANY ($1)`, [expectedMonths]);
  expect(tables).toEqual([{ n: 0 }]);
  const feedback: { recommendation_id: string }[] = await db.query(`SELECT recommendation_id FROM recommendation_feedback`);
  expect(feedback).toEqual([{ recommendation_id: 'r-new' }]);

  // The mirror (this process reloaded before run() returned): c's cart has no view left; d and e view, d converts.
  expect(await funnel()).toEqual([2, 1]);
  for (let i = 0; i < 100 && polled === 0; i++) await sleep(50);
  expect(polled).toBe(1);
  elsewhere.close();

  // Older than the cutoff: refused, by ingest and by import; at the cutoff: stored.
  const late = await ingest([
    { eventId: 'late-old', userId: 'f', type: 'view', timestamp: iso(C - 1) },
    { eventId: 'late-new', userId: 'f', type: 'view', timestamp: iso(C) },
  ]);
  expect(late).toEqual({ accepted: 1, duplicates: 0, rejected: [{ index: 0, code: 'BEYOND_RETENTION' }] });
  const imported = await importRecords(db, [
    { kind: 'event', line: 1, event: { eventId: 'imp-old', userId: 'g', sessionId: null, type: 'view', itemId: null, timestamp: C - DAY, properties: null } },
    { kind: 'event', line: 2, event: { eventId: 'imp-new', userId: 'g', sessionId: null, type: 'view', itemId: null, timestamp: C + DAY, properties: null } },
  ]);
  expect({ imported: imported.imported, duplicates: imported.duplicates, rejected: imported.rejectedByReason }).toEqual({ imported: 1, duplicates: 0, rejected: { BEYOND_RETENTION: 1 } });

  // A second run has no month to drop and changes nothing.
  const again = await t.app.services.retention.run({ requestedBy: 'test' });
  expect(again.months).toEqual([]);
  expect(again.runId).toBeNull();
});
