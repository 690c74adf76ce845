import { loadFlaggedUserIds } from '../src/anomaly/flagged-users';
import { TRAINING_DOMAINS } from '../src/model-kinds';
import { trainingInputFingerprint } from '../src/training/training-input';
import { startTestApp, TestApp } from './support/app';

/**
 * The attack: anyone with the public client key sends 150 events in a minute as an existing
 * customer. The ingest guard marks them (analysts see the mark, funnels may leave them out), but
 * the mark alone no longer leaves the customer out of training; detector scores decide that.
 */
let t: TestApp;
beforeAll(async () => {
  t = await startTestApp('guard-training');
});
afterAll(() => t.stop());

it('an ingest-guard mark alone does not leave a user out of training', async () => {
  const client = await t.createKey('client');
  const start = Date.parse('2026-02-01T10:00:00Z');
  const calm = Array.from({ length: 5 }, (_, n) => ({ eventId: `calm-${n}`, type: 'view', userId: 'customer', itemId: `i${n}`, timestamp: new Date(start + n * 600_000).toISOString() }));
  await t.gql('mutation($e: [EventInput!]!) { ingestEvents(events: $e) { accepted } }', { e: calm }, client);
  const db = t.app.services.dataSource;
  const range = { from: null, to: new Date('2026-03-01T00:00:00Z') };
  const before = await trainingInputFingerprint(db, range, true);

  const forged = Array.from({ length: 150 }, (_, n) => ({ eventId: `forged-${n}`, type: 'view', userId: 'customer', itemId: `i${n % 7}`, timestamp: new Date(start + 4_000_000 + n * 300).toISOString() }));
  const sent = await t.gql('mutation($e: [EventInput!]!) { ingestEvents(events: $e) { accepted } }', { e: forged }, client);
  expect(sent.data!.ingestEvents.accepted).toBe(150);
  const [{ id }] = await db.query(`SELECT id FROM users WHERE external_id = 'customer'`);
  expect(await db.query(`SELECT peak_events_per_minute FROM suspect_users WHERE user_id = $1`, [id])).toEqual([{ peak_events_per_minute: 150 }]);

  // Funnels' excludeAnomalous and the anomalies list still see the mark...
  expect((await loadFlaggedUserIds(db, 0.5)).has(id)).toBe(true);
  const risk = await t.gql('{ userRisk(userId: "customer") { flagged ingestGuard { peakEventsPerMinute } } }');
  expect(risk.data!.userRisk).toEqual({ flagged: true, ingestGuard: { peakEventsPerMinute: 150 } });
  // ...training does not leave the customer out on the mark alone, and the mark does not make a new training request.
  expect((await TRAINING_DOMAINS.anomalousUsers(db)).has(id)).toBe(false);
  const after = await trainingInputFingerprint(db, range, true);
  expect(after.flagged).toBe(before.flagged);
  expect(after.events).not.toBe(before.events);
});
