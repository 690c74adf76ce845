/**
 * Range boundaries through GraphQL (issue #12, "Range boundaries"): the reproductions, with the
 * answers worked out by hand from the rule in src/funnel/FUNNEL-SEMANTICS.md, "Time range" (chains
 * start in [from, to); the scan runs from `from`; events after `to` complete and can stop chains;
 * a step-1 event after `to` is still a match).
 *
 *   late  (view → cart, window 1 h)   view 03-02 23:59:59 · view 03-03 00:00:01 · cart 00:00:02
 *     over [03-02, 03-03): the chain from 23:59:59 ends at the cart 3 s later       → [1, 1], every mode
 *   dedup (view → cart → purchase, window 1 h, STRICT_DEDUPLICATION)
 *     view 03-05 10:00 · cart 10:05 · view 03-06 10:00 · cart 10:05 · purchase 10:10
 *     over [03-05, 03-07): the day-6 cart repeats step 2, reached on day 5: scan stops  → level 2
 *     over [03-06, 03-07): day 5 is not in the scan: view → cart → purchase            → level 3
 *     over [03-05, 03-06): the scan ends at 03-06 01:00 (to + window): day 6 unread      → level 2
 * ClickHouse's windowFunnel, with the range in SQL as FUNNEL-SEMANTICS.md maps it, gives the same
 * three levels (checked by hand with chdb; the mapping itself is tested in window-funnel.clickhouse.spec.ts).
 */
import { startTestApp, TestApp } from './support/app';

const EVENTS = [
  { userId: 'late', type: 'view', timestamp: '2026-03-02T23:59:59.000Z' },
  { userId: 'late', type: 'view', timestamp: '2026-03-03T00:00:01.000Z' },
  { userId: 'late', type: 'cart', timestamp: '2026-03-03T00:00:02.000Z' },
  { userId: 'dedup', type: 'view', timestamp: '2026-03-05T10:00:00.000Z' },
  { userId: 'dedup', type: 'cart', timestamp: '2026-03-05T10:05:00.000Z' },
  { userId: 'dedup', type: 'view', timestamp: '2026-03-06T10:00:00.000Z' },
  { userId: 'dedup', type: 'cart', timestamp: '2026-03-06T10:05:00.000Z' },
  { userId: 'dedup', type: 'purchase', timestamp: '2026-03-06T10:10:00.000Z' },
].map((event, n) => ({ eventId: `range-${n}`, ...event }));

const MODES = [[], ['STRICT_ORDER'], ['STRICT_ORDER', 'ALLOW_REENTRY'], ['STRICT_DEDUPLICATION'], ['STRICT_INCREASE'], ['STRICT_ONCE'], ['STRICT_ORDER', 'STRICT_DEDUPLICATION', 'STRICT_INCREASE', 'STRICT_ONCE']];

const FUNNEL = 'query($input: FunnelInput!) { funnel(input: $input) { totalUnits steps { count } } }';
const TREND = 'query($input: FunnelInput!) { funnelTrend(input: $input, interval: DAY) { periodStart entered converted } }';

let t: TestApp;
let analystKey: string;

beforeAll(async () => {
  t = await startTestApp('funnel_range');
  analystKey = await t.createKey('analyst');
  const clientKey = await t.createKey('client');
  const stored = await t.gql('mutation($events: [EventInput!]!) { ingestEvents(events: $events) { accepted } }', { events: EVENTS }, clientKey);
  expect(stored.data!.ingestEvents).toEqual({ accepted: EVENTS.length });
});
afterAll(() => t.stop());

async function ask<T>(query: string, input: Record<string, unknown>): Promise<T> {
  const response = await t.gql(query, { input }, analystKey);
  expect(response.errors).toBeUndefined();
  return Object.values(response.data!)[0] as T;
}

const LATE = {
  steps: [{ type: 'view' }, { type: 'cart' }],
  conversionWindowSeconds: 3600,
  cohort: { userIds: ['late'] },
};

describe('funnel ranges: events after `to` complete chains started in range', () => {
  it.each(MODES.map((modes) => [modes.join('+') || 'default', modes] as const))('funnel answers [1, 1] in mode %s', async (_, modes) => {
    const result = await ask<{ steps: { count: number }[] }>(FUNNEL, { ...LATE, modes, from: '2026-03-02T00:00:00Z', to: '2026-03-03T00:00:00Z' });
    expect(result.steps.map((step) => step.count)).toEqual([1, 1]);
  });

  it.each(MODES.map((modes) => [modes.join('+') || 'default', modes] as const))('funnelTrend counts day 1 converted in mode %s', async (_, modes) => {
    const trend = await ask<{ periodStart: string; entered: number; converted: number }[]>(TREND, {
      ...LATE,
      modes,
      from: '2026-03-02T00:00:00Z',
      to: '2026-03-04T00:00:00Z',
    });
    // Day 2: the view at 00:00:01 starts its own chain, which the cart completes.
    expect(trend).toEqual([
      { periodStart: '2026-03-02T00:00:00.000Z', entered: 1, converted: 1 },
      { periodStart: '2026-03-03T00:00:00.000Z', entered: 1, converted: 1 },
    ]);
  });
});

describe('funnel ranges: the strict modes judge the scan of the range asked for', () => {
  const DEDUP = {
    steps: [{ type: 'view' }, { type: 'cart' }, { type: 'purchase' }],
    conversionWindowSeconds: 3600,
    modes: ['STRICT_DEDUPLICATION'],
    cohort: { userIds: ['dedup'] },
  };

  it.each([
    ['2026-03-05T00:00:00Z', '2026-03-07T00:00:00Z', [1, 1, 0]],
    ['2026-03-06T00:00:00Z', '2026-03-07T00:00:00Z', [1, 1, 1]],
    ['2026-03-05T00:00:00Z', '2026-03-06T00:00:00Z', [1, 1, 0]],
  ])('STRICT_DEDUPLICATION over [%s, %s) gives %j', async (from, to, expected) => {
    const result = await ask<{ steps: { count: number }[] }>(FUNNEL, { ...DEDUP, from, to });
    expect(result.steps.map((step) => step.count)).toEqual(expected);
  });

  it('gives a daily trend whose days are those ranges', async () => {
    const trend = await ask<{ periodStart: string; entered: number; converted: number }[]>(TREND, { ...DEDUP, from: '2026-03-05T00:00:00Z', to: '2026-03-07T00:00:00Z' });
    expect(trend).toEqual([
      { periodStart: '2026-03-05T00:00:00.000Z', entered: 1, converted: 0 },
      { periodStart: '2026-03-06T00:00:00.000Z', entered: 1, converted: 1 },
    ]);
  });
});
