import { encodeSteps, SESSION_FEATURES, sessionFeatures, STEP_LAYOUT, STEP_WIDTH, USER_FEATURES, userFeatures } from './features';
import type { PredictionEvent } from './session-events';

const SEC = 1000;
const DAY = 86_400_000;
const ev = (type: string, at: number, sessionId: string, extra: Partial<PredictionEvent> = {}): PredictionEvent => ({
  type,
  timestamp: at,
  sessionId,
  category: null,
  price: null,
  device: null,
  channel: null,
  ...extra,
});

// Two visits: a phone visit from an ad that carts an item, and an email visit five days later that buys it.
const history = [
  ev('view', 0, 'a', { device: 'mobile', channel: 'ads', category: 'shoes' }),
  ev('cart', 60 * SEC, 'a', { device: 'mobile', channel: 'ads', category: 'shoes', price: 20 }),
  ev('view', 5 * DAY, 'b', { device: 'desktop', channel: 'email', category: 'hats' }),
  ev('purchase', 5 * DAY + 120 * SEC, 'b', { device: 'desktop', channel: 'email', category: 'shoes', price: 20 }),
];

describe('userFeatures', () => {
  it('computes recency, frequency and money of a hand-worked history at day 10', () => {
    const values = Array.from(userFeatures(history, 10 * DAY));
    const byName = Object.fromEntries(USER_FEATURES.map((f, i) => [f.name, values[i]]));
    const l = Math.log1p;
    const expected: Record<string, number> = {
      'days since last visit': l(10 - 5 - 120 / 86_400),
      'days since first visit': l(10),
      visits: l(2),
      'visits in the last 7 days': l(1), // only visit b started after day 3
      events: l(4),
      'events per visit': l(2),
      'longest visit (events)': l(2),
      'views in the last 7 days': l(1),
      'items put in the cart': l(1),
      checkouts: 0,
      orders: l(1),
      'amount spent': l(20),
      'days since last cart': l(10 - 60 / 86_400),
      'days since last order': l(10 - 5 - 120 / 86_400),
      'open cart value': 0, // the cart was before the last week; the purchase in it would make it negative, floored at 0
      'carts per view': 0.5,
      'orders per visit': 0.5,
      'share of visits on a phone': 0.5,
      'share of visits from email or direct': 0.5,
      'typical seconds between clicks': l(90), // gaps 60 s and 120 s
    };
    expect(Object.keys(byName)).toEqual(Object.keys(expected));
    for (const [name, value] of Object.entries(expected)) expect([name, byName[name]]).toEqual([name, expect.closeTo(value, 6)]);
  });

  it('gives the "never" values for an empty history', () => {
    const values = userFeatures([], 10 * DAY);
    expect(values[0]).toBeCloseTo(Math.log1p(60), 6); // days since last visit capped at 60
    expect(values[2]).toBe(0);
    expect(values[13]).toBeCloseTo(Math.log1p(60), 6);
  });
});

describe('sessionFeatures', () => {
  it('adds the visit so far: counts, cart value, minutes, device, channel and hour', () => {
    const visit = [
      ev('view', 12 * DAY + 18 * 3_600_000, 'c', { device: 'tablet', channel: 'social' }),
      ev('cart', 12 * DAY + 18 * 3_600_000 + 3 * 60 * SEC, 'c', { device: 'tablet', channel: 'social', price: 50 }),
    ];
    const values = Array.from(sessionFeatures(history, visit));
    expect(values).toHaveLength(SESSION_FEATURES.length);
    const byName = Object.fromEntries(SESSION_FEATURES.map((f, i) => [f.name, values[i]]));
    expect(byName['days since first visit']).toBeCloseTo(Math.log1p(12.75), 6); // history seen from the visit's start
    expect(byName['events in this visit']).toBeCloseTo(Math.log1p(2), 6);
    expect(byName['carts in this visit']).toBeCloseTo(Math.log1p(1), 6);
    expect(byName['cart value in this visit']).toBeCloseTo(Math.log1p(50), 6);
    expect(byName['minutes in this visit']).toBeCloseTo(Math.log1p(3), 6);
    expect([byName['device: mobile'], byName['device: desktop'], byName['device: tablet']]).toEqual([0, 0, 1]);
    expect(byName['channel: social']).toBe(1);
    // 18:00 UTC is three quarters round the clock: sin = −1, cos = 0.
    expect(byName['hour of day (sine)']).toBeCloseTo(-1, 6);
    expect(byName['hour of day (cosine)']).toBeCloseTo(0, 6);
  });
});

describe('encodeSteps', () => {
  it('encodes type, gaps, category repeats, device, channel, price and position', () => {
    const out = new Float32Array(4 * STEP_WIDTH);
    encodeSteps(history, out);
    const at = (row: number, offset: number) => out[row * STEP_WIDTH + offset];
    // Row 0: a view opening a visit.
    expect(at(0, STEP_LAYOUT.type + 0)).toBe(1);
    expect(at(0, STEP_LAYOUT.gap + 1)).toBe(1);
    expect(at(0, STEP_LAYOUT.device + 0)).toBe(1);
    expect(at(0, STEP_LAYOUT.channel + 1)).toBe(1);
    // Row 1: the cart 60 s later in the same visit, same category, priced 20, second position.
    expect(at(1, STEP_LAYOUT.type + 1)).toBe(1);
    expect(at(1, STEP_LAYOUT.gap)).toBeCloseTo(Math.log1p(60) / Math.log1p(1800), 6);
    expect(at(1, STEP_LAYOUT.gap + 1)).toBe(0);
    expect(at(1, STEP_LAYOUT.category + 8)).toBe(1);
    expect(at(1, STEP_LAYOUT.price)).toBeCloseTo(Math.log1p(20) / Math.log1p(10_000), 6);
    expect(at(1, STEP_LAYOUT.position)).toBeCloseTo(1 / 30, 6);
    // Row 2: a new visit five days later: long-gap scale log1p(hours)/log1p(720), other category.
    expect(at(2, STEP_LAYOUT.gap + 1)).toBe(1);
    expect(at(2, STEP_LAYOUT.gap + 2)).toBeCloseTo(Math.log1p((5 * 24 * 3600 - 60) / 3600) / Math.log1p(720), 5);
    expect(at(2, STEP_LAYOUT.category + 8)).toBe(0);
    expect(at(2, STEP_LAYOUT.position)).toBe(0);
    // Every event sets exactly one type slot.
    for (let row = 0; row < 4; row++) expect(out.slice(row * STEP_WIDTH, row * STEP_WIDTH + 8).reduce((a, b) => a + b, 0)).toBe(1);
  });
});
