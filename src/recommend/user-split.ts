import type { HeldOutUser } from '../ml/evaluation';
import { DenseIndex } from './interactions';
import { historyFromEvents, HistoryItem } from './fold-in';
import { Basket } from './item-similarity';
import { ItemEventLog, PURCHASE } from './item-events';

/** Events of a log (the kept or the held-out ones), items as dense indices 0…n−1 (in first-seen order). */
export interface IndexedEvents {
  users: Int32Array;
  sessions: Int32Array;
  items: Int32Array;
  weights: Float32Array;
  types: Uint8Array;
  times: Float64Array;
}

/**
 * The harness's cases for a user-level recommender, from an event log, by a per-user holdout: each
 * user with at least two weighted events keeps their earliest events as history and has their
 * latest `holdoutFraction` (at least one event, at least one kept) held out, so every active user
 * counts, however early or late their activity lies in the range, and one stray event months
 * before the rest moves nothing. The models are trained on everyone's kept events (`before`).
 *
 * - `cases`: relevant = every item the user touched in their held-out events (coming back to an
 *   item counts: it is what a shop's "continue shopping" shelf is for); excluded = what they
 *   bought before.
 * - `discoveryCases`: relevant = the held-out items the user had not touched before; excluded =
 *   everything they touched before (a discovery surface never shows those). Users whose held-out
 *   events only revisit old items are not in it.
 *
 * Items first seen in held-out events get indices past `trainedItemCount` (no model can
 * recommend them; they count as misses).
 */
export interface UserSplit {
  items: DenseIndex;
  trainedItemCount: number;
  before: IndexedEvents;
  cases: HeldOutUser[];
  discoveryCases: HeldOutUser[];
  historyBefore: Map<number, HistoryItem[]>;
  /** Each evaluated user's kept events, most recent first: what recently-viewed baselines read. */
  eventsBefore: Map<number, UserEvents>;
  /** The holdout rule in words, for the version's metrics. */
  protocol: string;
  /** Time (ms) of the earliest held-out event (Infinity when none): a model fitted on `before` saw every user's events until then. */
  heldOutFrom: number;
}

/** One user's events as parallel arrays, most recent first. */
export interface UserEvents {
  items: Int32Array;
  types: Uint8Array;
  weights: Float32Array;
  times: Float64Array;
}

export function indexEvents(log: ItemEventLog, weights: Float32Array, keep: (n: number) => boolean, items: DenseIndex): IndexedEvents {
  const selected: number[] = [];
  for (let n = 0; n < log.items.length; n++) if (weights[log.types[n]] > 0 && keep(n)) selected.push(n);
  return {
    users: Int32Array.from(selected, (n) => log.users[n]),
    sessions: Int32Array.from(selected, (n) => log.sessions[n]),
    items: Int32Array.from(selected, (n) => items.add(log.items[n])),
    weights: Float32Array.from(selected, (n) => weights[log.types[n]]),
    types: Uint8Array.from(selected, (n) => log.types[n]),
    times: Float64Array.from(selected, (n) => log.times[n]),
  };
}

/**
 * Marks the held-out events of a (user, time)-ordered log: for each user's run of events with a
 * positive weight, the last max(1, round(fraction · n)) of them, leaving at least one (users with a
 * single weighted event are not evaluated: they have no history).
 */
export function perUserHoldout(log: ItemEventLog, weights: Float32Array, holdoutFraction: number): Uint8Array {
  const heldOut = new Uint8Array(log.items.length);
  for (let start = 0; start < log.users.length; ) {
    let end = start;
    const weighted: number[] = [];
    while (end < log.users.length && log.users[end] === log.users[start]) {
      if (weights[log.types[end]] > 0) weighted.push(end);
      end++;
    }
    if (weighted.length >= 2) {
      const count = Math.min(weighted.length - 1, Math.max(1, Math.round(holdoutFraction * weighted.length)));
      for (let n = weighted.length - count; n < weighted.length; n++) heldOut[weighted[n]] = 1;
    }
    start = end;
  }
  return heldOut;
}

export function splitUsers(log: ItemEventLog, holdoutFraction: number, weights: Float32Array, historyLimit: number): UserSplit {
  const protocol = `per user: the latest ${Math.round(holdoutFraction * 100)} % of each user's weighted events held out (at least one, at least one kept)`;
  return splitByMask(log, perUserHoldout(log, weights, holdoutFraction), weights, historyLimit, protocol);
}

/**
 * The same cases by a global time split: every event at or after `splitAt` is held out, and the
 * users with events on both sides are evaluated. For models whose lists depend on "now" (decayed
 * popularity), which a per-user holdout would judge with other users' later events.
 */
export function splitUsersAt(log: ItemEventLog, splitAt: Date, weights: Float32Array, historyLimit: number): UserSplit {
  const t = splitAt.getTime();
  const heldOut = Uint8Array.from(log.times, (time) => (time >= t ? 1 : 0));
  return splitByMask(log, heldOut, weights, historyLimit, `global: every event at or after ${splitAt.toISOString()} held out`);
}

function splitByMask(log: ItemEventLog, heldOut: Uint8Array, weights: Float32Array, historyLimit: number, protocol: string): UserSplit {
  const items = new DenseIndex([]);
  const before = indexEvents(log, weights, (n) => heldOut[n] === 0, items);
  const trainedItemCount = items.size;
  const after = indexEvents(log, weights, (n) => heldOut[n] === 1, items);
  const evaluated = new Set(after.users);

  const purchased = new Map<number, Set<number>>();
  const historyBefore = new Map<number, HistoryItem[]>();
  const eventsBefore = new Map<number, UserEvents>();
  // Events are in (user, time) order: walk each user's run backwards for "most recent first".
  for (let end = before.users.length; end > 0; ) {
    let start = end - 1;
    while (start > 0 && before.users[start - 1] === before.users[end - 1]) start--;
    const user = before.users[start];
    const recentItems: number[] = [];
    const recentWeights: number[] = [];
    for (let n = end - 1; n >= start; n--) {
      recentItems.push(before.items[n]);
      recentWeights.push(before.weights[n]);
      if (before.types[n] === PURCHASE) {
        let set = purchased.get(user);
        if (!set) purchased.set(user, (set = new Set()));
        set.add(before.items[n]);
      }
    }
    historyBefore.set(user, historyFromEvents(recentItems, recentWeights, historyLimit));
    if (evaluated.has(user)) {
      eventsBefore.set(user, {
        items: before.items.slice(start, end).reverse(),
        types: before.types.slice(start, end).reverse(),
        weights: before.weights.slice(start, end).reverse(),
        times: before.times.slice(start, end).reverse(),
      });
    }
    end = start;
  }
  const relevant = new Map<number, Set<number>>();
  for (let n = 0; n < after.users.length; n++) {
    if (!historyBefore.has(after.users[n])) continue;
    let set = relevant.get(after.users[n]);
    if (!set) relevant.set(after.users[n], (set = new Set()));
    set.add(after.items[n]);
  }
  const cases: HeldOutUser[] = [];
  const discoveryCases: HeldOutUser[] = [];
  for (const [user, touched] of relevant) {
    cases.push({ user, relevant: touched, excluded: purchased.get(user) ?? new Set<number>() });
    const seen = new Set(eventsBefore.get(user)!.items);
    const fresh = new Set([...touched].filter((item) => !seen.has(item)));
    if (fresh.size > 0) discoveryCases.push({ user, relevant: fresh, excluded: seen });
  }
  const heldOutFrom = after.times.reduce((a, b) => Math.min(a, b), Infinity);
  return { items, trainedItemCount, before, cases, discoveryCases, historyBefore, eventsBefore, protocol, heldOutFrom };
}

/**
 * Baskets for item similarity: each user's history and each session, items with their strongest
 * weight among the types `weights` keeps; a basket keeps its `maxItems` most recent items.
 */
export function basketsOf(events: IndexedEvents, weights: Float32Array, group: 'user' | 'session', maxItems: number): Basket[] {
  const keys = group === 'user' ? events.users : events.sessions;
  // Events are in (user, time) order; a session's events need not be adjacent (interleaved session
  // ids), so positions are visited grouped by key (a stable sort keeps time order inside a group).
  // Session numbers grow with each session's first event, so adjacent sessions keep their order.
  const order = Int32Array.from(keys.keys());
  let grouped = true;
  for (let n = 1; n < keys.length && grouped; n++) grouped = keys[n] >= keys[n - 1];
  if (!grouped) order.sort((a, b) => keys[a] - keys[b] || a - b);
  const baskets: Basket[] = [];
  for (let end = order.length; end > 0; ) {
    let start = end - 1;
    while (start > 0 && keys[order[start - 1]] === keys[order[end - 1]] && events.users[order[start - 1]] === events.users[order[end - 1]]) start--;
    const strongest = new Map<number, number>();
    for (let p = end - 1; p >= start && strongest.size < maxItems; p--) {
      const n = order[p];
      const weight = weights[events.types[n]];
      if (weight <= 0) continue;
      strongest.set(events.items[n], Math.max(strongest.get(events.items[n]) ?? 0, weight));
    }
    if (strongest.size >= 2) baskets.push({ items: Int32Array.from(strongest.keys()), weights: Float32Array.from(strongest.values()) });
    end = start;
  }
  return baskets;
}

/** One entry per distinct (user, item) pair: what the harness's popularity baseline counts. */
export function distinctPairItems(events: IndexedEvents): number[] {
  const pairItems: number[] = [];
  const seen = new Set<string>();
  for (let n = 0; n < events.items.length; n++) {
    const key = `${events.users[n]}:${events.items[n]}`;
    if (!seen.has(key)) {
      seen.add(key);
      pairItems.push(events.items[n]);
    }
  }
  return pairItems;
}

