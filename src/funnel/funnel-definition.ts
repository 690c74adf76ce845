/**
 * A funnel as callers describe it (GraphQL input, a saved funnel, a benchmark) and its checked,
 * normalised form. Every rule a client can break is checked here, with a message that names the
 * field and says what to send instead, before any event is read.
 */
import { badInput } from '../graphql/errors';
import { EVENT_TYPE_PATTERN, EVENT_TYPE_RULE, normaliseEventType } from '../events/event.types';
import { compileFilter, FilterOperator, FilterTarget, PropertyFilter, StepDefinition, StepFilterError } from './step-filter';
import { FunnelExclusion, FunnelModes, MAX_FUNNEL_STEPS } from './window-funnel';

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
  breakdown: { target: FilterTarget; limit: number } | null;
  /** Present when anomalous users are left out; threshold null means the configured default. */
  excludeAnomalous: { threshold: number | null } | null;
}

export const MIN_FUNNEL_STEPS = 2;
export const MAX_BREAKDOWN_GROUPS = 100;
export const MAX_COHORT_USER_IDS = 100_000;
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

  let cohort: FunnelPlan['cohort'] = null;
  if (spec.cohort) {
    const userIds = spec.cohort.userIds ?? null;
    if (userIds !== null && userIds.length > MAX_COHORT_USER_IDS) {
      throw badInput(`cohort.userIds holds at most ${MAX_COHORT_USER_IDS} ids; use cohort.userProperties for larger cohorts.`);
    }
    const userFilters = (spec.cohort.userProperties ?? []).map((filter, f) => checkFilter(filter, `cohort.userProperties[${f}]`, false));
    if (userIds !== null || userFilters.length > 0) cohort = { userIds, idsAsStored: spec.cohort.idsAsStored === true, userFilters };
  }

  let breakdown: FunnelPlan['breakdown'] = null;
  if (spec.breakdown) {
    const { property, limit } = spec.breakdown;
    if (typeof property !== 'string' || property.length === 0 || property.length > 200) {
      throw badInput('breakdown.property must be a property key of the step-1 event, or "itemId" / "item.category".');
    }
    const groups = limit ?? 10;
    if (!Number.isInteger(groups) || groups < 1 || groups > MAX_BREAKDOWN_GROUPS) {
      throw badInput(`breakdown.limit must be a whole number from 1 to ${MAX_BREAKDOWN_GROUPS}; got ${limit}.`);
    }
    breakdown = { target: filterTarget(property), limit: groups };
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
    excludeAnomalous,
  };
}
