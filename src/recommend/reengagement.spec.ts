import { rankReengagement, UserItemEvents } from './reengagement';

const HOUR = 3_600_000;
// ITEM_EVENT_TYPES codes.
const VIEW = 0;
const FAV = 1;
const CART = 2;
const PURCHASE = 4;
const REMOVE = -1;
const T = Date.UTC(2026, 0, 10);

function log(rows: [item: number, type: number, hoursBeforeT: number][]): UserItemEvents {
  return { items: rows.map((row) => row[0]), types: rows.map((row) => row[1]), times: rows.map((row) => T - row[2] * HOUR) };
}

const pairs = (ranked: { items: number[]; scores: number[]; length: number }) => ranked.items.slice(0, ranked.length).map((item, n) => [item, ranked.scores[n]]);

describe('rankReengagement', () => {
  it('sums type weights halved every 72 hours before the newest event, and leaves purchases out', () => {
    const events = log([
      [1, VIEW, 0], // 1
      [1, VIEW, 72], // 0.5
      [2, CART, 144], // 3 · 0.25 = 0.75
      [2, REMOVE, 1], // no weight
      [3, VIEW, 216], // 0.125
      [3, FAV, 72], // 2 · 0.5 = 1  → 1.125
      [4, VIEW, 10],
      [4, PURCHASE, 9],
      [5, REMOVE, 2], // only a weightless event: not an item of the list
    ]);
    // 1: 1.5, 3: 1.125, 2: 0.75; 4 was bought.
    expect(pairs(rankReengagement(events))).toEqual([
      [1, 1.5],
      [3, 1.125],
      [2, 0.75],
    ]);
    // A repeatable item stays, with its purchase counted: 1 · 2^(−10/72) + 5 · 2^(−9/72).
    const repeatable = rankReengagement(events, { keepPurchased: (item) => item === 4 });
    expect(repeatable.items).toEqual([4, 1, 3, 2]);
    expect(repeatable.scores[0]).toBeCloseTo(Math.pow(2, -10 / 72) + 5 * Math.pow(2, -9 / 72), 12);
    // Purchases read elsewhere, unavailable items and a limit.
    expect(rankReengagement(events, { purchased: new Set([1]), available: (item) => item !== 2, limit: 5 }).items).toEqual([3]);
    expect(pairs(rankReengagement(events, { limit: 2 }))).toEqual([
      [1, 1.5],
      [3, 1.125],
    ]);
  });

  it('measures age from the newest event at or before asOf, and ignores later events, purchases included', () => {
    const events = log([
      [1, VIEW, 0],
      [2, VIEW, 24],
      [2, PURCHASE, 12],
      [3, VIEW, 48],
      [3, CART, 96],
    ]);
    // As of 20 hours before T: the newest kept event is 2's view (24 h), so 2: 1, 3: 2^(−24/72) + 3 · 2^(−72/72) = 2^(−1/3) + 1.5.
    const asOf = rankReengagement(events, { asOfMs: T - 20 * HOUR });
    expect(asOf.items).toEqual([3, 2]);
    expect(asOf.scores[0]).toBeCloseTo(Math.pow(2, -1 / 3) + 1.5, 12);
    expect(asOf.scores[1]).toBe(1);
    // Without asOf, 2 has been bought.
    expect(rankReengagement(events).items).toEqual([3, 1]);
  });

  it('breaks ties by the newer touch, then the lower id; a shorter half-life favours the recent', () => {
    const events = log([
      [7, VIEW, 72],
      [9, VIEW, 72],
      [8, VIEW, 72],
      [5, CART, 72], // 3 · 0.5 = 1.5
      [6, VIEW, 72],
      [6, VIEW, 0], // 0.5 + 1 = 1.5, touched later than 5
      [1, VIEW, 0],
    ]);
    expect(pairs(rankReengagement(events))).toEqual([
      [6, 1.5],
      [5, 1.5],
      [1, 1],
      [7, 0.5],
      [8, 0.5],
      [9, 0.5],
    ]);
    // A cart two days ago against a view now: 3 · 2^(−48/72) ≈ 1.89 beats 1; with a 24-hour half-life 3 · 2^(−2) = 0.75 does not.
    const cartOrView = log([[1, VIEW, 0], [2, CART, 48]]);
    expect(rankReengagement(cartOrView).items).toEqual([2, 1]);
    expect(pairs(rankReengagement(cartOrView, { halfLifeMs: 24 * HOUR }))).toEqual([
      [1, 1],
      [2, 0.75],
    ]);
    // Views weigh nothing: only events of weighted types count.
    expect(rankReengagement(log([[1, VIEW, 0], [2, CART, 5]]), { typeWeights: [0, 2, 3, 3, 5] }).items).toEqual([2]);
    expect(rankReengagement({ items: [], types: [], times: [] })).toEqual({ items: [], scores: [], length: 0 });
    expect(() => rankReengagement(events, { halfLifeMs: 0 })).toThrow(/halfLifeMs must be positive/);
  });
});
