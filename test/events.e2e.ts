import { startTestApp, TestApp } from './support/app';

const INGEST = `mutation($events: [EventInput!]!) {
  ingestEvents(events: $events) { accepted duplicates rejected { index code message } }
}`;

let t: TestApp;
let clientKey: string;

beforeAll(async () => {
  t = await startTestApp('events', { FUNNELCAST_MAX_INGEST_BATCH: '50' });
  clientKey = await t.createKey('client');
});
afterAll(() => t.stop());

function event(n: number, overrides: Record<string, unknown> = {}) {
  return {
    eventId: `e-${n}`,
    type: 'view',
    userId: 'alice',
    sessionId: 's1',
    itemId: `item-${n % 3}`,
    timestamp: '2026-03-01T10:00:00.000Z',
    ...overrides,
  };
}

async function storedEvents(): Promise<{ event_id: string; user: string; item: string | null; type: string; props: unknown }[]> {
  return t.app.services.dataSource.query(
    `SELECT e.event_id, u.external_id AS user, i.external_id AS item, e.type, e.props
     FROM events e JOIN users u ON u.id = e.user_id LEFT JOIN items i ON i.id = e.item_id ORDER BY e.id`,
  );
}

describe('ingestEvents', () => {
  it('stores a batch, keeps array order for equal timestamps, and stores a re-sent batch once', async () => {
    const batch = [
      event(1),
      event(2, { type: 'cart' }),
      event(3, { type: 'purchase', properties: { price: 19.5, device: 'mobile' } }),
      event(4, { type: 'checkout', userId: 'bob', itemId: null, sessionId: null }),
    ];
    const first = await t.gql(INGEST, { events: batch }, clientKey);
    expect(first.errors).toBeUndefined();
    expect(first.data!.ingestEvents).toEqual({ accepted: 4, duplicates: 0, rejected: [] });

    const again = await t.gql(INGEST, { events: batch }, clientKey);
    expect(again.data!.ingestEvents).toEqual({ accepted: 0, duplicates: 4, rejected: [] });

    const rows = await storedEvents();
    expect(rows.map((r) => r.event_id)).toEqual(['e-1', 'e-2', 'e-3', 'e-4']);
    expect(rows.map((r) => r.user)).toEqual(['alice', 'alice', 'alice', 'bob']);
    expect(rows.map((r) => r.item)).toEqual(['item-1', 'item-2', 'item-0', null]);
    expect(rows[2].props).toEqual({ price: 19.5, device: 'mobile' });
    const [users] = await t.app.services.dataSource.query('SELECT count(*)::int AS n FROM users');
    expect(users.n).toBe(2);
  });

  it('rejects bad events one by one with codes and stores the rest', async () => {
    const tomorrowPlus = new Date(Date.now() + 2 * 24 * 3600 * 1000).toISOString();
    const batch = [
      event(10), // ok
      event(11, { type: 'add to cart' }), // space is not allowed
      event(12, { userId: '' }),
      event(13, { timestamp: tomorrowPlus }),
      event(14, { properties: [1, 2, 3] }),
      event(15, { properties: { blob: 'x'.repeat(20_000) } }),
      event(16, { eventId: '   ' }),
      event(17, { type: 'newsletter_signup' }), // custom event, fine
      event(10), // repeated inside the batch: a duplicate
      event(18, { sessionId: '' }), // an empty optional id means "none"
      event(19, { sessionId: '  ' }),
      event(20, { properties: { query: 'tea\u0000' } }), // jsonb cannot hold NUL: rejected, not a failed batch
      event(21, { userId: 'u'.repeat(201) }), // one over the shared 200-character id limit
    ];
    const result = await t.gql(INGEST, { events: batch }, clientKey);
    expect(result.errors).toBeUndefined();
    const { accepted, duplicates, rejected } = result.data!.ingestEvents;
    expect(accepted).toBe(3);
    expect(duplicates).toBe(1);
    expect(rejected.map((r: { index: number; code: string }) => [r.index, r.code])).toEqual([
      [1, 'INVALID_EVENT_TYPE'],
      [2, 'MISSING_USER'],
      [3, 'FUTURE_TIMESTAMP'],
      [4, 'BAD_PROPERTIES'],
      [5, 'PROPERTIES_TOO_LARGE'],
      [6, 'MISSING_EVENT_ID'],
      [10, 'EMPTY_ID'],
      [11, 'BAD_PROPERTIES'],
      [12, 'ID_TOO_LONG'],
    ]);
    for (const r of rejected) expect(r.message.length).toBeGreaterThan(10);
    const ids = (await storedEvents()).map((r) => r.event_id);
    expect(ids.filter((id) => id.startsWith('e-1') && id.length === 4)).toEqual(['e-10', 'e-17', 'e-18']);
    const [e18] = await t.app.services.dataSource.query(`SELECT session_id FROM events WHERE event_id = 'e-18'`);
    expect(e18.session_id).toBeNull();
  });

  it('refuses a batch over the limit whole, storing nothing of it', async () => {
    const before = (await storedEvents()).length;
    const batch = Array.from({ length: 51 }, (_, i) => event(1000 + i));
    const result = await t.gql(INGEST, { events: batch }, clientKey);
    expect(result.data).toBeFalsy();
    expect(result.errors![0].extensions!.code).toBe('BATCH_TOO_LARGE');
    expect(result.errors![0].message).toMatch(/at most 50 events; this one has 51/);
    expect((await storedEvents()).length).toBe(before);
  });

  it('rejects a malformed timestamp with its event, not the batch', async () => {
    const result = await t.gql(INGEST, { events: [event(20, { timestamp: 'yesterday' })] }, clientKey);
    expect(result.status).toBe(200);
    expect(result.errors).toBeUndefined();
    expect(result.data!.ingestEvents.rejected).toEqual([
      { index: 0, code: 'BAD_TIMESTAMP', message: expect.stringMatching(/timestamp "yesterday" is not a timestamp Funnelcast reads: send ISO 8601/) },
    ]);
  });

  it('refuses events older than FUNNELCAST_INGEST_MAX_PAST_DAYS, and makes partitions only for the months it stores', async () => {
    const bounded = await startTestApp('events-age', { FUNNELCAST_INGEST_MAX_PAST_DAYS: '400' });
    try {
      const key = await bounded.createKey('client');
      const DAY = 86_400_000;
      const monthOf = (ms: number) => `events_p${new Date(ms).toISOString().slice(0, 7).replace('-', '')}`;
      const partitions = async (): Promise<string[]> =>
        (await bounded.app.services.dataSource.query(`SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'events'::regclass ORDER BY 1`)).map(
          (row: { relname: string }) => row.relname,
        );
      const before = await partitions();
      const now = Date.now();
      // 1970 and 401 days ago: refused. 390 days ago and now: stored, with a partition for each month only.
      const times = [0, now - 401 * DAY, now - 390 * DAY, now - 60_000];
      const result = await bounded.gql(INGEST, { events: times.map((ms, n) => event(4000 + n, { timestamp: new Date(ms).toISOString() })) }, key);
      expect(result.data!.ingestEvents.accepted).toBe(2);
      expect(result.data!.ingestEvents.rejected).toEqual([0, 1].map((index) => ({ index, code: 'TOO_OLD', message: expect.stringMatching(/more than 400 days old; .* load history with `funnelcast import`/) })));
      const added = (await partitions()).filter((name) => !before.includes(name));
      // The month 390 days back is new (the app keeps only this month and the next two); nothing between it and now.
      expect(added).toEqual([monthOf(now - 390 * DAY)]);
    } finally {
      await bounded.stop();
    }
  });

  it('stores concurrent re-sends of the same batch exactly once', async () => {
    const batch = Array.from({ length: 40 }, (_, i) => event(2000 + i, { userId: `racer-${i % 7}` }));
    const results = await Promise.all([1, 2, 3, 4].map(() => t.gql(INGEST, { events: batch }, clientKey)));
    const accepted = results.reduce((sum, r) => sum + r.data!.ingestEvents.accepted, 0);
    const duplicates = results.reduce((sum, r) => sum + r.data!.ingestEvents.duplicates, 0);
    expect(accepted).toBe(40);
    expect(duplicates).toBe(120);
    const [row] = await t.app.services.dataSource.query(`SELECT count(*)::int AS n FROM events WHERE event_id LIKE 'e-2%' AND length(event_id) = 6`);
    expect(row.n).toBe(40);
  });
});

describe('eventStats', () => {
  it('counts stored events by type and UTC day in a half-open range', async () => {
    const analystKey = await t.createKey('analyst');
    const batch = [
      event(3001, { type: 'view', userId: 'carol', timestamp: '2026-04-01T23:59:59.000Z' }),
      event(3002, { type: 'view', userId: 'carol', timestamp: '2026-04-02T00:00:00.000Z' }),
      event(3003, { type: 'purchase', userId: 'dave', sessionId: 's9', timestamp: '2026-04-02T12:00:00.000Z' }),
      event(3004, { type: 'view', userId: 'dave', timestamp: '2026-04-03T00:00:00.000Z' }), // == to: excluded
    ];
    await t.gql(INGEST, { events: batch }, clientKey);
    const result = await t.gql(
      `query { eventStats(from: "2026-04-01T00:00:00Z", to: "2026-04-03T00:00:00Z") {
         total distinctUsers distinctSessions byType { type count } byDay { day total byType { type count } } } }`,
      {},
      analystKey,
    );
    expect(result.errors).toBeUndefined();
    expect(result.data!.eventStats).toEqual({
      total: 3,
      distinctUsers: 2,
      distinctSessions: 2,
      byType: [
        { type: 'view', count: 2 },
        { type: 'purchase', count: 1 },
      ],
      byDay: [
        { day: '2026-04-01', total: 1, byType: [{ type: 'view', count: 1 }] },
        {
          day: '2026-04-02',
          total: 2,
          byType: [
            { type: 'purchase', count: 1 },
            { type: 'view', count: 1 },
          ],
        },
      ],
    });
    const inverted = await t.gql(`query { eventStats(from: "2026-04-03T00:00:00Z", to: "2026-04-01T00:00:00Z") { total } }`, {}, analystKey);
    expect(inverted.errors![0].extensions!.code).toBe('BAD_USER_INPUT');
  });
});
