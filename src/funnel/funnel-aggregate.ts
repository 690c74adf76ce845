/**
 * From per-unit funnel results (levels and reported step times, see window-funnel.ts) to the
 * report a shop reads: step counts, conversion and drop-off, time between steps, time-to-convert
 * histograms, and breakdowns by a group key. Pure functions over typed arrays.
 */

export interface FunnelUnitLevels {
  /** Level reached per unit, 0..stepCount. */
  levels: Uint8Array;
  /** stepTimes[u * stepCount + k]: when unit u reached step k + 1 (NaN past its level, and for an optional step its chain skipped). */
  stepTimes: Float64Array;
  stepCount: number;
  /** Per step (index k is step k + 1), whether it is optional (FUNNEL-SEMANTICS.md "Controls"); absent when none is. */
  optional?: readonly boolean[];
}

export interface DurationSummary {
  /** Percentiles interpolate linearly between the two nearest ranks (numpy's default). */
  median: number;
  p90: number;
  average: number;
}

export interface FunnelStepResult {
  /** 1-based. */
  step: number;
  /** Units whose level is at least this step. */
  count: number;
  /** count / previous step's count; 1 for step 1 when it has units; 0 when the previous step is empty. */
  conversionFromPrevious: number;
  /** count / step 1's count (0 when step 1 is empty). */
  conversionFromFirst: number;
  /** Units that reached the previous step but not this one (0 for step 1). */
  dropOff: number;
  /** Time from the previous step to this one, over units that reached this step; null for step 1 or when none did. */
  timeFromPrevious: DurationSummary | null;
}

export interface FunnelReport {
  /** Units considered, including those that never reached step 1. */
  unitCount: number;
  steps: FunnelStepResult[];
}

/** Report over all units, or only over `unitIndexes` when given. */
export function aggregateFunnel(results: FunnelUnitLevels, unitIndexes?: ArrayLike<number>): FunnelReport {
  return reportOfTally(tallyFunnel(results, unitIndexes));
}

/**
 * A report in the form that adds up exactly across disjoint sets of units (funnel-split.ts runs one
 * funnel's units on several workers): counts add, and the durations behind medians and p90 are kept
 * whole, so merged percentiles are the ones the whole set gives, not an approximation.
 */
export interface FunnelTally {
  unitCount: number;
  /** reachedExactly[l]: units whose level is exactly l, for l = 0..stepCount. */
  reachedExactly: Float64Array;
  /**
   * durations[k] for k = 1..stepCount − 1: ts(step k + 1) − ts(previous step the chain filled) over
   * units whose chain filled step k + 1, ascending. durations[0] is empty.
   */
  durations: Float64Array[];
  /** With optional steps: skipped[k] units whose level is at least step k + 1 but whose chain skipped it; absent otherwise. */
  skipped?: Float64Array;
  /** As FunnelUnitLevels.optional. */
  optional?: readonly boolean[];
}

/** The tally of all units, or only of `unitIndexes` when given. */
export function tallyFunnel(results: FunnelUnitLevels, unitIndexes?: ArrayLike<number>): FunnelTally {
  const { levels, stepCount } = results;
  const unitCount = unitIndexes ? unitIndexes.length : levels.length;
  const reachedExactly = new Float64Array(stepCount + 1);
  if (unitIndexes) for (let n = 0; n < unitCount; n++) reachedExactly[levels[unitIndexes[n]]]++;
  else for (let u = 0; u < unitCount; u++) reachedExactly[levels[u]]++;
  const durations: Float64Array[] = [new Float64Array(0)];
  const optional = results.optional;
  if (!optional) {
    for (let step = 2; step <= stepCount; step++) durations.push(durationsBetween(results, step - 1, step, unitIndexes).sort());
    return { unitCount, reachedExactly, durations };
  }
  // Optional steps: a skipped step has no time; a step's duration runs from the last step its chain filled.
  const { stepTimes } = results;
  const skipped = new Float64Array(stepCount);
  const lists: number[][] = Array.from({ length: stepCount }, () => []);
  for (let n = 0; n < unitCount; n++) {
    const u = unitIndexes ? unitIndexes[n] : n;
    let previous = NaN;
    for (let k = 0; k < levels[u]; k++) {
      const time = stepTimes[u * stepCount + k];
      if (Number.isNaN(time)) {
        skipped[k]++;
        continue;
      }
      if (k > 0) lists[k].push(time - previous);
      previous = time;
    }
  }
  for (let k = 1; k < stepCount; k++) durations.push(Float64Array.from(lists[k]).sort());
  return { unitCount, reachedExactly, durations, skipped, optional };
}

/** Tallies of disjoint sets of units (same funnel) as one: what tallyFunnel gives over their union. */
export function mergeTallies(tallies: readonly FunnelTally[]): FunnelTally {
  const [first, ...rest] = tallies;
  const reachedExactly = Float64Array.from(first.reachedExactly);
  let unitCount = first.unitCount;
  for (const tally of rest) {
    unitCount += tally.unitCount;
    for (let l = 0; l < reachedExactly.length; l++) reachedExactly[l] += tally.reachedExactly[l];
  }
  const merged: FunnelTally = { unitCount, reachedExactly, durations: first.durations.map((_, k) => mergeSorted(tallies.map((tally) => tally.durations[k]))) };
  if (first.skipped) {
    const skipped = Float64Array.from(first.skipped);
    for (const tally of rest) for (let k = 0; k < skipped.length; k++) skipped[k] += tally.skipped![k];
    merged.skipped = skipped;
    merged.optional = first.optional;
  }
  return merged;
}

/** The report a tally stands for. */
export function reportOfTally(tally: FunnelTally): FunnelReport {
  const { unitCount, reachedExactly, durations } = tally;
  const stepCount = reachedExactly.length - 1;
  // A suffix sum of reachedExactly gives "level >= k" for every k.
  const counts = new Float64Array(stepCount + 2);
  for (let k = stepCount; k >= 0; k--) counts[k] = counts[k + 1] + reachedExactly[k];

  // With optional steps, a step counts the units whose chain filled it, and "previous" is the
  // nearest earlier required step (an optional step's count may be below the next step's).
  if (tally.skipped) for (let step = 1; step <= stepCount; step++) counts[step] -= tally.skipped[step - 1];
  const optional = tally.optional;
  const steps: FunnelStepResult[] = [];
  for (let step = 1; step <= stepCount; step++) {
    const count = counts[step];
    let previousStep = step - 1;
    while (optional && previousStep > 1 && optional[previousStep - 1]) previousStep--;
    const previous = step === 1 ? count : counts[previousStep];
    steps.push({
      step,
      count,
      conversionFromPrevious: previous === 0 ? 0 : count / previous,
      conversionFromFirst: counts[1] === 0 ? 0 : count / counts[1],
      dropOff: previous - count,
      timeFromPrevious: step === 1 ? null : summarizeSorted(durations[step - 1]),
    });
  }
  return { unitCount, steps };
}

/** Ascending arrays as one ascending array (a linear merge per pair; the inputs are left as they are). */
export function mergeSorted(arrays: readonly Float64Array[]): Float64Array {
  let merged = arrays.length === 0 ? new Float64Array(0) : arrays[0];
  for (let n = 1; n < arrays.length; n++) {
    const a = merged;
    const b = arrays[n];
    if (b.length === 0) continue;
    if (a.length === 0) {
      merged = b;
      continue;
    }
    const out = new Float64Array(a.length + b.length);
    let i = 0;
    let j = 0;
    let o = 0;
    while (i < a.length && j < b.length) out[o++] = a[i] <= b[j] ? a[i++] : b[j++];
    while (i < a.length) out[o++] = a[i++];
    while (j < b.length) out[o++] = b[j++];
    merged = out;
  }
  return merged;
}

/**
 * Durations ts(toStep) − ts(fromStep) of the reported chains, over units that reached `toStep`
 * (with optional steps: whose chain filled both steps). Steps are 1-based with fromStep < toStep.
 */
export function durationsBetween(
  results: FunnelUnitLevels,
  fromStep: number,
  toStep: number,
  unitIndexes?: ArrayLike<number>,
): Float64Array {
  const { levels, stepTimes, stepCount } = results;
  if (!(1 <= fromStep && fromStep < toStep && toStep <= stepCount)) {
    throw new RangeError(`Need 1 <= fromStep < toStep <= ${stepCount}; got ${fromStep}..${toStep}.`);
  }
  const unitCount = unitIndexes ? unitIndexes.length : levels.length;
  const skips = results.optional !== undefined && (results.optional[fromStep - 1] || results.optional[toStep - 1]);
  let reached = 0;
  for (let n = 0; n < unitCount; n++) if (levels[unitIndexes ? unitIndexes[n] : n] >= toStep) reached++;
  const durations = new Float64Array(reached);
  let d = 0;
  for (let n = 0; n < unitCount; n++) {
    const u = unitIndexes ? unitIndexes[n] : n;
    if (levels[u] < toStep) continue;
    const duration = stepTimes[u * stepCount + toStep - 1] - stepTimes[u * stepCount + fromStep - 1];
    // A chain that skipped an optional fromStep or toStep has no duration between them.
    if (skips && Number.isNaN(duration)) continue;
    durations[d++] = duration;
  }
  return skips ? durations.slice(0, d) : durations;
}

export function summarizeDurations(durations: Float64Array): DurationSummary | null {
  return summarizeSorted(Float64Array.from(durations).sort());
}

/** summarizeDurations of durations already in ascending order; the sum runs in that order, so equal inputs give bit-equal averages. */
export function summarizeSorted(sorted: Float64Array): DurationSummary | null {
  if (sorted.length === 0) return null;
  let sum = 0;
  for (let i = 0; i < sorted.length; i++) sum += sorted[i];
  return { median: percentile(sorted, 0.5), p90: percentile(sorted, 0.9), average: sum / sorted.length };
}

/** `sorted` ascending and non-empty; linear interpolation between ranks (h = (n − 1)·p). */
export function percentile(sorted: Float64Array, p: number): number {
  const h = (sorted.length - 1) * p;
  const lower = Math.floor(h);
  const upper = Math.min(lower + 1, sorted.length - 1);
  return sorted[lower] + (h - lower) * (sorted[upper] - sorted[lower]);
}

export interface HistogramBucket {
  /** Inclusive. */
  start: number;
  /** Exclusive, except for the last bucket, which includes its end. */
  end: number;
  count: number;
}

export interface TimeToConvertOptions {
  /** Ascending bucket edges; n edges make n − 1 buckets. Durations outside [first, last] are not counted. */
  edges?: number[];
  /** Equal-width buckets from the shortest to the longest duration when no edges are given (default 10). */
  bucketCount?: number;
}

/** Histogram of ts(toStep) − ts(fromStep) over units that reached toStep. */
export function timeToConvertHistogram(
  results: FunnelUnitLevels,
  fromStep: number,
  toStep: number,
  options: TimeToConvertOptions = {},
  unitIndexes?: ArrayLike<number>,
): HistogramBucket[] {
  return durationHistogram(durationsBetween(results, fromStep, toStep, unitIndexes), options);
}

/** timeToConvertHistogram over the durations themselves (in any order). */
export function durationHistogram(durations: Float64Array, options: TimeToConvertOptions = {}): HistogramBucket[] {
  let edges = options.edges;
  if (edges === undefined) {
    if (durations.length === 0) return [];
    let shortest = Infinity;
    let longest = -Infinity;
    for (const d of durations) {
      if (d < shortest) shortest = d;
      if (d > longest) longest = d;
    }
    if (shortest === longest) return [{ start: shortest, end: longest, count: durations.length }];
    const bucketCount = options.bucketCount ?? 10;
    if (!Number.isInteger(bucketCount) || bucketCount < 1) throw new RangeError('bucketCount must be a whole number >= 1.');
    const width = (longest - shortest) / bucketCount;
    edges = Array.from({ length: bucketCount + 1 }, (_, i) => (i === bucketCount ? longest : shortest + i * width));
  }
  for (let i = 1; i < edges.length; i++) {
    if (!(edges[i] > edges[i - 1])) throw new RangeError('Histogram edges must be strictly ascending.');
  }
  const buckets: HistogramBucket[] = [];
  for (let i = 0; i + 1 < edges.length; i++) buckets.push({ start: edges[i], end: edges[i + 1], count: 0 });
  const last = buckets.length - 1;
  for (const d of durations) {
    // Binary search for the bucket whose [start, end) holds d; the last bucket also takes its end.
    let lo = 0;
    let hi = last;
    if (last < 0 || d < buckets[0].start || d > buckets[last].end) continue;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (buckets[mid].start <= d) lo = mid;
      else hi = mid - 1;
    }
    buckets[lo].count++;
  }
  return buckets;
}

export interface BreakdownOptions {
  /** Groups kept by name, ranked by step-1 count (ties by key); the rest fold into `otherKey`. Default 10. */
  topN?: number;
  otherKey?: string;
}

export interface FunnelBreakdownGroup {
  key: string;
  /** True for the group that folds every group past topN. */
  isOther: boolean;
  report: FunnelReport;
}

/**
 * One report per value of a group key (device, channel, cohort…): `groupOfUnit[u]` is unit u's key.
 * Ranking uses units that reached step 1, because a group without step-1 units has no funnel.
 */
export function breakdownFunnel(
  results: FunnelUnitLevels,
  groupOfUnit: ArrayLike<string>,
  options: BreakdownOptions = {},
): FunnelBreakdownGroup[] {
  const topN = options.topN ?? 10;
  const otherKey = options.otherKey ?? 'other';
  if (groupOfUnit.length !== results.levels.length) {
    throw new RangeError(`groupOfUnit has ${groupOfUnit.length} entries for ${results.levels.length} units.`);
  }
  const unitsByGroup = new Map<string, number[]>();
  for (let u = 0; u < groupOfUnit.length; u++) {
    const key = groupOfUnit[u];
    let units = unitsByGroup.get(key);
    if (!units) unitsByGroup.set(key, (units = []));
    units.push(u);
  }
  return breakdownOfTallies(new Map([...unitsByGroup].map(([key, units]) => [key, tallyFunnel(results, units)])), topN, otherKey);
}

/**
 * breakdownFunnel's groups from one tally per key (a whole funnel's, or tallies added up across the
 * parts of a split funnel, funnel-split.ts): ranked by units that reached step 1, ties by key; the
 * groups past topN fold into one `otherKey` group, whose tally is theirs added up.
 */
export function breakdownOfTallies(talliesByKey: ReadonlyMap<string, FunnelTally>, topN: number, otherKey: string): FunnelBreakdownGroup[] {
  const entered = (key: string): number => {
    const tally = talliesByKey.get(key)!;
    return tally.unitCount - tally.reachedExactly[0];
  };
  const ranked = [...talliesByKey.keys()].sort((a, b) => entered(b) - entered(a) || (a < b ? -1 : a > b ? 1 : 0));
  const groups: FunnelBreakdownGroup[] = ranked.slice(0, topN).map((key) => ({ key, isOther: false, report: reportOfTally(talliesByKey.get(key)!) }));
  const rest = ranked.slice(topN);
  if (rest.length > 0) groups.push({ key: otherKey, isOther: true, report: reportOfTally(mergeTallies(rest.map((key) => talliesByKey.get(key)!))) });
  return groups;
}
