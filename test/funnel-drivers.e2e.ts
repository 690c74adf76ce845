/**
 * Conversion drivers against the demo shop's ground truth (src/sim/shopper.ts): a session's chance
 * of buying has log-odds shifts by device (mobile −0.35, desktop +0.25, tablet +0.05), channel
 * (email +0.45, direct +0.35, organic 0, ads −0.15, social −0.55) and UTC hour of its start
 * (00–06 −0.4, 12–13 +0.1, 19–22 +0.25), and buyers on phones and tablets often pay later on a
 * return visit (another session). So, counting sessions in view → cart → purchase, the drivers from
 * cart to purchase must rank these as the generator does. Two properties the generator never reads
 * are added on load, a per-session `variant` on every event and a per-user `tier`, and must come
 * out as nothing; a user property that is the generator's own per-user propensity must come out
 * strongly positive.
 */
import { createDemoShop } from '../src/sim';
import { importRecords, type ImportRecord } from '../src/events/import/import.service';
import { startTestApp, TestApp } from './support/app';

const shop = createDemoShop({ users: 20_000, days: 14, seed: 5 });
let t: TestApp;

/** FNV-1a: a split of sessions and users that nothing in the generator can correlate with. */
function coin(text: string): boolean {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
  return ((hash >>> 0) & 1) === 1;
}

/**
 * The shop's sessions that put something in the cart, every event of them. A session without a cart
 * event cannot reach step 2, so leaving it out changes no number the step-2 drivers give (units are
 * sessions, each judged on its own events), and the load takes a third of the time.
 */
function* records(): Generator<ImportRecord> {
  for (const item of shop.items) yield { kind: 'item', item };
  for (const story of shop.shoppers()) {
    const carting = new Set(story.events.flatMap((event) => (event.type === 'cart' ? [event.sessionId] : [])));
    for (const event of story.events) {
      if (carting.has(event.sessionId)) yield { kind: 'event', event: { ...event, properties: { ...event.properties, variant: coin(event.sessionId!) ? 'A' : 'B' } } };
    }
  }
}

const INPUT = {
  steps: [{ type: 'view' }, { type: 'cart' }, { type: 'purchase' }],
  conversionWindowSeconds: 3600,
  from: new Date(shop.options.startMs).toISOString(),
  to: new Date(shop.options.endMs).toISOString(),
  countBy: 'SESSION',
};

const DRIVERS = `query ($input: FunnelInput!, $step: Int!, $options: FunnelDriversOptions) {
  funnelDrivers(input: $input, step: $step, options: $options) {
    step reached converted tested belowSupport
    positive { label kind key value oddsRatio qValue }
    negative { label kind key value oddsRatio qValue }
    factors { factor label kind key value missing rangeLow rangeHigh convertersWith dropOffsWith convertersWithout dropOffsWithout
      conversionWith conversionWithout oddsRatio oddsRatioLow oddsRatioHigh pValue qValue significant droppedOff { afterStep factor count } }
  }
}`;

interface Factor {
  factor: string;
  label: string;
  kind: string;
  key: string;
  value: unknown;
  oddsRatio: number;
  oddsRatioLow: number;
  oddsRatioHigh: number;
  pValue: number;
  qValue: number;
  significant: boolean;
  convertersWith: number;
  dropOffsWith: number;
  droppedOff: { afterStep: number; factor: string; count: number };
}

beforeAll(async () => {
  t = await startTestApp('funnel_drivers');
  const { dataSource } = t.app.services;
  await importRecords(dataSource, records());
  // The generator's own per-user readiness to buy, and a coin flip it never sees.
  const users: { external_id: string }[] = await dataSource.query('SELECT external_id FROM users');
  const chances = users.map((user) => shop.groundTruth.purchaseProbability(user.external_id));
  const median = [...chances].sort((a, b) => a - b)[Math.floor(chances.length / 2)];
  await dataSource.query('UPDATE users SET properties = v.p FROM unnest($1::text[], $2::jsonb[]) AS v(id, p) WHERE users.external_id = v.id', [
    users.map((user) => user.external_id),
    users.map((user, n) => JSON.stringify({ propensity: chances[n] > median ? 'high' : 'low', tier: coin(user.external_id) ? 'gold' : 'silver' })),
  ]);
});
afterAll(() => t.stop());

async function drivers(step: number, options: Record<string, unknown> = {}): Promise<{ reached: number; converted: number; tested: number; factors: Factor[]; positive: Factor[]; negative: Factor[] }> {
  const response = await t.gql(DRIVERS, { input: INPUT, step, options: { userProperties: ['propensity', 'tier'], ...options } });
  expect(response.errors).toBeUndefined();
  return response.data!.funnelDrivers;
}

const find = (factors: Factor[], key: string, value: unknown): Factor => {
  const found = factors.find((factor) => factor.key === key && factor.value === value);
  if (!found) throw new Error(`no factor ${key} = ${String(value)} among ${factors.map((factor) => factor.label).join(', ')}`);
  return found;
};

const ratio = (factors: Factor[], key: string, value: unknown): number => find(factors, key, value).oddsRatio;

it('recovers the generator’s device, channel and hour effects from cart to purchase, and finds nothing in what it never reads', async () => {
  const answer = await drivers(2);
  const { factors } = answer;
  const funnel = await t.app.services.funnels.funnel({ ...INPUT, from: new Date(INPUT.from), to: new Date(INPUT.to), countBy: 'session' });
  expect(answer.reached).toBe(funnel.steps[1].count);
  expect(answer.converted).toBe(funnel.steps[2].count);
  expect(answer.reached).toBeGreaterThan(10_000);

  // Channel: the generator's order email > direct > organic > ads > social, the ends significant.
  const channels = ['email', 'direct', 'organic', 'ads', 'social'].map((channel) => ratio(factors, 'channel', channel));
  expect([...channels].sort((a, b) => b - a)).toEqual(channels);
  for (const channel of ['email', 'direct']) expect(answer.positive.map((driver) => driver.label)).toContain(`channel = ${channel}`);
  for (const channel of ['social', 'ads']) expect(answer.negative.map((driver) => driver.label)).toContain(`channel = ${channel}`);

  // Device: desktop > tablet > mobile (tablets also defer more purchases to a later session than desktops).
  expect(ratio(factors, 'device', 'desktop')).toBeGreaterThan(ratio(factors, 'device', 'tablet'));
  expect(ratio(factors, 'device', 'tablet')).toBeGreaterThan(ratio(factors, 'device', 'mobile'));
  expect(find(factors, 'device', 'desktop')).toMatchObject({ significant: true });
  expect(find(factors, 'device', 'mobile')).toMatchObject({ significant: true });
  expect(find(factors, 'device', 'desktop').oddsRatioLow).toBeGreaterThan(1);
  expect(find(factors, 'device', 'mobile').oddsRatioHigh).toBeLessThan(1);

  // Hour (UTC): evening (18–24, holding 19–22's +0.25) > afternoon (12–13's +0.1) > morning (0) > night (−0.4).
  const hours = [18, 12, 6, 0].map((hour) => ratio(factors, 'utc', hour));
  expect([...hours].sort((a, b) => b - a)).toEqual(hours);
  expect(find(factors, 'utc', 18)).toMatchObject({ significant: true });
  expect(find(factors, 'utc', 0)).toMatchObject({ significant: true });
  expect(find(factors, 'utc', 0).oddsRatio).toBeLessThan(1);

  // The generator's own per-user propensity, as a user property: the strongest property there is.
  expect(find(factors, 'propensity', 'high')).toMatchObject({ significant: true });
  expect(ratio(factors, 'propensity', 'high')).toBeGreaterThan(3);

  // What the generator never reads: tested, and nothing.
  for (const [key, value] of [['variant', 'A'], ['variant', 'B'], ['tier', 'gold'], ['tier', 'silver']]) {
    const factor = find(factors, key, value);
    expect(factor.significant).toBe(false);
    expect(factor.oddsRatioLow).toBeLessThan(1);
    expect(factor.oddsRatioHigh).toBeGreaterThan(1);
  }
  // Price is banded (quartiles of the carted items' prices), each band's units within a quarter or so.
  const bands = factors.filter((factor) => factor.key === 'price');
  expect(bands.length).toBe(4);
  for (const band of bands) expect((band.convertersWith + band.dropOffsWith) / answer.reached).toBeGreaterThan(0.15);
});

it("opens each driver's dropped-off sessions: exactly its count, and each one has the factor by the generator's own record", async () => {
  const { factors } = await drivers(2);
  const channelOf = new Map<string, string>();
  for (const session of shop.sessions()) channelOf.set(session.sessionId, session.channel);
  const LIST = `query ($input: FunnelInput!, $afterStep: Int!, $factor: String) {
    droppedOff(input: $input, afterStep: $afterStep, factor: $factor, first: 1000) { totalCount edges { node { userId sessionId } } }
  }`;
  for (const driver of [find(factors, 'channel', 'social'), find(factors, 'remove_from_cart', null), factors.find((factor) => factor.key === 'price')!]) {
    const response = await t.gql(LIST, { input: INPUT, afterStep: driver.droppedOff.afterStep, factor: driver.droppedOff.factor });
    expect(response.errors).toBeUndefined();
    expect(response.data!.droppedOff.totalCount).toBe(driver.dropOffsWith);
    expect(driver.droppedOff.count).toBe(driver.dropOffsWith);
    if (driver.key === 'channel') {
      const sessions: { sessionId: string }[] = response.data!.droppedOff.edges.map((edge: { node: { sessionId: string } }) => edge.node);
      expect(sessions.length).toBe(Math.min(1000, driver.dropOffsWith));
      for (const { sessionId } of sessions) expect(channelOf.get(sessionId)).toBe('social');
    }
  }
  const bad = await t.gql(LIST, { input: INPUT, afterStep: 2, factor: 'not-a-factor' });
  expect(bad.errors![0].extensions!.code).toBe('BAD_USER_INPUT');
});

describe('on a log worked by hand', () => {
  // land → signup → pay, users, window 1 h, on 2026-03-02 (after the demo shop's period; its
  // events match no step here). Drivers from signup (step 2) to pay:
  //   h1: signup plan pro, coupon, pay                 → converts; plan pro, coupon
  //   h2: signup plan free, help                       → drops off; plan free, help
  //   h3: signups pro and free at the same instant, pay → converts; the first ingested (pro) is its step event
  //   h4: signup free, coupon, pay and help after the window (land 20:00 + 1 h) → drops off; plan free, coupon
  //   h5: signup free, signup pro a minute later, pay  → converts; its chain's signup is the first (free)
  // So: reached 5, converted 3; pro 2 of 2, free 1 of 3, coupon 1 of 2, help 0 of 1; every step
  // event lies in 18:00–24:00 UTC, so that factor has no units without it and is not tested.
  const at = (minute: number): string => new Date(Date.UTC(2026, 2, 2, 20, minute)).toISOString();
  const LOG: [string, string, number, Record<string, unknown>?][] = [
    ['h1', 'land', 0], ['h1', 'signup', 1, { plan: 'pro' }], ['h1', 'coupon', 2], ['h1', 'pay', 3],
    ['h2', 'land', 0], ['h2', 'signup', 1, { plan: 'free' }], ['h2', 'help', 2],
    ['h3', 'land', 0], ['h3', 'signup', 1, { plan: 'pro' }], ['h3', 'signup', 1, { plan: 'free' }], ['h3', 'pay', 5],
    ['h4', 'land', 0], ['h4', 'signup', 1, { plan: 'free' }], ['h4', 'coupon', 2], ['h4', 'pay', 61], ['h4', 'help', 65],
    ['h5', 'land', 0], ['h5', 'signup', 1, { plan: 'free' }], ['h5', 'signup', 2, { plan: 'pro' }], ['h5', 'pay', 3],
  ];
  const HAND = {
    steps: [{ type: 'land' }, { type: 'signup' }, { type: 'pay' }],
    conversionWindowSeconds: 3600,
    from: '2026-03-02T00:00:00.000Z',
    to: '2026-03-03T00:00:00.000Z',
  };

  beforeAll(async () => {
    const events = LOG.map(([userId, type, minute, properties], n) => ({ eventId: `hand-${n}`, userId, type, timestamp: at(minute), properties: properties ?? {} }));
    const stored = await t.gql('mutation($events: [EventInput!]!) { ingestEvents(events: $events) { accepted } }', { events });
    expect(stored.data!.ingestEvents.accepted).toBe(LOG.length);
  });

  it('counts each factor as worked out, and droppedOff by factor lists exactly its users', async () => {
    const response = await t.gql(DRIVERS, { input: HAND, step: 2, options: { minSupport: 1, properties: ['plan'] } });
    expect(response.errors).toBeUndefined();
    const answer = response.data!.funnelDrivers;
    expect(answer).toMatchObject({ step: 2, reached: 5, converted: 3, tested: 4, belowSupport: 1, positive: [], negative: [] });
    const counts = Object.fromEntries(answer.factors.map((factor: Factor) => [factor.label, [factor.convertersWith, factor.dropOffsWith]]));
    expect(counts).toEqual({ 'plan = pro': [2, 0], 'plan = free': [1, 2], 'did coupon between the steps': [1, 1], 'did help between the steps': [0, 1] });
    // plan = pro: a = 2, b = 0, c = 1, d = 2 → ½ added: (2.5 · 2.5)/(0.5 · 1.5) = 8.333. Fisher: 2 with, 3 converters
    // of 5, P(a = 0, 1, 2) = 1, 6, 3 tenths; a = 2 and the less likely a = 0 give p = 0.4.
    const pro = find(answer.factors, 'plan', 'pro');
    expect(pro.oddsRatio).toBeCloseTo(6.25 / 0.75, 10);
    expect(pro.pValue).toBeCloseTo(0.4, 10);

    const LIST = 'query ($input: FunnelInput!, $factor: String) { droppedOff(input: $input, afterStep: 2, factor: $factor) { totalCount edges { node { userId } } } }';
    const usersWith = async (factor: Factor): Promise<string[]> => {
      const list = await t.gql(LIST, { input: HAND, factor: factor.droppedOff.factor });
      expect(list.errors).toBeUndefined();
      return list.data!.droppedOff.edges.map((edge: { node: { userId: string } }) => edge.node.userId).sort();
    };
    expect(await usersWith(find(answer.factors, 'plan', 'free'))).toEqual(['h2', 'h4']);
    expect(await usersWith(find(answer.factors, 'coupon', null))).toEqual(['h4']);
    expect(await usersWith(find(answer.factors, 'help', null))).toEqual(['h2']);
    expect(await usersWith(pro)).toEqual([]);
  });

  it('tests named cohorts as members against the rest, and droppedOff by a cohort factor lists exactly its members that dropped off', async () => {
    // Cohort "picked" = h1, h2, h4 by id; cohort "vip" = users whose stored vip is true: h3, h4.
    // Reached signup: h1..h5; converted h1, h3, h5; dropped off h2, h4.
    //   picked: with a = 1 (h1), b = 2 (h2, h4); without c = 2 (h3, h5), d = 0.
    //     ½ added (d = 0): (1.5 · 0.5)/(2.5 · 2.5) = 0.12. Fisher: 3 with, 3 converters of 5, so a ≥ 1:
    //     P(a = 1, 2, 3) = 3, 6, 1 tenths; a = 1 and the less likely a = 3 give p = 0.4.
    //   vip: a = 1 (h3), b = 1 (h4); c = 2 (h1, h5), d = 1 (h2): (1 · 1)/(1 · 2) = 0.5. Fisher: 2 with,
    //     P(a = 0, 1, 2) = 1, 6, 3 tenths; a = 1 is the likeliest, so p = 1.
    await t.app.services.dataSource.query(`UPDATE users SET properties = properties || '{"vip": true}'::jsonb WHERE external_id IN ('h3', 'h4')`);
    const cohorts = [
      { name: 'picked', userIds: ['h1', 'h2', 'h4'] },
      { name: 'vip', userProperties: [{ property: 'vip', op: 'EQ', value: true }] },
    ];
    const options = { minSupport: 1, properties: [], eventTypes: false, hourOfDay: false, cohorts };
    const response = await t.gql(DRIVERS, { input: HAND, step: 2, options });
    expect(response.errors).toBeUndefined();
    const answer = response.data!.funnelDrivers;
    expect(answer).toMatchObject({ reached: 5, converted: 3, tested: 2, belowSupport: 0 });
    const tables = Object.fromEntries(
      answer.factors.map((factor: Factor & { convertersWithout: number; dropOffsWithout: number; missing: boolean }) => [
        factor.label,
        [factor.kind, factor.key, factor.value, factor.missing, factor.convertersWith, factor.dropOffsWith, factor.convertersWithout, factor.dropOffsWithout],
      ]),
    );
    expect(tables).toEqual({ 'in cohort picked': ['COHORT', 'picked', 'member', false, 1, 2, 2, 0], 'in cohort vip': ['COHORT', 'vip', 'member', false, 1, 1, 2, 1] });
    const picked = find(answer.factors, 'picked', 'member');
    expect(picked.oddsRatio).toBeCloseTo(0.12, 10);
    expect(picked.pValue).toBeCloseTo(0.4, 10);
    const vip = find(answer.factors, 'vip', 'member');
    expect(vip.oddsRatio).toBeCloseTo(0.5, 10);
    expect(vip.pValue).toBeCloseTo(1, 10);

    const LIST = 'query ($input: FunnelInput!, $factor: String) { droppedOff(input: $input, afterStep: 2, factor: $factor) { totalCount edges { node { userId } } } }';
    for (const [factor, users] of [[picked, ['h2', 'h4']], [vip, ['h4']]] as const) {
      const list = await t.gql(LIST, { input: HAND, factor: factor.droppedOff.factor });
      expect(list.errors).toBeUndefined();
      expect(list.data!.droppedOff.totalCount).toBe(users.length);
      expect(list.data!.droppedOff.edges.map((edge: { node: { userId: string } }) => edge.node.userId).sort()).toEqual(users);
    }
  });

  it('refuses cohorts it cannot test, saying what to fix', async () => {
    const refusal = async (cohorts: unknown[]): Promise<string> => {
      const response = await t.gql(DRIVERS, { input: HAND, step: 2, options: { minSupport: 1, cohorts } });
      expect(response.errors![0].extensions!.code).toBe('BAD_USER_INPUT');
      return response.errors![0].message;
    };
    expect(await refusal([{ name: 'none' }])).toMatch(/options\.cohorts\[0\] \("none"\) is empty: give userIds, userProperties filters, or both/);
    expect(await refusal([{ name: 'none', userIds: [] }])).toMatch(/is empty/);
    expect(await refusal([{ name: 'a', userIds: ['h1'] }, { name: 'a', userIds: ['h2'] }])).toMatch(/options\.cohorts\[1\]\.name "a" is used twice/);
    expect(await refusal(Array.from({ length: 11 }, (_, n) => ({ name: `c${n}`, userIds: ['h1'] })))).toMatch(/at most 10 cohorts; got 11/);
    expect(await refusal([{ name: '', userIds: ['h1'] }])).toMatch(/name must be 1–64 characters/);
    expect(await refusal([{ name: 'x'.repeat(65), userIds: ['h1'] }])).toMatch(/name must be 1–64 characters/);
    expect(await refusal([{ name: 'big', userIds: Array.from({ length: 1001 }, (_, n) => `u${n}`) }])).toMatch(/options\.cohorts\[0\]\.userIds holds at most 1000 ids/);
    expect(await refusal([{ name: 'bad', userProperties: [{ property: 'vip', op: 'CONTAINS' }] }])).toMatch(/options\.cohorts\[0\]\.userProperties\[0\]/);
  });
});
