/**
 * The CPU-heavy half of every funnel query, as plain data in and plain data out, so it runs in a
 * funnel worker thread (funnel-worker.ts, via funnel-pool.ts) or, with FUNNELCAST_FUNNEL_WORKERS=0,
 * on the main thread, with the same code and the same results. The main thread does the rest
 * (funnel.service.ts): checking input, catching the mirror up, reading cohorts from PostgreSQL, and
 * shaping the answer.
 *
 * A big funnel may also run as parts (funnel-split.ts): runFunnelPart evaluates one range of units
 * and returns a FunnelPartial, the mergeable form of its outcome, and the parts merge into exactly
 * what runFunnelJob gives over all units.
 */
import { OTHER_GROUP_KEY } from './breakdown-key';
import type { MirrorSnapshot } from './event-mirror';
import {
  aggregateFunnel,
  breakdownFunnel,
  DurationSummary,
  durationsBetween,
  FunnelReport,
  FunnelTally,
  FunnelUnitLevels,
  HistogramBucket,
  summarizeDurations,
  tallyFunnel,
  timeToConvertHistogram,
} from './funnel-aggregate';
import type { FunnelPlan } from './funnel-definition';
import { DriverFactor, DriverSources, DriverTally, factorMatcher, tallyDrivers } from './driver-factors';
import { sessionName } from './session-dictionary';
import { breakdownKeys, evaluateFunnel, FunnelEvaluation, prepareFunnel, PreparedFunnel, UnitPart, UnitRange, unitSession, unitUser } from './funnel-run';

/** A unit's place in droppedOff's order: user (dense id), then session id. */
export interface DroppedKey {
  user: number;
  session: string | null;
}

export type FunnelJob =
  /** Step counts and times, with the breakdown when the plan has one. */
  | { kind: 'report'; plan: FunnelPlan }
  /** Entered and converted units per [start, end) period (microseconds). */
  | { kind: 'trend'; plan: FunnelPlan; periods: [number, number][] }
  /** Durations between two 1-based steps: summary and a histogram of `buckets` equal buckets. */
  | { kind: 'timeToConvert'; plan: FunnelPlan; fromStep: number; toStep: number; buckets: number }
  /** One page of units that reached `afterStep` and no further, after `cursor`; with `factor`, only those with that driver factor (sources.step = afterStep). */
  | { kind: 'droppedOff'; plan: FunnelPlan; afterStep: number; first: number; cursor: DroppedKey | null; factor?: { sources: DriverSources; factor: DriverFactor } | null }
  /** Conversion drivers at sources.step: per factor, units that reached the step with it, and of those, converters (driver-factors.ts). */
  | { kind: 'drivers'; plan: FunnelPlan; sources: DriverSources };

export interface ReportOutcome {
  kind: 'report';
  report: FunnelReport;
  breakdown: { key: string; isOther: boolean; report: FunnelReport }[] | null;
}
export interface TrendOutcome {
  kind: 'trend';
  periods: { entered: number; converted: number }[];
}
export interface TimeToConvertOutcome {
  kind: 'timeToConvert';
  units: number;
  summary: DurationSummary | null;
  histogram: HistogramBucket[];
}
export interface DroppedOffOutcome {
  kind: 'droppedOff';
  totalCount: number;
  /** `reachedAt` in microseconds since the epoch. */
  page: (DroppedKey & { reachedAt: number })[];
  hasNextPage: boolean;
}
export interface DriversOutcome {
  kind: 'drivers';
  tally: DriverTally;
}
export type FunnelOutcome = ReportOutcome | TrendOutcome | TimeToConvertOutcome | DroppedOffOutcome | DriversOutcome;

/**
 * What one part of a split funnel (a range of units) returns: each kind's outcome in a form that
 * merges exactly (funnel-split.ts). Durations are kept whole and sorted, never bucketed, because
 * medians, p90 and histogram edges must be those of the whole funnel.
 */
export type FunnelPartial =
  | {
      kind: 'report';
      tally: FunnelTally;
      /** Per group key (breakdownKeys), the tally of the part's entered units in that group; null without a breakdown. */
      breakdown: { keys: string[]; tallies: FunnelTally[] } | null;
    }
  | TrendOutcome
  | { kind: 'timeToConvert'; durations: Float64Array }
  | {
      kind: 'droppedOff';
      totalCount: number;
      /** Units of this part after the cursor; the page holds the first `first` of them. */
      afterCursor: number;
      page: DroppedOffOutcome['page'];
    }
  | DriversOutcome;

/** What a job reads besides its own parameters; all of it read-only. */
export interface FunnelJobInputs {
  snapshot: MirrorSnapshot;
  /** From funnel-cohort.ts; null when every user counts. */
  cohortUsers: Uint8Array | null;
  /** The base segment's session units for this snapshot's base when they were built before (session counting only). */
  sessionLayout: UnitPart | null;
}

/** The job's answer, and the base's session units when this run had to build them (callers keep them until the base changes). */
export function runFunnelJob(job: FunnelJob, inputs: FunnelJobInputs): { outcome: FunnelOutcome; builtSessionLayout: UnitPart | null } {
  const { plan } = job;
  const prepared = prepareFunnel(plan, inputs.snapshot, inputs.cohortUsers, inputs.sessionLayout);
  const builtSessionLayout = plan.countBy === 'session' && prepared.layout.base !== inputs.sessionLayout ? prepared.layout.base : null;
  return { outcome: outcomeOf(job, prepared), builtSessionLayout };
}

/**
 * One part of a split funnel: `units` of the layout, numbered over both segments (base units, then
 * delta units). For session counting the base's session units must be given, so that every part
 * numbers units the same way; each part builds the (small) delta's units itself, which numbers them
 * the same way everywhere since sessionUnits is deterministic. funnel-split.ts merges the parts.
 */
export function runFunnelPart(job: FunnelJob, inputs: FunnelJobInputs, units: UnitRange): FunnelPartial {
  const { plan } = job;
  if (plan.countBy === 'session' && inputs.sessionLayout === null) throw new Error("A split session funnel needs the base's session units built beforehand.");
  const prepared = prepareFunnel(plan, inputs.snapshot, inputs.cohortUsers, inputs.sessionLayout, units);
  switch (job.kind) {
    case 'report': {
      const evaluation = evaluateFunnel(prepared, plan.fromMicros, plan.toMicros);
      return { kind: 'report', tally: tallyFunnel(evaluation, evaluation.activeUnits), breakdown: plan.breakdown ? breakdownTallies(prepared, evaluation) : null };
    }
    case 'trend':
      return {
        kind: 'trend',
        periods: job.periods.map(([start, end]) => trendCounts(evaluateFunnel(prepared, start, end))),
      };
    case 'timeToConvert': {
      const evaluation = evaluateFunnel(prepared, plan.fromMicros, plan.toMicros);
      return { kind: 'timeToConvert', durations: durationsBetween(evaluation, job.fromStep, job.toStep, evaluation.activeUnits).sort() };
    }
    case 'drivers': {
      const evaluation = evaluateFunnel(prepared, plan.fromMicros, plan.toMicros);
      return { kind: 'drivers', tally: tallyDrivers(prepared, evaluation, job.sources) };
    }
    case 'droppedOff': {
      const { evaluation, dropped, start } = droppedAfterCursor(prepared, job.afterStep, job.cursor, job.factor ?? null);
      return droppedPartial(evaluation, dropped, start, job.first, job.afterStep);
    }
  }
}

function outcomeOf(job: FunnelJob, prepared: PreparedFunnel): FunnelOutcome {
  const { plan } = prepared;
  switch (job.kind) {
    case 'report': {
      const evaluation = evaluateFunnel(prepared, plan.fromMicros, plan.toMicros);
      return {
        kind: 'report',
        report: aggregateFunnel(evaluation, evaluation.activeUnits),
        breakdown: plan.breakdown ? breakdown(prepared, evaluation) : null,
      };
    }
    case 'trend':
      return {
        kind: 'trend',
        periods: job.periods.map(([start, end]) => {
          const evaluation = evaluateFunnel(prepared, start, end);
          const { steps } = aggregateFunnel(evaluation, evaluation.activeUnits);
          return { entered: steps[0].count, converted: steps[steps.length - 1].count };
        }),
      };
    case 'timeToConvert':
      return timeToConvertOutcome(evaluateFunnel(prepared, plan.fromMicros, plan.toMicros), job);
    case 'droppedOff':
      return droppedOff(prepared, job.afterStep, job.first, job.cursor, job.factor ?? null);
    case 'drivers': {
      const evaluation = evaluateFunnel(prepared, plan.fromMicros, plan.toMicros);
      return { kind: 'drivers', tally: tallyDrivers(prepared, evaluation, job.sources) };
    }
  }
}

/** Groups hold the units that entered the funnel, keyed by the breakdown property of their step-1 event. */
function breakdown(prepared: PreparedFunnel, evaluation: FunnelEvaluation): ReportOutcome['breakdown'] {
  const { plan } = prepared;
  const { entered, enteredUnits } = enteredUnitsOf(evaluation);
  const keys = breakdownKeys(prepared, evaluation, plan.breakdown!.targets, entered);
  return breakdownFunnel(enteredUnits, keys, { topN: plan.breakdown!.limit, otherKey: OTHER_GROUP_KEY }).map((group) => ({
    key: group.key,
    isOther: group.isOther,
    report: group.report,
  }));
}

/** A part's breakdown: its entered units grouped as `breakdown` groups them, one tally per group, before any ranking. */
function breakdownTallies(prepared: PreparedFunnel, evaluation: FunnelEvaluation): { keys: string[]; tallies: FunnelTally[] } {
  const { entered, enteredUnits } = enteredUnitsOf(evaluation);
  return talliesByKey(enteredUnits, breakdownKeys(prepared, evaluation, prepared.plan.breakdown!.targets, entered));
}

/**
 * One tally per distinct key of `keyOfUnit` (keyOfUnit[u]: unit u's breakdown key, u indexing
 * `units`), keys in order of first appearance: a part's breakdown before any ranking, as
 * funnel-split.ts merges it (either engine's parts).
 */
export function talliesByKey(units: FunnelUnitLevels, keyOfUnit: readonly string[]): { keys: string[]; tallies: FunnelTally[] } {
  const members = new Map<string, number[]>();
  keyOfUnit.forEach((key, e) => {
    let list = members.get(key);
    if (!list) members.set(key, (list = []));
    list.push(e);
  });
  const keys = [...members.keys()];
  return { keys, tallies: keys.map((key) => tallyFunnel(units, members.get(key)!)) };
}

/** Entered (level ≥ 1) and converted (level = stepCount) units among an evaluation's active units: one trend period. */
export function trendCounts({ levels, activeUnits, stepCount }: Pick<FunnelUnitLevels, 'levels' | 'stepCount'> & { activeUnits: ArrayLike<number> }): { entered: number; converted: number } {
  let entered = 0;
  let converted = 0;
  for (let n = 0; n < activeUnits.length; n++) {
    const level = levels[activeUnits[n]];
    if (level >= 1) entered++;
    if (level === stepCount) converted++;
  }
  return { entered, converted };
}

/**
 * A timeToConvert answer from an evaluation of the job's range: the durations from step
 * `fromStep` to `toStep` of the units that reached `toStep`, their summary and histogram.
 */
function timeToConvertOutcome(
  evaluation: FunnelUnitLevels & { activeUnits: Int32Array },
  job: Extract<FunnelJob, { kind: 'timeToConvert' }>,
): TimeToConvertOutcome {
  const durations = durationsBetween(evaluation, job.fromStep, job.toStep, evaluation.activeUnits);
  return {
    kind: 'timeToConvert',
    units: durations.length,
    summary: summarizeDurations(durations),
    histogram: timeToConvertHistogram(evaluation, job.fromStep, job.toStep, { bucketCount: job.buckets }, evaluation.activeUnits),
  };
}

/** The units that reached step 1 (dense unit ids), and their levels and step times packed in that order. */
export function enteredUnitsOf(evaluation: FunnelUnitLevels & { activeUnits: Int32Array }): { entered: Int32Array; enteredUnits: FunnelUnitLevels } {
  const stepCount = evaluation.stepCount;
  const { activeUnits } = evaluation;
  let enteredCount = 0;
  for (let n = 0; n < activeUnits.length; n++) if (evaluation.levels[activeUnits[n]] >= 1) enteredCount++;
  const entered = new Int32Array(enteredCount);
  const levels = new Uint8Array(enteredCount);
  const stepTimes = new Float64Array(enteredCount * stepCount);
  for (let n = 0, e = 0; n < activeUnits.length; n++) {
    const unit = activeUnits[n];
    if (evaluation.levels[unit] === 0) continue;
    entered[e] = unit;
    levels[e] = evaluation.levels[unit];
    for (let k = 0; k < stepCount; k++) stepTimes[e * stepCount + k] = evaluation.stepTimes[unit * stepCount + k];
    e++;
  }
  return { entered, enteredUnits: { levels, stepTimes, stepCount, optional: evaluation.optional } };
}

/**
 * Units that reached `afterStep` and no further, in (user, session id) order, the page after
 * `cursor`. Users are dense ids here; the service turns them into the shop's ids.
 */
function droppedOff(prepared: PreparedFunnel, afterStep: number, first: number, cursor: DroppedKey | null, factor: DroppedFactor | null): DroppedOffOutcome {
  const { evaluation, dropped, start } = droppedAfterCursor(prepared, afterStep, cursor, factor);
  return {
    kind: 'droppedOff',
    totalCount: dropped.length,
    page: pageOf(evaluation, dropped, start, first, afterStep),
    hasNextPage: start + first < dropped.length,
  };
}

type DroppedFactor = NonNullable<Extract<FunnelJob, { kind: 'droppedOff' }>['factor']>;

/** A dropped-off unit: its place in droppedOff's order, and its index in the evaluation. */
export interface DroppedUnit extends DroppedKey {
  unit: number;
}

/** droppedOff's order: user (dense id), then session id. */
export function compareDropped(a: DroppedKey, b: DroppedKey): number {
  return a.user - b.user || ((a.session ?? '') < (b.session ?? '') ? -1 : (a.session ?? '') > (b.session ?? '') ? 1 : 0);
}

/** The prepared units that reached `afterStep` and no further, in droppedOff's order, and where the page after `cursor` starts. */
function droppedAfterCursor(
  prepared: PreparedFunnel,
  afterStep: number,
  cursor: DroppedKey | null,
  factor: DroppedFactor | null,
): { evaluation: FunnelEvaluation; dropped: DroppedUnit[]; start: number } {
  const { plan } = prepared;
  const evaluation = evaluateFunnel(prepared, plan.fromMicros, plan.toMicros);
  const { layout, levels, activeUnits } = evaluation;
  const hasFactor = factor ? factorMatcher(prepared, evaluation, factor.sources, factor.factor) : null;
  const sessionNames = prepared.snapshot.base.sessions?.names ?? null;
  const dropped: DroppedUnit[] = [];
  for (let n = 0; n < activeUnits.length; n++) {
    const unit = activeUnits[n];
    if (levels[unit] !== afterStep || (hasFactor !== null && !hasFactor(unit))) continue;
    const session = unitSession(layout, unit);
    dropped.push({ unit, user: unitUser(layout, unit), session: session < 0 ? null : sessionName(sessionNames!, session) });
  }
  // Units are numbered base first, then delta, so even user units need sorting (nearly sorted: cheap).
  return { evaluation, dropped, start: sortAfterCursor(dropped, cursor) };
}

/** Sorts `dropped` in droppedOff's order and returns the index of its first unit strictly after `cursor` (0 without one). */
export function sortAfterCursor(dropped: DroppedKey[], cursor: DroppedKey | null): number {
  dropped.sort(compareDropped);
  if (!cursor) return 0;
  // Binary search; the list is sorted by the same order.
  let lo = 0;
  let hi = dropped.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (compareDropped(dropped[mid], cursor) <= 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * A part's dropped-off answer (either engine's): `dropped` sorted with `start` from
 * sortAfterCursor; how many units, how many after the cursor, and the first `first` of those with
 * the time each reached `afterStep` (µs, from the evaluation whose unit indexes `dropped` holds).
 */
export function droppedPartial(
  evaluation: Pick<FunnelUnitLevels, 'stepTimes' | 'stepCount'>,
  dropped: DroppedUnit[],
  start: number,
  first: number,
  afterStep: number,
): Extract<FunnelPartial, { kind: 'droppedOff' }> {
  return { kind: 'droppedOff', totalCount: dropped.length, afterCursor: dropped.length - start, page: pageOf(evaluation, dropped, start, first, afterStep) };
}

function pageOf(evaluation: Pick<FunnelUnitLevels, 'stepTimes' | 'stepCount'>, dropped: DroppedUnit[], start: number, first: number, afterStep: number): DroppedOffOutcome['page'] {
  return dropped.slice(start, start + first).map((entry) => ({
    user: entry.user,
    session: entry.session,
    reachedAt: evaluation.stepTimes[entry.unit * evaluation.stepCount + afterStep - 1],
  }));
}
