import { createHash } from 'node:crypto';
import type { ShopEvent } from '../events/event.types';
import { eventLine } from './ndjson-sink';
import { createDemoShop, type DemoShop } from './generator';
import { startEndingToday } from './options';
import { shopStats } from './shop-stats';

const START = Date.parse('2026-01-05T00:00:00Z');
const DAY = 86_400_000;

function fingerprint(shop: DemoShop): string {
  const hash = createHash('sha256');
  for (const item of shop.items) hash.update(JSON.stringify(item) + '\n');
  for (const event of shop.events()) hash.update(eventLine(event) + '\n');
  return hash.digest('hex');
}

function groupBy<T>(values: Iterable<T>, key: (value: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const value of values) {
    const k = key(value);
    const group = groups.get(k);
    if (group) group.push(value);
    else groups.set(k, [value]);
  }
  return groups;
}

/** Events outside the period (starting at START), going back in time within a user, or a session resumed after another. */
function timeProblems(events: ShopEvent[], days: number): string[] {
  const end = START + days * DAY;
  const problems: string[] = [];
  for (const userEvents of groupBy(events, (event) => event.userId).values()) {
    let previous = -Infinity;
    let previousSession: string | null = null;
    const finished = new Set<string>();
    for (const event of userEvents) {
      if (event.timestamp < START || event.timestamp >= end) problems.push(`${event.eventId} outside the period`);
      if (event.timestamp < previous) problems.push(`${event.eventId} goes back in time`);
      if (event.sessionId !== previousSession) {
        // A session, once left, is never resumed.
        if (finished.has(event.sessionId!)) problems.push(`${event.sessionId} resumed`);
        if (previousSession) finished.add(previousSession);
        previousSession = event.sessionId;
      }
      previous = event.timestamp;
    }
  }
  return problems;
}

/** Genuine removals, checkouts and purchases of items not in the cart, and purchases without a checkout in their session. */
function funnelProblems(shop: DemoShop, events: ShopEvent[]): string[] {
  const problems: string[] = [];
  for (const [userId, userEvents] of groupBy(events, (event) => event.userId)) {
    if (shop.groundTruth.label(userId) !== 'genuine') continue;
    const inCart = new Set<string>();
    const checkedOut = new Set<string>();
    for (const event of userEvents) {
      const key = event.itemId!;
      const inSession = `${event.sessionId}/${key}`;
      if (event.type === 'cart') inCart.add(key);
      if (event.type === 'remove_from_cart' || event.type === 'checkout' || event.type === 'purchase') {
        if (!inCart.has(key)) problems.push(`${event.eventId}: ${event.type} of ${key}, not in the cart`);
      }
      if (event.type === 'remove_from_cart') inCart.delete(key);
      if (event.type === 'checkout') checkedOut.add(inSession);
      if (event.type === 'purchase') {
        if (!checkedOut.has(inSession)) problems.push(`${event.eventId}: purchase of ${key} without a checkout`);
        inCart.delete(key);
      }
    }
  }
  return problems;
}

describe('createDemoShop', () => {
  const shop = createDemoShop({ users: 3000, days: 7, seed: 11 });
  const events = [...shop.events()];

  it('is deterministic: same seed, same bytes; another seed, another shop', () => {
    const again = createDemoShop({ users: 3000, days: 7, seed: 11 });
    expect(fingerprint(again)).toBe(fingerprint(shop));
    expect(fingerprint(createDemoShop({ users: 3000, days: 7, seed: 12 }))).not.toBe(fingerprint(shop));
  });

  it('ends a shop started by startEndingToday at the last midnight, as the same shop shifted by whole days', () => {
    // 2026-11-30 18:45 UTC: the last midnight is 2026-11-30T00:00Z, 7 days back is 2026-11-23T00:00Z.
    const start = startEndingToday(7, Date.parse('2026-11-30T18:45:12.345Z'));
    expect(start).toBe('2026-11-23T00:00:00.000Z');
    expect(startEndingToday(7, Date.parse('2026-11-30T00:00:00.000Z'))).toBe('2026-11-23T00:00:00.000Z');
    const shifted = createDemoShop({ users: 300, days: 7, seed: 11, start });
    expect(shifted.options.endMs).toBe(Date.parse('2026-11-30T00:00:00Z'));
    const shiftMs = Date.parse(start) - START;
    expect(shiftMs % DAY).toBe(0);
    const original = [...createDemoShop({ users: 300, days: 7, seed: 11 }).events()];
    const moved = [...shifted.events()];
    expect(moved).toHaveLength(original.length);
    moved.forEach((event, n) => expect({ ...event, timestamp: event.timestamp - shiftMs }).toEqual(original[n]));
  });

  it('applies the documented defaults', () => {
    expect(shop.items).toHaveLength(750); // users / 4
    expect(shop.options.startMs).toBe(START);
    expect(createDemoShop({ users: 40 }).items).toHaveLength(50);
    const categories = new Set(shop.items.map((item) => item.category));
    expect(categories.size).toBeGreaterThanOrEqual(20);
    expect(categories.size).toBeLessThanOrEqual(50);
    for (const category of categories) expect(category).toMatch(/^[a-z]+\.[a-z]+$/);
  });

  it('builds a catalog with positive prices that differ by category and a skewed popularity', () => {
    for (const [index, item] of shop.items.entries()) {
      expect(item.itemId).toBe(`i${index}`);
      expect(item.price).toBeGreaterThan(0);
      expect(item.title).toContain(item.brand!);
      expect(item.available).toBe(true);
    }
    const median = (category: string) => {
      const prices = shop.items.filter((item) => item.category === category).map((item) => item.price!).sort((a, b) => a - b);
      return prices[Math.floor(prices.length / 2)];
    };
    expect(median('electronics.phones')).toBeGreaterThan(5 * median('books.fiction'));
    // Zipf-like: the most viewed tenth of the items gets far more than a tenth of genuine views.
    const views = new Map<string, number>();
    for (const event of events) if (event.type === 'view' && shop.groundTruth.label(event.userId) === 'genuine') views.set(event.itemId!, (views.get(event.itemId!) ?? 0) + 1);
    const counts = [...views.values()].sort((a, b) => b - a);
    const total = counts.reduce((sum, count) => sum + count, 0);
    const head = counts.slice(0, Math.ceil(shop.items.length / 10)).reduce((sum, count) => sum + count, 0);
    expect(head / total).toBeGreaterThan(0.3);
  });

  // Checked event by event into a list of problems: one expect per event would take seconds.
  it('numbers events and names users, sessions and items as documented', () => {
    const problems: string[] = [];
    const priced = new Set(['cart', 'remove_from_cart', 'checkout', 'purchase']);
    events.forEach((event, n) => {
      const item = shop.items[Number(event.itemId!.slice(1))];
      const properties = event.properties!;
      if (event.eventId !== `sim-11-${n}`) problems.push(`event ${n} has id ${event.eventId}`);
      if (!/^u\d+$/.test(event.userId) || Number(event.userId.slice(1)) >= 3000) problems.push(`bad user ${event.userId}`);
      if (!new RegExp(`^s${event.userId.slice(1)}-\\d+$`).test(event.sessionId!)) problems.push(`bad session ${event.sessionId} of ${event.userId}`);
      if (item?.itemId !== event.itemId) problems.push(`unknown item ${event.itemId}`);
      if (!['mobile', 'desktop', 'tablet'].includes(properties.device as string)) problems.push(`device ${properties.device}`);
      if (!['organic', 'ads', 'email', 'direct', 'social'].includes(properties.channel as string)) problems.push(`channel ${properties.channel}`);
      if (properties.category !== item?.category) problems.push(`${event.eventId} category ${properties.category}`);
      if (properties.price !== (priced.has(event.type) ? item?.price : undefined)) problems.push(`${event.eventId} price ${properties.price}`);
    });
    expect(problems.slice(0, 5)).toEqual([]);
  });

  it('keeps time inside the period, in order within each user, with sessions that do not overlap', () => {
    expect(timeProblems(events, 7).slice(0, 5)).toEqual([]);
  });

  it('follows the funnel: genuine purchases come after a cart and a checkout of the same item', () => {
    expect(funnelProblems(shop, events).slice(0, 5)).toEqual([]);
  });

  it('makes some purchases long after the cart, so a short conversion window misses them', () => {
    const cartedAt = new Map<string, number>();
    let purchases = 0;
    let late = 0;
    for (const event of events) {
      if (shop.groundTruth.label(event.userId) !== 'genuine') continue;
      const key = `${event.userId}/${event.itemId}`;
      if (event.type === 'cart') cartedAt.set(key, event.timestamp);
      if (event.type === 'purchase') {
        purchases++;
        if (event.timestamp - cartedAt.get(key)! > 60 * 60_000) late++;
      }
    }
    expect(purchases).toBeGreaterThan(100);
    expect(late / purchases).toBeGreaterThan(0.05);
    expect(late / purchases).toBeLessThan(0.5);
  });

  it('simulates one user the same way whether alone or in the whole stream', () => {
    const stories = [...shop.shoppers()];
    const sessions = [...shop.sessions()];
    expect(sessions).toEqual(stories.flatMap((story) => story.sessions));
    const fromStories: ShopEvent[] = stories.flatMap((story) => story.events);
    expect(fromStories).toEqual(events);
  });

  it('rejects options it cannot honour', () => {
    expect(() => createDemoShop({ users: 0 })).toThrow(RangeError);
    expect(() => createDemoShop({ users: 10, categories: 60 })).toThrow(RangeError);
    expect(() => createDemoShop({ clickFarmShare: 0.7, fakeOrderShare: 0.5 })).toThrow(RangeError);
    expect(() => createDemoShop({ start: 'not a date' })).toThrow(RangeError);
    expect(() => createDemoShop({ profile: 'fancy' as never })).toThrow(/profile must be one of classic, realistic/);
  });
});

describe('createDemoShop with the realistic profile', () => {
  const options = { users: 3000, days: 7, seed: 11 };
  const shop = createDemoShop({ ...options, profile: 'realistic' });
  const events = [...shop.events()];

  it('leaves the classic shop as the default and is deterministic itself', () => {
    const small = { users: 300, days: 7, seed: 11 };
    expect(fingerprint(createDemoShop({ ...small, profile: 'classic' }))).toBe(fingerprint(createDemoShop(small)));
    expect(fingerprint(createDemoShop({ ...small, profile: 'realistic' }))).toBe(fingerprint(createDemoShop({ ...small, profile: 'realistic' })));
    expect(fingerprint(createDemoShop({ ...small, profile: 'realistic' }))).not.toBe(fingerprint(createDemoShop(small)));
    expect(shop.items).toHaveLength(6000); // 2 per visitor
  });

  it('keeps the same rules of time and funnel as the classic shop', () => {
    expect(timeProblems(events, 7).slice(0, 5)).toEqual([]);
    expect(funnelProblems(shop, events).slice(0, 5)).toEqual([]);
  });

  // Targets from the real samples (docs/demo-shop.md): REES46 has median 2 events per session, 28 %
  // repeat views within sessions and 3.9 % of sessions buying; Taobao 1, 1.4 % and 3.4 %; the last
  // item of a user is among the 20 most popular for 0.3 % (Taobao) to 11.6 % (REES46) of users, and
  // among their own 20 recent items for 4.9 % to 47 %.
  it('has the shape of the real samples rather than the classic one', () => {
    const realistic = shopStats(events);
    const classic = shopStats(createDemoShop(options).events());
    expect(realistic.sessionEvents.median).toBeLessThanOrEqual(2);
    expect(classic.sessionEvents.median).toBeGreaterThan(2);
    expect(realistic.repeatViewShareInSession).toBeGreaterThan(0.1);
    expect(realistic.repeatViewShareInSession).toBeLessThan(0.3);
    expect(realistic.purchaseSessionShare).toBeGreaterThan(0.025);
    expect(realistic.purchaseSessionShare).toBeLessThan(0.06);
    expect(classic.purchaseSessionShare).toBeGreaterThan(0.06);
    // Popularity no longer guesses a third of last items; re-engagement does far better.
    expect(realistic.nextItem.popularity).toBeLessThan(0.15);
    expect(classic.nextItem.popularity).toBeGreaterThan(0.25);
    expect(realistic.nextItem.recentlyViewed).toBeGreaterThan(3 * realistic.nextItem.popularity);
  });
});
