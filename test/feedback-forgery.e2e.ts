import { RecommendationSigning } from '../src/recommend/recommendation-secret';
import { startTestApp, TestApp } from './support/app';

/**
 * Feedback counts only for recommendation ids this server issued, to that user: invented,
 * unsigned, altered and other users' ids are rejected and leave the click-through rate alone, and
 * events carrying such ids (even ones whose numbers overflow) neither count nor break the report.
 */
describe('recommendation feedback integrity', () => {
  let t: TestApp;
  let client: string;
  let analyst: string;
  const hour = 3_600_000;
  const now = Date.now();
  const at = (msAgo: number) => new Date(now - msAgo).toISOString();
  const RECORD = `mutation($f: [RecommendationFeedbackInput!]!) { recordRecommendationFeedback(feedback: $f) { accepted duplicates rejected { index code message } } }`;
  const PERFORMANCE = `query($from: DateTime!, $to: DateTime!) { recommendationPerformance(from: $from, to: $to) {
    recommenders { source modelVersionId impressions clicks clickThroughRate addToCarts conversions revenue } } }`;
  const RECOMMEND = `query($u: ID!) { recommendations(userId: $u, limit: 10) { listId userId items { itemId recommendationId } } }`;
  let alice: { itemId: string; recommendationId: string }[];
  let bob: { itemId: string; recommendationId: string }[];

  async function performance() {
    const result = await t.gql(PERFORMANCE, { from: at(7 * 24 * hour), to: at(-hour) }, analyst);
    if (!result.data) throw new Error(JSON.stringify(result.errors));
    return result.data.recommendationPerformance.recommenders;
  }

  async function ingest(events: Record<string, unknown>[]) {
    const result = await t.gql(`mutation($events: [EventInput!]!) { ingestEvents(events: $events) { accepted rejected { index code } } }`, { events }, client);
    if (!result.data) throw new Error(JSON.stringify(result.errors));
    return result.data.ingestEvents;
  }

  beforeAll(async () => {
    t = await startTestApp('forgery');
    client = await t.createKey('client');
    analyst = await t.createKey('analyst');
    const items = Array.from({ length: 30 }, (_, i) => ({ id: `sku-${i}`, title: `Item ${i}`, category: `c${i % 3}`, price: 5 + i }));
    expect((await t.gql(`mutation($items: [ItemInput!]!) { upsertItems(items: $items) { created } }`, { items })).data).toEqual({ upsertItems: { created: 30 } });
    alice = (await t.gql(RECOMMEND, { u: 'alice' }, client)).data!.recommendations.items;
    bob = (await t.gql(RECOMMEND, { u: 'bob' }, client)).data!.recommendations.items;
    expect(alice).toHaveLength(10);
    expect(bob).toHaveLength(10);
  });

  afterAll(async () => {
    await t?.stop();
  });

  it('counts genuine feedback: 10 impressions and 2 clicks make a click-through rate of 0.2', async () => {
    const impressions = alice.map((item) => ({ recommendationId: item.recommendationId, type: 'IMPRESSION', userId: 'alice', timestamp: at(3 * hour) }));
    const clicks = alice.slice(0, 2).map((item) => ({ recommendationId: item.recommendationId, type: 'CLICK', userId: 'alice', timestamp: at(2 * hour) }));
    expect((await t.gql(RECORD, { f: [...impressions, ...clicks] }, client)).data!.recordRecommendationFeedback).toEqual({ accepted: 12, duplicates: 0, rejected: [] });
    expect(await performance()).toEqual([
      { source: 'CATALOG', modelVersionId: null, impressions: 10, clicks: 2, clickThroughRate: 0.2, addToCarts: 0, conversions: 0, revenue: 0 },
    ]);
  });

  it('rejects 1,000 invented, unsigned, altered and other users’ clicks and leaves the rate unchanged', async () => {
    const before = await performance();
    const [{ n: storedBefore }] = await t.app.services.dataSource.query(`SELECT count(*)::int AS n FROM recommendation_feedback`);
    const real = alice[5].recommendationId;
    const [, source, version, item, list, tag] = real.split('.');
    const forged: { recommendationId: string; type: string; userId: string }[] = [];
    for (let n = 0; forged.length < 1000; n++) {
      const variants = [
        `r1.${source}.${version}.${n + 1}.${list}`, // the old unsigned shape
        `r2.${source}.${version}.${Number(item) + n + 1}.${list}.${tag}`, // another item under a real tag
        `r2.c.0.${n + 1}.${list}.${String(n).padStart(12, 'A')}`, // an invented tag
        `r2.m.${n + 1}.${item}.${list}.${tag}`, // another version under a real tag
      ];
      for (const id of variants) forged.push({ recommendationId: id, type: 'CLICK', userId: 'alice' });
    }
    // Bob's real ids reported as Alice's, and Alice's as Bob's.
    forged.splice(0, 20, ...bob.map((b) => ({ recommendationId: b.recommendationId, type: 'CLICK', userId: 'alice' })), ...alice.map((a) => ({ recommendationId: a.recommendationId, type: 'CLICK', userId: 'bob' })));
    expect(forged).toHaveLength(1000);
    const result = (await t.gql(RECORD, { f: forged }, client)).data!.recordRecommendationFeedback;
    expect(result.accepted).toBe(0);
    expect(result.duplicates).toBe(0);
    expect(result.rejected).toHaveLength(1000);
    expect(new Set(result.rejected.map((r: { code: string }) => r.code))).toEqual(new Set(['UNKNOWN_RECOMMENDATION']));
    expect(result.rejected[0].message).toMatch(/not a recommendation id this server issued to user "alice"/);
    const [{ n: storedAfter }] = await t.app.services.dataSource.query(`SELECT count(*)::int AS n FROM recommendation_feedback`);
    expect(storedAfter).toBe(storedBefore);
    expect(await performance()).toEqual(before);
  });

  it('ignores events carrying forged or overflowing ids, without breaking recommendationPerformance', async () => {
    const before = await performance();
    const overflowing = ['r1.m.1.9999999999.AAAAAAAAAAA', 'r2.m.1.9999999999.AAAAAAAAAAA.AAAAAAAAAAAA', 'r2.m.9999999999.1.AAAAAAAAAAA.AAAAAAAAAAAA'];
    const events = [
      ...overflowing.map((id, n) => ({ eventId: `overflow-${n}`, type: 'view', userId: 'mallory', itemId: 'sku-1', timestamp: at(hour), properties: { recommendationId: id } })),
      // Bob's genuine id on Mallory's view, an altered one, and a non-string id.
      { eventId: 'stolen', type: 'view', userId: 'mallory', itemId: 'sku-2', timestamp: at(hour), properties: { recommendationId: bob[0].recommendationId } },
      { eventId: 'altered', type: 'view', userId: 'bob', itemId: 'sku-3', timestamp: at(hour), properties: { recommendationId: bob[1].recommendationId.replace(/\.(\d+)\./, '.1$1.') } },
      { eventId: 'numeric', type: 'view', userId: 'bob', itemId: 'sku-4', timestamp: at(hour), properties: { recommendationId: 12345 } },
    ];
    expect((await ingest(events)).accepted).toBe(events.length);
    expect(await performance()).toEqual(before);

    // A view event carrying Alice's own id is a genuine click (the third); her purchase of that item
    // an hour later, with a price that is not a number, is attributed at the catalogue price.
    const [{ price }] = await t.app.services.dataSource.query(`SELECT price::float AS price FROM items WHERE external_id = $1`, [alice[2].itemId]);
    expect(
      (
        await ingest([
          { eventId: 'genuine', type: 'view', userId: 'alice', itemId: alice[2].itemId, timestamp: at(2 * hour), properties: { recommendationId: alice[2].recommendationId } },
          { eventId: 'bought', type: 'purchase', userId: 'alice', itemId: alice[2].itemId, timestamp: at(hour), properties: { price: 'free' } },
        ])
      ).accepted,
    ).toBe(2);
    expect(await performance()).toEqual([{ ...before[0], clicks: 3, clickThroughRate: 0.3, conversions: 1, revenue: price }]);
  });

  it('keeps one secret for every API process, in PostgreSQL', async () => {
    const [{ n }] = await t.app.services.dataSource.query(`SELECT count(*)::int AS n FROM server_secrets WHERE name = 'recommendation-ids'`);
    expect(n).toBe(1);
    // A second process on the same database (its own signer, loaded afresh) verifies what this one issued.
    const other = await new RecommendationSigning(t.app.services.dataSource, undefined).signer();
    expect(other.verify(alice[0].recommendationId, 'alice')).toEqual(expect.objectContaining({ source: 'CATALOG', modelVersionId: null }));
    expect(other.verify(alice[0].recommendationId, 'bob')).toBeNull();
    // A configured secret replaces the stored one: ids signed with the stored one no longer verify.
    const configured = await new RecommendationSigning(t.app.services.dataSource, 'x'.repeat(32)).signer();
    expect(configured.verify(alice[0].recommendationId, 'alice')).toBeNull();
  });
});
