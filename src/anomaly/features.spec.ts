import { extractDailyFeaturesOf, extractFeaturesOf, FEATURE_INDEX as F, ipPrefixOf, type BehaviourEvent } from './features';

const DAY0 = Date.parse('2026-01-05T00:00:00Z');
const at = (day: number, hhmmss: string) => DAY0 + day * 86_400_000 + Date.parse(`1970-01-01T${hhmmss}Z`);

/**
 * Four sessions over two UTC days:
 *   a (day 0, night, mobile, 10.0.0.1): view i1, view i2, view i3, cart i3 at 02:00:00, :10, :20, :50
 *   b (day 1, desktop, 10.0.0.7):       view i1, cart i1, purchase i1, purchase i4 at 10:00:00, 10:01:00, 10:01:40, 10:01:40
 *   c (day 1, desktop, 192.168.1.5):    view i1 at 12:00
 *   d (day 1, desktop, no ip):          view i1 at 13:00 (the same sequence as c)
 * Categories: i1, i2 → c1; i3 → c2; i4 → c3.
 */
const category: Record<string, string> = { i1: 'c1', i2: 'c1', i3: 'c2', i4: 'c3' };
const ev = (ts: number, type: string, sessionId: string, itemId: string, device: string, ip: string | null): BehaviourEvent => ({
  ts,
  type,
  sessionId,
  itemId,
  category: category[itemId],
  device,
  ip,
});
const events: BehaviourEvent[] = [
  ev(at(0, '02:00:00'), 'view', 'a', 'i1', 'mobile', '10.0.0.1'),
  ev(at(0, '02:00:10'), 'view', 'a', 'i2', 'mobile', '10.0.0.1'),
  ev(at(0, '02:00:20'), 'view', 'a', 'i3', 'mobile', '10.0.0.1'),
  ev(at(0, '02:00:50'), 'cart', 'a', 'i3', 'mobile', '10.0.0.1'),
  ev(at(1, '10:00:00'), 'view', 'b', 'i1', 'desktop', '10.0.0.7'),
  ev(at(1, '10:01:00'), 'cart', 'b', 'i1', 'desktop', '10.0.0.7'),
  ev(at(1, '10:01:40'), 'purchase', 'b', 'i1', 'desktop', '10.0.0.7'),
  ev(at(1, '10:01:40'), 'purchase', 'b', 'i4', 'desktop', '10.0.0.7'),
  ev(at(1, '12:00:00'), 'view', 'c', 'i1', 'desktop', '192.168.1.5'),
  ev(at(1, '13:00:00'), 'view', 'd', 'i1', 'desktop', null),
];

describe('extractFeatures on a hand-worked user', () => {
  const x = extractFeaturesOf(events);

  it('rates: 10 events over 2 active days; the busiest 5 minutes hold 4 events', () => {
    expect(x[F.eventsPerActiveDay]).toBe(5);
    expect(x[F.peakEventsIn5Minutes]).toBe(4);
  });

  it('gaps: burstiness (σ − μ)/(σ + μ) of the six within-session gaps, and one regular pair in three', () => {
    // Gaps in seconds: a 10, 10, 30; b 60, 40, 0. Mean 25; mean of squares (100+100+900+3600+1600+0)/6 = 1050;
    // σ = √(1050 − 625) = √425 = 20.6155; B = (20.6155 − 25)/(20.6155 + 25) = −0.096118.
    expect(x[F.burstiness]).toBeCloseTo(-0.096118, 5);
    // Pairs of positive consecutive gaps: (10,10) regular, (10,30) and (60,40) not; (40,0) is skipped.
    expect(x[F.regularGapShare]).toBeCloseTo(1 / 3, 10);
  });

  it('sessions: 6 views over 4 sessions, 3 at most; lengths 50 s, 100 s, 0, 0 average 0.625 minutes', () => {
    expect(x[F.viewsPerSession]).toBe(1.5);
    expect(x[F.maxViewsPerSession]).toBe(3);
    expect(x[F.meanSessionMinutes]).toBeCloseTo(0.625, 10);
    expect(x[F.repeatedSessionShare]).toBe(0.25); // d repeats c
  });

  it('catalogue breadth: 4 items in 3 categories', () => {
    expect(x[F.distinctItems]).toBe(4);
    expect(x[F.distinctCategories]).toBe(3);
  });

  it('buying: 2 purchases for 2 carts and 6 views, one of them (i4) never viewed', () => {
    expect(x[F.cartToPurchase]).toBe(1);
    expect(x[F.purchasesPerView]).toBeCloseTo(2 / 6, 10);
    expect(x[F.unbrowsedPurchaseShare]).toBe(0.5);
  });

  it('context: 4 of 10 events at night, 2 devices, 2 IP prefixes (10.0.0 and 192.168.1)', () => {
    expect(x[F.nightShare]).toBeCloseTo(0.4, 10);
    expect(x[F.distinctDevices]).toBe(2);
    expect(x[F.distinctIpPrefixes]).toBe(2);
  });
});

describe('extractFeatures edge cases', () => {
  it('features without data are NaN: no carts, no purchases, fewer than two gaps, no device or IP', () => {
    const x = extractFeaturesOf([{ ts: at(0, '12:00:00'), type: 'view', sessionId: 's', itemId: 'i1' }]);
    expect(x[F.cartToPurchase]).toBeNaN();
    expect(x[F.unbrowsedPurchaseShare]).toBeNaN();
    expect(x[F.burstiness]).toBeNaN();
    expect(x[F.regularGapShare]).toBeNaN();
    expect(x[F.distinctDevices]).toBeNaN();
    expect(x[F.distinctIpPrefixes]).toBeNaN();
    expect(x[F.purchasesPerView]).toBe(0);
    expect(x[F.repeatedSessionShare]).toBe(0);
  });

  it('events without a session id are split by 30 minutes of inactivity', () => {
    // 12:00, 12:10 (one session), 12:45 (35 minutes later: a second one) → 3 views over 2 sessions.
    const x = extractFeaturesOf(['12:00:00', '12:10:00', '12:45:00'].map((t) => ({ ts: at(0, t), type: 'view', itemId: 'i1' })));
    expect(x[F.viewsPerSession]).toBe(1.5);
    expect(x[F.meanSessionMinutes]).toBe(5); // (10 + 0) / 2
  });

  it('a metronome scores burstiness near −1 and every gap pair regular', () => {
    const x = extractFeaturesOf(Array.from({ length: 50 }, (_, i) => ({ ts: at(0, '03:00:00') + i * 1500, type: 'view', sessionId: 's', itemId: `i${i}` })));
    expect(x[F.burstiness]).toBe(-1);
    expect(x[F.regularGapShare]).toBe(1);
    expect(x[F.peakEventsIn5Minutes]).toBe(50);
  });

  it('IP prefixes: /24 for IPv4, the first three groups for IPv6, null otherwise', () => {
    expect(ipPrefixOf('203.0.113.77')).toBe('203.0.113');
    expect(ipPrefixOf('2001:db8:85a3::8a2e:370:7334')).toBe('2001:db8:85a3');
    expect(ipPrefixOf('not an ip')).toBeNull();
  });
});

describe('features per UTC day (what the detectors see)', () => {
  const [day0, day1] = extractDailyFeaturesOf(events);

  it('splits the hand-worked user into its two active days', () => {
    expect(extractDailyFeaturesOf(events).map((d) => d.day)).toEqual(['2026-01-05', '2026-01-06']);
  });

  it('day 0: session a alone — 4 events, all at night, gaps 10, 10, 30 s', () => {
    const x = day0.features;
    expect(x[F.eventsPerActiveDay]).toBe(4);
    expect(x[F.peakEventsIn5Minutes]).toBe(4);
    // μ = 50/3, mean of squares 1100/3, σ = √(1100/3 − 2500/9) = √(800/9) = 9.428; B = (9.428 − 16.667)/(9.428 + 16.667) = −0.27740.
    expect(x[F.burstiness]).toBeCloseTo(-0.2774, 4);
    expect(x[F.regularGapShare]).toBe(0.5); // (10,10) regular, (10,30) not
    expect(x[F.viewsPerSession]).toBe(3);
    expect(x[F.maxViewsPerSession]).toBe(3);
    expect(x[F.meanSessionMinutes]).toBeCloseTo(50 / 60, 10);
    expect(x[F.distinctItems]).toBe(3);
    expect(x[F.distinctCategories]).toBe(2);
    expect(x[F.cartToPurchase]).toBe(0); // one cart, no purchase that day
    expect(x[F.purchasesPerView]).toBe(0);
    expect(x[F.unbrowsedPurchaseShare]).toBeNaN();
    expect(x[F.nightShare]).toBe(1);
    expect(x[F.repeatedSessionShare]).toBe(0);
    expect(x[F.distinctDevices]).toBe(1);
    expect(x[F.distinctIpPrefixes]).toBe(1);
  });

  it('day 1: sessions b, c, d — 6 events in daytime; i1 viewed that day, i4 never', () => {
    const x = day1.features;
    expect(x[F.eventsPerActiveDay]).toBe(6);
    expect(x[F.peakEventsIn5Minutes]).toBe(4); // b's four events within 100 s
    // Gaps 60, 40, 0: μ = 100/3, mean of squares 5200/3, σ = √(5200/3 − 10000/9) = √(5600/9) = 24.944; B = (24.944 − 33.333)/(24.944 + 33.333) = −0.14395.
    expect(x[F.burstiness]).toBeCloseTo(-0.14395, 4);
    expect(x[F.regularGapShare]).toBe(0); // (60,40) not regular; (40,0) skipped
    expect(x[F.viewsPerSession]).toBe(1);
    expect(x[F.maxViewsPerSession]).toBe(1);
    expect(x[F.meanSessionMinutes]).toBeCloseTo(100 / 60 / 3, 10);
    expect(x[F.distinctItems]).toBe(2);
    expect(x[F.distinctCategories]).toBe(2);
    expect(x[F.cartToPurchase]).toBe(2);
    expect(x[F.purchasesPerView]).toBeCloseTo(2 / 3, 10);
    expect(x[F.unbrowsedPurchaseShare]).toBe(0.5);
    expect(x[F.nightShare]).toBe(0);
    expect(x[F.repeatedSessionShare]).toBeCloseTo(1 / 3, 10); // d repeats c
    expect(x[F.distinctDevices]).toBe(1);
    expect(x[F.distinctIpPrefixes]).toBe(2);
  });

  it('a session running past midnight counts on each day with its part there', () => {
    const late = [
      { ts: at(0, '23:59:00'), type: 'view', sessionId: 's', itemId: 'i1' },
      { ts: at(0, '23:59:30'), type: 'view', sessionId: 's', itemId: 'i2' },
      { ts: at(1, '00:00:30'), type: 'view', sessionId: 's', itemId: 'i3' },
    ];
    const [before, after] = extractDailyFeaturesOf(late);
    expect(before.features[F.eventsPerActiveDay]).toBe(2);
    expect(before.features[F.meanSessionMinutes]).toBe(0.5);
    expect(after.features[F.eventsPerActiveDay]).toBe(1);
    expect(after.features[F.nightShare]).toBe(1);
  });
});
