import { DriverFactor, DriverTally, factorId } from './driver-factors';
import { reportDrivers } from './drivers-report';
import { encodeFactor, decodeFactor, factorLabel } from './funnel-drivers';

const property = (key: string, value: string): DriverFactor => ({ kind: 'stepProperty', key, value, range: null });
const did = (type: string): DriverFactor => ({ kind: 'eventType', key: type, value: 'done', range: null });

function tallyOf(reached: number, converted: number, factors: [DriverFactor, number, number][]): DriverTally {
  return { reached, converted, factorIds: factors.map(([factor]) => factorId(factor)), withFactor: factors.map(([, units]) => units), withFactorConverted: factors.map(([, , c]) => c) };
}

describe('reportDrivers', () => {
  // 1,000 units reached the step, 200 converted.
  const tally = tallyOf(1000, 200, [
    [property('channel', '"email"'), 100, 50], // 50 of 100 against 150 of 900: strongly positive
    [property('channel', '"social"'), 300, 30], // 30 of 300 against 170 of 700: negative
    [property('channel', '"ads"'), 600, 120], // 120 of 600 against 80 of 400: exactly the base rate
    [did('fav'), 20, 10], // below a minimum support of 30 on the "with" side
    [property('device', '"desktop"'), 990, 198], // below it on the "without" side (10 units)
  ]);

  it('tests factors with enough units on both sides, and splits them by the sign of a significant odds ratio', () => {
    const report = reportDrivers(tally, { minSupport: 30, alpha: 0.05, top: 10 });
    expect(report).toMatchObject({ reached: 1000, converted: 200, tested: 3, belowSupport: 2 });
    expect(report.positive.map((entry) => entry.factor.value)).toEqual(['"email"']);
    expect(report.negative.map((entry) => entry.factor.value)).toEqual(['"social"']);
    const email = report.positive[0];
    // a = 50, b = 50, c = 150, d = 750: OR = 50·750/(50·150) = 5.
    expect(email).toMatchObject({ convertersWith: 50, dropOffsWith: 50, convertersWithout: 150, dropOffsWithout: 750 });
    expect(email.oddsRatio).toBeCloseTo(5, 10);
    // ads: a = 120, b = 480, c = 80, d = 320: OR = 1 exactly, not significant, listed in `all` between the others.
    const ads = report.all.find((entry) => entry.factor.value === '"ads"')!;
    expect(ads.oddsRatio).toBeCloseTo(1, 12);
    expect(ads.significant).toBe(false);
    expect(report.all.map((entry) => entry.factor.value)).toEqual(['"email"', '"ads"', '"social"']);
    // Benjamini–Hochberg over the three tested: the largest p-value is its own q-value.
    expect(ads.qValue).toBeCloseTo(ads.pValue, 12);
  });

  it('keeps `top` per side and checks its options', () => {
    expect(reportDrivers(tally, { minSupport: 1, alpha: 0.05, top: 1 }).positive).toHaveLength(1);
    expect(() => reportDrivers(tally, { minSupport: 0, alpha: 0.05, top: 1 })).toThrow(RangeError);
    expect(() => reportDrivers(tally, { minSupport: 1, alpha: 1, top: 1 })).toThrow(RangeError);
  });

  it('bands a property with many numeric values into quartiles of the units, the last band open', () => {
    // Prices 1..40, 10 units each (400 units), plus 100 units without a price.
    const prices: [DriverFactor, number, number][] = Array.from({ length: 40 }, (_, n) => [property('price', String(n + 1)), 10, n < 10 ? 5 : 1]);
    const report = reportDrivers(tallyOf(500, 90, [...prices, [property('price', '(missing)'), 100, 25]]), { minSupport: 1, alpha: 0.05, top: 10 });
    const bands = report.all.filter((entry) => entry.factor.range !== null).sort((x, y) => x.factor.range![0] - y.factor.range![0]);
    expect(bands.map((entry) => entry.factor.range)).toEqual([[1, 11], [11, 21], [21, 31], [31, null]]);
    expect(bands.map((entry) => entry.convertersWith + entry.dropOffsWith)).toEqual([100, 100, 100, 100]);
    expect(bands[0].convertersWith).toBe(50);
    expect(report.all.filter((entry) => entry.factor.value === '(missing)')).toHaveLength(1);
    expect(report.positive[0].factor.range).toEqual([1, 11]);
  });

  it('tests only the most common values of a long-tailed text property', () => {
    const values: [DriverFactor, number, number][] = Array.from({ length: 30 }, (_, n) => [property('category', JSON.stringify(`c${n}`)), 100 - n, 10]);
    const report = reportDrivers(tallyOf(5000, 500, values), { minSupport: 1, alpha: 0.05, top: 10 });
    expect(report.tested).toBe(20);
    expect(report.all.some((entry) => entry.factor.value === '"c20"')).toBe(false);
    expect(report.all.some((entry) => entry.factor.value === '"c19"')).toBe(true);
  });
});

describe('factor codes and labels', () => {
  it('round-trips every kind and refuses text that is not a factor', () => {
    const factors: DriverFactor[] = [
      property('device', '"mobile"'),
      property('device', '(missing)'),
      { kind: 'stepProperty', key: 'price', value: null, range: [12.5, null] },
      { kind: 'hourOfDay', key: 'utc', value: '18', range: null },
      did('fav'),
      { kind: 'userProperty', key: 'plan', value: '"pro"', range: null },
    ];
    for (const factor of factors) expect(decodeFactor(encodeFactor(factor))).toEqual(factor);
    expect(factors.map(factorLabel)).toEqual(['device = mobile', 'device not set', 'price ≥ 12.5', 'step event at 18:00–24:00 UTC', 'did fav between the steps', 'user plan = pro']);
    const cohort: DriverFactor = { kind: 'cohort', key: 'vip', value: 'member', range: null, cohort: { userIds: ['u1'], userProperties: [{ property: 'plan', op: 'eq', value: 'pro' }] } };
    expect(decodeFactor(encodeFactor(cohort))).toEqual(cohort);
    expect(factorLabel(cohort)).toBe('in cohort vip');
    // A cohort code carries its definition; without one, or with another value, it is no factor.
    for (const id of ['["cohort","vip","member",null]', '["cohort","vip","member",null,null]', '["cohort","vip","other",null,{"userIds":["u1"]}]', '["cohort","vip","member",null,{"userIds":[1]}]']) {
      expect(decodeFactor(Buffer.from(id).toString('base64url'))).toBeNull();
    }
    for (const text of ['', 'not-a-factor', Buffer.from('[1,2,3]').toString('base64url'), Buffer.from('["nope","k","v",null]').toString('base64url'), Buffer.from('["stepProperty","k","{bad",null]').toString('base64url')]) {
      expect(decodeFactor(text)).toBeNull();
    }
  });
});
