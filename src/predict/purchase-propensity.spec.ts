import { TrainingDataError } from '../training/training-errors';
import { fittedHorizonHours } from './purchase-propensity.kind';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

describe('fittedHorizonHours', () => {
  // A horizon H fits when 2·H + cutoffStep/2 < range (one horizon to evaluate, one before the first cutoff).
  it('takes a week when the range holds four of them', () => {
    expect(fittedHorizonHours(0, 28 * DAY, 24)).toBe(168);
    expect(fittedHorizonHours(0, 60 * DAY, 24)).toBe(168);
  });

  it('takes at most a quarter of the range, in whole days, then hours', () => {
    // 14 days: a quarter is 3.5 days → 3 whole days (and 2·72 + 12 = 156 h < 336 h fits).
    expect(fittedHorizonHours(0, 14 * DAY, 24)).toBe(72);
    // 27 days: a quarter is 6.75 days → 6 days.
    expect(fittedHorizonHours(0, 27 * DAY, 24)).toBe(144);
    // 7 days: 1.75 days → 1 day.
    expect(fittedHorizonHours(0, 7 * DAY, 24)).toBe(24);
    // 2 days with 2 h steps: a quarter is 12 h, less than a day, so hours.
    expect(fittedHorizonHours(0, 2 * DAY, 2)).toBe(12);
    // 1 day with 24 h steps: a quarter is 6 h, but only 5 h fit (2·H + 12 < 24).
    expect(fittedHorizonHours(0, DAY, 24)).toBe(5);
  });

  it('keeps a requested horizon that fits and refuses one that does not, naming the longest that would', () => {
    expect(fittedHorizonHours(72, 14 * DAY, 24)).toBe(72);
    expect(fittedHorizonHours(161, 14 * DAY, 24)).toBe(161);
    expect(() => fittedHorizonHours(162, 14 * DAY, 24)).toThrow(TrainingDataError);
    expect(() => fittedHorizonHours(168, 14 * DAY, 24)).toThrow(/horizonHours 168 does not fit the 14\.0 days .* Pass horizonHours ≤ 161/);
  });

  it('refuses a range too short for a one-hour horizon', () => {
    // 12 h with 24 h steps: 2·1 + 12 = 14 h needed.
    expect(() => fittedHorizonHours(0, 12 * HOUR, 24)).toThrow(/too few for a purchase horizon of even one hour/);
    expect(fittedHorizonHours(0, 14 * HOUR + 1, 24)).toBe(1);
    expect(() => fittedHorizonHours(0, 3 * HOUR, 1)).toThrow(/even one hour/); // fits 1 h, but a quarter of 3 h is under one
    expect(() => fittedHorizonHours(3, 12 * HOUR, 24)).toThrow(/Widen the range/);
  });
});
