import type { ShopEvent } from '../events/event.types';

/**
 * The shape of an event log in the numbers that decide how hard it is for recommenders and
 * propensity models: how much each visitor does, how often they look at an item again, how long
 * visits are, how often they buy and how concentrated attention is on a few items. The same
 * function reads an imported real sample and a generated shop, so the two can be put side by side
 * (bench/reports/shop-realism.ts, docs/demo-shop.md).
 */

/** Sessions are cut where a visitor is idle this long, for events that carry no session id (Taobao). */
export const DEFAULT_SESSION_GAP_MS = 30 * 60_000;

/** Mean, median and 90th percentile of a distribution. */
export interface Spread {
  mean: number;
  median: number;
  p90: number;
}

export interface ShopStats {
  events: number;
  users: number;
  /** Distinct item ids among events that name one. */
  items: number;
  sessions: number;
  /** Hours from the first event to the last. */
  spanHours: number;
  eventsPerUser: Spread;
  distinctItemsPerUser: Spread;
  sessionsPerUser: Spread;
  /** Share of views (with an item) whose item the same user had viewed before, anywhere in the log. */
  repeatViewShare: number;
  /** Share of views (with an item) whose item had been viewed before in the same session. */
  repeatViewShareInSession: number;
  /** Events per session. */
  sessionEvents: Spread;
  /** Seconds from a session's first event to its last (0 for one-event sessions). */
  sessionSeconds: Spread;
  /** Seconds between consecutive events of one session, over every such pair. */
  gapSeconds: Spread;
  /** Share of all events by type (every type present, summing to 1). */
  typeShares: Record<string, number>;
  /** Share of users with at least one purchase. */
  buyerShare: number;
  /** Share of sessions with at least one purchase. */
  purchaseSessionShare: number;
  /** Share of item events that fall on the most frequent 1 % of items (at least one item). */
  topItemsShare: number;
  /** Gini coefficient of events per item over the items that occur: 0 when all are equally frequent, towards 1 when a few take all. */
  itemGini: number;
  /** Distinct items divided by events that name an item: near 1 when almost every event finds a new item. */
  distinctItemsPerEvent: number;
  /** How well the two simplest recommenders guess each user's last item (see nextItemHits). */
  nextItem: NextItemHits;
}

/**
 * Leave-last-out hit rate@k of two baselines: for every user with two or more events naming an
 * item, the item of their last such event is held out and guessed from everything before it.
 * `popularity`: the k items touched by the most users, counted over every event not held out;
 * `recentlyViewed`: the user's own k most recent distinct earlier items (re-engagement). A hit is the
 * held-out item among the k; users with a single item event are not guessed, their item counts towards
 * popularity. Items the user had already touched count as hits: on real shops people
 * do come back to them. A quick measure of how much a log rewards popularity, not the model
 * evaluation harness (src/ml/evaluation.ts).
 */
export interface NextItemHits {
  k: number;
  /** Users with a held-out item. */
  users: number;
  popularity: number;
  recentlyViewed: number;
}

export interface ShopStatsOptions {
  /** Idle time that closes a session for events without a session id; default 30 minutes. */
  sessionGapMs?: number;
  /** List length of the next-item baselines; default 20. */
  k?: number;
}

/**
 * Quantile `p` (0…1) of ascending `sorted` values by linear interpolation between the closest
 * ranks (position p·(n − 1), numpy's default); 0 for no values.
 */
export function quantile(sorted: ArrayLike<number>, p: number): number {
  const n = sorted.length;
  if (n === 0) return 0;
  const position = p * (n - 1);
  const below = Math.floor(position);
  const above = Math.min(n - 1, below + 1);
  return sorted[below] + (sorted[above] - sorted[below]) * (position - below);
}

function spreadOf(values: number[]): Spread {
  if (values.length === 0) return { mean: 0, median: 0, p90: 0 };
  const sorted = Float64Array.from(values).sort();
  let total = 0;
  for (const value of values) total += value;
  return { mean: total / values.length, median: quantile(sorted, 0.5), p90: quantile(sorted, 0.9) };
}

/**
 * Gini coefficient of non-negative counts: G = 2·Σ i·x₍ᵢ₎ / (n·Σx) − (n + 1)/n with x₍ᵢ₎ ascending
 * and i = 1…n (the mean-difference definition, halved and divided by the mean); 0 for no counts.
 */
export function gini(counts: ArrayLike<number>): number {
  const n = counts.length;
  const sorted = Float64Array.from(counts).sort();
  let total = 0;
  let weighted = 0;
  for (let i = 0; i < n; i++) {
    total += sorted[i];
    weighted += (i + 1) * sorted[i];
  }
  if (n === 0 || total === 0) return 0;
  return (2 * weighted) / (n * total) - (n + 1) / n;
}

interface UserLog {
  order: number[];
}

function nextItemHits(events: ShopEvent[], users: Iterable<UserLog>, k: number): NextItemHits {
  const histories: { target: string; earlier: string[] }[] = [];
  const usersOfItem = new Map<string, number>();
  for (const user of users) {
    const items: string[] = [];
    for (const index of user.order) if (events[index].itemId !== null) items.push(events[index].itemId!);
    // A user with one item has nothing to guess it from: their item only counts towards popularity.
    const target = items.length >= 2 ? items.pop()! : null;
    for (const item of new Set(items)) usersOfItem.set(item, (usersOfItem.get(item) ?? 0) + 1);
    if (target !== null) histories.push({ target, earlier: items });
  }
  // Ties broken by item id so the list does not depend on the log's order.
  const popular = new Set(
    [...usersOfItem]
      .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
      .slice(0, k)
      .map(([item]) => item),
  );
  let popularityHits = 0;
  let recentHits = 0;
  for (const { target, earlier } of histories) {
    if (popular.has(target)) popularityHits++;
    const recent = new Set<string>();
    for (let i = earlier.length - 1; i >= 0 && recent.size < k; i--) recent.add(earlier[i]);
    if (recent.has(target)) recentHits++;
  }
  const share = (hits: number) => (histories.length === 0 ? 0 : hits / histories.length);
  return { k, users: histories.length, popularity: share(popularityHits), recentlyViewed: share(recentHits) };
}

/**
 * Computes ShopStats over an event log in any order: each user's events are put in time order
 * (ties keep the log's order). A session is a (user, sessionId) pair; events without a session id
 * are cut into sessions by `sessionGapMs` of idle time. Holds the log's events in memory (a few
 * numbers and the ids per event). Throws a RangeError for an empty log.
 */
export function shopStats(log: Iterable<ShopEvent>, options: ShopStatsOptions = {}): ShopStats {
  const sessionGapMs = options.sessionGapMs ?? DEFAULT_SESSION_GAP_MS;
  if (!(sessionGapMs > 0)) throw new RangeError(`sessionGapMs must be positive (got ${sessionGapMs})`);
  const k = options.k ?? 20;
  if (!Number.isSafeInteger(k) || k < 1) throw new RangeError(`k must be a whole number ≥ 1 (got ${k})`);
  const events: ShopEvent[] = [];
  const users = new Map<string, UserLog>();
  const typeCounts = new Map<string, number>();
  const itemCounts = new Map<string, number>();
  let itemEvents = 0;
  let firstMs = Infinity;
  let lastMs = -Infinity;
  for (const event of log) {
    const index = events.length;
    events.push(event);
    let user = users.get(event.userId);
    if (!user) users.set(event.userId, (user = { order: [] }));
    user.order.push(index);
    typeCounts.set(event.type, (typeCounts.get(event.type) ?? 0) + 1);
    if (event.itemId !== null) {
      itemCounts.set(event.itemId, (itemCounts.get(event.itemId) ?? 0) + 1);
      itemEvents++;
    }
    if (event.timestamp < firstMs) firstMs = event.timestamp;
    if (event.timestamp > lastMs) lastMs = event.timestamp;
  }
  if (events.length === 0) throw new RangeError('the event log is empty: there is nothing to describe');

  const eventsPerUser: number[] = [];
  const distinctItemsPerUser: number[] = [];
  const sessionsPerUser: number[] = [];
  const sessionEvents: number[] = [];
  const sessionSeconds: number[] = [];
  const gapSeconds: number[] = [];
  let views = 0;
  let repeatViews = 0;
  let repeatViewsInSession = 0;
  let buyers = 0;
  let purchaseSessions = 0;

  interface OpenSession {
    events: number;
    firstMs: number;
    lastMs: number;
    purchased: boolean;
    viewed: Set<string>;
  }
  for (const user of users.values()) {
    // Array.prototype.sort is stable: equal timestamps keep the log's order.
    const order = user.order.sort((a, b) => events[a].timestamp - events[b].timestamp);
    const viewed = new Set<string>();
    const items = new Set<string>();
    const sessions = new Map<string, OpenSession>();
    let implicitNumber = 0;
    let lastImplicitMs = -Infinity;
    let bought = false;
    for (const index of order) {
      const event = events[index];
      let key: string;
      if (event.sessionId !== null) key = `s:${event.sessionId}`;
      else {
        if (event.timestamp - lastImplicitMs > sessionGapMs) implicitNumber++;
        lastImplicitMs = event.timestamp;
        key = `i:${implicitNumber}`;
      }
      let session = sessions.get(key);
      if (!session) {
        session = { events: 0, firstMs: event.timestamp, lastMs: event.timestamp, purchased: false, viewed: new Set() };
        sessions.set(key, session);
      } else {
        gapSeconds.push((event.timestamp - session.lastMs) / 1000);
      }
      session.events++;
      session.lastMs = event.timestamp;
      if (event.itemId !== null) items.add(event.itemId);
      if (event.type === 'purchase') {
        session.purchased = true;
        bought = true;
      }
      if (event.type === 'view' && event.itemId !== null) {
        views++;
        if (viewed.has(event.itemId)) repeatViews++;
        if (session.viewed.has(event.itemId)) repeatViewsInSession++;
        viewed.add(event.itemId);
        session.viewed.add(event.itemId);
      }
    }
    eventsPerUser.push(order.length);
    distinctItemsPerUser.push(items.size);
    sessionsPerUser.push(sessions.size);
    if (bought) buyers++;
    for (const session of sessions.values()) {
      sessionEvents.push(session.events);
      sessionSeconds.push((session.lastMs - session.firstMs) / 1000);
      if (session.purchased) purchaseSessions++;
    }
  }

  const typeShares: Record<string, number> = {};
  for (const [type, count] of [...typeCounts].sort((a, b) => b[1] - a[1])) typeShares[type] = count / events.length;
  const counts = [...itemCounts.values()].sort((a, b) => b - a);
  const topCount = Math.max(1, Math.ceil(counts.length * 0.01));
  let topEvents = 0;
  for (let i = 0; i < Math.min(topCount, counts.length); i++) topEvents += counts[i];

  return {
    events: events.length,
    users: users.size,
    items: itemCounts.size,
    sessions: sessionEvents.length,
    spanHours: (lastMs - firstMs) / 3_600_000,
    eventsPerUser: spreadOf(eventsPerUser),
    distinctItemsPerUser: spreadOf(distinctItemsPerUser),
    sessionsPerUser: spreadOf(sessionsPerUser),
    repeatViewShare: views === 0 ? 0 : repeatViews / views,
    repeatViewShareInSession: views === 0 ? 0 : repeatViewsInSession / views,
    sessionEvents: spreadOf(sessionEvents),
    sessionSeconds: spreadOf(sessionSeconds),
    gapSeconds: spreadOf(gapSeconds),
    typeShares,
    buyerShare: buyers / users.size,
    purchaseSessionShare: purchaseSessions / sessionEvents.length,
    topItemsShare: itemEvents === 0 ? 0 : topEvents / itemEvents,
    itemGini: gini(counts),
    distinctItemsPerEvent: itemEvents === 0 ? 0 : itemCounts.size / itemEvents,
    nextItem: nextItemHits(events, users.values(), k),
  };
}
