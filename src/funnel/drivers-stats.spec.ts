import { benjaminiHochberg, fisherExactTwoSided, oddsRatio } from './drivers-stats';

describe('oddsRatio', () => {
  it("gives (a·d)/(b·c) with Woolf's interval (worked by hand)", () => {
    // ln 2.25 = 0.810930; SE = √(1/20 + 1/80 + 1/10 + 1/90) = √0.173611 = 0.416667;
    // exp(0.810930 ∓ 1.959964 · 0.416667) = exp(−0.005722), exp(1.627582) = 0.99429, 5.09155.
    const estimate = oddsRatio({ a: 20, b: 80, c: 10, d: 90 });
    expect(estimate.oddsRatio).toBeCloseTo(2.25, 10);
    expect(estimate.low).toBeCloseTo(0.99429, 4);
    expect(estimate.high).toBeCloseTo(5.09155, 4);
    expect(estimate.corrected).toBe(false);
  });

  it('adds ½ to every cell when one is 0 (Haldane–Anscombe)', () => {
    // (0.5 · 5.5)/(10.5 · 5.5) = 1/21; SE = √(2 + 1/10.5 + 2/5.5) = 1.5637; exp(ln(1/21) ∓ 3.0648) = 0.002203, 1.02928.
    const estimate = oddsRatio({ a: 0, b: 10, c: 5, d: 5 });
    expect(estimate.oddsRatio).toBeCloseTo(1 / 21, 10);
    expect(estimate.low).toBeCloseTo(0.002203, 5);
    expect(estimate.high).toBeCloseTo(1.02928, 4);
    expect(estimate.corrected).toBe(true);
  });

  it('refuses negative or infinite cells', () => {
    expect(() => oddsRatio({ a: -1, b: 1, c: 1, d: 1 })).toThrow(RangeError);
    expect(() => oddsRatio({ a: 1, b: Infinity, c: 1, d: 1 })).toThrow(RangeError);
  });
});

describe('fisherExactTwoSided', () => {
  it("gives Fisher's lady tasting tea p = 34/70", () => {
    // Margins 4/4: P(x) = 1, 16, 36, 16, 1 over 70 for x = 0..4; x = 3 is as likely as 1, 0 and 4 are less.
    expect(fisherExactTwoSided({ a: 3, b: 1, c: 1, d: 3 })).toBeCloseTo(34 / 70, 12);
  });

  it("gives the dieting example's two-sided p (Wikipedia, Fisher's exact test): 5412 / 1961256", () => {
    // Men 1 dieting, 11 not; women 9 dieting, 3 not. C(24,10) = 1961256; C(12,1)·C(12,9) = 2640 and
    // C(12,0)·C(12,10) = 66, on both sides: (2·2640 + 2·66)/1961256 = 0.0027595.
    expect(fisherExactTwoSided({ a: 1, b: 11, c: 9, d: 3 })).toBeCloseTo(5412 / 1961256, 12);
    expect(fisherExactTwoSided({ a: 0, b: 5, c: 5, d: 0 })).toBeCloseTo(2 / 252, 12);
  });

  it('is 1 for a table at its expected counts, and for an empty table', () => {
    expect(fisherExactTwoSided({ a: 50, b: 50, c: 50, d: 50 })).toBeCloseTo(1, 12);
    expect(fisherExactTwoSided({ a: 0, b: 0, c: 0, d: 0 })).toBe(1);
  });

  it('agrees with a direct sum over every table on large counts', () => {
    for (const table of [
      { a: 120, b: 880, c: 80, d: 920 },
      { a: 3, b: 4000, c: 30, d: 9000 },
      { a: 700, b: 300, c: 4100, d: 4900 },
    ]) {
      expect(Math.abs(fisherExactTwoSided(table) - directFisher(table.a, table.b, table.c, table.d))).toBeLessThan(1e-12);
    }
  });

  it('stays finite for huge, lopsided tables', () => {
    const p = fisherExactTwoSided({ a: 90_000, b: 10_000, c: 10_000, d: 90_000 });
    expect(p).toBeGreaterThanOrEqual(0);
    expect(p).toBeLessThan(1e-300);
  });
});

describe('benjaminiHochberg', () => {
  it("matches R's p.adjust(c(0.01, 0.04, 0.03, 0.005), 'BH') = 0.02 0.04 0.04 0.02", () => {
    // Sorted 0.005, 0.01, 0.03, 0.04 → 4·p/rank = 0.02, 0.02, 0.04, 0.04, then running minimum from the top.
    const adjusted = benjaminiHochberg([0.01, 0.04, 0.03, 0.005]);
    [0.02, 0.04, 0.04, 0.02].forEach((expected, i) => expect(adjusted[i]).toBeCloseTo(expected, 12));
  });

  it('caps at 1 and handles none', () => {
    expect(benjaminiHochberg([0.9, 0.8])).toEqual([0.9, 0.9]);
    expect(benjaminiHochberg([1, 1, 1])).toEqual([1, 1, 1]);
    expect(benjaminiHochberg([])).toEqual([]);
  });
});

/** Two-sided Fisher by summing every table with these margins, from log-factorials: an independent reference. */
function directFisher(a: number, b: number, c: number, d: number): number {
  const n = a + b + c + d;
  const logFactorial = [0];
  for (let i = 1; i <= n; i++) logFactorial.push(logFactorial[i - 1] + Math.log(i));
  const row = a + b;
  const column = a + c;
  const logP = (x: number): number =>
    logFactorial[row] + logFactorial[n - row] + logFactorial[column] + logFactorial[n - column] -
    logFactorial[n] - logFactorial[x] - logFactorial[row - x] - logFactorial[column - x] - logFactorial[n - row - column + x];
  const observed = logP(a);
  let p = 0;
  for (let x = Math.max(0, row + column - n); x <= Math.min(row, column); x++) {
    const value = logP(x);
    if (value <= observed + 1e-7 * Math.abs(observed)) p += Math.exp(value);
  }
  return p;
}
