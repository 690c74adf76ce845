import { TrainingDataError } from '../training/training-errors';
import { fittedHorizonHours } from './purchase-propensity.kind';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

describe('fittedHorizonHours', () => {
  // A horizon H fits when 2·H + cutoffStep/2 < range (one horizon to evaluate, one before the first cutoff).
  it('takes a week when the range holds more than 2 weeks and half a cutoff step', () => {
    expect(fittedHorizonHours(0, 15 * DAY, 24)).toBe(168); // 348 h needed, 360 h there
    expect(fittedHorizonHours(0, 348 * HOUR + 1, 24)).toBe(168);
  });

  it('shortens the default to whole days, then hours, when a week does not fit', () => {
    // 14 days = 336 h: 2·H < 336 − 12 → H < 162 → 161 h → 6 whole days.
    expect(fittedHorizonHours(0, 14 * DAY, 24)).toBe(144);
    expect(fittedHorizonHours(0, 348 * HOUR, 24)).toBe(168 - 24); // exactly 348 h: a week does not fit (strict)
    // 1 day with 24 h steps: 2·H < 24 − 12 → H < 6 → 5 h.
    expect(fittedHorizonHours(0, DAY, 24)).toBe(5);
    // 2 days with 2 h steps: 2·H < 47 → 23 h, less than a day, so hours.
    expect(fittedHorizonHours(0, 2 * DAY, 2)).toBe(23);
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
    expect(() => fittedHorizonHours(3, 12 * HOUR, 24)).toThrow(/Widen the range/);
  });
});
