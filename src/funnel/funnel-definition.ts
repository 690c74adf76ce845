/**
 * A funnel as callers describe it (GraphQL input, a saved funnel, a benchmark) and its checked,
 * normalised form. Every rule a client can break is checked here, with a message that names the
 * field and says what to send instead, before any event is read.
 */
import { badInput } from '../graphql/errors';
import { EVENT_TYPE_PATTERN, EVENT_TYPE_RULE, normaliseEventType } from '../events/event.types';
import { compileFilter, FilterOperator, FilterTarget, PropertyFilter, StepDefinition, StepFilterError } from './step-filter';
import { FunnelExclusion, FunnelModes, MAX_FUNNEL_STEPS } from './window-funnel';
import { controlsAreEmpty, FunnelControls } from './controlled-funnel';

export type CountBy = 'user' | 'session';
export type FunnelModeName = 'strict_order' | 'strict_deduplication' | 'strict_increase' | 'strict_once' | 'allow_reentry';
export const FUNNEL_MODE_NAMES: readonly FunnelModeName[] = ['strict_order', 'strict_deduplication', 'strict_increase', 'strict_once', 'allow_reentry'];
export const FILTER_OPERATORS: readonly FilterOperator[] = ['eq', 'neq', 'gt', 'gte', 'lt', 'lte', 'in', 'contains', 'isSet', 'isNotSet'];

/** `property`: a key of the event's properties, or "itemId" / "item.category" for the event's item. */
export interface FilterSpec {
  property: string;
  op: string;
  value?: unknown;
}

export interface StepSpec {
  type: string;
  filters?: FilterSpec[] | null;
  label?: string | null;
  /** Seconds: this step at most this long after the chain's previous step (FUNNEL-SEMANTICS.md, "Controls"). */
  windowSeconds?: number | null;
  /** Seconds: this step at least this long after the chain's previous step. */
  minSecondsFromPrevious?: number | null;
  /** The chain may skip this step (not step 1, not the last step). */
  optional?: boolean | null;
}

export interface ExclusionSpec {
  type: string;
  filters?: FilterSpec[] | null;
  /** 1-based funnel steps; the excluded event must fall between them. */
  fromStep: number;
  toStep: number;
}

export interface CohortSpec {
  /** The shop's user ids. */
  userIds?: string[] | null;
  /** Filters on `users.properties`; all must hold. */
  userProperties?: FilterSpec[] | null;
  /**
   * `userIds` are already as stored (pseudonyms: privacy/pseudonym.ts), not the shop's ids: set in
   * saved definitions only, which keep no raw id when FUNNELCAST_PSEUDONYMIZE_KEY is set.
   */
  idsAsStored?: boolean | null;
}

export interface BreakdownSpec {
  /** A property of the step-1 event, or "itemId" / "item.category". */
  property: string;
  /** Groups kept by name (ranked by units entering the funnel); the rest are folded into "other". */
  limit?: number | null;
  /** The values to show, for keys with a privacy budget only (src/privacy/private-analytics.ts reads them). */
  values?: unknown[] | null;
}

export interface FunnelSpec {
  steps: StepSpec[];
  conversionWindowSeconds: number;
  from: Date;
  to: Date;
  countBy?: CountBy | null;
  modes?: string[] | null;
  exclusions?: ExclusionSpec[] | null;
  cohort?: CohortSpec | null;
  breakdown?: BreakdownSpec | null;
  /** Several breakdown properties at once (groups are value combinations); not together with `breakdown`. */
  breakdowns?: BreakdownSpec[] | null;
  /** Properties whose value every event of a chain shares ("itemId", "item.category" or an event property key). */
  holdConstant?: string[] | null;
  /**
   * A second range for the same funnel, answered beside the first (the `funnel` query only): `from`
   * and `to`, or `previousPeriod` (the range of the same length that ends where [from, to) starts).
   */
  compareTo?: { from?: Date | null; to?: Date | null; previousPeriod?: boolean | null } | null;
  /** Leave out users the anomaly detectors flag (and those the ingest guard marked). */
  excludeAnomalous?: boolean | null;
  /** Ensemble score from which a user counts as anomalous; default FUNNELCAST_ANOMALY_THRESHOLD. */
  anomalyThreshold?: number | null;
}

export interface FunnelPlan {
  steps: StepDefinition[];
  labels: string[];
  /** Microseconds, like the mirror's timestamps. */
  windowMicros: number;
  fromMicros: number;
  toMicros: number;
  countBy: CountBy;
  modes: FunnelModes;
  exclusions: FunnelExclusion[];
  exclusionSteps: StepDefinition[];
  cohort: { userIds: string[] | null; idsAsStored: boolean; userFilters: PropertyFilter[] } | null;
  /** One or more targets; groups are the combinations of their values on the reported step-1 event. */
  breakdown: { targets: FilterTarget[]; limit: number } | null;
  /**
   * The controls in microseconds (stepWindows, minGaps), null when the funnel has none, so that it
   * runs on the linear engine. `holdConstant` is set when `holdTargets` is.
   */
  controls: FunnelControls | null;
  /** The held properties (FUNNEL-SEMANTICS.md "Controls"); empty when none. */
  holdTargets: FilterTarget[];
  /** The comparison range, microseconds; null when none. */
  compareTo: { fromMicros: number; toMicros: number } | null;
  /** Present when anomalous users are left out; threshold null means the configured default. */
  excludeAnomalous: { threshold: number | null } | null;
}

export const MIN_FUNNEL_STEPS = 2;
export const MAX_BREAKDOWN_GROUPS = 100;
export const MAX_COHORT_USER_IDS = 100_000;
/** Breakdown properties one funnel splits by at most. */
export const MAX_BREAKDOWNS = 3;
/** Properties held constant at most. */
export const MAX_HOLD_CONSTANT = 3;
const MAX_WINDOW_SECONDS = 366 * 86_400;

export function filterTarget(property: string): FilterTarget {
  if (property === 'itemId') return { on: 'itemId' };
  if (property === 'item.category') return { on: 'category' };
  return { on: 'property', key: property };
}

function checkFilter(spec: FilterSpec, where: string, allowItem: boolean): PropertyFilter {
  if (typeof spec.property !== 'string' || spec.property.length === 0 || spec.property.length > 200) {
    throw badInput(`${where}.property must be a property key of 1–200 characters, or "itemId" / "item.category".`);
  }
  if (!(FILTER_OPERATORS as readonly string[]).includes(spec.op)) {
    throw badInput(`${where}.op "${spec.op}" is not a filter operator; use one of ${FILTER_OPERATORS.join(', ')}.`);
  }
  const target = allowItem ? filterTarget(spec.property) : ({ on: 'property', key: spec.property } as const);
  const operator = spec.op as FilterOperator;
  const hasValue = spec.value !== undefined && spec.value !== null;
  if ((operator === 'isSet' || operator === 'isNotSet') && hasValue) {
    throw badInput(`${where}: ${operator} takes no value; leave value out.`);
  }
  const filter = { ...target, operator, value: spec.value } as PropertyFilter;
  try {
    compileFilter(filter);
  } catch (error) {
    if (error instanceof StepFilterError) throw badInput(`${where}: ${error.message}`);
    throw error;
  }
  return filter;
}

function checkStep(type: unknown, filters: FilterSpec[] | null | undefined, where: string): StepDefinition {
  const eventType = normaliseEventType(type);
  if (typeof eventType !== 'string' || !EVENT_TYPE_PATTERN.test(eventType)) {
    throw badInput(`${where}.type must be an event type (${EVENT_TYPE_RULE}), such as "view" or "purchase".`);
  }
  return { eventType, filters: (filters ?? []).map((filter, f) => checkFilter(filter, `${where}.filters[${f}]`, true)) };
}

function checkModes(modes: string[] | null | undefined): FunnelModes {
  const result: FunnelModes = {};
  for (const mode of modes ?? []) {
    switch (mode) {
      case 'strict_order':
        result.strictOrder = true;
        break;
      case 'strict_deduplication':
        result.strictDeduplication = true;
        break;
      case 'strict_increase':
        result.strictIncrease = true;
        break;
      case 'strict_once':
        result.strictOnce = true;
        break;
      case 'allow_reentry':
        result.allowReentry = true;
        break;
      default:
        throw badInput(`modes: "${mode}" is not a funnel mode; use any of ${FUNNEL_MODE_NAMES.join(', ')} (none means the default mode).`);
    }
  }
  if (result.allowReentry && !result.strictOrder) {
    throw badInput('modes: allow_reentry only relaxes strict_order; add strict_order or drop allow_reentry.');
  }
  return result;
}

function micros(date: Date, name: string): number {
  const time = date instanceof Date ? date.getTime() : NaN;
  if (!Number.isFinite(time)) throw badInput(`${name} must be a date-time such as "2026-03-01T00:00:00Z".`);
  return time * 1000;
}

/** Checks a funnel and brings it to the form the runner uses; throws BAD_USER_INPUT with what to fix. */
/**
 * A cohort definition checked and compiled (funnel-cohort.ts resolves it to users): null when it
 * holds neither ids nor filters. BAD_USER_INPUT, naming `where` (e.g. "cohort",
 * "options.cohorts[0]"), for more than `maxUserIds` ids or a filter that is not one.
 */
export function planCohort(spec: CohortSpec, where: string, maxUserIds = MAX_COHORT_USER_IDS): FunnelPlan['cohort'] {
  const userIds = spec.userIds ?? null;
  if (userIds !== null && userIds.length > maxUserIds) {
    throw badInput(`${where}.userIds holds at most ${maxUserIds} ids; use ${where}.userProperties for larger cohorts.`);
  }
  const userFilters = (spec.userProperties ?? []).map((filter, f) => checkFilter(filter, `${where}.userProperties[${f}]`, false));
  if (userIds === null && userFilters.length === 0) return null;
  return { userIds, idsAsStored: spec.idsAsStored === true, userFilters };
}

export function planFunnel(spec: FunnelSpec): FunnelPlan {
  const steps = spec.steps ?? [];
  if (steps.length < MIN_FUNNEL_STEPS || steps.length > MAX_FUNNEL_STEPS) {
    throw badInput(`A funnel has ${MIN_FUNNEL_STEPS} to ${MAX_FUNNEL_STEPS} steps; this one has ${steps.length}.`);
  }
  const window = spec.conversionWindowSeconds;
  if (!Number.isInteger(window) || window <= 0 || window > MAX_WINDOW_SECONDS) {
    throw badInput(`conversionWindowSeconds must be a whole number of seconds from 1 to ${MAX_WINDOW_SECONDS} (366 days); got ${window}.`);
  }
  const fromMicros = micros(spec.from, 'from');
  const toMicros = micros(spec.to, 'to');
  if (!(fromMicros < toMicros)) throw badInput('`from` must be earlier than `to`.');

  const stepDefinitions = steps.map((step, s) => checkStep(step.type, step.filters, `steps[${s}]`));
  const labels = steps.map((step, s) => {
    if (step.label != null && (typeof step.label !== 'string' || step.label.length > 200)) throw badInput(`steps[${s}].label must be at most 200 characters.`);
    return step.label ?? stepDefinitions[s].eventType;
  });

  const exclusionSpecs = spec.exclusions ?? [];
  if (exclusionSpecs.length > 32) throw badInput(`A funnel has at most 32 exclusions; this one has ${exclusionSpecs.length}.`);
  const exclusions: FunnelExclusion[] = [];
  const exclusionSteps = exclusionSpecs.map((exclusion, r) => {
    const where = `exclusions[${r}]`;
    const { fromStep, toStep } = exclusion;
    if (!Number.isInteger(fromStep) || !Number.isInteger(toStep) || fromStep < 1 || toStep > steps.length || fromStep >= toStep) {
      throw badInput(`${where}: need 1 ≤ fromStep < toStep ≤ ${steps.length} (steps count from 1); got fromStep ${fromStep}, toStep ${toStep}.`);
    }
    exclusions.push({ fromStep, toStep });
    return checkStep(exclusion.type, exclusion.filters, where);
  });

  const countBy = spec.countBy ?? 'user';
  if (countBy !== 'user' && countBy !== 'session') throw badInput('countBy must be USER or SESSION.');

  const cohort = spec.cohort ? planCohort(spec.cohort, 'cohort') : null;

  let breakdown: FunnelPlan['breakdown'] = null;
  if (spec.breakdown && spec.breakdowns) throw badInput('Send breakdown (one property) or breakdowns (several), not both.');
  const breakdownSpecs = spec.breakdown ? [spec.breakdown] : (spec.breakdowns ?? []);
  const where = spec.breakdown ? () => 'breakdown' : (b: number) => `breakdowns[${b}]`;
  if (breakdownSpecs.length > MAX_BREAKDOWNS) throw badInput(`breakdowns holds 1 to ${MAX_BREAKDOWNS} properties; this one has ${breakdownSpecs.length}.`);
  if (spec.breakdowns && breakdownSpecs.length === 0) throw badInput('breakdowns needs at least one property; leave it out for no breakdown.');
  if (breakdownSpecs.length > 0) {
    const targets: FilterTarget[] = [];
    let groups = 0;
    breakdownSpecs.forEach(({ property, limit }, b) => {
      if (typeof property !== 'string' || property.length === 0 || property.length > 200) {
        throw badInput(`${where(b)}.property must be a property key of the step-1 event, or "itemId" / "item.category".`);
      }
      const kept = limit ?? 10;
      if (!Number.isInteger(kept) || kept < 1 || kept > MAX_BREAKDOWN_GROUPS) {
        throw badInput(`${where(b)}.limit must be a whole number from 1 to ${MAX_BREAKDOWN_GROUPS}; got ${limit}.`);
      }
      if (breakdownSpecs.slice(0, b).some((other) => other.property === property)) throw badInput(`${where(b)}: "${property}" is already a breakdown; name each property once.`);
      targets.push(filterTarget(property));
      groups = Math.max(groups, kept);
    });
    // Several properties: the groups are value combinations, as many kept as the largest limit asks.
    breakdown = { targets, limit: groups };
  }

  const holdSpecs = spec.holdConstant ?? [];
  if (holdSpecs.length > MAX_HOLD_CONSTANT) throw badInput(`holdConstant holds at most ${MAX_HOLD_CONSTANT} properties; this one has ${holdSpecs.length}.`);
  const holdTargets = holdSpecs.map((property, h) => {
    if (typeof property !== 'string' || property.length === 0 || property.length > 200) {
      throw badInput(`holdConstant[${h}] must be a property key of 1–200 characters, or "itemId" / "item.category".`);
    }
    if (holdSpecs.indexOf(property) !== h) throw badInput(`holdConstant names "${property}" twice; name each property once.`);
    return filterTarget(property);
  });
  const controls = checkControls(steps, exclusions, window, holdTargets.length > 0);

  let compareTo: FunnelPlan['compareTo'] = null;
  if (spec.compareTo) {
    const { from: otherFrom, to: otherTo, previousPeriod } = spec.compareTo;
    const explicit = otherFrom != null || otherTo != null;
    if (previousPeriod && explicit) throw badInput('Send compareTo.previousPeriod, or compareTo.from and compareTo.to, not both.');
    if (previousPeriod) {
      // The period just before: as long as [from, to), ending where it starts.
      compareTo = { fromMicros: fromMicros - (toMicros - fromMicros), toMicros: fromMicros };
    } else {
      if (otherFrom == null || otherTo == null) throw badInput('compareTo needs from and to (a second range), or previousPeriod: true.');
      const compareFrom = micros(otherFrom, 'compareTo.from');
      const compareTo_ = micros(otherTo, 'compareTo.to');
      if (!(compareFrom < compareTo_)) throw badInput('compareTo.from must be earlier than compareTo.to.');
      compareTo = { fromMicros: compareFrom, toMicros: compareTo_ };
    }
  }

  let excludeAnomalous: FunnelPlan['excludeAnomalous'] = null;
  const threshold = spec.anomalyThreshold ?? null;
  if (threshold !== null && !(threshold >= 0 && threshold <= 1)) {
    throw badInput(`anomalyThreshold must lie in [0, 1] (an ensemble anomaly score); got ${threshold}.`);
  }
  if (spec.excludeAnomalous) excludeAnomalous = { threshold };
  else if (threshold !== null) throw badInput('anomalyThreshold only applies with excludeAnomalous: true.');

  return {
    steps: stepDefinitions,
    labels,
    windowMicros: window * 1_000_000,
    fromMicros,
    toMicros,
    countBy,
    modes: checkModes(spec.modes),
    exclusions,
    exclusionSteps,
    cohort,
    breakdown,
    controls,
    holdTargets,
    compareTo,
    excludeAnomalous,
  };
}

/** The per-step controls in microseconds, or null when none is set (the funnel then runs on the linear engine). */
function checkControls(steps: StepSpec[], exclusions: FunnelExclusion[], windowSeconds: number, hold: boolean): FunnelControls | null {
  const stepWindows: number[] = [];
  const minGaps: number[] = [];
  const optional: boolean[] = [];
  steps.forEach((step, s) => {
    const where = `steps[${s}]`;
    const window = step.windowSeconds ?? null;
    const gap = step.minSecondsFromPrevious ?? null;
    if (s === 0 && (window !== null || gap !== null)) {
      throw badInput(`${where}: windowSeconds and minSecondsFromPrevious count from the previous step, and step 1 has none; set them on later steps.`);
    }
    if (window !== null && (!Number.isInteger(window) || window < 0 || window > windowSeconds)) {
      throw badInput(`${where}.windowSeconds must be a whole number of seconds from 0 to conversionWindowSeconds (${windowSeconds}); got ${window}.`);
    }
    if (gap !== null && (!Number.isInteger(gap) || gap < 0 || gap > windowSeconds)) {
      throw badInput(`${where}.minSecondsFromPrevious must be a whole number of seconds from 0 to conversionWindowSeconds (${windowSeconds}); got ${gap}.`);
    }
    if (window !== null && gap !== null && gap > window) throw badInput(`${where}: minSecondsFromPrevious (${gap}) is more than windowSeconds (${window}); no event could fill the step.`);
    if (step.optional && (s === 0 || s === steps.length - 1)) {
      throw badInput(`${where}.optional: step 1 and the last step cannot be optional (a chain starts at step 1 and converts at the last step).`);
    }
    // A step window as long as the funnel's changes nothing: left out, so such a funnel keeps the linear engine.
    stepWindows.push(window === null || window >= windowSeconds ? Infinity : window * 1_000_000);
    minGaps.push(gap === null ? 0 : gap * 1_000_000);
    optional.push(step.optional === true);
  });
  exclusions.forEach(({ fromStep, toStep }, r) => {
    if (optional[fromStep - 1] || optional[toStep - 1]) {
      throw badInput(`exclusions[${r}]: fromStep and toStep must be required steps; step ${optional[fromStep - 1] ? fromStep : toStep} is optional.`);
    }
  });
  const controls: FunnelControls = { stepWindows, minGaps, optional, holdConstant: hold };
  return controlsAreEmpty(controls) ? null : controls;
}

/** Whether a plan uses a control (per-step window, minimum gap, optional step, held property); such funnels run on ControlledFunnel. */
export function hasControls(plan: FunnelPlan): boolean {
  return plan.controls !== null;
}
