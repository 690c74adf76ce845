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
      'past purchases': l(1),
      'amount spent': l(20),
      'carts without a later purchase': 0, // the one cart was bought on day 5
      'checkouts without a later purchase': 0,
      'hours since last view': l(120), // day 5 to day 10
      'never viewed': 0,
      'hours since last cart': l(240 - 1 / 60), // a minute after the start
      'never carted': 0,
      'hours since last checkout': l(1440), // never: the 60-day cap
      'never checked out': 1,
      'hours since last purchase': l(120 - 2 / 60), // two minutes after day 5
      'never purchased': 0,
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
    const byName = Object.fromEntries(USER_FEATURES.map((f, i) => [f.name, values[i]]));
    expect(byName['days since last visit']).toBeCloseTo(Math.log1p(60), 6); // capped at 60 days
    expect(byName.visits).toBe(0);
    expect(byName['past purchases']).toBe(0);
    for (const stage of ['view', 'cart', 'checkout', 'purchase']) expect(byName[`hours since last ${stage}`]).toBeCloseTo(Math.log1p(60 * 24), 6);
    expect([byName['never viewed'], byName['never carted'], byName['never checked out'], byName['never purchased']]).toEqual([1, 1, 1, 1]);
  });

  it('counts carts and checkouts after the last purchase, and reads nothing at or after the cutoff', () => {
    // After the history above: a new cart on day 6 and its checkout 30 s later, not bought before
    // day 10; then a purchase exactly at the cutoff and a view a day later, which must not count.
    const later = [
      ...history,
      ev('cart', 6 * DAY, 'c', { price: 30 }),
      ev('checkout', 6 * DAY + 30 * SEC, 'c', { price: 30 }),
      ev('purchase', 10 * DAY, 'd', { price: 30 }),
      ev('view', 11 * DAY, 'e'),
    ];
    const values = Array.from(userFeatures(later, 10 * DAY));
    const byName = Object.fromEntries(USER_FEATURES.map((f, i) => [f.name, values[i]]));
    const l = Math.log1p;
    expect(byName['past purchases']).toBeCloseTo(l(1), 6); // the day-10 purchase is the label's, not a feature's
    expect(byName['carts without a later purchase']).toBeCloseTo(l(1), 6);
    expect(byName['checkouts without a later purchase']).toBeCloseTo(l(1), 6);
    expect(byName['items put in the cart']).toBeCloseTo(l(2), 6);
    expect(byName.events).toBeCloseTo(l(6), 6);
    expect(byName['hours since last cart']).toBeCloseTo(l(96), 6);
    expect(byName['hours since last checkout']).toBeCloseTo(l(96 - 30 / 3600), 6);
    expect(byName['never checked out']).toBe(0);
    expect(byName['hours since last view']).toBeCloseTo(l(120), 6); // still day 5's view: day 11's is after the cutoff
    expect(byName['hours since last purchase']).toBeCloseTo(l(120 - 2 / 60), 6);
    // The same as handing it only the events before the cutoff.
    expect(values).toEqual(Array.from(userFeatures(later.slice(0, 6), 10 * DAY)));
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
