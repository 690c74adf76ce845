/**
 * Re-engagement without any trained model: `continueShopping`, the REENGAGEMENT source leading
 * `recommendations`, and `exclude`. Expected lists and scores are worked out by hand from the
 * events below (each event's type weight, halved every 72 hours before the user's newest event).
 */
import { RecommendationExclusion, RecommendationService } from '../src/recommend/recommendation.service';
import { startTestApp, TestApp } from './support/app';

const HOUR = 3_600_000;
// A past shop: nothing is live, and the 7-day activity counts end at its latest event.
const T0 = Date.UTC(2026, 0, 10, 12);
const at = (hoursBefore: number) => new Date(T0 - hoursBefore * HOUR).toISOString();

const ITEM = `itemId score source modelVersionId recommendationId`;
const RECOMMEND = `query($u: ID!, $limit: Int, $exclude: RecommendationExclusion) {
  recommendations(userId: $u, limit: $limit, exclude: $exclude) { listId items { ${ITEM} } } }`;
const CONTINUE = `query($u: ID!, $limit: Int, $category: String, $asOf: DateTime) {
  continueShopping(userId: $u, limit: $limit, category: $category, asOf: $asOf) { listId userId modelVersionId items { ${ITEM} } } }`;

interface Served {
  itemId: string;
  score: number;
  source: string;
  modelVersionId: string | null;
  recommendationId: string;
}

let t: TestApp;
let client: string;

async function list(query: string, variables: Record<string, unknown>): Promise<{ listId: string; userId?: string | null; modelVersionId?: string | null; items: Served[] }> {
  const result = await t.gql(query, variables, client);
  if (!result.data) throw new Error(JSON.stringify(result.errors));
  return Object.values(result.data)[0];
}
const pairs = (items: Served[]) => items.map((item) => [item.itemId, item.source]);

beforeAll(async () => {
  t = await startTestApp('recommend_reengagement');
  client = await t.createKey('client', 'web shop');
  const upsert = await t.gql(`mutation($items: [ItemInput!]!) { upsertItems(items: $items) { created } }`, {
    items: [
      ...['A', 'C', 'F'].map((id) => ({ id, category: 'x' })),
      ...['B', 'D', 'E'].map((id) => ({ id, category: 'y' })),
      { id: 'G', category: 'x', available: false },
      { id: 'R', category: 'z', properties: { repeatable: true } },
    ],
  });
  expect(upsert.errors).toBeUndefined();
  let n = 0;
  const event = (userId: string, type: string, itemId: string, hoursBefore: number) => ({ eventId: `r-${n++}`, type, userId, itemId, timestamp: at(hoursBefore) });
  const events = [
    // The shopper: A viewed twice (0.5 + 1 = 1.5), B once (0.25), C viewed and bought, G (off sale) viewed (0.5).
    event('shopper', 'view', 'A', 72),
    event('shopper', 'view', 'A', 0),
    event('shopper', 'view', 'B', 144),
    event('shopper', 'view', 'C', 72),
    event('shopper', 'purchase', 'C', 72),
    event('shopper', 'view', 'G', 72),
    // A regular buys R, a consumable: 5 · 1.
    event('regular', 'purchase', 'R', 2),
    // Other shoppers make D (5 events) and E (4) the busiest items of the week before T0.
    ...Array.from({ length: 5 }, (_, k) => event(`other-${k}`, 'view', 'D', 10 + k)),
    ...Array.from({ length: 4 }, (_, k) => event(`other-${k}`, 'view', 'E', 20 + k)),
  ];
  const ingested = await t.gql(`mutation($events: [EventInput!]!) { ingestEvents(events: $events) { accepted rejected { index message } } }`, { events }, client);
  expect(ingested.data).toMatchObject({ ingestEvents: { accepted: events.length, rejected: [] } });
});
afterAll(() => t?.stop());

describe('continueShopping', () => {
  it('lists what the user touched, most engaged and most recent first, without purchases or unavailable items', async () => {
    const shopper = await list(CONTINUE, { u: 'shopper' });
    expect(shopper).toMatchObject({ userId: 'shopper', modelVersionId: null });
    expect(shopper.items.map(({ itemId, score, source, modelVersionId }) => ({ itemId, score, source, modelVersionId }))).toEqual([
      { itemId: 'A', score: 1.5, source: 'REENGAGEMENT', modelVersionId: null },
      { itemId: 'B', score: 0.25, source: 'REENGAGEMENT', modelVersionId: null },
    ]);
    for (const item of shopper.items) expect(item.recommendationId).toMatch(new RegExp(`^r2\\.e\\.0\\.\\d+\\.${shopper.listId}\\.[A-Za-z0-9_-]{12}$`));
    // The ids verify as this user's: feedback on them is accepted, and not from another user.
    const RECORD = `mutation($f: [RecommendationFeedbackInput!]!) { recordRecommendationFeedback(feedback: $f) { accepted rejected { code } } }`;
    const feedback = (userId: string) => shopper.items.map((item) => ({ recommendationId: item.recommendationId, type: 'IMPRESSION', userId, timestamp: at(0) }));
    expect((await t.gql(RECORD, { f: feedback('someone-else') }, client)).data!.recordRecommendationFeedback).toEqual({
      accepted: 0,
      rejected: [{ code: 'UNKNOWN_RECOMMENDATION' }, { code: 'UNKNOWN_RECOMMENDATION' }],
    });
    expect((await t.gql(RECORD, { f: feedback('shopper') }, client)).data!.recordRecommendationFeedback).toEqual({ accepted: 2, rejected: [] });

    expect(pairs((await list(CONTINUE, { u: 'shopper', limit: 1 })).items)).toEqual([['A', 'REENGAGEMENT']]);
    expect(pairs((await list(CONTINUE, { u: 'shopper', category: 'y' })).items)).toEqual([['B', 'REENGAGEMENT']]);
    // A repeatable item stays after its purchase.
    expect((await list(CONTINUE, { u: 'regular' })).items.map(({ itemId, score }) => [itemId, score])).toEqual([['R', 5]]);
  });

  it('reads the events as of an instant', async () => {
    // An hour before T0: A's newest view is not read; ages count from 72 hours before T0 (A, C).
    const hourBefore = await list(CONTINUE, { u: 'shopper', asOf: at(1) });
    expect(hourBefore.items.map(({ itemId, score }) => [itemId, score])).toEqual([
      ['A', 1],
      ['B', 0.5],
    ]);
    // 100 hours before T0: only B's view, and C not bought yet (but not viewed yet either).
    expect((await list(CONTINUE, { u: 'shopper', asOf: at(100) })).items.map(({ itemId, score }) => [itemId, score])).toEqual([['B', 1]]);
    const future = await t.gql(CONTINUE, { u: 'shopper', asOf: '2100-01-01T00:00:00Z' }, client);
    expect(future.errors![0].extensions!.code).toBe('BAD_USER_INPUT');
    expect(future.errors![0].message).toMatch(/asOf 2100-01-01T00:00:00.000Z is more than a day after now/);
  });

  it('gives a user without history an empty list, and refuses bad arguments', async () => {
    const nobody = await list(CONTINUE, { u: 'never-seen' });
    expect(nobody.items).toEqual([]);
    expect(nobody.listId).toMatch(/^[A-Za-z0-9_-]{11}$/);
    const bad = await t.gql(CONTINUE, { u: 'shopper', limit: 101 }, client);
    expect(bad.errors![0].extensions!.code).toBe('BAD_USER_INPUT');
    expect(bad.errors![0].message).toMatch(/limit must be a whole number from 1 to 100 \(got 101\)/);
    expect((await t.gql(CONTINUE, { u: ' ' }, client)).errors![0].message).toMatch(/userId must not be empty/);
  });
});

describe('recommendations without a trained model', () => {
  it('puts the touched items first, and leaves out what `exclude` says', async () => {
    // Default PURCHASED: A and B (REENGAGEMENT, their own scores), then the week's busiest items (CATALOG) below them
    // (of A's category x first, but A, C and G are not admissible).
    const purchased = await list(RECOMMEND, { u: 'shopper', limit: 4 });
    expect(pairs(purchased.items)).toEqual([
      ['A', 'REENGAGEMENT'],
      ['B', 'REENGAGEMENT'],
      ['D', 'CATALOG'],
      ['E', 'CATALOG'],
    ]);
    expect(purchased.items.slice(0, 2).map((item) => item.score)).toEqual([1.5, 0.25]);
    expect(purchased.items[2].score).toBeLessThan(0.25);
    expect(pairs((await list(RECOMMEND, { u: 'shopper', limit: 4, exclude: 'PURCHASED' })).items)).toEqual(pairs(purchased.items));
    // SEEN: nothing the shopper touched (A, B, C, G); the rest of the catalogue is D, E, F and R.
    const seen = await list(RECOMMEND, { u: 'shopper', limit: 10, exclude: 'SEEN' });
    expect(seen.items.map((item) => item.itemId).sort()).toEqual(['D', 'E', 'F', 'R']);
    expect(new Set(seen.items.map((item) => item.source))).toEqual(new Set(['CATALOG']));
    // NONE: the bought C comes back, and leads: 1 · 0.5 + 5 · 0.5 = 3.
    const none = await list(RECOMMEND, { u: 'shopper', limit: 4, exclude: 'NONE' });
    expect(none.items.map(({ itemId, source }) => [itemId, source])).toEqual([
      ['C', 'REENGAGEMENT'],
      ['A', 'REENGAGEMENT'],
      ['B', 'REENGAGEMENT'],
      ['D', 'CATALOG'],
    ]);
    expect(none.items[0].score).toBe(3);
    // A repeatable purchase stays with PURCHASED, and is left out with SEEN.
    expect((await list(RECOMMEND, { u: 'regular', limit: 1 })).items.map((item) => item.itemId)).toEqual(['R']);
    expect((await list(RECOMMEND, { u: 'regular', limit: 10, exclude: 'SEEN' })).items.map((item) => item.itemId)).not.toContain('R');
  });

  it('refuses an unknown exclusion before doing any work', async () => {
    const literal = await t.gql(`{ recommendations(userId: "shopper", exclude: EVERYTHING) { listId } }`, {}, client);
    expect(literal.errors![0].extensions!.code).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(literal.errors![0].message).toMatch(/EVERYTHING/);
    expect(literal.errors![0].message).toMatch(/RecommendationExclusion/);
    const variable = await t.gql(RECOMMEND, { u: 'shopper', exclude: 'ALL' }, client);
    expect(variable.errors![0].extensions!.code).toBe('BAD_USER_INPUT');
    expect(variable.errors![0].message).toMatch(/RecommendationExclusion/);
  });

  it('serves repeat requests from its cache exactly as scoring would, and scores afresh after a late event', async () => {
    const { dataSource, recommendations: service } = t.app.services;
    const uncached = new RecommendationService(dataSource, { cacheSize: 0 });
    await uncached.models.refresh();
    await uncached.models.countRecentPopular();
    const served = (items: { itemId: string; score: number; source: string; modelVersionId: string | number | null }[]) =>
      items.map(({ itemId, score, source, modelVersionId }) => ({ itemId, score, source, modelVersionId }));
    for (const u of ['shopper', 'regular', 'never-seen']) {
      for (const exclude of ['SEEN', 'PURCHASED', 'NONE'] as const) {
        const first = await list(RECOMMEND, { u, limit: 5, exclude });
        const hits = service.cache.hits;
        const second = await list(RECOMMEND, { u, limit: 5, exclude });
        expect(service.cache.hits).toBe(hits + 1);
        expect(served(second.items)).toEqual(served(first.items));
        const fresh = await uncached.forUser({ userId: u, limit: 5, exclude: RecommendationExclusion[exclude] });
        expect(served(fresh.items)).toEqual(served(second.items));
      }
    }
    // An older view of B arrives late: history, newest event and purchases are as they were,
    // but B's score is 0.25 + 0.125 (216 hours = three half-lives before T0).
    const late = await t.gql(`mutation($events: [EventInput!]!) { ingestEvents(events: $events) { accepted } }`, {
      events: [{ eventId: 'late-b', type: 'view', userId: 'shopper', itemId: 'B', timestamp: at(216) }],
    }, client);
    expect(late.data!.ingestEvents.accepted).toBe(1);
    const hits = service.cache.hits;
    const after = await list(RECOMMEND, { u: 'shopper', limit: 5, exclude: 'PURCHASED' });
    expect(service.cache.hits).toBe(hits);
    expect(after.items.slice(0, 2).map(({ itemId, score }) => [itemId, score])).toEqual([
      ['A', 1.5],
      ['B', 0.375],
    ]);
    expect(served((await uncached.forUser({ userId: 'shopper', limit: 5 })).items)).toEqual(served(after.items));
  });
});
