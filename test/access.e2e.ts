import { loadTf } from '../src/ml/tf-backend';
import { startTestApp, TestApp } from './support/app';

let t: TestApp;
let clientKey: string;
let analystKey: string;

beforeAll(async () => {
  t = await startTestApp('access', { FUNNELCAST_MAX_BODY_BYTES: '200000', FUNNELCAST_MAX_QUERY_DEPTH: '6' });
  clientKey = await t.createKey('client', 'web shop');
  analystKey = await t.createKey('analyst', 'bi tool');
});
afterAll(() => t.stop());

const STATS = `{ eventStats(from: "2026-01-01T00:00:00Z", to: "2026-02-01T00:00:00Z") { total } }`;
const INGEST = `mutation { ingestEvents(events: [{eventId: "a1", type: "view", userId: "u1", timestamp: "2026-01-05T00:00:00Z"}]) { accepted } }`;

describe('API keys and roles', () => {
  it('has its TensorFlow.js backend set up before it takes requests', async () => {
    // Set up already: the runtime's promise settles before a turn of the event loop could.
    const ready = await Promise.race([loadTf().then(() => true), new Promise<boolean>((resolve) => setImmediate(() => resolve(false)))]);
    expect(ready).toBe(true);
  });

  it('answers the public health query without a key', async () => {
    const result = await t.gql('{ health { status version database { ok } redis { ok } } }', {}, null);
    expect(result.errors).toBeUndefined();
    expect(result.data!.health).toEqual({ status: 'ok', version: expect.stringMatching(/^\d+\.\d+\.\d+/), database: { ok: true }, redis: { ok: true } });
  });

  it('rejects missing, malformed and unknown keys with UNAUTHENTICATED', async () => {
    for (const key of [null, 'not-a-real-key']) {
      const result = await t.gql(STATS, {}, key);
      expect(result.errors![0].extensions!.code).toBe('UNAUTHENTICATED');
    }
    const response = await fetch(t.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Basic abc' },
      body: JSON.stringify({ query: STATS }),
    });
    const body = (await response.json()) as { errors: { message: string; extensions: { code: string } }[] };
    expect(body.errors[0].extensions.code).toBe('UNAUTHENTICATED');
    expect(body.errors[0].message).toMatch(/Bearer/);
  });

  it('lets each role do its own work and refuses the rest with FORBIDDEN', async () => {
    expect((await t.gql(INGEST, {}, clientKey)).data!.ingestEvents.accepted).toBe(1);
    const refused = (await t.gql(STATS, {}, clientKey)).errors![0];
    expect(refused.extensions!.code).toBe('FORBIDDEN');
    expect(refused.message).toBe('This needs an analyst or admin key; your key "web shop" has the client role.');
    expect((await t.gql(STATS, {}, analystKey)).data!.eventStats.total).toBe(1);
    expect((await t.gql(INGEST, {}, analystKey)).errors![0].extensions!.code).toBe('FORBIDDEN');
    const create = 'mutation { createApiKey(role: CLIENT, name: "x") { secret } }';
    const adminOnly = (await t.gql(create, {}, analystKey)).errors![0];
    expect(adminOnly.extensions!.code).toBe('FORBIDDEN');
    expect(adminOnly.message).toBe('This needs an admin key; your key "bi tool" has the analyst role.');
    expect((await t.gql(create, {}, clientKey)).errors![0].extensions!.code).toBe('FORBIDDEN');
    // admin may do everything
    expect((await t.gql(STATS, {}, t.adminKey)).data!.eventStats.total).toBe(1);
  });

  it('keeps predictions from the public client key: a server key reads them and does what a client does', async () => {
    const serverKey = await t.createKey('server', 'shop backend');
    const propensity = '{ purchasePropensity(userId: "u1") { propensity } }';
    const refused = (await t.gql(propensity, {}, clientKey)).errors![0];
    expect(refused.extensions!.code).toBe('FORBIDDEN');
    expect(refused.message).toBe('This needs a server, analyst or admin key; your key "web shop" has the client role.');
    for (const query of [propensity, '{ predictNextStep(events: [{ type: "view", timestamp: "2026-01-05T00:00:00Z" }]) { events } }', '{ sessionPurchasePropensity(userId: "u1") { propensity } }']) {
      expect((await t.gql(query, {}, clientKey)).errors![0].extensions!.code).toBe('FORBIDDEN');
      // Past the role check: what answers (or fails) now is the prediction itself (no model is trained here).
      for (const key of [serverKey, analystKey]) expect((await t.gql(query, {}, key)).errors?.[0]?.extensions?.code).not.toMatch(/FORBIDDEN|UNAUTHENTICATED/);
    }
    const ingest = `mutation { ingestEvents(events: [{eventId: "s1", type: "view", userId: "u2", timestamp: "2026-01-05T00:00:00Z"}]) { accepted } }`;
    expect((await t.gql(ingest, {}, serverKey)).data!.ingestEvents.accepted).toBe(1);
    expect((await t.gql('{ recommendations(userId: "u2", limit: 2) { userId } }', {}, serverKey)).errors).toBeUndefined();
    const stats = (await t.gql(STATS, {}, serverKey)).errors![0];
    expect(stats.message).toBe('This needs an analyst or admin key; your key "shop backend" has the server role.');
    const created = await t.gql('mutation { createApiKey(role: SERVER, name: "backend") { apiKey { role } } }');
    expect(created.data!.createApiKey.apiKey.role).toBe('SERVER');
  });

  it('stores only hashes and stops accepting a revoked key', async () => {
    const created = await t.gql('mutation { createApiKey(role: CLIENT, name: "temp") { secret apiKey { id prefix role } } }');
    const { secret, apiKey } = created.data!.createApiKey;
    expect(apiKey.role).toBe('CLIENT');
    expect(secret.startsWith(apiKey.prefix)).toBe(true);
    const stored: { key_hash: string }[] = await t.app.services.dataSource.query('SELECT key_hash FROM api_keys');
    expect(stored.some((row) => row.key_hash.includes(secret) || row.key_hash === secret)).toBe(false);
    expect((await t.gql(INGEST, {}, secret)).errors).toBeUndefined();
    await t.gql('mutation($id: ID!) { revokeApiKey(id: $id) { revokedAt } }', { id: apiKey.id });
    expect((await t.gql(INGEST, {}, secret)).errors![0].extensions!.code).toBe('UNAUTHENTICATED');
    const bad = await t.gql('mutation { revokeApiKey(id: "nope") { id } }');
    expect(bad.errors![0].extensions!.code).toBe('BAD_USER_INPUT');
    // 36 characters of hex digits and dashes are not yet a UUID: refused here, not by PostgreSQL's cast.
    const dashes = await t.gql('mutation($id: ID!) { revokeApiKey(id: $id) { id } }', { id: '-'.repeat(36) });
    expect(dashes.errors![0].extensions!.code).toBe('BAD_USER_INPUT');
    expect(dashes.errors![0].message).toMatch(/is not an API key id: send a UUID/);
  });
});

describe('limits and errors', () => {
  it('refuses queries nested too deep but still answers standard introspection', async () => {
    // Depth is counted through fragments: this is 3 levels, within the limit of 6 set above.
    const withFragment = `query { health { a: database { ok } } ...F } fragment F on Query { health { database { ok } } }`;
    expect((await t.gql(withFragment, {}, null)).errors).toBeUndefined();
    // The standard introspection query nests ofType far deeper than 6; tools must still get it.
    const introspection = await t.gql(
      `query IntrospectionQuery { __schema { queryType { name } types { kind name fields(includeDeprecated: true) {
        name type { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } } } } }`,
      {},
      null,
    );
    expect(introspection.errors).toBeUndefined();
    expect(introspection.data!.__schema.queryType.name).toBe('Query');
  });

  it('reports QUERY_TOO_DEEP and QUERY_TOO_COMPLEX with what to change', async () => {
    const narrow = await startTestApp('limits', { FUNNELCAST_MAX_QUERY_DEPTH: '2', FUNNELCAST_MAX_QUERY_COMPLEXITY: '12' });
    try {
      const deep = await narrow.gql('{ health { database { ok } } }', {}, null);
      expect(deep.status).toBe(400);
      expect(deep.errors![0].extensions!.code).toBe('QUERY_TOO_DEEP');
      expect(deep.errors![0].message).toMatch(/nested 3 levels deep; at most 2/);
      // Cost by hand: each alias is health (1) + status (1) = 2; 7 aliases = 14 > 12.
      const aliases = Array.from({ length: 7 }, (_, i) => `h${i}: health { status }`).join(' ');
      const complex = await narrow.gql(`{ ${aliases} }`, {}, null);
      expect(complex.errors![0].extensions!.code).toBe('QUERY_TOO_COMPLEX');
      expect(complex.errors![0].message).toMatch(/estimated cost is 14; at most 12/);
    } finally {
      await narrow.stop();
    }
  });

  it('refuses an oversized body with 413 and stores nothing', async () => {
    const events = Array.from({ length: 3000 }, (_, i) => ({ eventId: `big-${i}`, type: 'view', userId: 'u', timestamp: '2026-01-05T00:00:00Z' }));
    const response = await fetch(t.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${clientKey}` },
      body: JSON.stringify({ query: 'mutation($e: [EventInput!]!) { ingestEvents(events: $e) { accepted } }', variables: { e: events } }),
    });
    expect(response.status).toBe(413);
    const body = (await response.json()) as { errors: { extensions: { code: string } }[] };
    expect(body.errors[0].extensions.code).toBe('PAYLOAD_TOO_LARGE');
    const [row] = await t.app.services.dataSource.query(`SELECT count(*)::int AS n FROM events WHERE event_id LIKE 'big-%'`);
    expect(row.n).toBe(0);
  });

  it('hides internal errors: no SQL or stack reaches the client', async () => {
    // Break the table under the running server, then restore it: the client sees a generic error.
    await t.app.services.dataSource.query('ALTER TABLE events RENAME TO events_hidden');
    try {
      const result = await t.gql(STATS, {}, analystKey);
      expect(result.errors![0].extensions!.code).toBe('INTERNAL_SERVER_ERROR');
      expect(result.errors![0].message).not.toMatch(/events|relation|select/i);
      expect(JSON.stringify(result.errors)).not.toMatch(/stacktrace|\.ts:|node_modules/);
    } finally {
      await t.app.services.dataSource.query('ALTER TABLE events_hidden RENAME TO events');
    }
  });

  it('answers malformed JSON and unknown paths clearly', async () => {
    const response = await fetch(t.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query": ' });
    expect(response.status).toBe(400);
    const notFound = await fetch(t.url.replace('/graphql', '/nope'));
    expect(notFound.status).toBe(404);
  });
});

describe('catalog', () => {
  it('upserts items, keeps fields not sent, and validates input', async () => {
    const upsert = 'mutation($items: [ItemInput!]!) { upsertItems(items: $items) { created updated } }';
    const first = await t.gql(upsert, {
      items: [
        { id: 'sku-1', title: 'Kettle', category: 'kitchen', brand: 'Acme', price: 29.99 },
        { id: 'sku-2', title: 'Mug', price: 5 },
      ],
    });
    expect(first.data!.upsertItems).toEqual({ created: 2, updated: 0 });
    const second = await t.gql(upsert, { items: [{ id: 'sku-1', price: 24.5, available: false }] });
    expect(second.data!.upsertItems).toEqual({ created: 0, updated: 1 });
    const item = await t.gql('{ item(id: "sku-1") { id title category brand price available } }', {}, clientKey);
    expect(item.data!.item).toEqual({ id: 'sku-1', title: 'Kettle', category: 'kitchen', brand: 'Acme', price: 24.5, available: false });
    expect((await t.gql('{ item(id: "missing") { id } }', {}, clientKey)).data!.item).toBeNull();

    const negative = await t.gql(upsert, { items: [{ id: 'sku-3', price: -1 }, { id: 'sku-4' }] });
    expect(negative.errors![0].extensions!.code).toBe('BAD_USER_INPUT');
    expect(negative.errors![0].message).toMatch(/price/);
    const twice = await t.gql(upsert, { items: [{ id: 'sku-5' }, { id: 'sku-5' }] });
    expect(twice.errors![0].extensions!.code).toBe('BAD_USER_INPUT');
    const [row] = await t.app.services.dataSource.query(`SELECT count(*)::int AS n FROM items WHERE external_id IN ('sku-3','sku-4','sku-5')`);
    expect(row.n).toBe(0);
    expect((await t.gql(upsert, { items: [{ id: 'x' }] }, clientKey)).errors![0].extensions!.code).toBe('FORBIDDEN');
  });
});
