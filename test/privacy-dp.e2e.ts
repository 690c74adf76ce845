/**
 * Differential privacy for analyst keys with a privacy budget (docs/privacy.md, "Differential
 * privacy"), through the real server and PostgreSQL. The shop is test/funnel.e2e.ts's, whose exact
 * answers are worked out by hand there:
 *   view → cart → purchase, window 1 h, [2026-03-02, 2026-03-04): users 5 / 4 / 2, 7 active;
 *   by the step-1 event's device: mobile (alice, carol) 2 / 2 / 2, desktop (bob, erin) 2 / 2 / 0,
 *   tablet (gina) 1 / 0 / 0.
 * Noise bounds: at ε = 10 a funnel's Laplace scale is 0.4 (0.7 with a breakdown), and a count beyond
 * ±6 (±10) of the exact one has probability e^−15 (e^−14.3); isotonic regression never moves
 * counts further from a monotone truth than the noise did, so these bounds cannot flake.
 */
import { startTestApp, TestApp } from './support/app';

const D = (time: string) => `2026-03-02T${time}:00.000Z`;
const SHOP = [
  { userId: 'alice', sessionId: 's1', type: 'view', timestamp: D('10:00'), properties: { device: 'mobile' } },
  { userId: 'bob', sessionId: 's2', type: 'view', timestamp: D('10:00'), properties: { device: 'desktop' } },
  { userId: 'carol', sessionId: 's3', type: 'view', timestamp: D('11:00'), properties: { device: 'mobile' } },
  { userId: 'dave', sessionId: 's5', type: 'view', timestamp: '2026-03-01T23:50:00.000Z', properties: { device: 'mobile' } },
  { userId: 'erin', sessionId: 's6', type: 'view', timestamp: '2026-03-03T23:30:00.000Z', properties: { device: 'desktop' } },
  { userId: 'frank', sessionId: 's7', type: 'cart', timestamp: D('10:00') },
  { userId: 'gina', sessionId: 's8', type: 'view', timestamp: D('10:00'), properties: { device: 'tablet' } },
  { userId: 'alice', sessionId: 's1', type: 'cart', timestamp: D('10:10') },
  { userId: 'alice', sessionId: 's1', type: 'remove_from_cart', timestamp: D('10:20') },
  { userId: 'alice', sessionId: 's1', type: 'purchase', timestamp: D('10:30') },
  { userId: 'bob', sessionId: 's2', type: 'cart', timestamp: D('10:20') },
  { userId: 'bob', sessionId: 's2', type: 'purchase', timestamp: D('11:30') },
  { userId: 'carol', sessionId: 's4', type: 'cart', timestamp: D('11:05') },
  { userId: 'carol', sessionId: 's4', type: 'purchase', timestamp: D('11:40') },
  { userId: 'dave', sessionId: 's5', type: 'cart', timestamp: D('00:05') },
  { userId: 'dave', sessionId: 's5', type: 'purchase', timestamp: D('00:10') },
  { userId: 'erin', sessionId: 's6', type: 'cart', timestamp: '2026-03-04T00:10:00.000Z' },
  { userId: 'gina', sessionId: 's8', type: 'purchase', timestamp: D('10:05') },
].map((event, n) => ({ eventId: `shop-${n}`, ...event }));

/**
 * For the clamped event counts, in April: "heavy" sends 25 events on 04-01 (minutes 0–24: view up to
 * minute 21, then 3 carts) in 8 sessions (h0–h7 in turn); "light" a custom `wishlist_share` and a
 * purchase on 04-02 in one session; "nosession" one view on 04-02 without a session.
 */
const APRIL = [
  ...Array.from({ length: 25 }, (_, n) => ({
    userId: 'heavy',
    sessionId: `h${n % 8}`,
    type: n < 22 ? 'view' : 'cart',
    timestamp: new Date(Date.UTC(2026, 3, 1, 0, n)).toISOString(),
  })),
  { userId: 'light', sessionId: 'l1', type: 'wishlist_share', timestamp: '2026-04-02T08:00:00.000Z' },
  { userId: 'light', sessionId: 'l1', type: 'purchase', timestamp: '2026-04-02T08:05:00.000Z' },
  { userId: 'nosession', type: 'view', timestamp: '2026-04-02T09:00:00.000Z' },
].map((event, n) => ({ eventId: `april-${n}`, ...event }));

const BASE = {
  steps: [{ type: 'view' }, { type: 'cart' }, { type: 'purchase' }],
  conversionWindowSeconds: 3600,
  from: '2026-03-02T00:00:00Z',
  to: '2026-03-04T00:00:00Z',
};
const PRIVACY = 'privacy { epsilon mechanism unit sensitivity scale standardError eventsPerUser sessionsPerUser withheld remainingBudget }';
const FUNNEL = `query($input: FunnelInput!, $epsilon: Float) { funnel(input: $input, epsilon: $epsilon) {
  totalUnits steps { count dropOff conversionFromPrevious timeFromPrevious { median } }
  breakdown { key group isOther totalUnits steps { count } } ${PRIVACY} } }`;
const INGEST = 'mutation($events: [EventInput!]!) { ingestEvents(events: $events) { accepted } }';
const CREATE = 'mutation($name: String!, $budget: Float) { createApiKey(role: ANALYST, name: $name, privacyBudget: $budget) { secret apiKey { id } } }';
const SET_BUDGET = 'mutation($keyId: ID!, $epsilon: Float) { setPrivacyBudget(keyId: $keyId, epsilon: $epsilon) { epsilon spent remaining queries } }';
const BUDGET = '{ privacyBudget { epsilon spent remaining queries } }';

let t: TestApp;
let exactKey: string;

async function budgetKey(name: string, budget: number): Promise<{ secret: string; id: string }> {
  const result = await t.gql(CREATE, { name, budget });
  if (!result.data) throw new Error(JSON.stringify(result.errors));
  return { secret: result.data.createApiKey.secret, id: result.data.createApiKey.apiKey.id };
}

const counts = (steps: { count: number }[]) => steps.map((step) => step.count);

function expectNear(actual: number[], exact: number[], bound: number): void {
  expect(actual).toHaveLength(exact.length);
  actual.forEach((value, n) => expect(Math.abs(value - exact[n])).toBeLessThanOrEqual(bound));
  for (let n = 1; n < actual.length; n++) expect(actual[n]).toBeLessThanOrEqual(actual[n - 1]);
}

beforeAll(async () => {
  t = await startTestApp('privacy-dp');
  const ingested = await t.gql(INGEST, { events: [...SHOP, ...APRIL] });
  expect(ingested.data!.ingestEvents.accepted).toBe(SHOP.length + APRIL.length);
  exactKey = await t.createKey('analyst', 'exact analyst');
});
afterAll(() => t.stop());

describe('keys without a privacy budget', () => {
  it('get the exact answers they always had, with no privacy note', async () => {
    const result = await t.gql(FUNNEL, { input: BASE }, exactKey);
    expect(result.errors).toBeUndefined();
    expect(counts(result.data!.funnel.steps)).toEqual([5, 4, 2]);
    expect(result.data!.funnel.totalUnits).toBe(7);
    expect(result.data!.funnel.steps[1].timeFromPrevious).not.toBeNull();
    expect(result.data!.funnel.privacy).toBeNull();
    const stats = await t.gql('{ eventStats(from: "2026-03-01T00:00:00Z", to: "2026-03-05T00:00:00Z") { total privacy { epsilon } } }', {}, exactKey);
    expect(stats.data!.eventStats).toEqual({ total: SHOP.length, privacy: null });
  });

  it('are told to leave out epsilon and breakdown.values', async () => {
    const withEpsilon = await t.gql(FUNNEL, { input: BASE, epsilon: 1 }, exactKey);
    expect(withEpsilon.errors![0].extensions!.code).toBe('BAD_USER_INPUT');
    expect(withEpsilon.errors![0].message).toMatch(/only for keys with a privacy budget/);
    const withValues = await t.gql(FUNNEL, { input: { ...BASE, breakdown: { property: 'device', values: ['mobile'] } } }, exactKey);
    expect(withValues.errors![0].extensions!.code).toBe('BAD_USER_INPUT');
  });
});

describe('keys with a privacy budget', () => {
  it('get noisy step counts near the exact ones, times withheld, and a note of the mechanism', async () => {
    const { secret } = await budgetKey('dp accurate', 100);
    const result = await t.gql(FUNNEL, { input: BASE, epsilon: 10 }, secret);
    expect(result.errors).toBeUndefined();
    const funnel = result.data!.funnel;
    expectNear(counts(funnel.steps), [5, 4, 2], 6);
    expect(Math.abs(funnel.totalUnits - 7)).toBeLessThanOrEqual(6);
    expect(funnel.steps.every((step: { timeFromPrevious: unknown }) => step.timeFromPrevious === null)).toBe(true);
    expect(funnel.steps[1].dropOff).toBe(funnel.steps[0].count - funnel.steps[1].count);
    // 3 steps: sensitivity 3 + 1 (totalUnits) = 4; b = 4 / 10; standard error √2·b.
    expect(funnel.privacy).toEqual({
      epsilon: 10,
      mechanism: 'laplace',
      unit: 'user',
      sensitivity: 4,
      scale: 0.4,
      standardError: expect.closeTo(0.565685, 5),
      eventsPerUser: null,
      sessionsPerUser: null,
      withheld: ['steps.timeFromPrevious', 'breakdown.steps.timeFromPrevious'],
      remainingBudget: 90,
    });

    const broken = await t.gql(FUNNEL, { input: { ...BASE, breakdown: { property: 'device', values: ['mobile', 'desktop', 'watch'] } }, epsilon: 10 }, secret);
    expect(broken.errors).toBeUndefined();
    const groups = broken.data!.funnel.breakdown;
    expect(groups.map((group: { key: string; isOther: boolean }) => [group.key, group.isOther])).toEqual([
      ['"mobile"', false],
      ['"desktop"', false],
      ['"watch"', false],
      ['(other)', true],
    ]);
    expectNear(counts(groups[0].steps), [2, 2, 2], 10);
    expectNear(counts(groups[1].steps), [2, 2, 0], 10);
    expectNear(counts(groups[2].steps), [0, 0, 0], 10);
    expectNear(counts(groups[3].steps), [1, 0, 0], 10);
    expect(broken.data!.funnel.privacy.sensitivity).toBe(7);
    expect(broken.data!.funnel.privacy.remainingBudget).toBe(80);
  });

  it('differ from the exact answer at a small epsilon', async () => {
    const { secret } = await budgetKey('dp noisy', 1);
    const result = await t.gql(FUNNEL, { input: BASE, epsilon: 0.01 }, secret);
    // b = 400: all three counts rounding back to 5, 4 and 2 has probability below 10⁻⁸.
    expect(counts(result.data!.funnel.steps)).not.toEqual([5, 4, 2]);
  });

  it('refuses what no noise protects with PRIVACY_RESTRICTED, spending nothing', async () => {
    const { secret } = await budgetKey('dp restricted', 1);
    const refusals = [
      [FUNNEL, { input: { ...BASE, countBy: 'SESSION' } }, /by session/],
      [FUNNEL, { input: { ...BASE, excludeAnomalous: true } }, /excludeAnomalous/],
      [FUNNEL, { input: { ...BASE, breakdown: { property: 'device' } } }, /must list the values/],
      // A second range would be a second release of exact counts; several breakdowns are not listed values.
      [FUNNEL, { input: { ...BASE, compareTo: { from: BASE.from, to: BASE.to } } }, /compareTo is not available/],
      [FUNNEL, { input: { ...BASE, breakdowns: [{ property: 'device' }, { property: 'channel' }] } }, /breakdowns \(several properties\)/],
      ['query($input: FunnelInput!) { droppedOff(input: $input, afterStep: 1) { totalCount } }', { input: BASE }, /may ask only for funnel, eventStats, privacyBudget/],
      ['query($input: FunnelInput!) { timeToConvert(input: $input, fromStep: 1, toStep: 2) { units } }', { input: BASE }, /timeToConvert is not/],
      ['{ eventStats(from: "2026-03-01T00:00:00Z", to: "2026-03-05T00:00:00Z") { total flagged { events } } }', {}, /flagged is not/],
      ['{ funnels { id } }', {}, /funnels is not/],
    ] as const;
    for (const [query, variables, message] of refusals) {
      const result = await t.gql(query, variables, secret);
      expect(result.errors?.[0]?.extensions?.code).toBe('PRIVACY_RESTRICTED');
      expect(result.errors![0].message).toMatch(message);
    }
    const epsilonTooLarge = await t.gql(FUNNEL, { input: BASE, epsilon: 20 }, secret);
    expect(epsilonTooLarge.errors![0].extensions!.code).toBe('BAD_USER_INPUT');
    const badFunnel = await t.gql(FUNNEL, { input: { ...BASE, conversionWindowSeconds: -1 } }, secret);
    expect(badFunnel.errors![0].extensions!.code).toBe('BAD_USER_INPUT');
    expect((await t.gql(BUDGET, {}, secret)).data!.privacyBudget).toEqual({ epsilon: 1, spent: 0, remaining: 1, queries: 0 });
  });

  it('spend epsilon per answer (0.1 by default) and are refused once it is spent', async () => {
    const { secret, id } = await budgetKey('dp spender', 0.3);
    for (const remaining of [0.2, 0.1, 0]) {
      const result = await t.gql(FUNNEL, { input: BASE }, secret);
      expect(result.data!.funnel.privacy.epsilon).toBe(0.1);
      expect(result.data!.funnel.privacy.remainingBudget).toBe(remaining);
    }
    const refused = await t.gql(FUNNEL, { input: BASE }, secret);
    expect(refused.errors![0].extensions).toMatchObject({ code: 'PRIVACY_BUDGET_EXHAUSTED', remaining: 0, budget: 0.3, requested: 0.1 });
    expect(refused.errors![0].message).toBe(
      "This key's privacy budget has 0 of 0.3 epsilon left, less than the 0.1 this query spends. Ask with a smaller epsilon (at least 0.01), or ask an admin to reset the budget (setPrivacyBudget).",
    );
    expect((await t.gql(BUDGET, {}, secret)).data!.privacyBudget).toEqual({ epsilon: 0.3, spent: 0.3, remaining: 0, queries: 3 });
    // The admin reads and resets it; an analyst may not read another key's.
    expect((await t.gql(`{ privacyBudget(keyId: "${id}") { spent } }`)).data!.privacyBudget).toEqual({ spent: 0.3 });
    expect((await t.gql(`{ privacyBudget(keyId: "${id}") { spent } }`, {}, exactKey)).errors![0].extensions!.code).toBe('FORBIDDEN');
    // A key id that is not a UUID is the caller's mistake, whichever the field.
    for (const bad of ['not a uuid', '-'.repeat(36), '1'.repeat(100)]) {
      const read = await t.gql('query($k: ID) { privacyBudget(keyId: $k) { spent } }', { k: bad });
      expect(read.errors![0].extensions!.code).toBe('BAD_USER_INPUT');
      expect(read.errors![0].message).toMatch(/is not an API key id: send a UUID/);
      const set = await t.gql('mutation($k: ID!) { setPrivacyBudget(keyId: $k, epsilon: 1) { epsilon } }', { k: bad });
      expect(set.errors![0].extensions!.code).toBe('BAD_USER_INPUT');
    }
    expect((await t.gql(SET_BUDGET, { keyId: id, epsilon: 0.5 })).data!.setPrivacyBudget).toEqual({ epsilon: 0.5, spent: 0, remaining: 0.5, queries: 0 });
    expect((await t.gql(FUNNEL, { input: BASE, epsilon: 0.5 }, secret)).data!.funnel.privacy.remainingBudget).toBe(0);
    // Removing the budget gives exact answers again, and every field back.
    expect((await t.gql(SET_BUDGET, { keyId: id, epsilon: null })).data!.setPrivacyBudget).toBeNull();
    const exact = await t.gql(FUNNEL, { input: BASE }, secret);
    expect(counts(exact.data!.funnel.steps)).toEqual([5, 4, 2]);
    expect(exact.data!.funnel.privacy).toBeNull();
  });

  it('never overspend under concurrent queries (conditional UPDATE in PostgreSQL)', async () => {
    const { secret, id } = await budgetKey('dp concurrent', 1);
    const answers = await Promise.all(Array.from({ length: 12 }, () => t.gql(FUNNEL, { input: BASE, epsilon: 0.25 }, secret)));
    const served = answers.filter((answer) => answer.data?.funnel);
    const refused = answers.filter((answer) => answer.errors?.[0]?.extensions?.code === 'PRIVACY_BUDGET_EXHAUSTED');
    expect(served).toHaveLength(4);
    expect(refused).toHaveLength(8);
    expect(served.map((answer) => answer.data!.funnel.privacy.remainingBudget).sort()).toEqual([0, 0.25, 0.5, 0.75]);
    // And straight at the service: 40 spends of 0.1 against a fresh budget of 1 race on the pool.
    await t.app.services.privacyBudgets.set(id, 1);
    const spends = await Promise.allSettled(Array.from({ length: 40 }, () => t.app.services.privacyBudgets.spend(id, 0.1)));
    expect(spends.filter((spend) => spend.status === 'fulfilled')).toHaveLength(10);
    const [row] = await t.app.services.dataSource.query('SELECT spent::text AS spent, queries FROM privacy_budgets WHERE key_id = $1', [id]);
    expect(row).toEqual({ spent: '1.000000', queries: 10 });
  });

  it('get eventStats on a fixed grid of days and types, with the sensitivity of clamped counts', async () => {
    const { secret } = await budgetKey('dp stats', 10);
    const result = await t.gql(
      `{ eventStats(from: "2026-04-01T00:00:00Z", to: "2026-04-03T00:00:00Z", epsilon: 10) { total distinctUsers distinctSessions byType { type count } byDay { day total byType { type count } } ${PRIVACY} } }`,
      {},
      secret,
    );
    expect(result.errors).toBeUndefined();
    const stats = result.data!.eventStats;
    const types = ['view', 'cart', 'remove_from_cart', 'fav', 'checkout', 'purchase', 'search', '(other)'];
    expect(stats.byDay.map((day: { day: string }) => day.day)).toEqual(['2026-04-01', '2026-04-02']);
    for (const day of stats.byDay) {
      expect(day.byType.map((cell: { type: string }) => cell.type)).toEqual(types);
    }
    expect(stats.byType.map((cell: { type: string }) => cell.type).sort()).toEqual([...types].sort());
    // The total adds the days' unrounded, unclamped noisy sums d₁ + d₂; each day shows max(0, round(dᵢ)) ≥ dᵢ − ½,
    // so the total can never exceed what the days show by more than rounding (it may fall below: a day whose
    // noisy sum went negative shows 0).
    expect(stats.total).toBeLessThanOrEqual(stats.byDay[0].total + stats.byDay[1].total + 1);
    // 100 events + 1 user + 10 sessions per user: sensitivity 111, b = 11.1.
    expect(stats.privacy).toMatchObject({ epsilon: 10, sensitivity: 111, scale: 11.1, eventsPerUser: 100, sessionsPerUser: 10, withheld: [], remainingBudget: 0 });
  });

  it('count each user\'s first 20 events and 5 sessions, custom types as (other) (the exact counts behind the noise)', async () => {
    const counted = await t.app.services.events.clampedCounts(new Date('2026-04-01T00:00:00Z'), new Date('2026-04-03T00:00:00Z'), {
      eventsPerUser: 20,
      sessionsPerUser: 5,
      types: ['view', 'cart', 'remove_from_cart', 'fav', 'checkout', 'purchase', 'search'],
      otherType: '(other)',
    });
    // heavy: minutes 0–19 are all views (carts start at minute 22); 8 sessions count 5; light: 1 session; nosession: none.
    expect(counted.cells.sort((a, b) => `${a.day}${a.type}`.localeCompare(`${b.day}${b.type}`))).toEqual([
      { day: '2026-04-01', type: 'view', count: 20 },
      { day: '2026-04-02', type: '(other)', count: 1 },
      { day: '2026-04-02', type: 'purchase', count: 1 },
      { day: '2026-04-02', type: 'view', count: 1 },
    ]);
    expect(counted.users).toBe(3);
    expect(counted.sessions).toBe(6);
  });
});
