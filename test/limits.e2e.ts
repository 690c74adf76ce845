import { startTestApp, TestApp } from './support/app';

// The reproductions of issue #11 against the real server with its default limits
// (depth 12, cost 2000, 30 aliases, 5000 tokens, 5000 events per request).
let t: TestApp;
let analystKey: string;
let clientKey: string;

beforeAll(async () => {
  t = await startTestApp('limits');
  analystKey = await t.createKey('analyst', 'bi tool');
  clientKey = await t.createKey('client', 'web shop');
});
afterAll(() => t.stop());

const FROM = '2026-01-01T00:00:00Z';
const TO = '2026-02-01T00:00:00Z';
const RANGE = `from: "${FROM}", to: "${TO}"`;
const FUNNEL_INPUT = `{ steps: [{ type: "view" }, { type: "cart" }, { type: "purchase" }], conversionWindowSeconds: 86400, ${RANGE} }`;
const aliased = (count: number, field: string) => `{ ${Array.from({ length: count }, (_, n) => `a${n}: ${field}`).join(' ')} }`;

async function expectHealthy(): Promise<void> {
  const health = await t.gql('{ health { status } }', {}, null);
  expect(health.status).toBe(200);
  expect(health.data!.health.status).toBe('ok');
}

describe('hostile query shapes are refused before any work', () => {
  it('refuses 27 fragments each spreading the next one twice as too complex', async () => {
    let query = 'query { ...F0 } ';
    for (let n = 0; n < 27; n++) query += `fragment F${n} on Query { ...F${n + 1} ...F${n + 1} } `;
    query += 'fragment F27 on Query { health { status } }';
    const result = await t.gql(query, {}, null);
    expect(result.status).toBe(400);
    expect(result.errors![0].extensions!.code).toBe('QUERY_TOO_COMPLEX');
    expect(result.errors![0].message).toMatch(/more than 10000 fields \(a fragment's fields count each time it is spread\)/);
    await expectHealthy();
  });

  it('refuses 2,000 aliased __schema fields (introspection is limited too)', async () => {
    // As sent in the issue, without a key, the document (about 100 KB) is over the 64 KiB body limit without a valid key…
    const document = aliased(2000, '__schema { types { name fields { name } } }');
    const anonymous = await t.gql(document, {}, null);
    expect(anonymous.status).toBe(413);
    expect(anonymous.errors![0].extensions!.code).toBe('PAYLOAD_TOO_LARGE');
    // …with a key it is refused by its size in tokens (8 per alias)…
    const result = await t.gql(document, {}, analystKey);
    expect(result.status).toBe(400);
    expect(result.errors![0].extensions!.code).toBe('QUERY_TOO_MANY_TOKENS');
    // …and a smaller one by the number of aliases.
    const fewer = await t.gql(aliased(100, '__schema { queryType { name } }'), {}, null);
    expect(fewer.status).toBe(400);
    expect(fewer.errors![0].extensions!.code).toBe('QUERY_TOO_MANY_ALIASES');
    expect(fewer.errors![0].message).toMatch(/uses 100 aliases; at most 30/);
    await expectHealthy();
  });

  it('refuses 600 aliased funnels or eventStats, and 21 funnels by their cost', async () => {
    for (const field of [`funnel(input: ${FUNNEL_INPUT}) { totalUnits }`, `eventStats(${RANGE}) { total }`]) {
      const result = await t.gql(aliased(600, field), {}, analystKey);
      expect(result.status).toBe(400);
      expect(result.errors![0].extensions!.code).toBe('QUERY_TOO_MANY_TOKENS');
    }
    const input = { steps: [{ type: 'view' }, { type: 'purchase' }], conversionWindowSeconds: 86400, from: FROM, to: TO };
    // With the input in a variable, 300 aliases fit in the token limit and meet the alias limit.
    const viaVariable = await t.gql(`query($i: FunnelInput!) ${aliased(300, 'funnel(input: $i) { totalUnits }')}`, { i: input }, analystKey);
    expect(viaVariable.status).toBe(400);
    expect(viaVariable.errors![0].extensions!.code).toBe('QUERY_TOO_MANY_ALIASES');
    // 21 × (funnel 100 + totalUnits 1) = 2121 > 2000
    const costly = await t.gql(aliased(21, `funnel(input: ${FUNNEL_INPUT}) { totalUnits }`), {}, analystKey);
    expect(costly.status).toBe(400);
    expect(costly.errors![0].extensions!.code).toBe('QUERY_TOO_COMPLEX');
    expect(costly.errors![0].message).toMatch(/estimated cost is 2121; at most 2000/);
    await expectHealthy();
  });

  it('refuses them by cost alone when the other limits are raised', async () => {
    const wide = await startTestApp('limitswide', { FUNNELCAST_MAX_QUERY_ALIASES: '10000', FUNNELCAST_MAX_QUERY_TOKENS: '1000000' });
    try {
      const analyst = await wide.createKey('analyst');
      for (const [field, key] of [
        [`funnel(input: ${FUNNEL_INPUT}) { totalUnits }`, analyst],
        [`eventStats(${RANGE}) { total }`, analyst],
        ['__schema { types { name fields { name } } }', analyst],
      ] as const) {
        const result = await wide.gql(aliased(field.startsWith('__') ? 2000 : 600, field), {}, key);
        expect(result.status).toBe(400);
        expect(result.errors![0].extensions!.code).toBe('QUERY_TOO_COMPLEX');
      }
      const health = await wide.gql('{ health { status } }', {}, null);
      expect(health.data!.health.status).toBe('ok');
    } finally {
      await wide.stop();
    }
  });

  it('refuses documents with too many tokens or directives, saying which limit', async () => {
    const tokens = await t.gql(`{ ${Array.from({ length: 1300 }, () => 'health { status }').join(' ')} }`, {}, null);
    expect(tokens.status).toBe(400);
    expect(tokens.errors![0].extensions!.code).toBe('QUERY_TOO_MANY_TOKENS');
    expect(tokens.errors![0].message).toMatch(/more than 5000 tokens/);
    const directives = await t.gql(`{ health { ${Array.from({ length: 51 }, () => 'status @include(if: true)').join(' ')} } }`, {}, null);
    expect(directives.status).toBe(400);
    expect(directives.errors![0].extensions!.code).toBe('QUERY_TOO_MANY_DIRECTIVES');
  });
});

describe('automatic persisted queries', () => {
  it('are refused with a public code, whatever hash is sent', async () => {
    for (const sha256Hash of ['abc', 'f'.repeat(64)]) {
      const response = await fetch(t.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query: '{ health { status } }', extensions: { persistedQuery: { version: 1, sha256Hash } } }),
      });
      const body = (await response.json()) as { errors: { extensions: { code: string } }[] };
      expect(response.status).toBeLessThan(500);
      expect(body.errors[0].extensions.code).toBe('PERSISTED_QUERY_NOT_SUPPORTED');
    }
  });
});

describe('documented queries stay within the limits', () => {
  it('accepts the page maxima anomalies(first: 500) and droppedOff(first: 1000)', async () => {
    const anomalies = await t.gql(
      `{ anomalies(${RANGE}, first: 500) { minScore totalCount pageInfo { hasNextPage endCursor } edges { cursor node { userId score flagged worstDay
        contributions { detector score weight contribution } flaggedDays { day score } } } } }`,
      {},
      analystKey,
    );
    expect(anomalies.errors).toBeUndefined();
    expect(anomalies.data!.anomalies.edges).toEqual([]);
    const droppedOff = await t.gql(
      `{ droppedOff(input: ${FUNNEL_INPUT}, afterStep: 1, first: 1000) { totalCount edges { cursor node { userId sessionId reachedAt } } pageInfo { hasNextPage endCursor } } }`,
      {},
      analystKey,
    );
    expect(droppedOff.errors).toBeUndefined();
    expect(droppedOff.data!.droppedOff.totalCount).toBe(0);
  });

  it('accepts the README and demo example queries', async () => {
    const ingest = await t.gql(
      `mutation { ingestEvents(events: [
        { eventId: "e-1", type: "view", userId: "alice", sessionId: "s-1", itemId: "sku-9",
          timestamp: "2026-01-10T10:00:00Z", properties: { device: "mobile", channel: "ads" } }
      ]) { accepted duplicates rejected { index code message } } }`,
      {},
      clientKey,
    );
    expect(ingest.errors).toBeUndefined();
    expect(ingest.data!.ingestEvents.accepted).toBe(1);
    const demo = [
      '{ health { status version database { ok } redis { ok error } } }',
      `{ eventStats(${RANGE}) { total distinctUsers byType { type count } } }`,
      '{ item(id: "i0") { id title category brand price } }',
      `{ funnel(input: { steps: [{ type: "view" }, { type: "cart" }, { type: "checkout" }, { type: "purchase" }], conversionWindowSeconds: 86400, ${RANGE} }) { steps { label count conversionFromFirst } } }`,
      '{ userLabels(first: 50) { totalCount edges { cursor node { userId label labelledAt } } pageInfo { hasNextPage endCursor } } }',
    ];
    for (const query of demo) {
      const result = await t.gql(query, {}, t.adminKey);
      expect(result.errors).toBeUndefined();
    }
  });
});

describe('the ingest batch limit covers the whole request', () => {
  const events = (prefix: string, count: number) =>
    Array.from({ length: count }, (_, n) => ({ eventId: `${prefix}-${n}`, type: 'view', userId: `u${n % 50}`, timestamp: '2026-01-05T00:00:00Z' }));
  const stored = async (prefix: string) =>
    (await t.app.services.dataSource.query(`SELECT count(*)::int AS n FROM events WHERE event_id LIKE $1`, [`${prefix}-%`]))[0].n as number;

  it('refuses 20 aliased ingestEvents of 5,000 events whole, storing nothing', async () => {
    const fields = Array.from({ length: 20 }, (_, n) => `b${n}: ingestEvents(events: $e) { accepted }`).join(' ');
    const result = await t.gql(`mutation($e: [EventInput!]!) { ${fields} }`, { e: events('alias', 5000) }, clientKey);
    expect(result.status).toBe(400);
    expect(result.errors![0].extensions!.code).toBe('BATCH_TOO_LARGE');
    expect(result.errors![0].message).toMatch(/at most 5000 events; this one has 100000 \(all its ingestEvents fields together\)/);
    expect(result.data).toBeUndefined();
    expect(await stored('alias')).toBe(0);
  });

  it('adds literal and variable batches together, and accepts a request within the limit', async () => {
    const literal = events('mixed-l', 2).map((e) => `{ eventId: "${e.eventId}", type: "view", userId: "${e.userId}", timestamp: "${e.timestamp}" }`);
    const query = `mutation($a: [EventInput!]!) { a: ingestEvents(events: $a) { accepted } b: ingestEvents(events: [${literal.join(', ')}]) { accepted } }`;
    const over = await t.gql(query, { a: events('mixed-v', 4999) }, clientKey);
    expect(over.errors![0].extensions!.code).toBe('BATCH_TOO_LARGE');
    expect((await stored('mixed-v')) + (await stored('mixed-l'))).toBe(0);
    const within = await t.gql(query, { a: events('mixed-v', 4998) }, clientKey);
    expect(within.errors).toBeUndefined();
    expect(within.data!.a.accepted + within.data!.b.accepted).toBe(5000);
  });
});

describe('the item and feedback batch limits cover the whole request too', () => {
  it('refuses three aliased upsertItems of 2,000 items whole, storing nothing, and accepts two', async () => {
    const items = (prefix: string) => Array.from({ length: 2000 }, (_, n) => ({ id: `${prefix}-${n}`, category: 'c' }));
    const fields = (count: number) => Array.from({ length: count }, (_, n) => `u${n}: upsertItems(items: $i${n}) { created }`).join(' ');
    const declare = (count: number) => Array.from({ length: count }, (_, n) => `$i${n}: [ItemInput!]!`).join(', ');
    const variables = (prefix: string, count: number) => Object.fromEntries(Array.from({ length: count }, (_, n) => [`i${n}`, items(`${prefix}${n}`)]));
    const storedItems = async (prefix: string) =>
      (await t.app.services.dataSource.query(`SELECT count(*)::int AS n FROM items WHERE external_id LIKE $1`, [`${prefix}%`]))[0].n as number;

    const over = await t.gql(`mutation(${declare(3)}) { ${fields(3)} }`, variables('over', 3));
    expect(over.status).toBe(400);
    expect(over.errors![0].extensions!.code).toBe('BATCH_TOO_LARGE');
    expect(over.errors![0].message).toMatch(/at most 5000 items; this one has 6000 \(all its upsertItems fields together\)/);
    expect(await storedItems('over')).toBe(0);

    const within = await t.gql(`mutation(${declare(2)}) { ${fields(2)} }`, variables('within', 2));
    expect(within.errors).toBeUndefined();
    expect(await storedItems('within')).toBe(4000);
  });

  it('refuses aliased feedback batches over 5,000 entries together', async () => {
    const entries = Array.from({ length: 3000 }, (_, n) => ({ recommendationId: `r2.p.1.1.AAAAAAAAAAA.AAAAAAAAAAA${n % 10}`, userId: 'u1', type: 'CLICK' }));
    const result = await t.gql(
      `mutation($f: [RecommendationFeedbackInput!]!) { a: recordRecommendationFeedback(feedback: $f) { accepted } b: recordRecommendationFeedback(feedback: $f) { accepted } }`,
      { f: entries },
      clientKey,
    );
    expect(result.status).toBe(400);
    expect(result.errors![0].extensions!.code).toBe('BATCH_TOO_LARGE');
    expect(result.errors![0].message).toMatch(/at most 5000 feedback entries; this one has 6000/);
  });
});
