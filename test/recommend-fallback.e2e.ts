/**
 * Before any recommender is trained, lists fall back to the catalogue: the items with the most
 * events in the last seven days of data first (counted from `events`), then the rest in catalogue
 * order. Expected lists are worked out by hand from the events below.
 */
import { startTestApp, TestApp } from './support/app';

let t: TestApp;
let client: string;
beforeAll(async () => {
  t = await startTestApp('recommend_fallback');
  client = await t.createKey('client', 'web shop');
});
afterAll(() => t.stop());

const RECOMMEND = `query($u: ID!, $limit: Int) { recommendations(userId: $u, limit: $limit) { items { itemId score source modelVersionId } } }`;
const DAY = 86_400_000;
// A past shop: the window ends at its latest event, not at now.
const LATEST = Date.UTC(2026, 0, 20, 12);

it('serves the recently most active items first, then the catalogue, all as CATALOG', async () => {
  const upsert = await t.gql(`mutation($items: [ItemInput!]!) { upsertItems(items: $items) { created } }`, {
    items: ['i0', 'i1', 'i2', 'i3', 'i4', 'i5'].map((id) => ({ id, category: 'c' })),
  });
  expect(upsert.errors).toBeUndefined();
  const events: { itemId: string; at: number }[] = [
    ...Array.from({ length: 5 }, (_, n) => ({ itemId: 'i3', at: LATEST - n * 3_600_000 })),
    ...Array.from({ length: 3 }, (_, n) => ({ itemId: 'i1', at: LATEST - 2 * DAY - n * 60_000 })),
    // Busier, but more than 7 days before the latest event: not counted.
    ...Array.from({ length: 9 }, (_, n) => ({ itemId: 'i4', at: LATEST - 8 * DAY - n * 60_000 })),
    { itemId: 'i5', at: LATEST - 6 * DAY },
  ];
  const ingested = await t.gql(
    `mutation($events: [EventInput!]!) { ingestEvents(events: $events) { accepted rejected { index message } } }`,
    { events: events.map((event, n) => ({ eventId: `f-${n}`, type: 'view', userId: `shopper-${n % 4}`, itemId: event.itemId, timestamp: new Date(event.at).toISOString() })) },
    client,
  );
  expect(ingested.data).toMatchObject({ ingestEvents: { accepted: events.length, rejected: [] } });

  // No explicit count: the first request of the process waits for it.
  const list = await t.gql<{ recommendations: { items: { itemId: string; score: number; source: string; modelVersionId: string | null }[] } }>(
    RECOMMEND,
    { u: 'newcomer', limit: 5 },
    client,
  );
  expect(list.errors).toBeUndefined();
  const items = list.data!.recommendations.items;
  expect(items.slice(0, 3)).toEqual([
    { itemId: 'i3', score: 5, source: 'CATALOG', modelVersionId: null },
    { itemId: 'i1', score: 3, source: 'CATALOG', modelVersionId: null },
    { itemId: 'i5', score: 1, source: 'CATALOG', modelVersionId: null },
  ]);
  // Then the rest of the catalogue (i4's busy week is too old to count), each item once.
  expect(new Set(items.map((item) => item.itemId)).size).toBe(5);
  for (const item of items.slice(3)) {
    expect(['i0', 'i2', 'i4']).toContain(item.itemId);
    expect(item).toMatchObject({ source: 'CATALOG', modelVersionId: null });
    expect(item.score).toBeLessThanOrEqual(1);
  }

  // Later counts (every 10 minutes in the background; here asked for) follow new events.
  const more = await t.gql(
    `mutation($events: [EventInput!]!) { ingestEvents(events: $events) { accepted } }`,
    { events: Array.from({ length: 6 }, (_, n) => ({ eventId: `g-${n}`, type: 'view', userId: `shopper-${n}`, itemId: 'i2', timestamp: new Date(LATEST - DAY).toISOString() })) },
    client,
  );
  expect(more.data).toMatchObject({ ingestEvents: { accepted: 6 } });
  await t.app.services.recommendations.models.countRecentPopular();
  const after = await t.gql<{ recommendations: { items: { itemId: string; score: number }[] } }>(RECOMMEND, { u: 'newcomer', limit: 2 }, client);
  expect(after.data!.recommendations.items.map(({ itemId, score }) => [itemId, score])).toEqual([
    ['i2', 6],
    ['i3', 5],
  ]);

  // Items like i0 are of its category first, even when another category's item is busier.
  await t.gql(`mutation($items: [ItemInput!]!) { upsertItems(items: $items) { created } }`, { items: [{ id: 'd0', category: 'd' }] });
  await t.gql(
    `mutation($events: [EventInput!]!) { ingestEvents(events: $events) { accepted } }`,
    { events: Array.from({ length: 20 }, (_, n) => ({ eventId: `h-${n}`, type: 'view', userId: `shopper-${n % 4}`, itemId: 'd0', timestamp: new Date(LATEST - DAY).toISOString() })) },
    client,
  );
  await t.app.services.recommendations.models.refresh(); // the catalogue now holds d0 (requests look once a second)
  await t.app.services.recommendations.models.countRecentPopular();
  const similar = await t.gql<{ similarItems: { items: { itemId: string; score: number }[] } }>(
    `query { similarItems(itemId: "i0", limit: 4) { items { itemId score } } }`,
    {},
    client,
  );
  expect(similar.errors).toBeUndefined();
  expect(similar.data!.similarItems.items.map(({ itemId }) => itemId)).toEqual(['i2', 'i3', 'i1', 'i5']);
  const overall = await t.gql<{ recommendations: { items: { itemId: string }[] } }>(RECOMMEND, { u: 'newcomer', limit: 1 }, client);
  expect(overall.data!.recommendations.items.map(({ itemId }) => itemId)).toEqual(['d0']);
});
