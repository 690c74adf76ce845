/**
 * The funnel time limit (FUNNELCAST_FUNNEL_TIMEOUT_MS) covers the main thread's preparation too:
 * catching the event mirror up with PostgreSQL and reading a cohort. Here the catch-up is made to
 * wait on a lock held by another connection; the funnel must answer FUNNEL_TIMEOUT while the lock is
 * still held, not whenever PostgreSQL lets the catch-up through.
 */
import { Client } from 'pg';
import { startTestApp, TestApp } from './support/app';

const FUNNEL = `query($input: FunnelInput!) { funnel(input: $input) { steps { count } } }`;
const INPUT = {
  steps: [{ type: 'view' }, { type: 'purchase' }],
  conversionWindowSeconds: 3600,
  from: '2026-03-01T00:00:00Z',
  to: '2026-03-02T00:00:00Z',
};

let t: TestApp;

beforeAll(async () => {
  t = await startTestApp('funnel_timeout', { FUNNELCAST_FUNNEL_TIMEOUT_MS: '1000', FUNNELCAST_FUNNEL_WARMUP: 'false' });
  const events = ['view', 'purchase', 'view'].map((type, n) => ({
    eventId: `t-${n}`,
    type,
    userId: n < 2 ? 'alice' : 'bob',
    timestamp: `2026-03-01T10:0${n}:00Z`,
  }));
  const stored = await t.gql('mutation($e: [EventInput!]!) { ingestEvents(events: $e) { accepted } }', { e: events });
  expect(stored.data!.ingestEvents.accepted).toBe(3);
});
afterAll(() => t.stop());

it('answers FUNNEL_TIMEOUT while the mirror waits on PostgreSQL, then answers normally', async () => {
  const warm = await t.gql(FUNNEL, { input: INPUT });
  expect(warm.data!.funnel.steps.map((s: { count: number }) => s.count)).toEqual([2, 1]);

  const locker = new Client({ connectionString: t.db.url });
  await locker.connect();
  try {
    await locker.query('BEGIN');
    await locker.query('LOCK TABLE events IN ACCESS EXCLUSIVE MODE');
    const blocked = await t.gql(FUNNEL, { input: INPUT });
    // Answered although the lock is still held: the catch-up was cut off at the limit.
    expect(blocked.errors![0].extensions).toEqual({ code: 'FUNNEL_TIMEOUT', limitMs: 1000 });
    expect(blocked.errors![0].message).toMatch(/ran past its 1 s limit/);
  } finally {
    await locker.query('ROLLBACK');
    await locker.end();
  }

  const after = await t.gql(FUNNEL, { input: INPUT });
  expect(after.errors).toBeUndefined();
  expect(after.data!.funnel.steps.map((s: { count: number }) => s.count)).toEqual([2, 1]);
});
