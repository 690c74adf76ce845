import type { ShopEvent } from '../events/event.types';
import { gini, quantile, shopStats } from './shop-stats';

const T0 = Date.parse('2026-01-05T00:00:00Z');

function event(id: string, type: string, userId: string, sessionId: string | null, itemId: string, seconds: number): ShopEvent {
  return { eventId: id, type, userId, sessionId, itemId, timestamp: T0 + seconds * 1000, properties: null };
}

/**
 * A: one session s1 (view i1, view i2, view i1 again, cart and buy i1) and a later session s2 that
 * views i2 again. B has no session ids: two views of i3 a minute apart, then i1 47 minutes later
 * (a new session by the 30-minute rule). C views i1 once. Listed out of time order on purpose.
 */
const LOG: ShopEvent[] = [
  event('a3', 'view', 'A', 's1', 'i1', 40),
  event('b3', 'view', 'B', null, 'i1', 3000),
  event('a1', 'view', 'A', 's1', 'i1', 0),
  event('a2', 'view', 'A', 's1', 'i2', 10),
  event('b1', 'view', 'B', null, 'i3', 100),
  event('a4', 'cart', 'A', 's1', 'i1', 50),
  event('c1', 'view', 'C', null, 'i1', 200),
  event('a5', 'purchase', 'A', 's1', 'i1', 110),
  event('b2', 'view', 'B', null, 'i3', 160),
  event('a6', 'view', 'A', 's2', 'i2', 5000),
];

describe('shopStats', () => {
  const stats = shopStats(LOG);

  it('counts events, users, items and sessions (id sessions, and 30-minute cuts without ids)', () => {
    expect(stats.events).toBe(10);
    expect(stats.users).toBe(3);
    expect(stats.items).toBe(3);
    // A: s1, s2; B: 100–160 s, then 3000 s; C: one.
    expect(stats.sessions).toBe(5);
    expect(stats.spanHours).toBeCloseTo(5000 / 3600, 10);
  });

  it('describes users: events [6, 3, 1], distinct items [2, 2, 1], sessions [2, 2, 1]', () => {
    // p90 of [1, 3, 6]: position 0.9 · 2 = 1.8, so 3 + 0.8 · (6 − 3).
    expect(stats.eventsPerUser).toEqual({ mean: 10 / 3, median: 3, p90: expect.closeTo(5.4, 10) });
    expect(stats.distinctItemsPerUser).toEqual({ mean: 5 / 3, median: 2, p90: 2 });
    expect(stats.sessionsPerUser).toEqual({ mean: 5 / 3, median: 2, p90: 2 });
  });

  it('counts repeat views over the user and within the session', () => {
    // 8 views; again for the user: a3 (i1), a6 (i2), b2 (i3); within the session only a3 and b2.
    expect(stats.repeatViewShare).toBe(3 / 8);
    expect(stats.repeatViewShareInSession).toBe(2 / 8);
  });

  it('describes sessions: events [5, 1, 2, 1, 1], lengths [110, 0, 60, 0, 0] s, gaps [10, 30, 10, 60, 60] s', () => {
    // p90 of [1, 1, 1, 2, 5]: position 3.6, so 2 + 0.6 · 3.
    expect(stats.sessionEvents).toEqual({ mean: 2, median: 1, p90: expect.closeTo(3.8, 10) });
    expect(stats.sessionSeconds).toEqual({ mean: 34, median: 0, p90: expect.closeTo(90, 10) });
    expect(stats.gapSeconds).toEqual({ mean: 34, median: 30, p90: 60 });
  });

  it('gives type shares and purchase rates per user and per session', () => {
    expect(stats.typeShares).toEqual({ view: 0.8, cart: 0.1, purchase: 0.1 });
    expect(stats.buyerShare).toBe(1 / 3);
    expect(stats.purchaseSessionShare).toBe(1 / 5);
  });

  it('measures how concentrated events are on items: i1 6 events, i2 and i3 2 each', () => {
    // The top 1 % of 3 items is one item (at least one).
    expect(stats.topItemsShare).toBe(0.6);
    // Mean absolute difference over ordered pairs: (0 + 4 + 4) · 2 / 9 = 16/9; halved over the mean 10/3.
    expect(stats.itemGini).toBeCloseTo(16 / 9 / 2 / (10 / 3), 12);
    expect(stats.distinctItemsPerEvent).toBe(0.3);
  });

  it('guesses each user’s last item by popularity and by their own recent items', () => {
    // A's last item is i2 (earlier: i1 i2 i1 i1 i1), B's is i1 (earlier: i3 i3); C has one item, which
    // only counts for popularity. Users per item over what is not held out: i1 2 (A, C), i2 1, i3 1.
    const top1 = shopStats(LOG, { k: 1 }).nextItem;
    expect(top1).toEqual({ k: 1, users: 2, popularity: 0.5, recentlyViewed: 0 });
    // k = 2: popularity i1 and i2 (the tie with i3 goes to the smaller id), recent: A {i1, i2}, B {i3}.
    expect(shopStats(LOG, { k: 2 }).nextItem).toEqual({ k: 2, users: 2, popularity: 1, recentlyViewed: 0.5 });
    expect(stats.nextItem).toEqual({ k: 20, users: 2, popularity: 1, recentlyViewed: 0.5 });
  });

  it('cuts id-less sessions by the idle time it is given', () => {
    // With 50 minutes, B's 47-minute pause stays inside one session.
    const longer = shopStats(LOG, { sessionGapMs: 50 * 60_000 });
    expect(longer.sessions).toBe(4);
    expect(longer.repeatViewShareInSession).toBe(2 / 8);
    expect(longer.gapSeconds.mean).toBe((10 + 30 + 10 + 60 + 60 + 2840) / 6);
  });

  it('refuses an empty log and bad options', () => {
    expect(() => shopStats([])).toThrow(/empty/);
    expect(() => shopStats(LOG, { sessionGapMs: 0 })).toThrow(RangeError);
    expect(() => shopStats(LOG, { k: 0 })).toThrow(RangeError);
  });
});

describe('quantile and gini', () => {
  it('interpolate between ranks and measure inequality', () => {
    expect(quantile([], 0.5)).toBe(0);
    expect(quantile([4], 0.9)).toBe(4);
    expect(quantile([1, 2, 3, 4], 0.5)).toBe(2.5);
    expect(quantile([10, 20], 0.9)).toBeCloseTo(19, 12);
    expect(gini([5, 5, 5])).toBe(0);
    // One of four takes everything: 2 · 4 · x / (4 · x) − 5/4 = 3/4.
    expect(gini([0, 0, 0, 7])).toBeCloseTo(0.75, 12);
    expect(gini([])).toBe(0);
  });
});
