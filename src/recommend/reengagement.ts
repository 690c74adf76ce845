/**
 * Re-engagement ("continue shopping"): the items a user already touched, ranked by how strongly and
 * how lately they engaged with each. Pure: it reads only the events and options it is given, so
 * serving (`continueShopping`, the REENGAGEMENT source of `recommendations`) and offline evaluation
 * call the very same function.
 */
import type { Ranked } from './candidates';
import { DEFAULT_EVENT_WEIGHTS, ITEM_EVENT_TYPES, PURCHASE } from './item-events';

/**
 * One user's item events as parallel arrays, in any order: `items[n]` (items.id) was touched by an
 * event of type `types[n]` (an index into ITEM_EVENT_TYPES; any other code, e.g. −1 for
 * remove_from_cart or a custom type, counts nothing) at `times[n]` (epoch ms).
 */
export interface UserItemEvents {
  items: ArrayLike<number>;
  types: ArrayLike<number>;
  times: ArrayLike<number>;
}

/** Weight of each ITEM_EVENT_TYPES code (view, fav, cart, checkout, purchase): the same as everywhere else, 1 / 2 / 3 / 3 / 5. */
export const REENGAGEMENT_TYPE_WEIGHTS: readonly number[] = ITEM_EVENT_TYPES.map((type) => DEFAULT_EVENT_WEIGHTS[type]);

/** An event counts half as much as one this much newer (72 hours, as POPULARITY's default half-life). */
export const REENGAGEMENT_HALF_LIFE_MS = 72 * 3_600_000;

export interface ReengagementOptions {
  /** Weight per ITEM_EVENT_TYPES code; codes beyond its length count 0. Default REENGAGEMENT_TYPE_WEIGHTS. */
  typeWeights?: readonly number[];
  /** Half-life of an event's weight, in ms (> 0). Default REENGAGEMENT_HALF_LIFE_MS. */
  halfLifeMs?: number;
  /** Only events at or before this instant (epoch ms) count, purchases included; default: all. */
  asOfMs?: number | null;
  /** Items bought beyond the events given (serving reads the user's purchases over all time); a purchase event among the events counts too. */
  purchased?: ReadonlySet<number>;
  /** Whether a bought item may still be proposed (catalogue `repeatable`); default: never. */
  keepPurchased?: (item: number) => boolean;
  /** Whether an item may be proposed at all (catalogue `available`); default: every item. */
  available?: (item: number) => boolean;
  /** At most this many items; default: every scored item. */
  limit?: number;
}

/**
 * Scores and ranks the items of a user's events:
 *
 *   score(i) = Σ over the events e of item i with tₑ ≤ asOf of  w(typeₑ) · 2^(−(t_ref − tₑ) / halfLife)
 *
 * where t_ref is the newest counted-in time (the newest event at or before asOf), so the newest
 * view scores 1 and a score does not depend on when the question is asked. (Ranking would be the
 * same for any t_ref: it only scales all of a user's scores by one factor.) Items with a purchase
 * (an event here, or in `purchased`) are left out unless `keepPurchased` says otherwise, so are
 * items `available` rejects and items scoring 0 (only weightless events).
 *
 * Returns the items best first: higher score, then the more recently touched (newest event with a
 * weight), then the lower id; `scores[n]` is `items[n]`'s score.
 */
export function rankReengagement(events: UserItemEvents, options: ReengagementOptions = {}): Ranked {
  const typeWeights = options.typeWeights ?? REENGAGEMENT_TYPE_WEIGHTS;
  const halfLife = options.halfLifeMs ?? REENGAGEMENT_HALF_LIFE_MS;
  if (!(halfLife > 0)) throw new RangeError(`halfLifeMs must be positive (got ${halfLife})`);
  const asOf = options.asOfMs ?? Infinity;
  const { items, types, times } = events;
  const count = items.length;

  let reference = -Infinity;
  for (let n = 0; n < count; n++) if (times[n] <= asOf && times[n] > reference) reference = times[n];
  const engaged = new Map<number, { score: number; lastTouch: number }>();
  const bought = new Set<number>();
  for (let n = 0; n < count; n++) {
    const time = times[n];
    if (!(time <= asOf)) continue;
    const type = types[n];
    if (type === PURCHASE) bought.add(items[n]);
    const weight = type >= 0 && type < typeWeights.length ? typeWeights[type] : 0;
    if (!(weight > 0)) continue;
    const contribution = weight * Math.pow(2, -(reference - time) / halfLife);
    const entry = engaged.get(items[n]);
    if (!entry) engaged.set(items[n], { score: contribution, lastTouch: time });
    else {
      entry.score += contribution;
      if (time > entry.lastTouch) entry.lastTouch = time;
    }
  }

  const keepPurchased = options.keepPurchased ?? (() => false);
  const available = options.available ?? (() => true);
  const purchased = options.purchased;
  const ranked = [...engaged]
    .filter(([item, entry]) => entry.score > 0 && available(item) && (!(bought.has(item) || purchased?.has(item)) || keepPurchased(item)))
    .sort(([a, x], [b, y]) => y.score - x.score || y.lastTouch - x.lastTouch || a - b);
  const length = Math.min(ranked.length, options.limit ?? ranked.length);
  const result: Ranked = { items: [], scores: [], length };
  for (let n = 0; n < length; n++) {
    result.items.push(ranked[n][0]);
    result.scores.push(ranked[n][1].score);
  }
  return result;
}
