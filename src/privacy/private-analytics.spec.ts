import { Rng } from '../ml/random';
import type { FunnelBreakdownGroup, FunnelResult, FunnelStepResult } from '../funnel/funnel.types';
import { eventStatsSensitivity, funnelSensitivity, privateFunnel, utcDays } from './private-analytics';

function steps(counts: number[]): FunnelStepResult[] {
  return counts.map((count, n) => ({
    index: n + 1,
    label: `s${n + 1}`,
    type: `t${n + 1}`,
    count,
    conversionFromPrevious: 0,
    conversionFromFirst: 0,
    dropOff: 0,
    timeFromPrevious: n === 0 ? null : { median: 5, p90: 9, average: 6 },
  }));
}

function group(key: string, counts: number[]): FunnelBreakdownGroup {
  return { group: key, key, value: JSON.parse(key), valueType: 'string', isOther: false, parts: [], totalUnits: counts[0], steps: steps(counts) };
}

/** Exact answer: 3 steps, groups "mobile" 60/30/10, "desktop" 30/20/10, "tablet" 10/5/0 (sums 100/55/20). */
const EXACT: FunnelResult = {
  steps: steps([100, 55, 20]),
  totalUnits: 140,
  breakdown: [group('"mobile"', [60, 30, 10]), group('"desktop"', [30, 20, 10]), group('"tablet"', [10, 5, 0])],
  comparison: null,
};

describe('privateFunnel', () => {
  it('states the L1 sensitivity: k steps, 1 for totalUnits, k more for a breakdown', () => {
    expect(funnelSensitivity(3, false)).toBe(4);
    expect(funnelSensitivity(3, true)).toBe(7);
    expect(eventStatsSensitivity(20, 5)).toBe(26);
  });

  it('with zero noise shows the listed groups in order, folds the rest into other, and withholds times', () => {
    const { result, sensitivity } = privateFunnel(EXACT, ['"desktop"', '"phone"', '"mobile"'], 1, () => 0.5);
    expect(sensitivity).toBe(7);
    expect(result.steps.map((s) => s.count)).toEqual([100, 55, 20]);
    expect(result.steps.map((s) => s.dropOff)).toEqual([0, 45, 35]);
    expect(result.steps[1].conversionFromPrevious).toBeCloseTo(0.55, 12);
    expect(result.steps[2].conversionFromFirst).toBeCloseTo(0.2, 12);
    expect(result.steps.every((s) => s.timeFromPrevious === null)).toBe(true);
    expect(result.totalUnits).toBe(140);
    const groups = result.breakdown!;
    expect(groups.map((g) => [g.key, g.isOther, g.totalUnits, g.steps.map((s) => s.count)])).toEqual([
      ['"desktop"', false, 30, [30, 20, 10]],
      ['"phone"', false, 0, [0, 0, 0]],
      ['"mobile"', false, 60, [60, 30, 10]],
      ['(other)', true, 10, [10, 5, 0]],
    ]);
    expect(groups[1]).toMatchObject({ group: 'phone', value: 'phone', valueType: 'string' });
  });

  it('adds b·ln 2 to every count when each uniform draw is 0.75 (b = 7 / ε)', () => {
    // ε = 2, sensitivity 7 (3 steps with a breakdown): b = 3.5, noise 3.5·ln 2 = 2.426 on each count.
    const { result } = privateFunnel(EXACT, ['"mobile"'], 2, () => 0.75);
    expect(result.steps.map((s) => s.count)).toEqual([102, 57, 22]);
    expect(result.totalUnits).toBe(142);
    // other = desktop + tablet = 40/25/10, plus 2.426 each.
    expect(result.breakdown!.map((g) => g.steps.map((s) => s.count))).toEqual([
      [62, 32, 12],
      [42, 27, 12],
    ]);
  });

  it('leaves counts as they are with optional steps (a later step may hold more units than a skipped one)', () => {
    const exact: FunnelResult = { steps: steps([10, 2, 6]), totalUnits: 12, breakdown: null, comparison: null };
    expect(privateFunnel(exact, null, 1, () => 0.5, { monotone: false }).result.steps.map((s) => s.count)).toEqual([10, 2, 6]);
    // Made monotone (pooled: (2 + 6) / 2 = 4 twice) when every step is required.
    expect(privateFunnel(exact, null, 1, () => 0.5).result.steps.map((s) => s.count)).toEqual([10, 4, 4]);
  });

  it('keeps noisy step counts non-increasing and never negative', () => {
    const rng = Rng.stream(5, 2);
    for (let n = 0; n < 500; n++) {
      const { result } = privateFunnel({ steps: steps([3, 2, 2, 0]), totalUnits: 3, breakdown: null, comparison: null }, null, 0.1, () => rng.next());
      const counts = result.steps.map((s) => s.count);
      for (let i = 1; i < counts.length; i++) expect(counts[i]).toBeLessThanOrEqual(counts[i - 1]);
      expect(Math.min(...counts)).toBeGreaterThanOrEqual(0);
      expect(result.totalUnits).toBeGreaterThanOrEqual(counts[0]);
    }
  });

  it('gives each count noise of variance 2(Δ/ε)² (20,000 seeded answers; rounding adds 1/12)', () => {
    // 2 steps, no breakdown: Δ = 3; ε = 0.5: b = 6, variance 72 (+1/12 for rounding). Counts 5000 and
    // 2000 lie so far apart that neither clamping nor pooling ever acts (P ≈ e^−250).
    const rng = Rng.stream(11, 3);
    const first: number[] = [];
    for (let n = 0; n < 20_000; n++) {
      const { result } = privateFunnel({ steps: steps([5000, 2000]), totalUnits: 6000, breakdown: null, comparison: null }, null, 0.5, () => rng.next());
      first.push(result.steps[0].count - 5000);
    }
    const mean = first.reduce((sum, x) => sum + x, 0) / first.length;
    const variance = first.reduce((sum, x) => sum + (x - mean) ** 2, 0) / (first.length - 1);
    // sd of the mean √(72/n) = 0.06; of the variance √(20b⁴/n) = 1.61: bounds at 5 sigma.
    expect(Math.abs(mean)).toBeLessThan(0.3);
    expect(Math.abs(variance - (72 + 1 / 12))).toBeLessThan(8);
  });
});

describe('utcDays', () => {
  it('lists every UTC day the range touches', () => {
    expect(utcDays(new Date('2026-01-30T12:00:00Z'), new Date('2026-02-02T00:00:00Z'))).toEqual(['2026-01-30', '2026-01-31', '2026-02-01']);
    expect(utcDays(new Date('2026-01-30T00:00:00Z'), new Date('2026-01-30T00:00:01Z'))).toEqual(['2026-01-30']);
  });
});
