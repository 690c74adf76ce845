/**
 * Funnel controls through the real server (FUNNEL-SEMANTICS.md, "Controls"): per-step windows, a
 * minimum time from the previous step, optional steps, a property held constant, a second range
 * and several breakdowns. Every expected number is worked out by hand from `SHOP` below.
 *
 * Funnel: view → cart → purchase, window 1 h, chains starting on 2026-03-02 (the "A" range).
 *   u1  view 10:00 (mobile, sku-1) · cart 10:10 (sku-1) · purchase 10:20 (sku-1)      → 3
 *   u2  view 10:00 (desktop, sku-1) · cart 10:50 (sku-1) · purchase 10:55 (sku-1)     → 3 (cart 50 min after view)
 *   u3  view 10:00 (mobile, sku-1) · cart 10:05 (sku-2) · purchase 10:10 (sku-2)      → 3 (another item from cart on)
 *   u4  view 10:00 (desktop, sku-2) · purchase 10:30 (sku-2)                          → 1 (no cart)
 *   u5  view 10:00 (mobile, sku-1) · cart 10:00:30 (sku-1) · purchase 10:40 (sku-1)   → 3 (cart 30 s after view)
 * On 2026-03-01 (the "B" range): u6 view 10:00 · cart 10:10 · purchase 10:20 (sku-1) → 3; u7 view 10:00 → 1.
 * Items: sku-1 is in "shoes", sku-2 in "hats".
 */
import { startTestApp, TestApp } from './support/app';

const A = (time: string) => `2026-03-02T${time}.000Z`;
const B = (time: string) => `2026-03-01T${time}.000Z`;
const SHOP = [
  { userId: 'u1', type: 'view', timestamp: A('10:00:00'), itemId: 'sku-1', properties: { device: 'mobile' } },
  { userId: 'u1', type: 'cart', timestamp: A('10:10:00'), itemId: 'sku-1' },
  { userId: 'u1', type: 'purchase', timestamp: A('10:20:00'), itemId: 'sku-1' },
  { userId: 'u2', type: 'view', timestamp: A('10:00:00'), itemId: 'sku-1', properties: { device: 'desktop' } },
  { userId: 'u2', type: 'cart', timestamp: A('10:50:00'), itemId: 'sku-1' },
  { userId: 'u2', type: 'purchase', timestamp: A('10:55:00'), itemId: 'sku-1' },
  { userId: 'u3', type: 'view', timestamp: A('10:00:00'), itemId: 'sku-1', properties: { device: 'mobile' } },
  { userId: 'u3', type: 'cart', timestamp: A('10:05:00'), itemId: 'sku-2' },
  { userId: 'u3', type: 'purchase', timestamp: A('10:10:00'), itemId: 'sku-2' },
  { userId: 'u4', type: 'view', timestamp: A('10:00:00'), itemId: 'sku-2', properties: { device: 'desktop' } },
  { userId: 'u4', type: 'purchase', timestamp: A('10:30:00'), itemId: 'sku-2' },
  { userId: 'u5', type: 'view', timestamp: A('10:00:00'), itemId: 'sku-1', properties: { device: 'mobile' } },
  { userId: 'u5', type: 'cart', timestamp: A('10:00:30'), itemId: 'sku-1' },
  { userId: 'u5', type: 'purchase', timestamp: A('10:40:00'), itemId: 'sku-1' },
  { userId: 'u6', type: 'view', timestamp: B('10:00:00'), itemId: 'sku-1', properties: { device: 'mobile' } },
  { userId: 'u6', type: 'cart', timestamp: B('10:10:00'), itemId: 'sku-1' },
  { userId: 'u6', type: 'purchase', timestamp: B('10:20:00'), itemId: 'sku-1' },
  { userId: 'u7', type: 'view', timestamp: B('10:00:00'), itemId: 'sku-1', properties: { device: 'desktop' } },
].map((event, n) => ({ eventId: `controls-${n}`, ...event }));

const BASE = {
  steps: [{ type: 'view' }, { type: 'cart' }, { type: 'purchase' }],
  conversionWindowSeconds: 3600,
  from: '2026-03-02T00:00:00Z',
  to: '2026-03-03T00:00:00Z',
};

const STEPS = 'steps { index count conversionFromPrevious dropOff timeFromPrevious { median } }';
const BREAKDOWN = 'breakdown { group key value valueType isOther totalUnits parts { property key group value valueType } steps { count } }';
const FUNNEL = `query($input: FunnelInput!) { funnel(input: $input) { totalUnits ${STEPS} ${BREAKDOWN} comparison { from to totalUnits ${STEPS} } } }`;
const INGEST = 'mutation($events: [EventInput!]!) { ingestEvents(events: $events) { accepted rejected { index message } } }';

let t: TestApp;
let analystKey: string;

type Step = { count: number; conversionFromPrevious: number; dropOff: number; timeFromPrevious: { median: number } | null };

async function funnel(input: Record<string, unknown>) {
  const response = await t.gql(FUNNEL, { input: { ...BASE, ...input } }, analystKey);
  expect(response.errors).toBeUndefined();
  return response.data!.funnel as {
    totalUnits: number;
    steps: Step[];
    breakdown: { group: string; key: string; value: unknown; valueType: string; isOther: boolean; totalUnits: number; parts: Record<string, unknown>[]; steps: { count: number }[] }[] | null;
    comparison: { from: string; to: string; totalUnits: number; steps: Step[] } | null;
  };
}

async function refusal(query: string, variables: Record<string, unknown>): Promise<string> {
  const response = await t.gql(query, variables, analystKey);
  expect(response.errors?.[0].extensions?.code).toBe('BAD_USER_INPUT');
  return response.errors![0].message;
}

const counts = (steps: { count: number }[]) => steps.map((step) => step.count);
const withSteps = (...extra: Record<string, unknown>[]) => BASE.steps.map((step, s) => ({ ...step, ...(extra[s] ?? {}) }));

beforeAll(async () => {
  t = await startTestApp('funnel-controls');
  analystKey = await t.createKey('analyst');
  const clientKey = await t.createKey('client');
  const stored = await t.gql(INGEST, { events: SHOP }, clientKey);
  expect(stored.data!.ingestEvents).toEqual({ accepted: SHOP.length, rejected: [] });
  const items = await t.gql('mutation($items: [ItemInput!]!) { upsertItems(items: $items) { created updated } }', {
    items: [
      { id: 'sku-1', category: 'shoes' },
      { id: 'sku-2', category: 'hats' },
    ],
  });
  expect(items.errors).toBeUndefined();
});
afterAll(() => t.stop());

describe('funnel controls', () => {
  it('without controls: 5 / 4 / 4 (the baseline the controls below change)', async () => {
    const result = await funnel({});
    expect(result.totalUnits).toBe(5);
    expect(counts(result.steps)).toEqual([5, 4, 4]);
    expect(result.comparison).toBeNull();
  });

  it('per-step windows count from the previous step: cart within 30 min of view, purchase within 10 min of cart', async () => {
    // u2's cart is 50 min after its view (level 1); u5's purchase is 39.5 min after its cart (level 2);
    // u1's purchase is exactly 10 min after its cart (inclusive).
    const result = await funnel({ steps: withSteps({}, { windowSeconds: 1800 }, { windowSeconds: 600 }) });
    expect(counts(result.steps)).toEqual([5, 3, 2]);
  });

  it('a minimum time from the previous step leaves out the cart 30 s after the view', async () => {
    const result = await funnel({ steps: withSteps({}, { minSecondsFromPrevious: 60 }) });
    // u5 has no cart 60 s or more after a view, so it stays at 1 (its purchase needs the cart).
    expect(counts(result.steps)).toEqual([5, 3, 3]);
  });

  it('an optional cart: view → purchase counts, the cart counts those who did it, conversion compares with the view', async () => {
    const result = await funnel({ steps: withSteps({}, { optional: true }) });
    expect(counts(result.steps)).toEqual([5, 4, 5]);
    expect(result.steps.map((step) => step.conversionFromPrevious)).toEqual([1, 0.8, 1]);
    expect(result.steps.map((step) => step.dropOff)).toEqual([0, 1, 0]);
    // Purchase from the last step filled: u1 600, u2 300, u3 300, u5 2370 (from the cart), u4 1800 (from the view): median 600.
    expect(result.steps[2].timeFromPrevious).toEqual({ median: 600 });
  });

  it('holds the item constant: u3 carts another item than it viewed, u4 never carts', async () => {
    const result = await funnel({ holdConstant: ['itemId'] });
    expect(counts(result.steps)).toEqual([5, 3, 3]);
  });

  it('compares with another range in one answer', async () => {
    const result = await funnel({ compareTo: { from: '2026-03-01T00:00:00Z', to: '2026-03-02T00:00:00Z' } });
    expect(counts(result.steps)).toEqual([5, 4, 4]);
    expect(result.comparison).toMatchObject({ from: '2026-03-01T00:00:00.000Z', to: '2026-03-02T00:00:00.000Z', totalUnits: 2 });
    expect(counts(result.comparison!.steps)).toEqual([2, 1, 1]);
    // The previous period of [03-02, 03-03) is [03-01, 03-02): the same second range, by name.
    const previous = await funnel({ compareTo: { previousPeriod: true } });
    expect(previous.comparison).toEqual(result.comparison);
    expect(await refusal(FUNNEL, { input: { ...BASE, compareTo: { previousPeriod: true, from: '2026-03-01T00:00:00Z' } } })).toMatch(/previousPeriod, or compareTo.from and compareTo.to, not both/);
    expect(await refusal(FUNNEL, { input: { ...BASE, compareTo: { to: '2026-03-01T00:00:00Z' } } })).toMatch(/compareTo needs from and to/);
  });

  it('breaks down by several properties at once: groups are value combinations', async () => {
    const result = await funnel({ breakdowns: [{ property: 'device' }, { property: 'item.category' }] });
    // mobile/shoes: u1, u3, u5 (all convert); desktop/hats: u4 (1); desktop/shoes: u2 (converts). Ties by key: "hats" < "shoes".
    expect(result.breakdown!.map((group) => [group.group, group.totalUnits, counts(group.steps)])).toEqual([
      ['mobile / shoes', 3, [3, 3, 3]],
      ['desktop / hats', 1, [1, 0, 0]],
      ['desktop / shoes', 1, [1, 1, 1]],
    ]);
    const [first] = result.breakdown!;
    expect(first).toMatchObject({ key: '["\\"mobile\\"","\\"shoes\\""]', value: ['mobile', 'shoes'], valueType: 'COMBINATION', isOther: false });
    expect(first.parts).toEqual([
      { property: 'device', key: '"mobile"', group: 'mobile', value: 'mobile', valueType: 'STRING' },
      { property: 'item.category', key: '"shoes"', group: 'shoes', value: 'shoes', valueType: 'STRING' },
    ]);
  });

  it('combines controls with each other and with a strict mode', async () => {
    // Optional cart and the item held: u3's view (sku-1) cannot reach its sku-2 purchase; u4 (sku-2 throughout) converts by skipping the cart.
    const result = await funnel({ steps: withSteps({}, { optional: true }), holdConstant: ['itemId'], modes: ['STRICT_ORDER'] });
    // Under STRICT_ORDER, u4's purchase does not stop the scan: the step it may follow (the view, past the optional cart) was reached.
    expect(counts(result.steps)).toEqual([5, 3, 4]);
  });

  it('answers droppedOff, funnelTrend and timeToConvert under controls', async () => {
    const input = { ...BASE, holdConstant: ['itemId'] };
    const dropped = await t.gql('query($input: FunnelInput!) { droppedOff(input: $input, afterStep: 1) { totalCount edges { node { userId } } } }', { input }, analystKey);
    expect(dropped.errors).toBeUndefined();
    expect(dropped.data!.droppedOff.totalCount).toBe(2);
    expect(dropped.data!.droppedOff.edges.map((edge: { node: { userId: string } }) => edge.node.userId).sort()).toEqual(['u3', 'u4']);
    const windows = { ...BASE, steps: withSteps({}, { windowSeconds: 1800 }, { windowSeconds: 600 }) };
    const trend = await t.gql('query($input: FunnelInput!) { funnelTrend(input: $input, interval: DAY) { entered converted } }', { input: windows }, analystKey);
    expect(trend.data!.funnelTrend).toEqual([{ entered: 5, converted: 2 }]);
    // Optional cart, view → purchase: u1 1200, u2 3300, u3 600, u4 1800, u5 2400 s (median 1800); cart → purchase needs both filled: u1 600, u2 300, u3 300, u5 2370 (median 450).
    const optional = { ...BASE, steps: withSteps({}, { optional: true }) };
    const ttc = await t.gql('query($input: FunnelInput!) { a: timeToConvert(input: $input, fromStep: 1, toStep: 3) { units summary { median } } b: timeToConvert(input: $input, fromStep: 2, toStep: 3) { units summary { median } } }', { input: optional }, analystKey);
    expect(ttc.errors).toBeUndefined();
    expect(ttc.data!.a).toEqual({ units: 5, summary: { median: 1800 } });
    expect(ttc.data!.b).toEqual({ units: 4, summary: { median: 450 } });
  });
});

describe('saved funnels keep their controls', () => {
  it('runs a saved funnel with holdConstant and compareTo as it was saved', async () => {
    const input = { ...BASE, holdConstant: ['itemId'], compareTo: { from: '2026-03-01T00:00:00Z', to: '2026-03-02T00:00:00Z' } };
    const saved = await t.gql('mutation($input: FunnelInput!) { saveFunnel(name: "same item", input: $input) { id } }', { input }, analystKey);
    expect(saved.errors).toBeUndefined();
    const run = await t.gql('query($id: ID!) { runSavedFunnel(id: $id) { steps { count } comparison { steps { count } } } }', { id: saved.data!.saveFunnel.id }, analystKey);
    expect(run.errors).toBeUndefined();
    // A: as "holds the item constant" above; B: u6 keeps sku-1 throughout (3), u7 only views (1).
    expect(counts(run.data!.runSavedFunnel.steps)).toEqual([5, 3, 3]);
    expect(counts(run.data!.runSavedFunnel.comparison.steps)).toEqual([2, 1, 1]);
  });

  it('keeps previousPeriod relative: run over another range, it compares with the period before that one', async () => {
    const input = { ...BASE, compareTo: { previousPeriod: true } };
    const saved = await t.gql('mutation($input: FunnelInput!) { saveFunnel(name: "week on week", input: $input) { id } }', { input }, analystKey);
    expect(saved.errors).toBeUndefined();
    const RUN = 'query($id: ID!, $from: DateTime, $to: DateTime) { runSavedFunnel(id: $id, from: $from, to: $to) { steps { count } comparison { from to steps { count } } } }';
    const asSaved = await t.gql(RUN, { id: saved.data!.saveFunnel.id }, analystKey);
    expect(asSaved.data!.runSavedFunnel.comparison).toMatchObject({ from: '2026-03-01T00:00:00.000Z', to: '2026-03-02T00:00:00.000Z' });
    expect(counts(asSaved.data!.runSavedFunnel.comparison.steps)).toEqual([2, 1, 1]);
    // Over [03-01, 03-02) it compares with [02-28, 03-01), where the log has no events.
    const moved = await t.gql(RUN, { id: saved.data!.saveFunnel.id, from: '2026-03-01T00:00:00Z', to: '2026-03-02T00:00:00Z' }, analystKey);
    expect(counts(moved.data!.runSavedFunnel.steps)).toEqual([2, 1, 1]);
    expect(moved.data!.runSavedFunnel.comparison).toMatchObject({ from: '2026-02-28T00:00:00.000Z', to: '2026-03-01T00:00:00.000Z' });
    expect(counts(moved.data!.runSavedFunnel.comparison.steps)).toEqual([0, 0, 0]);
  });
});

describe('funnel controls: refusals say what to fix', () => {
  const FUNNEL_ONLY = 'query($input: FunnelInput!) { funnel(input: $input) { totalUnits } }';

  it('refuses an optional first or last step, windows on step 1, and a window shorter than its minimum', async () => {
    expect(await refusal(FUNNEL_ONLY, { input: { ...BASE, steps: withSteps({ optional: true }) } })).toMatch(/step 1 and the last step cannot be optional/);
    expect(await refusal(FUNNEL_ONLY, { input: { ...BASE, steps: withSteps({}, {}, { optional: true }) } })).toMatch(/cannot be optional/);
    expect(await refusal(FUNNEL_ONLY, { input: { ...BASE, steps: withSteps({ windowSeconds: 60 }) } })).toMatch(/step 1 has none/);
    expect(await refusal(FUNNEL_ONLY, { input: { ...BASE, steps: withSteps({}, { windowSeconds: 60, minSecondsFromPrevious: 120 }) } })).toMatch(/more than windowSeconds/);
    expect(await refusal(FUNNEL_ONLY, { input: { ...BASE, steps: withSteps({}, { windowSeconds: 7200 }) } })).toMatch(/0 to conversionWindowSeconds/);
  });

  it('refuses an exclusion guarding an optional step, and breakdown together with breakdowns', async () => {
    const exclusions = [{ type: 'remove_from_cart', fromStep: 1, toStep: 2 }];
    expect(await refusal(FUNNEL_ONLY, { input: { ...BASE, steps: withSteps({}, { optional: true }), exclusions } })).toMatch(/must be required steps; step 2 is optional/);
    expect(await refusal(FUNNEL_ONLY, { input: { ...BASE, breakdown: { property: 'device' }, breakdowns: [{ property: 'device' }] } })).toMatch(/not both/);
  });

  it('refuses compareTo outside the funnel query and controls in funnelDrivers', async () => {
    const compareTo = { from: '2026-03-01T00:00:00Z', to: '2026-03-02T00:00:00Z' };
    const trend = 'query($input: FunnelInput!) { funnelTrend(input: $input, interval: DAY) { entered } }';
    expect(await refusal(trend, { input: { ...BASE, compareTo } })).toMatch(/compareTo applies to the funnel query only/);
    const drivers = 'query($input: FunnelInput!) { funnelDrivers(input: $input, step: 1) { step } }';
    expect(await refusal(drivers, { input: { ...BASE, holdConstant: ['itemId'] } })).toMatch(/funnelDrivers does not take funnel controls/);
  });

  it('keeps the 32-step limit', async () => {
    const steps = Array.from({ length: 33 }, () => ({ type: 'view' }));
    expect(await refusal(FUNNEL_ONLY, { input: { ...BASE, steps } })).toMatch(/2 to 32 steps/);
  });
});
