import { startTestApp, TestApp } from './support/app';

/**
 * Bad input is answered with BAD_USER_INPUT naming the argument, never with an internal error, and
 * never reaches PostgreSQL: the reproductions of issue #11 (NUL in ids, 1e300 prices, a 5e-324
 * window, year-0000 timestamps, lone surrogates merging users) and the one id-length limit.
 */
describe('input validation', () => {
  let t: TestApp;
  const FUNNEL = { from: '2026-01-01T00:00:00Z', to: '2026-02-01T00:00:00Z', conversionWindowSeconds: 3600, steps: [{ type: 'view' }, { type: 'cart' }] };

  beforeAll(async () => {
    t = await startTestApp('validation');
    await t.gql(`mutation { upsertItems(items: [{ id: "sku-1", title: "Tea", price: 4.5 }]) { created } }`);
  });

  afterAll(async () => {
    await t?.stop();
  });

  /** The single BAD_USER_INPUT error of a request, with the argument path it names. */
  async function refused(query: string, variables: Record<string, unknown>): Promise<{ argument: unknown; message: string }> {
    const result = await t.gql(query, variables);
    expect(result.status).toBe(400);
    expect(result.data ?? null).toBeNull();
    expect(result.errors).toHaveLength(1);
    const [error] = result.errors!;
    expect(error.extensions!.code).toBe('BAD_USER_INPUT');
    return { argument: error.extensions!.argument, message: error.message };
  }

  const NUL = 'a\u0000b';
  const nulCases: [string, string, Record<string, unknown>, string][] = [
    ['item', 'query($v: ID!) { item(id: $v) { id } }', { v: NUL }, 'id'],
    ['recommendations', 'query($v: ID!) { recommendations(userId: $v) { listId } }', { v: NUL }, 'userId'],
    ['recommendations excluded items', 'query($v: [ID!]) { recommendations(userId: "u", excludeItemIds: $v) { listId } }', { v: ['ok', NUL] }, 'excludeItemIds[1]'],
    ['userRisk', 'query($v: String!) { userRisk(userId: $v) { score } }', { v: NUL }, 'userId'],
    ['purchasePropensity', 'query($v: ID!) { purchasePropensity(userId: $v) { propensity } }', { v: NUL }, 'userId'],
    ['funnel cohort', 'query($v: FunnelInput!) { funnel(input: $v) { totalUnits } }', { v: { ...FUNNEL, cohort: { userIds: ['u1', NUL] } } }, 'input.cohort.userIds[1]'],
    [
      'funnel filter value',
      'query($v: FunnelInput!) { funnel(input: $v) { totalUnits } }',
      { v: { ...FUNNEL, steps: [{ type: 'view' }, { type: 'cart', filters: [{ property: 'device', op: 'EQ', value: NUL }] }] } },
      'input.steps[1].filters[0].value',
    ],
    ['saveFunnel name', 'mutation($v: String!) { saveFunnel(input: { from: "2026-01-01T00:00:00Z", to: "2026-02-01T00:00:00Z", conversionWindowSeconds: 60, steps: [{ type: "view" }, { type: "cart" }] }, name: $v) { id } }', { v: NUL }, 'name'],
    ['saveFunnel step label', 'mutation($v: FunnelInput!) { saveFunnel(input: $v, name: "n") { id } }', { v: { ...FUNNEL, steps: [{ type: 'view', label: NUL }, { type: 'cart' }] } }, 'input.steps[0].label'],
    ['createApiKey', 'mutation($v: String!) { createApiKey(role: CLIENT, name: $v) { secret } }', { v: NUL }, 'name'],
    ['labelUser', 'mutation($v: LabelUserInput!) { labelUser(input: $v) { userId } }', { v: { userId: NUL, label: 'BOT' } }, 'input.userId'],
    ['upsertItems id', 'mutation($v: [ItemInput!]!) { upsertItems(items: $v) { created } }', { v: [{ id: 'fine' }, { id: NUL }] }, 'items[1].id'],
    ['upsertItems properties', 'mutation($v: [ItemInput!]!) { upsertItems(items: $v) { created } }', { v: [{ id: 'fine', properties: { colour: { name: NUL } } }] }, 'items[0].properties.colour.name'],
  ];

  it.each(nulCases)('refuses a NUL character in %s, naming the argument', async (_name, query, variables, argument) => {
    const error = await refused(query, variables);
    expect(error.argument).toBe(argument);
    expect(error.message).toContain(`Argument ${argument} `);
    expect(error.message).toMatch(/NUL character/);
  });

  it('stores nothing from a refused mutation', async () => {
    const count = async () => (await t.app.services.dataSource.query(`SELECT (SELECT count(*) FROM items)::int + (SELECT count(*) FROM saved_funnels)::int + (SELECT count(*) FROM api_keys)::int + (SELECT count(*) FROM user_labels)::int AS n`))[0].n;
    const before = await count();
    for (const [, query, variables] of nulCases.filter(([, query]) => query.startsWith('mutation'))) await refused(query, variables);
    expect(await count()).toBe(before);
  });

  it('refuses numbers and dates PostgreSQL cannot hold', async () => {
    const price = await refused('mutation($v: [ItemInput!]!) { upsertItems(items: $v) { created } }', { v: [{ id: 'sku-2', price: 1e300 }] });
    expect(price.argument).toBe('items[0].price');
    expect(price.message).toMatch(/from 0 to 999999999999\.99/);
    const window = await refused('query($w: Float!) { recommendationPerformance(from: "2026-01-01T00:00:00Z", to: "2026-02-01T00:00:00Z", attributionWindowHours: $w) { from } }', { w: 5e-324 });
    expect(window.argument).toBe('attributionWindowHours');
    expect(window.message).toMatch(/from 0\.01 to 2160 hours/);
    const timestamp = await refused('mutation($f: [RecommendationFeedbackInput!]!) { recordRecommendationFeedback(feedback: $f) { accepted } }', {
      f: [{ recommendationId: 'r2.c.0.1.AAAAAAAAAAA.AAAAAAAAAAAA', type: 'CLICK', userId: 'u', timestamp: '0000-01-01T00:00:00Z' }],
    });
    expect(timestamp.argument).toBe('feedback[0].timestamp');
    expect(timestamp.message).toMatch(/1970-01-01T00:00:00Z to 9999-12-31/);
    // A float literal too large for a double becomes Infinity in the parser: refused, not stored.
    const literal = await refused('mutation { upsertItems(items: [{ id: "sku-3", price: 1e400 }]) { created } }', {});
    expect(literal.argument).toBe('items[0].price');
    const [{ n }] = await t.app.services.dataSource.query(`SELECT count(*)::int AS n FROM items WHERE external_id IN ('sku-2', 'sku-3')`);
    expect(n).toBe(0);
  });

  it('rejects lone surrogates at ingest, so two distinct user ids never merge', async () => {
    const event = (eventId: string, userId: string) => ({ eventId, type: 'view', userId, timestamp: '2026-01-05T10:00:00Z' });
    const result = await t.gql(`mutation($e: [EventInput!]!) { ingestEvents(events: $e) { accepted duplicates rejected { index code message } } }`, {
      e: [event('s-1', 'user-\ud800'), event('s-2', 'user-\ud801'), event('s-3', 'user-\ufffd'), event('s-\udc00', 'user-ok')],
    });
    expect(result.data!.ingestEvents.accepted).toBe(1);
    expect(result.data!.ingestEvents.duplicates).toBe(0);
    expect(result.data!.ingestEvents.rejected.map((r: { index: number; code: string }) => [r.index, r.code])).toEqual([
      [0, 'MALFORMED_ROW'],
      [1, 'MALFORMED_ROW'],
      [3, 'MALFORMED_ROW'],
    ]);
    expect(result.data!.ingestEvents.rejected[0].message).toMatch(/userId contains an unpaired UTF-16 surrogate/);
    const users = await t.app.services.dataSource.query(`SELECT external_id FROM users WHERE external_id LIKE 'user-%'`);
    expect(users).toEqual([{ external_id: 'user-\ufffd' }]);
    // Readers refuse them as well, instead of answering for the merged id.
    expect((await refused('query($v: ID!) { recommendations(userId: $v) { listId } }', { v: 'user-\ud800' })).message).toMatch(/unpaired UTF-16 surrogate/);
  });

  it('applies one id-length limit, 200 characters, to ingest, readers, the catalog and feedback', async () => {
    const ok = 'i'.repeat(200);
    const long = 'i'.repeat(201);
    const ingest = await t.gql(`mutation($e: [EventInput!]!) { ingestEvents(events: $e) { accepted rejected { index code } } }`, {
      e: [
        { eventId: `e${'x'.repeat(199)}`, type: 'view', userId: ok, itemId: ok, sessionId: ok, timestamp: '2026-01-05T10:00:00Z' },
        { eventId: 'too-long', type: 'view', userId: long, timestamp: '2026-01-05T10:00:00Z' },
      ],
    });
    expect(ingest.data!.ingestEvents).toEqual({ accepted: 1, rejected: [{ index: 1, code: 'ID_TOO_LONG' }] });

    expect((await t.gql('query($v: ID!) { recommendations(userId: $v) { userId } }', { v: ok })).data!.recommendations.userId).toBe(ok);
    expect((await t.gql('query($v: ID!) { item(id: $v) { id } }', { v: ok })).errors).toBeUndefined();
    expect((await t.gql('mutation($v: [ItemInput!]!) { upsertItems(items: $v) { created } }', { v: [{ id: ok }] })).errors).toBeUndefined();
    for (const [query, variables, argument] of [
      ['query($v: ID!) { recommendations(userId: $v) { listId } }', { v: long }, 'userId'],
      ['query($v: ID!) { item(id: $v) { id } }', { v: long }, 'id'],
      ['query($v: String!) { userRisk(userId: $v) { score } }', { v: long }, 'userId'],
      ['mutation($v: [ItemInput!]!) { upsertItems(items: $v) { created } }', { v: [{ id: long }] }, 'items[0].id'],
      ['mutation($f: [RecommendationFeedbackInput!]!) { recordRecommendationFeedback(feedback: $f) { accepted } }', { f: [{ recommendationId: 'r', type: 'CLICK', userId: long }] }, 'feedback[0].userId'],
    ] as const) {
      const error = await refused(query, variables);
      expect(error.argument).toBe(argument);
      expect(error.message).toMatch(/201 characters long; ids are at most 200/);
    }
  });

  it('keeps serving recommendations when a catalogue property has an unexpected type', async () => {
    // properties.repeatable is read as a boolean by serving; "maybe" used to fail every list.
    const upsert = await t.gql('mutation($v: [ItemInput!]!) { upsertItems(items: $v) { created } }', { v: [{ id: 'odd-1', properties: { repeatable: 'maybe' } }] });
    expect(upsert.errors).toBeUndefined();
    const list = await t.gql('query { recommendations(userId: "someone", limit: 3) { items { itemId } } }');
    expect(list.errors).toBeUndefined();
    expect(list.data!.recommendations.items.length).toBeGreaterThan(0);
  });

  it('answers 100,001 invalid list entries with 50 errors and a note, and 100,001 valid ones with the list limit', async () => {
    const query = 'query($v: FunnelInput!) { funnel(input: $v) { totalUnits } }';
    const invalid = await t.gql(query, { v: { ...FUNNEL, steps: Array.from({ length: 100_001 }, () => ({})) } });
    expect(invalid.status).toBe(400);
    expect(invalid.data ?? null).toBeNull();
    expect(invalid.errors).toHaveLength(51);
    expect(new Set(invalid.errors!.map((e) => e.extensions!.code))).toEqual(new Set(['BAD_USER_INPUT']));
    expect(invalid.errors![0].message).toBe('Variable "$v" got invalid value {} at "v.steps[0]"; Field "type" of required type "String!" was not provided.');
    expect(invalid.errors![50].message).toMatch(/^More than 50 values in the variables are invalid; the first 50 are listed\./);
    const tooMany = await refused(query, { v: { ...FUNNEL, steps: Array.from({ length: 100_001 }, () => ({ type: 'view' })) } });
    expect(tooMany).toEqual({ argument: 'input.steps', message: 'Argument input.steps of funnel has 100001 entries; at most 100000 are accepted.' });
    expect((await t.gql('{ health { status } }')).data!.health.status).toBe('ok');
  });

  it('states the id limit in the schema', async () => {
    const result = await t.gql(`{ __type(name: "EventInput") { inputFields { name description } } }`);
    const fields = Object.fromEntries(result.data!.__type.inputFields.map((f: { name: string; description: string | null }) => [f.name, f.description]));
    for (const name of ['eventId', 'userId', 'sessionId', 'itemId']) expect(fields[name]).toMatch(/1–200 characters/);
  });
});
