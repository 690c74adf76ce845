/**
 * What a property value is, through the real server (issue #12, "the event store behind funnels"):
 * property keys named like Object.prototype's members, breakdown values that keep their JSON
 * type, and one definition of a session. Every expected number is worked out by hand from the
 * events listed beside it, not taken from the engine.
 */
import { loadSession } from '../src/predict/event-history';
import { startTestApp, TestApp } from './support/app';

const INGEST = 'mutation($events: [EventInput!]!) { ingestEvents(events: $events) { accepted rejected { index message } } }';
const FUNNEL = `query($input: FunnelInput!) { funnel(input: $input) {
  totalUnits steps { count } breakdown { group key value valueType isOther totalUnits steps { count } } } }`;

let t: TestApp;
let clientKey: string;
let eventNumber = 0;

interface ShopEvent {
  userId: string;
  type: string;
  timestamp: string;
  sessionId?: string;
  properties?: Record<string, unknown> | null;
}

async function ingest(events: ShopEvent[]): Promise<void> {
  const result = await t.gql(INGEST, { events: events.map((event) => ({ eventId: `v-${eventNumber++}`, ...event })) }, clientKey);
  expect(result.errors).toBeUndefined();
  expect(result.data!.ingestEvents).toEqual({ accepted: events.length, rejected: [] });
}

const counts = (steps: { count: number }[]) => steps.map((step) => step.count);

/** view → cart within an hour, chains starting on `day` (UTC). */
function viewThenCart(day: string, viewFilters: unknown[] = [], extra: Record<string, unknown> = {}) {
  const start = new Date(`${day}T00:00:00Z`);
  return {
    steps: [{ type: 'view', filters: viewFilters }, { type: 'cart' }],
    conversionWindowSeconds: 3600,
    from: start.toISOString(),
    to: new Date(start.getTime() + 86_400_000).toISOString(),
    ...extra,
  };
}

async function funnel(input: Record<string, unknown>) {
  const result = await t.gql(FUNNEL, { input });
  expect(result.errors).toBeUndefined();
  return result.data!.funnel;
}

beforeAll(async () => {
  t = await startTestApp('funnel_values');
  clientKey = await t.createKey('client');
});
afterAll(() => t.stop());

describe('property keys named like built-in object members', () => {
  // Each key gets its own day and users. The keys are handled one after another on one mirror, so
  // every batch after the first arrives by catch-up while the earlier keys' columns are loaded:
  // the path that used to read Object.prototype's members for events without the key.
  const KEYS = ['constructor', 'toString', 'valueOf', 'hasOwnProperty', '__proto__'];

  it.each(KEYS.map((key, k) => [key, k] as const))('filters and breaks down on "%s", before and after a catch-up', async (key, k) => {
    const day = `2026-03-${String(2 + k).padStart(2, '0')}`;
    const at = (time: string) => `${day}T${time}:00.000Z`;
    const props = (value: unknown) => ({ [key]: value }); // a computed key: an own property, even "__proto__"
    const visit = (user: string, properties: Record<string, unknown> | null, buys: boolean): ShopEvent[] => [
      { userId: `${k}-${user}`, type: 'view', timestamp: at('10:00'), properties },
      ...(buys ? [{ userId: `${k}-${user}`, type: 'cart', timestamp: at('10:01') }] : []),
    ];
    const eqA = [{ property: key, op: 'EQ', value: 'a' }];
    const notSet = [{ property: key, op: 'IS_NOT_SET' }];
    const notA = [{ property: key, op: 'NEQ', value: 'a' }];

    // Batch 1: a1 views with "a", b1 with "b", n1 without properties, o1 with properties lacking the key; all add to cart.
    await ingest([...visit('a1', props('a'), true), ...visit('b1', props('b'), true), ...visit('n1', null, true), ...visit('o1', { other: 1 }, true)]);
    expect(counts((await funnel(viewThenCart(day, eqA))).steps)).toEqual([1, 1]); // a1; loads the column
    expect(counts((await funnel(viewThenCart(day, notSet))).steps)).toEqual([2, 2]); // n1, o1
    expect((await funnel(viewThenCart(day, [], { breakdown: { property: key } }))).breakdown).toEqual([
      { group: '(none)', key: '(missing)', value: null, valueType: 'MISSING', isOther: false, totalUnits: 2, steps: [{ count: 2 }, { count: 2 }] },
      { group: 'a', key: '"a"', value: 'a', valueType: 'STRING', isOther: false, totalUnits: 1, steps: [{ count: 1 }, { count: 1 }] },
      { group: 'b', key: '"b"', value: 'b', valueType: 'STRING', isOther: false, totalUnits: 1, steps: [{ count: 1 }, { count: 1 }] },
    ]);

    // Batch 2, merged into the loaded column by the catch-up: a2 "a" and o2, n2 without the key (all
    // buy); b2 "b" without a cart; z2 sends the key as JSON null (not set for filters, its own group).
    await ingest([
      ...visit('a2', props('a'), true),
      ...visit('o2', { other: 2 }, true),
      ...visit('n2', null, true),
      ...visit('b2', props('b'), false),
      ...visit('z2', props(null), true),
    ]);
    expect(counts((await funnel(viewThenCart(day))).steps)).toEqual([9, 8]); // no event of the batch is missing
    expect(counts((await funnel(viewThenCart(day, eqA))).steps)).toEqual([2, 2]); // a1, a2
    expect(counts((await funnel(viewThenCart(day, notSet))).steps)).toEqual([5, 5]); // n1, o1, o2, n2, z2
    expect(counts((await funnel(viewThenCart(day, notA))).steps)).toEqual([7, 6]); // all but a1, a2; b2 has no cart
    // Ranked by units entered, ties by key: (missing) 4; "a" and "b" 2 each; null 1.
    expect((await funnel(viewThenCart(day, [], { breakdown: { property: key } }))).breakdown).toEqual([
      { group: '(none)', key: '(missing)', value: null, valueType: 'MISSING', isOther: false, totalUnits: 4, steps: [{ count: 4 }, { count: 4 }] },
      { group: 'a', key: '"a"', value: 'a', valueType: 'STRING', isOther: false, totalUnits: 2, steps: [{ count: 2 }, { count: 2 }] },
      { group: 'b', key: '"b"', value: 'b', valueType: 'STRING', isOther: false, totalUnits: 2, steps: [{ count: 2 }, { count: 1 }] },
      { group: 'null', key: 'null', value: null, valueType: 'NULL', isOther: false, totalUnits: 1, steps: [{ count: 1 }, { count: 1 }] },
    ]);
  });
});

describe('breakdown values keep their JSON type', () => {
  const day = '2026-04-01';
  const at = (time: string) => `${day}T${time}:00.000Z`;
  // One user per value; u1, u3, u5 and u7 add to cart.
  const VALUES: [string, Record<string, unknown> | null, boolean][] = [
    ['u1', { v: 10 }, true],
    ['u2', { v: '10' }, false],
    ['u3', { v: true }, true],
    ['u4', { v: 'true' }, false],
    ['u5', { v: null }, true],
    ['u6', { w: 1 }, false],
    ['u7', { v: '(none)' }, true],
    ['u8', { v: '(missing)' }, false],
    ['u10', { v: ['a'] }, false],
    ['u11', { v: { x: 1 } }, false],
  ];
  const events = (rows: typeof VALUES): ShopEvent[] =>
    rows.flatMap(([user, properties, buys]) => [
      { userId: `typed-${user}`, type: 'view', timestamp: at('09:00'), properties },
      ...(buys ? [{ userId: `typed-${user}`, type: 'cart', timestamp: at('09:30') }] : []),
    ]);
  const group = (label: string, key: string, value: unknown, valueType: string, bought: number) => ({
    group: label,
    key,
    value,
    valueType,
    isOther: false,
    totalUnits: 1,
    steps: [{ count: 1 }, { count: bought }],
  });
  // Every group holds one unit, so the order is the keys' code-unit order: '"' < '(' < '1' < '[' < 'n' < 't' < '{'.
  const ALL_GROUPS = [
    group('(missing)', '"(missing)"', '(missing)', 'STRING', 0),
    group('(none)', '"(none)"', '(none)', 'STRING', 1),
    group('10', '"10"', '10', 'STRING', 0),
    group('true', '"true"', 'true', 'STRING', 0),
    group('(none)', '(missing)', null, 'MISSING', 0),
    group('10', '10', 10, 'NUMBER', 1),
    group('["a"]', '["a"]', ['a'], 'ARRAY', 0),
    group('null', 'null', null, 'NULL', 1),
    group('true', 'true', true, 'BOOLEAN', 1),
    group('{"x":1}', '{"x":1}', { x: 1 }, 'OBJECT', 0),
  ];

  it('gives 10 and "10", true and "true", null, a missing key and the string "(none)" groups of their own', async () => {
    // Half the values are read when the column loads, the other half arrive by catch-up.
    await ingest(events(VALUES.slice(0, 5)));
    expect(counts((await funnel(viewThenCart(day, [{ property: 'v', op: 'EQ', value: 10 }]))).steps)).toEqual([1, 1]);
    await ingest(events(VALUES.slice(5)));
    const result = await funnel(viewThenCart(day, [], { breakdown: { property: 'v', limit: 20 } }));
    expect(counts(result.steps)).toEqual([10, 4]);
    expect(result.breakdown).toEqual(ALL_GROUPS);
  });

  it('folds the groups past the limit into one that no value can be', async () => {
    const result = await funnel(viewThenCart(day, [], { breakdown: { property: 'v', limit: 3 } }));
    expect(result.breakdown).toEqual([
      ...ALL_GROUPS.slice(0, 3),
      { group: 'other', key: '(other)', value: null, valueType: 'OTHER', isOther: true, totalUnits: 7, steps: [{ count: 7 }, { count: 3 }] },
    ]);
  });

  it('filters by type too: EQ 10 is not EQ "10", IN [10, true] takes neither string', async () => {
    const level = async (filter: Record<string, unknown>) => counts((await funnel(viewThenCart(day, [filter]))).steps);
    expect(await level({ property: 'v', op: 'EQ', value: 10 })).toEqual([1, 1]); // u1
    expect(await level({ property: 'v', op: 'EQ', value: '10' })).toEqual([1, 0]); // u2
    expect(await level({ property: 'v', op: 'EQ', value: true })).toEqual([1, 1]); // u3
    expect(await level({ property: 'v', op: 'EQ', value: 'true' })).toEqual([1, 0]); // u4
    expect(await level({ property: 'v', op: 'IN', value: [10, true] })).toEqual([2, 2]); // u1, u3
    expect(await level({ property: 'v', op: 'CONTAINS', value: 'a' })).toEqual([1, 0]); // u10's ["a"]: no string value holds an "a"
    expect(await level({ property: 'v', op: 'IS_NOT_SET' })).toEqual([2, 1]); // u5 (null), u6 (missing)
  });
});

describe('a session is a (user, session id) pair', () => {
  // alice and bob both send session id "shared"; carol views in c1 and adds to cart in c2; dave sends none.
  const day = '2026-04-02';
  const at = (time: string) => `${day}T${time}:00.000Z`;
  const SHOP: ShopEvent[] = [
    { userId: 'alice', sessionId: 'shared', type: 'view', timestamp: at('10:00') },
    { userId: 'alice', sessionId: 'shared', type: 'cart', timestamp: at('10:05') },
    { userId: 'bob', sessionId: 'shared', type: 'view', timestamp: at('10:10') },
    { userId: 'carol', sessionId: 'c1', type: 'view', timestamp: at('10:00') },
    { userId: 'carol', sessionId: 'c2', type: 'cart', timestamp: at('10:02') },
    { userId: 'dave', type: 'view', timestamp: at('10:00') },
    { userId: 'dave', type: 'cart', timestamp: at('10:01') },
  ];

  beforeAll(() => ingest(SHOP));

  it('counts the same sessions in funnels and in eventStats', async () => {
    // Units: (alice, shared), (bob, shared), (carol, c1), (carol, c2); dave's events are in no session.
    const bySession = await funnel(viewThenCart(day, [], { countBy: 'SESSION' }));
    expect(bySession.totalUnits).toBe(4);
    expect(counts(bySession.steps)).toEqual([3, 1]); // alice, bob, carol/c1 view; only alice's session goes on
    const stats = await t.gql(`query { eventStats(from: "${day}T00:00:00Z", to: "${day}T23:59:59Z") { total distinctUsers distinctSessions } }`);
    expect(stats.errors).toBeUndefined();
    expect(stats.data!.eventStats).toEqual({ total: 7, distinctUsers: 4, distinctSessions: 4 });
  });

  it('reads a stored session for prediction as one user\'s, and asks whose when the id is shared', async () => {
    const dataSource = t.app.services.dataSource;
    expect(await loadSession(dataSource, 'shared', null)).toEqual({ sharedBy: 2 });
    const alice = await loadSession(dataSource, 'shared', 'alice');
    expect(alice && 'events' in alice ? alice.events.map((event) => event.type) : alice).toEqual(['view', 'cart']);
    const bob = await loadSession(dataSource, 'shared', 'bob');
    expect(bob && 'events' in bob ? bob.events.map((event) => event.type) : bob).toEqual(['view']);
    const carol = await loadSession(dataSource, 'c1', null);
    expect(carol && 'events' in carol ? carol.events.map((event) => event.type) : carol).toEqual(['view']);
    expect(await loadSession(dataSource, 'shared', 'carol')).toBeNull();
  });
});
