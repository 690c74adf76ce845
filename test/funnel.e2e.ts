/**
 * Funnels through the real server on a small, hand-worked shop. Every expected number below is
 * worked out by hand from the events in `SHOP` (see the comments), not taken from the engine.
 *
 * Funnel: view → cart → purchase, window 1 h, chains starting in [2026-03-02, 2026-03-04).
 *   alice  s1  view 10:00 (mobile, sku-1) · cart 10:10 (sku-1) · remove_from_cart 10:20 · purchase 10:30  → 3
 *   bob    s2  view 10:00 (desktop) · cart 10:20 (sku-2) · purchase 11:30 (90 min: too late)              → 2
 *   carol  s3  view 11:00 (mobile) | s4 cart 11:05 (sku-1) · purchase 11:40                              → 3 (sessions: 1 and 0)
 *   dave   s5  view 03-01 23:50 (before from) · cart 00:05 · purchase 00:10                              → 0, active
 *   erin   s6  view 03-03 23:30 (desktop) · cart 03-04 00:10 (after `to`, inside the window, sku-2)      → 2
 *   frank  s7  cart 10:00                                                                                → 0, active
 *   gina   s8  view 10:00 (tablet) · purchase 10:05                                                       → 1
 * Users: step counts 5 / 4 / 2, 7 active. Time view→cart: 600, 1200, 300, 2400 s; cart→purchase:
 * 1200 (alice), 2100 (carol).
 */
import { analyticsCaughtUp, startTestApp, testAnalytics, TestApp } from './support/app';

const D = (time: string) => `2026-03-02T${time}:00.000Z`;
const SHOP = [
  { userId: 'alice', sessionId: 's1', type: 'view', timestamp: D('10:00'), itemId: 'sku-1', properties: { device: 'mobile' } },
  { userId: 'bob', sessionId: 's2', type: 'view', timestamp: D('10:00'), properties: { device: 'desktop' } },
  { userId: 'carol', sessionId: 's3', type: 'view', timestamp: D('11:00'), properties: { device: 'mobile' } },
  { userId: 'dave', sessionId: 's5', type: 'view', timestamp: '2026-03-01T23:50:00.000Z', properties: { device: 'mobile' } },
  { userId: 'erin', sessionId: 's6', type: 'view', timestamp: '2026-03-03T23:30:00.000Z', properties: { device: 'desktop' } },
  { userId: 'frank', sessionId: 's7', type: 'cart', timestamp: D('10:00') },
  { userId: 'gina', sessionId: 's8', type: 'view', timestamp: D('10:00'), properties: { device: 'tablet' } },
  { userId: 'alice', sessionId: 's1', type: 'cart', timestamp: D('10:10'), itemId: 'sku-1' },
  { userId: 'alice', sessionId: 's1', type: 'remove_from_cart', timestamp: D('10:20'), itemId: 'sku-1' },
  { userId: 'alice', sessionId: 's1', type: 'purchase', timestamp: D('10:30'), itemId: 'sku-1' },
  { userId: 'bob', sessionId: 's2', type: 'cart', timestamp: D('10:20'), itemId: 'sku-2' },
  { userId: 'bob', sessionId: 's2', type: 'purchase', timestamp: D('11:30'), itemId: 'sku-2' },
  { userId: 'carol', sessionId: 's4', type: 'cart', timestamp: D('11:05'), itemId: 'sku-1' },
  { userId: 'carol', sessionId: 's4', type: 'purchase', timestamp: D('11:40'), itemId: 'sku-1' },
  { userId: 'dave', sessionId: 's5', type: 'cart', timestamp: D('00:05') },
  { userId: 'dave', sessionId: 's5', type: 'purchase', timestamp: D('00:10') },
  { userId: 'erin', sessionId: 's6', type: 'cart', timestamp: '2026-03-04T00:10:00.000Z', itemId: 'sku-2' },
  { userId: 'gina', sessionId: 's8', type: 'purchase', timestamp: D('10:05') },
].map((event, n) => ({ eventId: `shop-${n}`, ...event }));

const BASE = {
  steps: [{ type: 'view' }, { type: 'cart' }, { type: 'purchase', label: 'Bought' }],
  conversionWindowSeconds: 3600,
  from: '2026-03-02T00:00:00Z',
  to: '2026-03-04T00:00:00Z',
};

const STEPS = 'steps { index label type count conversionFromPrevious conversionFromFirst dropOff timeFromPrevious { median p90 average } }';
const FUNNEL = `query($input: FunnelInput!) { funnel(input: $input) { totalUnits ${STEPS} breakdown { group isOther totalUnits steps { count } } } }`;
const INGEST = 'mutation($events: [EventInput!]!) { ingestEvents(events: $events) { accepted rejected { index message } } }';

let t: TestApp;
let analystKey: string;
let clientKey: string;

async function funnel(input: Record<string, unknown>, key = analystKey) {
  const response = await t.gql(FUNNEL, { input: { ...BASE, ...input } }, key);
  expect(response.errors).toBeUndefined();
  return response.data!.funnel;
}

const counts = (steps: { count: number }[]) => steps.map((step) => step.count);

beforeAll(async () => {
  t = await startTestApp('funnel');
  analystKey = await t.createKey('analyst');
  clientKey = await t.createKey('client');
  const stored = await t.gql(INGEST, { events: SHOP }, clientKey);
  expect(stored.data!.ingestEvents).toEqual({ accepted: SHOP.length, rejected: [] });
  const items = await t.gql('mutation($items: [ItemInput!]!) { upsertItems(items: $items) { created updated } }', {
    items: [
      { id: 'sku-1', category: 'shoes' },
      { id: 'sku-2', category: 'hats' },
    ],
  });
  expect(items.errors).toBeUndefined();
  await t.app.services.dataSource.query(`UPDATE users SET properties = '{"plan": "pro"}' WHERE external_id IN ('alice', 'carol')`);
});
afterAll(() => t.stop());

describe('funnel', () => {
  it('keeps a deletion log only for the ClickHouse sync (which installs its trigger before its first copy)', async () => {
    await analyticsCaughtUp(t);
    const [{ n }] = await t.app.services.dataSource.query(`SELECT count(*)::int AS n FROM pg_trigger WHERE tgname = 'events_record_deletion' AND tgrelid = 'events'::regclass`);
    expect(n).toBe(testAnalytics() === 'clickhouse' ? 1 : 0);
  });

  it('counts users, conversion, drop-off and time between steps', async () => {
    const result = await funnel({});
    expect(result.totalUnits).toBe(7);
    expect(result.breakdown).toBeNull();
    expect(result.steps).toEqual([
      { index: 1, label: 'view', type: 'view', count: 5, conversionFromPrevious: 1, conversionFromFirst: 1, dropOff: 0, timeFromPrevious: null },
      {
        index: 2,
        label: 'cart',
        type: 'cart',
        count: 4,
        conversionFromPrevious: 0.8,
        conversionFromFirst: 0.8,
        dropOff: 1,
        // 300, 600, 1200, 2400: median (600 + 1200) / 2; p90 at rank 2.7: 1200 + 0.7 · 1200; mean 4500 / 4
        timeFromPrevious: { median: 900, p90: expect.closeTo(2040, 6), average: 1125 },
      },
      {
        index: 3,
        label: 'Bought',
        type: 'purchase',
        count: 2,
        conversionFromPrevious: 0.5,
        conversionFromFirst: 0.4,
        dropOff: 2,
        // 1200, 2100: p90 at rank 0.9: 1200 + 0.9 · 900
        timeFromPrevious: { median: 1650, p90: expect.closeTo(2010, 6), average: 1650 },
      },
    ]);
  });

  it('counts sessions: a chain never crosses sessions, events are per session', async () => {
    // s1 3, s2 2, s3 1, s4 0, s5 0, s6 2, s7 0, s8 1
    const result = await funnel({ countBy: 'SESSION' });
    expect(result.totalUnits).toBe(8);
    expect(counts(result.steps)).toEqual([5, 3, 1]);
  });

  it('filters steps on event properties and on the item\'s category', async () => {
    const mobile = await funnel({ steps: [{ type: 'view', filters: [{ property: 'device', op: 'EQ', value: 'mobile' }] }, { type: 'cart' }, { type: 'purchase' }] });
    expect(counts(mobile.steps)).toEqual([2, 2, 2]); // alice, carol
    const notMobile = await funnel({ steps: [{ type: 'view', filters: [{ property: 'device', op: 'IN', value: ['desktop', 'tablet'] }] }, { type: 'cart' }, { type: 'purchase' }] });
    expect(counts(notMobile.steps)).toEqual([3, 2, 0]); // bob, erin, gina
    const shoes = await funnel({ steps: [{ type: 'view' }, { type: 'cart', filters: [{ property: 'item.category', op: 'EQ', value: 'shoes' }] }, { type: 'purchase' }] });
    expect(counts(shoes.steps)).toEqual([5, 2, 2]); // carts of sku-1: alice, carol
    const item = await funnel({ steps: [{ type: 'view' }, { type: 'cart', filters: [{ property: 'itemId', op: 'EQ', value: 'sku-2' }] }, { type: 'purchase' }] });
    expect(counts(item.steps)).toEqual([5, 2, 0]); // bob, erin
  });

  it('applies exclusion steps and cohorts', async () => {
    // alice removed the item between cart and purchase
    const excluded = await funnel({ exclusions: [{ type: 'remove_from_cart', fromStep: 2, toStep: 3 }] });
    expect(counts(excluded.steps)).toEqual([5, 4, 1]);
    const byIds = await funnel({ cohort: { userIds: ['alice', 'bob', 'nobody'] } });
    expect(byIds.totalUnits).toBe(2);
    expect(counts(byIds.steps)).toEqual([2, 2, 1]);
    const pro = await funnel({ cohort: { userProperties: [{ property: 'plan', op: 'EQ', value: 'pro' }] } });
    expect(counts(pro.steps)).toEqual([2, 2, 2]);
    const notPro = await funnel({ cohort: { userProperties: [{ property: 'plan', op: 'IS_NOT_SET' }] } });
    expect(notPro.totalUnits).toBe(5);
    expect(counts(notPro.steps)).toEqual([3, 2, 0]);
  });

  it('leaves the users the ingest guard marked out with excludeAnomalous', async () => {
    // Mark alice (→ 3) and frank (cart only: 0, active) as the ingest guard would; without them
    // view 4 (bob, carol, erin, gina), cart 3 (bob, carol, erin), purchase 1 (carol); 5 users active.
    const dataSource = t.app.services.dataSource;
    await dataSource.query(
      `INSERT INTO suspect_users (user_id, since, peak_events_per_minute) SELECT id, timestamptz '2026-03-01T00:00:00Z', 500 FROM users WHERE external_id IN ('alice', 'frank')`,
    );
    try {
      const result = await funnel({ excludeAnomalous: true });
      expect(result.totalUnits).toBe(5);
      expect(counts(result.steps)).toEqual([4, 3, 1]);
      expect(counts((await funnel({})).steps)).toEqual([5, 4, 2]);
    } finally {
      await dataSource.query(`DELETE FROM suspect_users`);
    }
  });

  it('breaks down by the step-1 event\'s property with top-N and "other"', async () => {
    // desktop: bob 2, erin 2; mobile: alice 3, carol 3; tablet: gina 1 (ties rank by name)
    const result = await funnel({ breakdown: { property: 'device', limit: 2 } });
    expect(result.breakdown).toEqual([
      { group: 'desktop', isOther: false, totalUnits: 2, steps: [{ count: 2 }, { count: 2 }, { count: 0 }] },
      { group: 'mobile', isOther: false, totalUnits: 2, steps: [{ count: 2 }, { count: 2 }, { count: 2 }] },
      { group: 'other', isOther: true, totalUnits: 1, steps: [{ count: 1 }, { count: 0 }, { count: 0 }] },
    ]);
    const byCategory = await funnel({ breakdown: { property: 'item.category' } });
    // only alice's view has an item
    expect(byCategory.breakdown.map((g: { group: string; totalUnits: number }) => [g.group, g.totalUnits])).toEqual([
      ['(none)', 4],
      ['shoes', 1],
    ]);
  });

  it('reports the conversion trend per day and week', async () => {
    const query = 'query($input: FunnelInput!, $interval: TrendInterval!) { funnelTrend(input: $input, interval: $interval) { periodStart periodEnd entered converted conversionRate } }';
    const daily = await t.gql(query, { input: BASE, interval: 'DAY' }, analystKey);
    expect(daily.errors).toBeUndefined();
    expect(daily.data!.funnelTrend).toEqual([
      { periodStart: '2026-03-02T00:00:00.000Z', periodEnd: '2026-03-03T00:00:00.000Z', entered: 4, converted: 2, conversionRate: 0.5 },
      { periodStart: '2026-03-03T00:00:00.000Z', periodEnd: '2026-03-04T00:00:00.000Z', entered: 1, converted: 0, conversionRate: 0 },
    ]);
    // 2026-03-02 is a Monday: one week, cut to the range
    const weekly = await t.gql(query, { input: { ...BASE, from: '2026-03-01T00:00:00Z' }, interval: 'WEEK' }, analystKey);
    expect(weekly.data!.funnelTrend).toEqual([
      { periodStart: '2026-03-01T00:00:00.000Z', periodEnd: '2026-03-02T00:00:00.000Z', entered: 1, converted: 1, conversionRate: 1 }, // dave
      { periodStart: '2026-03-02T00:00:00.000Z', periodEnd: '2026-03-04T00:00:00.000Z', entered: 5, converted: 2, conversionRate: 0.4 },
    ]);
  });

  it('gives the time-to-convert histogram between two steps', async () => {
    const query = 'query($input: FunnelInput!) { timeToConvert(input: $input, fromStep: 1, toStep: 2, buckets: 2) { fromStep toStep units summary { median } buckets { start end count } } }';
    const result = await t.gql(query, { input: BASE }, analystKey);
    expect(result.errors).toBeUndefined();
    // 300, 600, 1200, 2400 in two buckets of 1050 s
    expect(result.data!.timeToConvert).toEqual({
      fromStep: 1,
      toStep: 2,
      units: 4,
      summary: { median: 900 },
      buckets: [
        { start: 300, end: 1350, count: 3 },
        { start: 1350, end: 2400, count: 1 },
      ],
    });
  });

  it('pages through the units that dropped off after a step', async () => {
    const query = `query($input: FunnelInput!, $after: String) {
      droppedOff(input: $input, afterStep: 2, first: 1, after: $after) { totalCount edges { cursor node { userId sessionId reachedAt } } pageInfo { hasNextPage endCursor } }
    }`;
    const first = await t.gql(query, { input: BASE }, analystKey);
    expect(first.errors).toBeUndefined();
    expect(first.data!.droppedOff).toMatchObject({ totalCount: 2, edges: [{ node: { userId: 'bob', sessionId: null, reachedAt: D('10:20') } }], pageInfo: { hasNextPage: true } });
    expect(first.data!.droppedOff.pageInfo.endCursor).toBe(first.data!.droppedOff.edges[0].cursor);
    const second = await t.gql(query, { input: BASE, after: first.data!.droppedOff.pageInfo.endCursor }, analystKey);
    expect(second.data!.droppedOff).toMatchObject({ totalCount: 2, edges: [{ node: { userId: 'erin', reachedAt: '2026-03-04T00:10:00.000Z' } }], pageInfo: { hasNextPage: false } });
    const sessions = await t.gql(query, { input: { ...BASE, countBy: 'SESSION' } }, analystKey);
    expect(sessions.data!.droppedOff.edges.map((edge: any) => edge.node)).toEqual([{ userId: 'bob', sessionId: 's2', reachedAt: D('10:20') }]);
  });

  it('saves funnels, lists them, runs one with another range and deletes it', async () => {
    const saved = await t.gql('mutation($input: FunnelInput!) { saveFunnel(name: "checkout", input: $input) { id name definition } }', { input: BASE }, analystKey);
    expect(saved.errors).toBeUndefined();
    const { id, name, definition } = saved.data!.saveFunnel;
    expect(name).toBe('checkout');
    expect(definition.conversionWindowSeconds).toBe(3600);
    const listed = await t.gql('{ funnels { id name } }', {}, analystKey);
    expect(listed.data!.funnels).toEqual([{ id, name: 'checkout' }]);

    const run = `query($id: ID!, $from: DateTime, $to: DateTime) { runSavedFunnel(id: $id, from: $from, to: $to) { totalUnits ${STEPS} } }`;
    const asSaved = await t.gql(run, { id }, analystKey);
    expect(counts(asSaved.data!.runSavedFunnel.steps)).toEqual([5, 4, 2]);
    const lastDay = await t.gql(run, { id, from: '2026-03-03T00:00:00Z', to: '2026-03-04T00:00:00Z' }, analystKey);
    expect(counts(lastDay.data!.runSavedFunnel.steps)).toEqual([1, 1, 0]); // erin

    const remove = 'mutation($id: ID!) { deleteFunnel(id: $id) }';
    expect((await t.gql(remove, { id }, analystKey)).data!.deleteFunnel).toBe(true);
    expect((await t.gql(remove, { id }, analystKey)).data!.deleteFunnel).toBe(false);
    const gone = await t.gql(run, { id }, analystKey);
    expect(gone.errors![0].extensions!.code).toBe('NOT_FOUND');
  });

  it('lets analysts and admins in, and nobody else', async () => {
    expect((await t.gql(FUNNEL, { input: BASE }, t.adminKey)).errors).toBeUndefined();
    const client = await t.gql(FUNNEL, { input: BASE }, clientKey);
    expect(client.errors![0].extensions!.code).toBe('FORBIDDEN');
    const anonymous = await t.gql('{ funnels { id } }', {}, null);
    expect(anonymous.errors![0].extensions!.code).toBe('UNAUTHENTICATED');
    const save = await t.gql('mutation($input: FunnelInput!) { saveFunnel(name: "x", input: $input) { id } }', { input: BASE }, clientKey);
    expect(save.errors![0].extensions!.code).toBe('FORBIDDEN');
  });

  it('rejects bad funnels with BAD_USER_INPUT and says what to fix', async () => {
    const bad = async (input: Record<string, unknown>, expected: RegExp, query = FUNNEL, extra: Record<string, unknown> = {}) => {
      const response = await t.gql(query, { input: { ...BASE, ...input }, ...extra }, analystKey);
      expect(response.errors?.[0].extensions?.code).toBe('BAD_USER_INPUT');
      expect(response.errors![0].message).toMatch(expected);
    };
    await bad({ steps: [{ type: 'view' }] }, /2 to 32 steps; this one has 1/);
    await bad({ steps: Array.from({ length: 33 }, () => ({ type: 'view' })) }, /2 to 32 steps/);
    await bad({ conversionWindowSeconds: 0 }, /conversionWindowSeconds must be a whole number of seconds from 1/);
    await bad({ from: BASE.to, to: BASE.from }, /`from` must be earlier than `to`/);
    await bad({ modes: ['ALLOW_REENTRY'] }, /allow_reentry only relaxes strict_order/);
    await bad({ exclusions: [{ type: 'remove_from_cart', fromStep: 2, toStep: 2 }] }, /exclusions\[0\]: need 1 ≤ fromStep < toStep ≤ 3/);
    await bad({ steps: [{ type: 'view', filters: [{ property: 'price', op: 'GT', value: true }] }, { type: 'cart' }] }, /steps\[0\]\.filters\[0\]: gt on property "price" needs a number or string/);
    await bad({ steps: [{ type: 'view', filters: [{ property: 'device', op: 'IN', value: 'mobile' }] }, { type: 'cart' }] }, /needs a non-empty list/);
    await bad({ steps: [{ type: 'view', filters: [{ property: 'device', op: 'EQ', value: { a: 1 } }] }, { type: 'cart' }] }, /needs a string, number or boolean/);
    await bad({ steps: [{ type: 'view', filters: [{ property: 'device', op: 'IS_SET', value: 'x' }] }, { type: 'cart' }] }, /isSet takes no value/);
    await bad({ steps: [{ type: 'add to cart' }, { type: 'cart' }] }, /steps\[0\]\.type must be an event type/);
    await bad({ breakdown: { property: 'device', limit: 0 } }, /breakdown\.limit must be a whole number from 1 to 100/);
    await bad({ steps: [{ type: 'view', filters: [{ property: 'device', op: 'LIKE', value: 'x' }] }, { type: 'cart' }] }, /FilterOp/);
    await bad({}, /Need 1 ≤ fromStep < toStep ≤ 3/, 'query($input: FunnelInput!) { timeToConvert(input: $input, fromStep: 2, toStep: 2) { units } }');
    await bad({}, /afterStep must be a step after which units can drop off: 1 to 2; got 3/, 'query($input: FunnelInput!) { droppedOff(input: $input, afterStep: 3) { totalCount } }');
    await bad({}, /`after` is not a cursor this API issued/, 'query($input: FunnelInput!) { droppedOff(input: $input, afterStep: 1, after: "nonsense") { totalCount } }');
    await bad({ from: '2024-01-01T00:00:00Z' }, /ask for at most 400/, 'query($input: FunnelInput!) { funnelTrend(input: $input, interval: DAY) { entered } }');
  });

  it('sees events as soon as they are stored', async () => {
    const before = await funnel({});
    expect(counts(before.steps)).toEqual([5, 4, 2]);
    // bob buys again inside his window: 10:00 view → 10:20 cart → 10:40 purchase
    const stored = await t.gql(INGEST, { events: [{ eventId: 'late-1', userId: 'bob', sessionId: 's2', type: 'purchase', timestamp: D('10:40') }] }, clientKey);
    expect(stored.data!.ingestEvents.accepted).toBe(1);
    const after = await funnel({});
    expect(counts(after.steps)).toEqual([5, 4, 3]);
  });

  it('sees an event whose transaction commits after one that took a later id', async () => {
    const slow = t.app.services.dataSource.createQueryRunner();
    await slow.connect();
    await slow.startTransaction();
    // gina: view 10:00 · purchase 10:05; a cart at 10:02 completes her funnel
    await slow.query(
      `INSERT INTO events (event_id, user_id, session_id, type, ts)
       SELECT 'slow-1', id, 's8', 'cart', '2026-03-02T10:02:00Z' FROM users WHERE external_id = 'gina'`,
    );
    const later = await t.gql(INGEST, { events: [{ eventId: 'later-1', userId: 'frank', sessionId: 's7', type: 'cart', timestamp: D('10:01') }] }, clientKey);
    expect(later.data!.ingestEvents.accepted).toBe(1);
    expect(counts((await funnel({})).steps)).toEqual([5, 4, 3]);
    await slow.commitTransaction();
    await slow.release();
    expect(counts((await funnel({})).steps)).toEqual([5, 5, 4]);
  });
});
