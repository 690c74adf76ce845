/**
 * Conversion drivers, the statistics: from a tally (driver-factors.ts) to the factors associated
 * with converting or dropping off, each with its 2×2 table, odds ratio and interval, Fisher's exact
 * p-value and its Benjamini–Hochberg q-value over every factor tested. Pure, on the main thread.
 *
 * A property with more than MAX_VALUES_PER_KEY values is banded when its values are numbers
 * (quartiles of the units that reached the step: "price band"), otherwise only its
 * MAX_VALUES_PER_KEY most common values are tested.
 */
import { groupValueOf, MISSING_GROUP_KEY } from './breakdown-key';
import { DriverFactor, DriverTally, factorId, factorOfId } from './driver-factors';
import { benjaminiHochberg, fisherExactTwoSided, oddsRatio } from './drivers-stats';

export const MAX_VALUES_PER_KEY = 20;
const QUARTILES = 4;

export interface DriverReportOptions {
  /** Units with the factor and units without it must each number at least this many. */
  minSupport: number;
  /** False discovery rate: a factor is significant when its q-value is at most this. */
  alpha: number;
  /** Drivers listed on each side. */
  top: number;
}

export interface DriverStatistics {
  factor: DriverFactor;
  /** factorId(factor). */
  id: string;
  convertersWith: number;
  dropOffsWith: number;
  convertersWithout: number;
  dropOffsWithout: number;
  oddsRatio: number;
  oddsRatioLow: number;
  oddsRatioHigh: number;
  corrected: boolean;
  pValue: number;
  qValue: number;
  significant: boolean;
}

export interface DriverReport {
  reached: number;
  converted: number;
  /** Factors that met the minimum support and were tested (the m of the correction). */
  tested: number;
  /** Factors left out for too little support on either side. */
  belowSupport: number;
  /** Every factor tested, significant or not, highest odds ratio first. */
  all: DriverStatistics[];
  /** Significant factors with odds ratio > 1, highest odds ratio first, at most `top`. */
  positive: DriverStatistics[];
  /** Significant factors with odds ratio < 1, lowest first, at most `top`. */
  negative: DriverStatistics[];
}

interface Candidate {
  factor: DriverFactor;
  units: number;
  converters: number;
}

/** Ranks the tally's factors; see the file comment. Throws RangeError for options out of range. */
export function reportDrivers(tally: DriverTally, options: DriverReportOptions): DriverReport {
  if (!Number.isInteger(options.minSupport) || options.minSupport < 1) throw new RangeError(`minSupport must be a whole number ≥ 1; got ${options.minSupport}.`);
  if (!(options.alpha > 0 && options.alpha < 1)) throw new RangeError(`alpha must lie in (0, 1); got ${options.alpha}.`);
  const candidates = candidatesOf(tally);
  const { reached, converted } = tally;
  let belowSupport = 0;
  const tested: Omit<DriverStatistics, 'qValue' | 'significant'>[] = [];
  for (const { factor, units, converters } of candidates) {
    if (units < options.minSupport || reached - units < options.minSupport) {
      belowSupport++;
      continue;
    }
    const table = { a: converters, b: units - converters, c: converted - converters, d: reached - converted - (units - converters) };
    const estimate = oddsRatio(table);
    tested.push({
      factor,
      id: factorId(factor),
      convertersWith: table.a,
      dropOffsWith: table.b,
      convertersWithout: table.c,
      dropOffsWithout: table.d,
      oddsRatio: estimate.oddsRatio,
      oddsRatioLow: estimate.low,
      oddsRatioHigh: estimate.high,
      corrected: estimate.corrected,
      pValue: fisherExactTwoSided(table),
    });
  }
  const qValues = benjaminiHochberg(tested.map((entry) => entry.pValue));
  const byId = (x: DriverStatistics, y: DriverStatistics): number => (x.id < y.id ? -1 : x.id > y.id ? 1 : 0);
  const all: DriverStatistics[] = tested
    .map((entry, n) => ({ ...entry, qValue: qValues[n], significant: qValues[n] <= options.alpha }))
    .sort((x, y) => y.oddsRatio - x.oddsRatio || byId(x, y));
  return {
    reached,
    converted,
    tested: all.length,
    belowSupport,
    all,
    positive: all.filter((entry) => entry.significant && entry.oddsRatio > 1).slice(0, options.top),
    negative: all.filter((entry) => entry.significant && entry.oddsRatio < 1).reverse().slice(0, options.top),
  };
}

/** The tally's factors as tested: one per value, or numeric bands, or the most common values of a long-tailed key. */
function candidatesOf(tally: DriverTally): Candidate[] {
  const byKey = new Map<string, Candidate[]>();
  const plain: Candidate[] = [];
  tally.factorIds.forEach((id, n) => {
    const candidate = { factor: factorOfId(id), units: tally.withFactor[n], converters: tally.withFactorConverted[n] };
    if (candidate.factor.kind !== 'stepProperty' && candidate.factor.kind !== 'userProperty') return plain.push(candidate);
    const group = `${candidate.factor.kind}\u0000${candidate.factor.key}`;
    let list = byKey.get(group);
    if (!list) byKey.set(group, (list = []));
    list.push(candidate);
  });
  for (const values of byKey.values()) {
    if (values.length <= MAX_VALUES_PER_KEY) plain.push(...values);
    else if (values[0].factor.kind === 'stepProperty' && values.every((entry) => entry.factor.value === MISSING_GROUP_KEY || typeof groupValueOf(entry.factor.value!).value === 'number')) {
      plain.push(...bandsOf(values));
    } else {
      plain.push(...[...values].sort((x, y) => y.units - x.units || (x.factor.value! < y.factor.value! ? -1 : 1)).slice(0, MAX_VALUES_PER_KEY));
    }
  }
  return plain;
}

/**
 * Quartile bands of a numeric property over the units' values: [low, high) from the smallest value of
 * a band up to the smallest of the next; the last band has no upper end (high null). Equal values stay
 * in one band, so there may be fewer than four. Units without a value keep their own factor.
 */
function bandsOf(values: Candidate[]): Candidate[] {
  const missing = values.filter((entry) => entry.factor.value === MISSING_GROUP_KEY);
  const numeric = values
    .filter((entry) => entry.factor.value !== MISSING_GROUP_KEY)
    .map((entry) => ({ value: groupValueOf(entry.factor.value!).value as number, units: entry.units, converters: entry.converters }))
    .sort((x, y) => x.value - y.value);
  const total = numeric.reduce((sum, entry) => sum + entry.units, 0);
  const { key } = values[0].factor;
  const bands: Candidate[] = [];
  let seen = 0;
  let current: Candidate | null = null;
  let band = -1;
  for (const entry of numeric) {
    const entryBand = Math.min(QUARTILES - 1, Math.floor((seen * QUARTILES) / total));
    if (current === null || entryBand > band) {
      if (current) current.factor.range![1] = entry.value;
      current = { factor: { kind: 'stepProperty', key, value: null, range: [entry.value, null] }, units: 0, converters: 0 };
      bands.push(current);
      band = entryBand;
    }
    current.units += entry.units;
    current.converters += entry.converters;
    seen += entry.units;
  }
  return [...missing, ...bands];
}
