import {
  aggregateFunnel,
  breakdownFunnel,
  durationsBetween,
  FunnelUnitLevels,
  mergeTallies,
  percentile,
  reportOfTally,
  tallyFunnel,
  timeToConvertHistogram,
} from './funnel-aggregate';

/**
 * Six units of a 3-step funnel, numbers worked by hand:
 *   u0 level 3 at 0, 10, 40      u1 level 3 at 100, 130, 150   u2 level 2 at 0, 20
 *   u3 level 1 at 5              u4 level 0                    u5 level 2 at 0, 50
 */
function sixUnits(): FunnelUnitLevels {
  const N = NaN;
  return {
    stepCount: 3,
    levels: Uint8Array.from([3, 3, 2, 1, 0, 2]),
    stepTimes: Float64Array.from([0, 10, 40, 100, 130, 150, 0, 20, N, 5, N, N, N, N, N, 0, 50, N]),
  };
}

describe('aggregateFunnel', () => {
  it('counts units at or past each step, with conversion and drop-off', () => {
    const report = aggregateFunnel(sixUnits());
    expect(report.unitCount).toBe(6);
    expect(report.steps.map((s) => s.count)).toEqual([5, 4, 2]);
    expect(report.steps.map((s) => s.conversionFromPrevious)).toEqual([1, 0.8, 0.5]);
    expect(report.steps.map((s) => s.conversionFromFirst)).toEqual([1, 0.8, 0.4]);
    expect(report.steps.map((s) => s.dropOff)).toEqual([0, 1, 2]);
  });

  it('summarises time from the previous step over units that reached the step', () => {
    const [first, second, third] = aggregateFunnel(sixUnits()).steps;
    expect(first.timeFromPrevious).toBeNull();
    // Step 1 → 2 over u0, u1, u2, u5: 10, 30, 20, 50 → sorted 10 20 30 50.
    expect(second.timeFromPrevious).toEqual({ median: 25, p90: 44, average: 27.5 });
    // Step 2 → 3 over u0, u1: 30, 20.
    expect(third.timeFromPrevious).toEqual({ median: 25, p90: 29, average: 25 });
  });

  it('handles no units and empty steps without dividing by zero', () => {
    const report = aggregateFunnel({ stepCount: 2, levels: new Uint8Array(0), stepTimes: new Float64Array(0) });
    expect(report.steps).toEqual([
      { step: 1, count: 0, conversionFromPrevious: 0, conversionFromFirst: 0, dropOff: 0, timeFromPrevious: null },
      { step: 2, count: 0, conversionFromPrevious: 0, conversionFromFirst: 0, dropOff: 0, timeFromPrevious: null },
    ]);
  });
});

describe('percentile', () => {
  it('interpolates between the nearest ranks', () => {
    const oneToTen = Float64Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(percentile(oneToTen, 0.5)).toBe(5.5);
    expect(percentile(oneToTen, 0.9)).toBeCloseTo(9.1, 12);
    expect(percentile(Float64Array.from([7]), 0.9)).toBe(7);
  });
});

describe('timeToConvertHistogram', () => {
  it('buckets durations between any two steps with given edges', () => {
    // Step 1 → 2: 10, 30, 20, 50; 50 lies past the last edge.
    expect(timeToConvertHistogram(sixUnits(), 1, 2, { edges: [0, 20, 40] })).toEqual([
      { start: 0, end: 20, count: 1 },
      { start: 20, end: 40, count: 2 },
    ]);
    // The last bucket includes its end.
    expect(timeToConvertHistogram(sixUnits(), 1, 3, { edges: [0, 45, 50] })).toEqual([
      { start: 0, end: 45, count: 1 },
      { start: 45, end: 50, count: 1 },
    ]);
  });

  it('makes equal-width buckets from the shortest to the longest duration', () => {
    // Step 1 → 3: 40 and 50.
    expect(timeToConvertHistogram(sixUnits(), 1, 3, { bucketCount: 2 })).toEqual([
      { start: 40, end: 45, count: 1 },
      { start: 45, end: 50, count: 1 },
    ]);
    expect(timeToConvertHistogram(sixUnits(), 2, 3, { bucketCount: 4, edges: undefined }).map((b) => b.count)).toEqual([
      1, 0, 0, 1,
    ]);
  });

  it('returns one bucket when every duration is equal, and none without converters', () => {
    const same: FunnelUnitLevels = { stepCount: 2, levels: Uint8Array.from([2, 2]), stepTimes: Float64Array.from([0, 5, 10, 15]) };
    expect(timeToConvertHistogram(same, 1, 2)).toEqual([{ start: 5, end: 5, count: 2 }]);
    const none: FunnelUnitLevels = { stepCount: 2, levels: Uint8Array.from([1]), stepTimes: Float64Array.from([0, NaN]) };
    expect(timeToConvertHistogram(none, 1, 2)).toEqual([]);
  });

  it('rejects steps out of order', () => {
    expect(() => timeToConvertHistogram(sixUnits(), 2, 2)).toThrow(RangeError);
  });
});

describe('breakdownFunnel', () => {
  const devices = ['mobile', 'desktop', 'mobile', 'tablet', 'tablet', 'tv'];

  it('keeps the top groups by step-1 count (ties by key) and folds the rest into "other"', () => {
    const groups = breakdownFunnel(sixUnits(), devices, { topN: 2 });
    expect(groups.map((g) => [g.key, g.isOther])).toEqual([
      ['mobile', false],
      ['desktop', false],
      ['other', true],
    ]);
    const [mobile, desktop, other] = groups.map((g) => g.report);
    expect(mobile.unitCount).toBe(2);
    expect(mobile.steps.map((s) => s.count)).toEqual([2, 2, 1]);
    // u0 and u2: 10 and 20.
    expect(mobile.steps[1].timeFromPrevious).toEqual({ median: 15, p90: 19, average: 15 });
    expect(desktop.steps.map((s) => s.count)).toEqual([1, 1, 1]);
    // tablet (u3, u4) and tv (u5).
    expect(other.unitCount).toBe(3);
    expect(other.steps.map((s) => s.count)).toEqual([2, 1, 0]);
    expect(other.steps.map((s) => s.dropOff)).toEqual([0, 1, 1]);
  });

  it('adds no "other" group when every group fits', () => {
    expect(breakdownFunnel(sixUnits(), devices).map((g) => g.key)).toEqual(['mobile', 'desktop', 'tablet', 'tv']);
  });
});

describe('optional steps (FUNNEL-SEMANTICS.md "Controls")', () => {
  // Step 2 optional. u0 skipped it (level 3), u1 did every step, u2 stopped at step 2.
  const results = {
    levels: Uint8Array.from([3, 3, 2]),
    stepTimes: Float64Array.from([0, NaN, 10, 0, 5, 7, 0, 4, NaN]),
    stepCount: 3,
    optional: [false, true, false],
  };

  it('counts a step for the units whose chain filled it, compares with the nearest earlier required step, times from the last filled step', () => {
    const report = reportOfTally(tallyFunnel(results));
    expect(report.steps.map((step) => step.count)).toEqual([3, 2, 2]);
    expect(report.steps.map((step) => step.conversionFromPrevious)).toEqual([1, 2 / 3, 2 / 3]);
    expect(report.steps.map((step) => step.dropOff)).toEqual([0, 1, 1]);
    // Step 2: u1 5, u2 4; step 3: u0 10 (from step 1), u1 2.
    expect(Array.from(tallyFunnel(results).durations[1])).toEqual([4, 5]);
    expect(Array.from(tallyFunnel(results).durations[2])).toEqual([2, 10]);
  });

  it('merges tallies of disjoint units into the tally of their union (split funnels)', () => {
    const merged = mergeTallies([tallyFunnel(results, [0]), tallyFunnel(results, [1, 2])]);
    expect(reportOfTally(merged)).toEqual(reportOfTally(tallyFunnel(results)));
  });

  it('leaves units that skipped fromStep or toStep out of durationsBetween', () => {
    expect(Array.from(durationsBetween(results, 2, 3))).toEqual([2]);
    expect(Array.from(durationsBetween(results, 1, 3))).toEqual([10, 7]);
  });
});
