import type { ClampedEventCounts, EventService } from '../events/event.service';
import type { EventStats } from '../events/event.input';
import { STANDARD_EVENT_TYPES } from '../events/event.types';
import { badInput } from '../graphql/errors';
import { privacyRestricted } from './private-fields';
import { groupKeyOf, groupValueOf, OTHER_GROUP_KEY } from '../funnel/breakdown-key';
import type { FunnelCallOptions, FunnelService } from '../funnel/funnel.service';
import type { FunnelSpec } from '../funnel/funnel-definition';
import type { FunnelBreakdownGroup, FunnelResult, FunnelStepResult } from '../funnel/funnel.types';
import { asCount, cryptoUniform, laplace, laplaceScale, laplaceStandardError, nonIncreasing, type UniformSource } from './dp-noise';
import { PrivacyBudgetService, queryEpsilon } from './privacy-budget.service';
import type { PrivacyNote } from './privacy.types';

/**
 * eventStats for a key with a budget counts each user's first 100 events in the range (by time):
 * on the demo shop that keeps 91.5 % of the events, and gives the total the smallest error at
 * ε = 1 of 10, 20, 50, 100, 200, 500 (`npm run bench dp-error`, docs/privacy.md).
 */
export const DP_EVENTS_PER_USER = 100;
/** … and at most 10 sessions per user in distinctSessions. */
export const DP_SESSIONS_PER_USER = 10;
/** eventStats for a key with a budget lists every UTC day of the range: at most this many. */
export const MAX_DP_DAYS = 400;
/** Breakdown values a key with a budget may list. */
export const MAX_DP_BREAKDOWN_VALUES = 100;
/** The type bucket for custom event types in private eventStats (their names are not public). */
export const OTHER_EVENT_TYPE = '(other)';

const DAY_MS = 86_400_000;

/**
 * Differentially private funnels and event stats for API keys with a privacy budget
 * (docs/privacy.md, "Differential privacy"). The unit of privacy is a user: answers to two shops
 * that differ in one user's whole history are ε-indistinguishable. Each answer computes the exact
 * counts (funnel engine or SQL, unchanged), spends ε from the key's budget atomically, and only
 * then adds Laplace noise of scale sensitivity / ε to every released count; the rest is
 * post-processing (rounding, clamping at 0, monotone step counts, ratios), which costs nothing.
 */
export class PrivateAnalyticsService {
  private readonly uniform: UniformSource;

  /** `uniform`: the noise's randomness; node:crypto by default (tests inject a seeded one). */
  constructor(
    private readonly funnels: FunnelService,
    private readonly events: EventService,
    readonly budgets: PrivacyBudgetService,
    options: { uniform?: UniformSource } = {},
  ) {
    this.uniform = options.uniform ?? cryptoUniform();
  }

  /**
   * A noisy funnel report for the key `keyId`, spending `epsilon` (default 0.1, 0.01–10).
   * PRIVACY_RESTRICTED for sessions, excludeAnomalous, compareTo, several breakdowns, or a breakdown
   * without listed values;
   * PRIVACY_BUDGET_EXHAUSTED when less than epsilon is left; the funnel's own errors otherwise
   * (spending nothing).
   */
  async funnel(keyId: string, spec: FunnelSpec, epsilonArg: number | null | undefined, options: FunnelCallOptions = {}): Promise<FunnelResult> {
    const epsilon = queryEpsilon(epsilonArg);
    if ((spec.countBy ?? 'user') !== 'user') {
      throw privacyRestricted('Funnels by session are not available to keys with a privacy budget: one user may own any number of sessions, so no noise bounds their influence. Count by USER.');
    }
    if (spec.excludeAnomalous) {
      throw privacyRestricted('excludeAnomalous is not available to keys with a privacy budget: which users the detectors flag depends on every user\'s data.');
    }
    if (spec.compareTo) {
      throw privacyRestricted('compareTo is not available to keys with a privacy budget: ask for each range in a query of its own, each spending its epsilon.');
    }
    if (spec.breakdowns) {
      throw privacyRestricted('breakdowns (several properties) is not available to keys with a privacy budget: break down by one property with breakdown.values listed.');
    }
    let listedKeys: string[] | null = null;
    if (spec.breakdown) {
      const values = spec.breakdown.values;
      if (!Array.isArray(values) || values.length === 0) {
        throw privacyRestricted('A breakdown for a key with a privacy budget must list the values to show (breakdown.values, e.g. ["mobile", "desktop"]): which values occur is itself private.');
      }
      if (values.length > MAX_DP_BREAKDOWN_VALUES) throw badInput(`breakdown.values holds at most ${MAX_DP_BREAKDOWN_VALUES} values; got ${values.length}.`);
      listedKeys = values.map((value) => groupKeyOf(value));
      if (new Set(listedKeys).size !== listedKeys.length) throw badInput('breakdown.values lists a value twice; list each once.');
    }
    await this.budgets.checkAvailable(keyId, epsilon);
    const exact = await this.funnels.funnel(spec, options, { everyBreakdownGroup: true });
    const state = await this.budgets.spend(keyId, epsilon);
    // With optional steps a later step may hold more units than a skipped one: no monotone post-processing then.
    const monotone = !spec.steps.some((step) => step.optional);
    const { result, sensitivity } = privateFunnel(exact, listedKeys, epsilon, this.uniform, { monotone, breakdownProperty: exact.breakdown?.[0]?.parts[0]?.property });
    return { ...result, privacy: note(epsilon, sensitivity, state.remaining, ['steps.timeFromPrevious', 'breakdown.steps.timeFromPrevious'], null, null) };
  }

  /**
   * Noisy event stats for the key `keyId`, spending `epsilon`: counts by UTC day and type bucket
   * (the standard types, custom ones as "(other)") over each user's first DP_EVENTS_PER_USER
   * events in the range, with every day of the range listed (at most MAX_DP_DAYS); users; and
   * sessions counting at most DP_SESSIONS_PER_USER per user.
   */
  async eventStats(keyId: string, from: Date, to: Date, epsilonArg: number | null | undefined): Promise<EventStats> {
    const epsilon = queryEpsilon(epsilonArg);
    if (!(from.getTime() < to.getTime())) throw badInput('`from` must be earlier than `to`');
    const dayCount = Math.floor((to.getTime() - 1) / DAY_MS) - Math.floor(from.getTime() / DAY_MS) + 1;
    if (dayCount > MAX_DP_DAYS) throw badInput(`That range touches ${dayCount} UTC days; a key with a privacy budget may ask for at most ${MAX_DP_DAYS}.`);
    const days = utcDays(from, to);
    await this.budgets.checkAvailable(keyId, epsilon);
    const counts = await this.events.clampedCounts(from, to, {
      eventsPerUser: DP_EVENTS_PER_USER,
      sessionsPerUser: DP_SESSIONS_PER_USER,
      types: STANDARD_EVENT_TYPES,
      otherType: OTHER_EVENT_TYPE,
    });
    const state = await this.budgets.spend(keyId, epsilon);
    const released = privateEventCounts(counts, days, epsilon, this.uniform);
    return { from, to, ...released, privacy: note(epsilon, released.sensitivity, state.remaining, [], DP_EVENTS_PER_USER, DP_SESSIONS_PER_USER) };
  }
}

/**
 * Noisy event stats from clamped counts (EventService.clampedCounts with DP_EVENTS_PER_USER and
 * DP_SESSIONS_PER_USER): Laplace noise of scale sensitivity / ε on every (day, type bucket) cell of
 * the fixed grid `days` × (standard types + "(other)"), on users and on sessions; cells rounded and
 * clamped at 0; day totals, type totals and the total are sums of the noisy cells before rounding
 * and clamping (unbiased; they need not equal the sum of the cells shown).
 */
export function privateEventCounts(
  counts: ClampedEventCounts,
  days: readonly string[],
  epsilon: number,
  uniform: UniformSource,
): Omit<EventStats, 'from' | 'to' | 'privacy'> & { sensitivity: number } {
  const types = [...STANDARD_EVENT_TYPES, OTHER_EVENT_TYPE];
  const sensitivity = eventStatsSensitivity(DP_EVENTS_PER_USER, DP_SESSIONS_PER_USER);
  const scale = laplaceScale(sensitivity, epsilon);
  const exactCell = new Map(counts.cells.map((cell) => [`${cell.day} ${cell.type}`, cell.count]));
  // Sums add the noisy cells before rounding and clamping, so they stay unbiased: clamping each
  // cell at 0 first would add about b/2 per empty cell to every sum.
  const byTypeTotals = new Map<string, number>(types.map((type) => [type, 0]));
  let total = 0;
  const byDay = days.map((day) => {
    const noisy = types.map((type) => (exactCell.get(`${day} ${type}`) ?? 0) + laplace(scale, uniform));
    const dayTotal = noisy.reduce((sum, count) => sum + count, 0);
    noisy.forEach((count, n) => byTypeTotals.set(types[n], byTypeTotals.get(types[n])! + count));
    total += dayTotal;
    return { day, total: asCount(dayTotal), byType: noisy.map((count, n) => ({ type: types[n], count: asCount(count) })) };
  });
  return {
    total: asCount(total),
    distinctUsers: asCount(counts.users + laplace(scale, uniform)),
    distinctSessions: asCount(counts.sessions + laplace(scale, uniform)),
    byType: [...byTypeTotals].map(([type, count]) => ({ type, count: asCount(count) })).sort((a, b) => b.count - a.count || a.type.localeCompare(b.type)),
    byDay,
    sensitivity,
  };
}

/**
 * L1 sensitivity of a user-counted funnel answer with `steps` steps: one user's level moves each
 * step count by at most 1 (k), `totalUnits` by 1, and with a breakdown the counts of the one group
 * the user's chain falls in by at most 1 per step (k more).
 */
export function funnelSensitivity(steps: number, withBreakdown: boolean): number {
  return steps + 1 + (withBreakdown ? steps : 0);
}

/**
 * L1 sensitivity of private eventStats: a user adds at most `eventsPerUser` events across all the
 * (day, type) cells, 1 user, and at most `sessionsPerUser` sessions.
 */
export function eventStatsSensitivity(eventsPerUser: number, sessionsPerUser: number): number {
  return eventsPerUser + 1 + sessionsPerUser;
}

/**
 * The noisy funnel answer from the exact one (computed with every breakdown group): Laplace noise of
 * scale sensitivity / ε on each step count, `totalUnits` and each listed group's and the "other"
 * group's step counts; then step counts made non-increasing (isotonic regression; not with optional
 * steps, `shape.monotone` false, where a later step may hold more units), rounded and
 * clamped at 0; conversions and drop-offs computed from them; times withheld (null).
 * `listedKeys`: the breakdown values' group keys in the caller's order (null: no breakdown).
 */
export function privateFunnel(
  exact: FunnelResult,
  listedKeys: string[] | null,
  epsilon: number,
  uniform: UniformSource,
  shape: { monotone?: boolean; breakdownProperty?: string } = {},
): { result: FunnelResult; sensitivity: number } {
  const { monotone = true, breakdownProperty } = shape;
  const stepCount = exact.steps.length;
  const sensitivity = funnelSensitivity(stepCount, listedKeys !== null);
  const scale = laplaceScale(sensitivity, epsilon);
  const noisySteps = (template: FunnelStepResult[], counts: readonly number[]): FunnelStepResult[] => {
    const noisy = counts.map((count) => count + laplace(scale, uniform));
    const released = (monotone ? nonIncreasing(noisy) : noisy).map(asCount);
    return stepsOf(template, released);
  };
  const steps = noisySteps(exact.steps, exact.steps.map((step) => step.count));
  let breakdown: FunnelBreakdownGroup[] | null = null;
  if (listedKeys !== null) {
    const exactGroups = new Map((exact.breakdown ?? []).map((group) => [group.key, group]));
    const listed = new Set(listedKeys);
    const zeros = () => Array<number>(stepCount).fill(0);
    const countsOf = (key: string) => exactGroups.get(key)?.steps.map((step) => step.count) ?? zeros();
    const otherCounts = zeros();
    for (const [key, group] of exactGroups) {
      if (listed.has(key)) continue;
      group.steps.forEach((step, n) => (otherCounts[n] += step.count));
    }
    const groupOf = (key: string, counts: number[]): FunnelBreakdownGroup => {
      const { value, valueKind, label } = groupValueOf(key);
      const groupSteps = noisySteps(exact.steps, counts);
      const isOther = key === OTHER_GROUP_KEY;
      const parts = isOther ? [] : [{ property: breakdownProperty ?? '', key, group: label, value, valueType: valueKind }];
      return { group: label, key, value, valueType: valueKind, isOther, parts, totalUnits: groupSteps[0].count, steps: groupSteps };
    };
    breakdown = [...listedKeys.map((key) => groupOf(key, countsOf(key))), groupOf(OTHER_GROUP_KEY, otherCounts)];
  }
  const totalUnits = Math.max(steps[0]?.count ?? 0, asCount(exact.totalUnits + laplace(scale, uniform)));
  return { result: { steps, totalUnits, breakdown, comparison: null }, sensitivity };
}

/** Step results for released counts: conversions and drop-offs from them, times withheld. */
function stepsOf(template: FunnelStepResult[], counts: readonly number[]): FunnelStepResult[] {
  return template.map((step, n) => ({
    index: step.index,
    label: step.label,
    type: step.type,
    count: counts[n],
    conversionFromPrevious: n === 0 ? (counts[0] > 0 ? 1 : 0) : counts[n - 1] === 0 ? 0 : counts[n] / counts[n - 1],
    conversionFromFirst: counts[0] === 0 ? 0 : counts[n] / counts[0],
    dropOff: n === 0 ? 0 : counts[n - 1] - counts[n],
    timeFromPrevious: null,
  }));
}

function note(epsilon: number, sensitivity: number, remainingBudget: number, withheld: string[], eventsPerUser: number | null, sessionsPerUser: number | null): PrivacyNote {
  const scale = laplaceScale(sensitivity, epsilon);
  return { epsilon, mechanism: 'laplace', unit: 'user', sensitivity, scale, standardError: laplaceStandardError(scale), eventsPerUser, sessionsPerUser, withheld, remainingBudget };
}

/** Every UTC day (YYYY-MM-DD) that [from, to) touches. */
export function utcDays(from: Date, to: Date): string[] {
  const first = Math.floor(from.getTime() / DAY_MS);
  const last = Math.floor((to.getTime() - 1) / DAY_MS);
  const days: string[] = [];
  for (let day = first; day <= last; day++) days.push(new Date(day * DAY_MS).toISOString().slice(0, 10));
  return days;
}
