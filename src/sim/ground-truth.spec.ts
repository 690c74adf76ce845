import type { ShopEvent } from '../events/event.types';
import { createDemoShop } from './generator';
import type { Channel, Device, UserLabel } from './shopper';

/** |observed − expected| allowed for a sum of independent Bernoulli draws: four standard deviations. */
function fourSigma(probabilities: number[]): number {
  return 4 * Math.sqrt(probabilities.reduce((sum, p) => sum + p * (1 - p), 0));
}

interface SessionFacts {
  userId: string;
  events: ShopEvent[];
}

describe('demo shop ground truth', () => {
  const shop = createDemoShop({ users: 20_000, days: 14, seed: 5, clickFarmShare: 0.02, fakeOrderShare: 0.01 });
  const truth = shop.groundTruth;
  const labelOf = new Map<string, UserLabel>();
  const sessions = new Map<string, SessionFacts>();
  const eventsOf = new Map<string, ShopEvent[]>();
  for (const story of shop.shoppers()) {
    labelOf.set(story.userId, story.label);
    eventsOf.set(story.userId, story.events);
    for (const event of story.events) {
      const facts = sessions.get(event.sessionId!);
      if (facts) facts.events.push(event);
      else sessions.set(event.sessionId!, { userId: event.userId, events: [event] });
    }
  }
  const sessionsLabelled = (label: UserLabel) => [...sessions.values()].filter((session) => labelOf.get(session.userId) === label);
  const has = (session: SessionFacts, type: string) => session.events.some((event) => event.type === type);

  it('draws abnormal actors in the requested shares (binomial tolerance)', () => {
    const expectShare = (count: number, users: number, share: number) => {
      expect(Math.abs(count - users * share)).toBeLessThanOrEqual(4 * Math.sqrt(users * share * (1 - share)));
    };
    const labels = [...labelOf.values()];
    expectShare(labels.filter((label) => label === 'click_farm').length, 20_000, 0.02);
    expectShare(labels.filter((label) => label === 'fake_order').length, 20_000, 0.01);
    for (const [userId, label] of labelOf) if (label !== 'genuine') expect(truth.label(userId)).toBe(label);

    const defaults = createDemoShop({ users: 200_000 }).groundTruth.summary();
    expectShare(defaults.clickFarm, 200_000, 0.01);
    expectShare(defaults.fakeOrder, 200_000, 0.005);
    expect(defaults.genuine + defaults.clickFarm + defaults.fakeOrder).toBe(200_000);
  });

  it('makes click farms machine-like: long bursts, regular second-level gaps, many items, night hours, no buying', () => {
    const bots = sessionsLabelled('click_farm');
    expect(bots.length).toBeGreaterThan(200);
    let atNight = 0;
    for (const session of bots) {
      const gaps = session.events.slice(1).map((event, i) => event.timestamp - session.events[i].timestamp);
      const mean = gaps.reduce((sum, gap) => sum + gap, 0) / gaps.length;
      const spread = Math.sqrt(gaps.reduce((sum, gap) => sum + (gap - mean) ** 2, 0) / gaps.length);
      expect(session.events.length).toBeGreaterThanOrEqual(60);
      expect(session.events.every((event) => event.type === 'view')).toBe(true);
      expect(mean).toBeLessThan(3000);
      expect(spread / mean).toBeLessThan(0.05);
      expect(new Set(session.events.map((event) => event.itemId)).size).toBeGreaterThan(session.events.length / 2);
      if (new Date(session.events[0].timestamp).getUTCHours() < 6) atNight++;
    }
    expect(atNight / bots.length).toBeGreaterThan(0.6);

    // Genuine visitors think between clicks: their typical gap is tens of seconds.
    const genuineGaps: number[] = [];
    for (const session of sessionsLabelled('genuine')) {
      const views = session.events.filter((event) => event.type === 'view');
      for (let i = 1; i < views.length; i++) genuineGaps.push(views[i].timestamp - views[i - 1].timestamp);
    }
    genuineGaps.sort((a, b) => a - b);
    expect(genuineGaps[Math.floor(genuineGaps.length / 2)]).toBeGreaterThan(10_000);
  });

  it('makes fake-order accounts buy ring items without ever browsing', () => {
    const ringItems = new Set(truth.brushingRings.flat().map((index) => `i${index}`));
    const fakes = [...labelOf].filter(([, label]) => label === 'fake_order').map(([userId]) => eventsOf.get(userId)!);
    expect(fakes.length).toBeGreaterThan(100);
    for (const events of fakes) {
      const purchases = events.filter((event) => event.type === 'purchase');
      expect(purchases.length).toBeGreaterThanOrEqual(1);
      expect(events.some((event) => event.type === 'view')).toBe(false);
      for (const purchase of purchases) expect(ringItems.has(purchase.itemId!)).toBe(true);
      expect(new Set(purchases.map((event) => event.itemId)).size).toBeLessThanOrEqual(3);
    }
    expect(truth.purchaseProbability(fakes[0][0].userId)).toBe(1);
  });

  it('makes viewed items more liked than random ones, and high-affinity views end in purchases more often', () => {
    const pairs = new Map<string, { affinity: number; bought: boolean }>();
    for (const [userId, events] of eventsOf) {
      if (labelOf.get(userId) !== 'genuine') continue;
      const user = truth.userIndexOf(userId);
      for (const event of events) {
        const key = `${userId}/${event.itemId}`;
        if (event.type === 'view' && !pairs.has(key)) pairs.set(key, { affinity: truth.trueAffinity(user, Number(event.itemId!.slice(1))), bought: false });
        if (event.type === 'purchase') pairs.get(key)!.bought = true;
      }
    }
    const viewed = [...pairs.values()].sort((a, b) => a.affinity - b.affinity);
    const quarter = Math.floor(viewed.length / 4);
    const rate = (slice: typeof viewed) => slice.filter((pair) => pair.bought).length / slice.length;
    expect(rate(viewed.slice(-quarter))).toBeGreaterThan(2 * rate(viewed.slice(0, quarter)));

    // Random pairs by a fixed stride: no generator randomness involved.
    let randomSum = 0;
    const randomPairs = 20_000;
    for (let k = 0; k < randomPairs; k++) randomSum += truth.trueAffinity((k * 7919) % 20_000, (k * 104_729) % shop.items.length);
    const viewedMean = viewed.reduce((sum, pair) => sum + pair.affinity, 0) / viewed.length;
    expect(viewedMean).toBeGreaterThan(randomSum / randomPairs + 0.05);
  });

  it('converts sessions at the rate sessionPurchaseProbability says, and desktops more than phones', () => {
    const probabilities: number[] = [];
    let purchasingSessions = 0;
    const byDevice = new Map<string, { sessions: number; converted: number }>();
    for (const [userId, events] of eventsOf) {
      if (labelOf.get(userId) !== 'genuine') continue;
      // A session that pays without carting completes the purchase of the last unpaid cart before it.
      let unpaidCart: { device: string } | null = null;
      for (const sessionId of new Set(events.map((event) => event.sessionId!))) {
        const session = sessions.get(sessionId)!;
        const first = session.events[0];
        const device = first.properties!.device as Device;
        const bought = has(session, 'purchase');
        if (bought) purchasingSessions++;
        if (bought && !has(session, 'cart')) {
          if (unpaidCart) byDevice.get(unpaidCart.device)!.converted++;
          unpaidCart = null;
          continue;
        }
        probabilities.push(truth.sessionPurchaseProbability(userId, device, first.properties!.channel as Channel, new Date(first.timestamp).getUTCHours()));
        const tally = byDevice.get(device) ?? { sessions: 0, converted: 0 };
        tally.sessions++;
        if (bought) tally.converted++;
        byDevice.set(device, tally);
        if (has(session, 'cart') && !bought) unpaidCart = { device };
      }
    }
    // Every conversion shows as exactly one session with purchases, in the session or on the return visit.
    const expected = probabilities.reduce((sum, p) => sum + p, 0);
    expect(Math.abs(purchasingSessions - expected)).toBeLessThanOrEqual(fourSigma(probabilities));
    const desktop = byDevice.get('desktop')!;
    const mobile = byDevice.get('mobile')!;
    expect(desktop.converted / desktop.sessions).toBeGreaterThan(mobile.converted / mobile.sessions);
  });

  it('predicts who buys at all: buyerProbability is calibrated and purchaseProbability ranks users', () => {
    const buyerChances: number[] = [];
    let buyers = 0;
    const ranked: { p: number; bought: boolean }[] = [];
    for (const [userId, label] of labelOf) {
      if (label !== 'genuine') continue;
      const bought = eventsOf.get(userId)!.some((event) => event.type === 'purchase');
      buyerChances.push(truth.buyerProbability(userId));
      if (bought) buyers++;
      ranked.push({ p: truth.purchaseProbability(userId), bought });
    }
    const expected = buyerChances.reduce((sum, p) => sum + p, 0);
    // Sessions pushed past the period's end are not made, so allow 2% on top of the noise.
    expect(Math.abs(buyers - expected)).toBeLessThanOrEqual(fourSigma(buyerChances) + 0.02 * expected);
    ranked.sort((a, b) => a.p - b.p);
    const fifth = Math.floor(ranked.length / 5);
    const rate = (slice: typeof ranked) => slice.filter((user) => user.bought).length / slice.length;
    expect(rate(ranked.slice(-fifth))).toBeGreaterThan(3 * rate(ranked.slice(0, fifth)));
  });

  it('has more genuine traffic in the evening than at night', () => {
    const byHour = new Array(24).fill(0);
    for (const session of sessionsLabelled('genuine')) byHour[new Date(session.events[0].timestamp).getUTCHours()]++;
    const evening = byHour[19] + byHour[20] + byHour[21] + byHour[22];
    const night = byHour[2] + byHour[3] + byHour[4] + byHour[5];
    expect(evening).toBeGreaterThan(5 * night);
  });

  it('answers trueAffinity in (0, 1), the same in every instance, and refuses unknown indices', () => {
    const twin = createDemoShop({ users: 20_000, days: 14, seed: 5, clickFarmShare: 0.02, fakeOrderShare: 0.01 }).groundTruth;
    for (let user = 0; user < 50; user++) {
      for (let item = 0; item < 50; item++) {
        const affinity = truth.trueAffinity(user, item);
        expect(affinity).toBeGreaterThan(0);
        expect(affinity).toBeLessThan(1);
        expect(twin.trueAffinity(user, item)).toBe(affinity);
      }
    }
    expect(() => truth.trueAffinity(20_000, 0)).toThrow(RangeError);
    expect(() => truth.trueAffinity(0, shop.items.length)).toThrow(RangeError);
    expect(() => truth.label('x7')).toThrow(RangeError);
  });
});
