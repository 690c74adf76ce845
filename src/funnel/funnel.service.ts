import type { DataSource } from 'typeorm';
import { config } from '../config';
import { checkFirst, connectionOfEdges } from '../graphql/connection';
import { cursorCodec } from '../graphql/cursor';
import { analyticsUnsupported, badInput, notFound } from '../graphql/errors';
import { groupValueOf, partKeysOf } from './breakdown-key';
import type { FilterTarget } from './step-filter';
import { EventMirror } from './event-mirror';
import { DurationSummary, FunnelReport } from './funnel-aggregate';
import { FunnelBudget, FunnelCallOptions } from './funnel-budget';
import { cohortUsers, includedUsers } from './funnel-cohort';
import { currentKey, pseudonymousIds } from '../privacy/pseudonym';
import { CohortSpec, FunnelPlan, FunnelSpec, planCohort, planFunnel } from './funnel-definition';
import { FunnelJob, FunnelOutcome, runFunnelJob } from './funnel-jobs';
import { FunnelPool, FunnelPoolStats } from './funnel-pool';
import { needsOf, UnitPart } from './funnel-run';
import type { MirrorNeeds } from './event-mirror';
import { groupKeyOf } from './breakdown-key';
import { CohortColumn, DriverFactor, DriverSources, UserPropertyColumn } from './driver-factors';
import { reportDrivers } from './drivers-report';
import { decodeFactor, driversAnswer } from './funnel-drivers';
import { FunnelDrivers, FunnelDriversOptions, MAX_DRIVER_COHORT_USER_IDS, MAX_DRIVER_COHORTS } from './funnel-drivers.types';
import { FunnelUnitExplainer, MODEL_SAMPLE_DEFAULT, MODEL_SAMPLE_MAX, modelDriversOf } from './model-drivers';
import { metrics, secondsSince } from '../metrics/metrics';
import { isUuid } from '../uuid';
import {
  DROPPED_OFF_PAGE,
  type DroppedOffUnitConnection,
  type DurationBucket,
  type FunnelBreakdownGroup,
  type FunnelResult,
  type FunnelStepResult,
  type FunnelTrendPoint,
  type SavedFunnel,
  type StepDuration,
  type TimeToConvert,
} from './funnel.types';

export type TrendIntervalName = 'day' | 'week';
export type { FunnelCallOptions } from './funnel-budget';

const DAY_MICROS = 86_400_000_000;
/** `droppedOff` pages by dense user id, then session id (null when the funnel counts users). */
const droppedOffCursor = cursorCodec('droppedOff', { user: 'int', session: 'string?' });
const MAX_TREND_PERIODS = 400;
const MAX_BUCKETS = 100;
/** Property keys (event or user) one drivers query tests at most. */
const MAX_DRIVER_KEYS = 20;
/** Events of the step's type sampled for their property keys when the caller names none. */
const DRIVER_KEY_SAMPLE = 1000;
const MAX_DRIVER_COHORT_NAME = 64;

/** A drivers cohort, checked: its name, its definition as sent (for factor codes) and as planned (for reading its users). */
interface CheckedCohort {
  name: string;
  spec: CohortSpec;
  plan: NonNullable<FunnelPlan['cohort']>;
}

/**
 * Checks funnelDrivers' named cohorts (or the one a cohort factor code carries, `where` "factor"):
 * at most MAX_DRIVER_COHORTS, names 1–64 characters and unique, each with ids or filters (at most
 * MAX_DRIVER_COHORT_USER_IDS ids). BAD_USER_INPUT saying what to fix.
 */
function checkDriverCohorts(cohorts: readonly (CohortSpec & { name: string })[], where: string): CheckedCohort[] {
  if (!Array.isArray(cohorts)) throw badInput(`${where} must be a list of named cohorts.`);
  if (cohorts.length > MAX_DRIVER_COHORTS) throw badInput(`${where}: at most ${MAX_DRIVER_COHORTS} cohorts; got ${cohorts.length}. Ask again with fewer.`);
  const names = new Set<string>();
  return cohorts.map((cohort, c) => {
    const at = where === 'factor' ? 'factor cohort' : `${where}[${c}]`;
    const { name } = cohort;
    if (typeof name !== 'string' || name.length === 0 || name.length > MAX_DRIVER_COHORT_NAME) throw badInput(`${at}.name must be 1–${MAX_DRIVER_COHORT_NAME} characters.`);
    if (names.has(name)) throw badInput(`${at}.name "${name}" is used twice; give each cohort its own name.`);
    names.add(name);
    const spec: CohortSpec = { userIds: cohort.userIds ?? null, userProperties: cohort.userProperties ?? null };
    if ((spec.userIds ?? []).length === 0 && (spec.userProperties ?? []).length === 0) {
      throw badInput(`${at} ("${name}") is empty: give userIds, userProperties filters, or both.`);
    }
    const plan = planCohort(spec, at, MAX_DRIVER_COHORT_USER_IDS)!;
    return { name, spec, plan };
  });
}

const toSeconds = (micros: number): number => micros / 1_000_000;

function stepDuration(summary: DurationSummary | null): StepDuration | null {
  return summary && { median: toSeconds(summary.median), p90: toSeconds(summary.p90), average: toSeconds(summary.average) };
}

/**
 * Where funnels are computed when not in this process's mirror: ClickHouse
 * (src/analytics/clickhouse-funnels.ts, FUNNELCAST_ANALYTICS=clickhouse). It answers the same
 * jobs with the same outcomes; the service checks input and shapes answers either way.
 */
export interface FunnelEngine {
  /** For health and logs: "clickhouse (chdb ./data)". */
  readonly description: string;
  compute(job: FunnelJob, budget: FunnelBudget): Promise<FunnelOutcome>;
  /** Brings the engine's copy of the events up to date; the number of events it copied. */
  warmUp(): Promise<number>;
  close(): Promise<void>;
}

export interface FunnelServiceOptions {
  /** Another engine instead of the in-process mirror; default: the mirror. */
  engine?: FunnelEngine | null;
  /** Worker threads for funnel computations; 0 computes on the main thread. Default FUNNELCAST_FUNNEL_WORKERS. */
  workers?: number;
  /** Time limit per funnel field in milliseconds. Default FUNNELCAST_FUNNEL_TIMEOUT_MS. */
  timeoutMs?: number;
  /** Funnels over at least this many events run split across the workers. Default FUNNELCAST_FUNNEL_SPLIT_EVENTS. */
  splitEvents?: number;
  /** Explains units for funnelDrivers' model drivers (the prediction service); without it they answer with a reason. */
  explainer?: FunnelUnitExplainer | null;
}

/**
 * Funnels over the shop's events: reports, breakdowns, trends, time to convert, dropped-off units,
 * and saved funnels. Reads events through the in-process mirror (event-mirror.ts), or through
 * another FunnelEngine (ClickHouse) when one is given, with identical answers. The mirror catches up
 * with PostgreSQL before every query, so results are exact and include every committed event.
 *
 * Each query checks its input and catches the mirror up on the main thread, then computes on a
 * worker thread (funnel-pool.ts) under a time limit: FUNNEL_TIMEOUT past it, CLIENT_CLOSED_REQUEST
 * when `options.signal` aborts; either way the computation stops.
 */
export class FunnelService {
  private readonly pool: FunnelPool | null;
  private readonly timeoutMs: number;
  private readonly explainer: FunnelUnitExplainer | null;
  /** Null: the in-process mirror computes. */
  readonly engine: FunnelEngine | null;
  /** The base segment's session units for the latest base a session funnel ran on (built once per base, shared by the workers). */
  private sessionLayout: { baseVersion: number; layout: UnitPart } | null = null;
  private mainThreadTurn: Promise<void> = Promise.resolve();

  constructor(
    private readonly dataSource: DataSource,
    readonly mirror: EventMirror = new EventMirror(dataSource),
    options: FunnelServiceOptions = {},
  ) {
    this.engine = options.engine ?? null;
    // With another engine nothing is computed here, so no worker threads are started.
    const workers = this.engine ? 0 : (options.workers ?? config().funnelWorkers);
    this.pool = workers > 0 ? new FunnelPool(workers, { splitEvents: options.splitEvents ?? config().funnelSplitEvents }) : null;
    this.timeoutMs = options.timeoutMs ?? config().funnelTimeoutMs;
    this.explainer = options.explainer ?? null;
  }

  /** The worker pool's counters (null when funnels run on the main thread). */
  get poolStats(): FunnelPoolStats | null {
    return this.pool?.stats ?? null;
  }

  /** Stops the worker threads; queries after this fail. */
  /**
   * Drops every event held in this process (the mirror and the session layout built from it), for
   * an erasure (privacy/erasure-watch.ts); the next funnel, or `warmUp`, loads them again. Another
   * engine (ClickHouse) learns of deleted events from PostgreSQL's deletion log instead.
   */
  async dropInMemoryEvents(): Promise<void> {
    this.sessionLayout = null;
    await this.mirror.reset();
  }

  async close(): Promise<void> {
    await this.pool?.close();
    await this.engine?.close();
  }

  /**
   * The funnel report over [from, to), broken down when asked; with `compareTo`, the same funnel
   * over that second range too (`comparison`), each range judged on its own (FUNNEL-SEMANTICS.md,
   * "Time range"), both under the one time limit. `shape.everyBreakdownGroup` (for differentially
   * private answers, src/privacy/private-analytics.ts) keeps every breakdown value as a group of its
   * own, past the limit, so which values are shown never depends on the data; and lets
   * `breakdown.values` through, which is otherwise refused (BAD_USER_INPUT: only keys with a privacy
   * budget list values).
   */
  async funnel(spec: FunnelSpec, options: FunnelCallOptions = {}, shape: { everyBreakdownGroup?: boolean } = {}): Promise<FunnelResult> {
    const budget = this.budget(options);
    if (!shape.everyBreakdownGroup && [spec.breakdown, ...(spec.breakdowns ?? [])].some((breakdown) => breakdown?.values != null)) {
      throw badInput('breakdown.values is only for keys with a privacy budget; this key sees the top values (breakdown.limit).');
    }
    const planned = planFunnel(spec);
    const plan: FunnelPlan =
      shape.everyBreakdownGroup && planned.breakdown ? { ...planned, breakdown: { ...planned.breakdown, limit: Number.MAX_SAFE_INTEGER } } : planned;
    const result = await this.reportOf(plan, budget);
    if (plan.compareTo === null) return { ...result, comparison: null };
    const { fromMicros, toMicros } = plan.compareTo;
    const comparison = await this.reportOf({ ...plan, fromMicros, toMicros, compareTo: null }, budget);
    return { ...result, comparison: { from: new Date(fromMicros / 1000), to: new Date(toMicros / 1000), ...comparison } };
  }

  private async reportOf(plan: FunnelPlan, budget: FunnelBudget): Promise<Omit<FunnelResult, 'comparison'>> {
    const outcome = await this.compute({ kind: 'report', plan }, budget);
    if (outcome.kind !== 'report') throw new Error(`expected a report, got ${outcome.kind}`);
    const properties = plan.breakdown?.targets.map(targetName) ?? [];
    return {
      steps: this.stepResults(plan, outcome.report),
      totalUnits: outcome.report.unitCount,
      breakdown:
        outcome.breakdown?.map((group): FunnelBreakdownGroup => {
          const parts = group.isOther ? [] : properties.length === 1 ? [group.key] : partKeysOf(group.key);
          const partValues = parts.map((key, b) => ({ property: properties[b], key, ...groupValueOf(key) }));
          const { value, valueKind, label } =
            properties.length === 1 || group.isOther
              ? groupValueOf(group.key)
              : { value: partValues.map((part) => part.value), valueKind: 'combination' as const, label: partValues.map((part) => part.label).join(' / ') };
          return {
            group: label,
            key: group.key,
            value,
            valueType: valueKind,
            isOther: group.isOther,
            parts: partValues.map((part) => ({ property: part.property, key: part.key, group: part.label, value: part.value, valueType: part.valueKind })),
            totalUnits: group.report.unitCount,
            steps: this.stepResults(plan, group.report),
          };
        }) ?? null,
    };
  }

  /** Conversion of the whole funnel per UTC day or ISO week: each period is the funnel over chains starting in it. */
  async trend(spec: FunnelSpec, interval: TrendIntervalName, options: FunnelCallOptions = {}): Promise<FunnelTrendPoint[]> {
    const budget = this.budget(options);
    const plan = onlyOneRange(planFunnel(spec), 'funnelTrend');
    if (interval !== 'day' && interval !== 'week') throw badInput('interval must be DAY or WEEK.');
    const periods = periodsOf(plan.fromMicros, plan.toMicros, interval);
    if (periods.length > MAX_TREND_PERIODS) {
      throw badInput(`That range holds ${periods.length} ${interval}s; ask for at most ${MAX_TREND_PERIODS} (a shorter range, or WEEK).`);
    }
    const outcome = await this.compute({ kind: 'trend', plan, periods }, budget);
    if (outcome.kind !== 'trend') throw new Error(`expected a trend, got ${outcome.kind}`);
    return periods.map(([start, end], n) => {
      const { entered, converted } = outcome.periods[n];
      return {
        periodStart: new Date(start / 1000),
        periodEnd: new Date(end / 1000),
        entered,
        converted,
        conversionRate: entered === 0 ? 0 : converted / entered,
      };
    });
  }

  async timeToConvert(spec: FunnelSpec, fromStep: number, toStep: number, buckets = 10, options: FunnelCallOptions = {}): Promise<TimeToConvert> {
    const budget = this.budget(options);
    const plan = onlyOneRange(planFunnel(spec), 'timeToConvert');
    const stepCount = plan.steps.length;
    if (!Number.isInteger(fromStep) || !Number.isInteger(toStep) || fromStep < 1 || toStep > stepCount || fromStep >= toStep) {
      throw badInput(`Need 1 ≤ fromStep < toStep ≤ ${stepCount} (steps count from 1); got fromStep ${fromStep}, toStep ${toStep}.`);
    }
    if (!Number.isInteger(buckets) || buckets < 1 || buckets > MAX_BUCKETS) {
      throw badInput(`buckets must be a whole number from 1 to ${MAX_BUCKETS}; got ${buckets}.`);
    }
    const outcome = await this.compute({ kind: 'timeToConvert', plan, fromStep, toStep, buckets }, budget);
    if (outcome.kind !== 'timeToConvert') throw new Error(`expected timeToConvert, got ${outcome.kind}`);
    return {
      fromStep,
      toStep,
      units: outcome.units,
      summary: stepDuration(outcome.summary),
      buckets: outcome.histogram.map((bucket): DurationBucket => ({ start: toSeconds(bucket.start), end: toSeconds(bucket.end), count: bucket.count })),
    };
  }

  /**
   * Units that reached `afterStep` and no further, a page of at most `first` (1–1000) after the
   * cursor `after`, with `totalCount` over every page. Order: user (dense id, i.e. first seen),
   * then session id; the cursor names the last unit shown, so pages stay stable while new events
   * arrive (a unit that converts meanwhile simply leaves the list). BAD_USER_INPUT for a step
   * out of range, `first` out of range or a cursor that is not this list's; ANALYTICS_UNSUPPORTED
   * for a driver `factor` on a server whose funnels run on ClickHouse.
   */
  async droppedOff(
    spec: FunnelSpec,
    afterStep: number,
    first = DROPPED_OFF_PAGE.default,
    after?: string | null,
    options: FunnelCallOptions = {},
    factorCode?: string | null,
  ): Promise<DroppedOffUnitConnection> {
    const budget = this.budget(options);
    const plan = onlyOneRange(planFunnel(spec), 'droppedOff');
    const stepCount = plan.steps.length;
    if (!Number.isInteger(afterStep) || afterStep < 1 || afterStep >= stepCount) {
      throw badInput(`afterStep must be a step after which units can drop off: 1 to ${stepCount - 1}; got ${afterStep}.`);
    }
    checkFirst(first, DROPPED_OFF_PAGE);
    const cursor = droppedOffCursor.decodeAfter(after);
    let factor: { sources: DriverSources; factor: DriverFactor } | null = null;
    if (factorCode !== undefined && factorCode !== null) {
      const decoded = decodeFactor(factorCode);
      if (decoded === null) throw badInput('factor is not a driver factor; take it from a funnelDrivers answer (droppedOff.factor).');
      if (this.engine) throw analyticsUnsupported('droppedOff with a driver `factor`', 'drop the `factor` argument to list every unit that dropped off');
      const cohorts = decoded.kind === 'cohort' ? checkDriverCohorts([{ name: decoded.key, ...decoded.cohort }], 'factor') : [];
      factor = { factor: decoded, sources: await this.driverSources(afterStep, decoded.kind === 'stepProperty' ? [decoded.key] : [], decoded.kind === 'userProperty' ? [decoded.key] : [], true, true, cohorts) };
    }
    const outcome = await this.compute({ kind: 'droppedOff', plan, afterStep, first, cursor, factor }, budget);
    if (outcome.kind !== 'droppedOff') throw new Error(`expected droppedOff, got ${outcome.kind}`);
    const { page } = outcome;
    const userRows: { id: number; external_id: string }[] = page.length
      ? await this.dataSource.query('SELECT id, external_id FROM users WHERE id = ANY($1::int[])', [page.map((entry) => entry.user)])
      : [];
    const externalIdOf = new Map(userRows.map((row) => [row.id, row.external_id]));
    const edges = page.map((entry) => ({
      cursor: droppedOffCursor.encode({ user: entry.user, session: entry.session }),
      node: { userId: externalIdOf.get(entry.user) ?? String(entry.user), sessionId: entry.session, reachedAt: new Date(entry.reachedAt / 1000) },
    }));
    return { totalCount: outcome.totalCount, ...connectionOfEdges(edges, outcome.hasNextPage) };
  }

  /**
   * Conversion drivers from step `step` to the next (docs/funnels.md, "Conversion drivers"): among the
   * units whose reported chain reached `step`, the factors associated with going on versus dropping
   * off, each with its 2×2 table, odds ratio (95 % interval), Fisher p-value and Benjamini–Hochberg
   * q-value over every factor tested, and the droppedOff arguments that list its units that dropped
   * off. Beside them, the model drivers (model-drivers.ts): the ACTIVE purchase-propensity model's
   * explanations of at most `modelSample` units on each side, averaged; explaining runs on the main
   * thread in batches that yield to the event loop, within the same time limit. BAD_USER_INPUT for a
   * step that has no next step or options out of range; ANALYTICS_UNSUPPORTED on a server whose
   * funnels run on ClickHouse (drivers read every event type, which its funnel path does not load).
   */
  async drivers(spec: FunnelSpec, step: number, settings: FunnelDriversOptions = {}, options: FunnelCallOptions = {}): Promise<FunnelDrivers> {
    const budget = this.budget(options);
    const plan = onlyOneRange(planFunnel(spec), 'funnelDrivers');
    if (plan.controls !== null) {
      // Drivers find each step's event from the reported step times, which a held property or a skipped optional step makes ambiguous.
      throw badInput('funnelDrivers does not take funnel controls (step windowSeconds, minSecondsFromPrevious, optional, holdConstant); ask without them.');
    }
    const stepCount = plan.steps.length;
    if (!Number.isInteger(step) || step < 1 || step >= stepCount) throw badInput(`step must have a next step: 1 to ${stepCount - 1}; got ${step}.`);
    if (this.engine) throw analyticsUnsupported('funnelDrivers');
    const minSupport = settings.minSupport ?? 30;
    const alpha = settings.alpha ?? 0.05;
    const top = settings.top ?? 10;
    if (!Number.isInteger(minSupport) || minSupport < 1 || minSupport > 1_000_000) throw badInput(`minSupport must be a whole number from 1 to 1,000,000; got ${minSupport}.`);
    if (!(alpha > 0 && alpha < 1)) throw badInput(`alpha must lie strictly between 0 and 1; got ${alpha}.`);
    if (!Number.isInteger(top) || top < 1 || top > 100) throw badInput(`top must be a whole number from 1 to 100; got ${top}.`);
    const modelSample = settings.modelSample ?? MODEL_SAMPLE_DEFAULT;
    if (!Number.isInteger(modelSample) || modelSample < 0 || modelSample > MODEL_SAMPLE_MAX) {
      throw badInput(`modelSample must be a whole number from 0 to ${MODEL_SAMPLE_MAX} (0 leaves model drivers out); got ${modelSample}.`);
    }
    const propertyKeys = settings.properties ?? (await budget.race(this.propertyKeysOf(plan.steps[step - 1].eventType)));
    const cohorts = checkDriverCohorts(settings.cohorts ?? [], 'options.cohorts');
    const sources = await budget.race(this.driverSources(step, propertyKeys, settings.userProperties ?? [], settings.eventTypes ?? true, settings.hourOfDay ?? true, cohorts));
    sources.modelSample = modelSample;
    const outcome = await this.compute({ kind: 'drivers', plan, sources }, budget);
    if (outcome.kind !== 'drivers') throw new Error(`expected drivers, got ${outcome.kind}`);
    const report = reportDrivers(outcome.tally, { minSupport, alpha, top });
    const definitions = new Map(cohorts.map((cohort) => [cohort.name, cohort.spec]));
    return driversAnswer(report, step, await modelDriversOf(outcome.tally, this.explainer, modelSample, budget), definitions);
  }

  /** Property keys of the latest events of a type (at most MAX_DRIVER_KEYS, in key order). */
  private async propertyKeysOf(eventType: string): Promise<string[]> {
    const rows: { key: string }[] = await this.dataSource.query(
      `SELECT DISTINCT key FROM (SELECT props FROM events WHERE type = $1 ORDER BY id DESC LIMIT ${DRIVER_KEY_SAMPLE}) latest, jsonb_object_keys(latest.props) AS key
        WHERE jsonb_typeof(latest.props) = 'object' ORDER BY key LIMIT ${MAX_DRIVER_KEYS}`,
      [eventType],
    );
    return rows.map((row) => row.key);
  }

  /** Checks the keys and reads the user properties' values and the cohorts' members (per dense user id) for a drivers tally. */
  private async driverSources(step: number, propertyKeys: string[], userPropertyKeys: string[], eventTypes: boolean, hourOfDay: boolean, cohorts: CheckedCohort[] = []): Promise<DriverSources> {
    for (const [name, keys] of [['properties', propertyKeys], ['userProperties', userPropertyKeys]] as const) {
      if (keys.length > MAX_DRIVER_KEYS) throw badInput(`${name}: at most ${MAX_DRIVER_KEYS} keys; got ${keys.length}.`);
      for (const key of keys) if (typeof key !== 'string' || key.length === 0 || key.length > 200) throw badInput(`${name}: each key is 1–200 characters.`);
    }
    const userProperties: UserPropertyColumn[] = [];
    for (const key of new Set(userPropertyKeys)) {
      const rows: { id: number; value: unknown }[] = await this.dataSource.query('SELECT id, properties -> $1 AS value FROM users WHERE properties ? $1', [key]);
      const size = rows.reduce((max, row) => Math.max(max, row.id + 1), 0);
      const codes = new Int32Array(size);
      const values = ['(missing)'];
      const codeOf = new Map<string, number>();
      for (const { id, value } of rows) {
        const valueKey = groupKeyOf(value);
        let code = codeOf.get(valueKey);
        if (code === undefined) codeOf.set(valueKey, (code = values.push(valueKey) - 1));
        codes[id] = code;
      }
      userProperties.push({ key, codes, values });
    }
    const cohortColumns: CohortColumn[] = [];
    if (cohorts.length > 0) {
      // Every user stored now: a dense id past the end (a user stored later) is no member.
      const [{ size }]: { size: number }[] = await this.dataSource.query('SELECT coalesce(max(id), -1) + 1 AS size FROM users');
      for (const cohort of cohorts) cohortColumns.push({ name: cohort.name, members: await cohortUsers(this.dataSource, cohort.plan, Number(size)) });
    }
    return { step, propertyKeys: [...new Set(propertyKeys)], userProperties, cohorts: cohortColumns, eventTypes, hourOfDay };
  }

  /**
   * FUNNELCAST_FUNNEL_WORKERS=0: funnels one at a time, each in its own turn of the event loop, so
   * waiting I/O (health, other requests) is served between one funnel and the next.
   */
  private onMainThread<T>(work: () => T): Promise<T> {
    const run = this.mainThreadTurn.then(() => new Promise<void>((done) => setImmediate(done))).then(work);
    this.mainThreadTurn = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  private budget(options: FunnelCallOptions): FunnelBudget {
    const budget = new FunnelBudget(this.timeoutMs, options);
    budget.check();
    return budget;
  }

  /** Times `computeUntimed` into funnelcast_funnel_query_duration_seconds, labelled with the engine that answered. */
  private async compute(job: FunnelJob, budget: FunnelBudget): Promise<FunnelOutcome> {
    const started = performance.now();
    let outcome = 'error';
    try {
      const result = await this.computeUntimed(job, budget);
      outcome = 'ok';
      return result;
    } finally {
      metrics().funnelQueryDuration.observe({ query: job.kind, outcome, engine: this.engine ? 'clickhouse' : 'inprocess' }, secondsSince(started));
    }
  }

  /** Main thread: catch the mirror up and read the cohort; then the computation, on a worker when there is a pool. */
  private async computeUntimed(job: FunnelJob, budget: FunnelBudget): Promise<FunnelOutcome> {
    // ClickHouse (FUNNELCAST_ANALYTICS=clickhouse) reads and groups the events; the engine evaluates them.
    if (this.engine) return this.engine.compute(job, budget);
    const { plan } = job;
    const snapshot = await budget.race(this.mirror.snapshot(needsOfJob(job)));
    const cohortUsers = await budget.race(includedUsers(this.dataSource, plan, snapshot.userCount));
    const cached = this.sessionLayout?.baseVersion === snapshot.baseVersion ? this.sessionLayout.layout : null;
    const inputs = { snapshot, cohortUsers, sessionLayout: plan.countBy === 'session' ? cached : null };
    let result: ReturnType<typeof runFunnelJob>;
    if (this.pool) {
      result = await this.pool.run(job, inputs, budget);
    } else {
      result = await this.onMainThread(() => {
        budget.check();
        return runFunnelJob(job, inputs);
      });
    }
    const { outcome, builtSessionLayout } = result;
    if (builtSessionLayout && (this.sessionLayout === null || this.sessionLayout.baseVersion <= snapshot.baseVersion)) {
      this.sessionLayout = { baseVersion: snapshot.baseVersion, layout: builtSessionLayout };
    }
    return outcome;
  }

  async save(name: string, spec: FunnelSpec): Promise<SavedFunnel> {
    if (typeof name !== 'string' || name.trim().length === 0 || name.length > 200) throw badInput('name must be 1–200 characters.');
    planFunnel(spec); // only funnels that run can be saved
    const cohort = spec.cohort?.userIds && !spec.cohort.idsAsStored && currentKey() ? { ...spec.cohort, userIds: pseudonymousIds(spec.cohort.userIds), idsAsStored: true } : spec.cohort;
    const definition = { ...spec, cohort, from: spec.from.toISOString(), to: spec.to.toISOString() };
    const [row]: SavedFunnelRow[] = await this.dataSource.query(
      'INSERT INTO saved_funnels (name, definition) VALUES ($1, $2) RETURNING id, name, definition, created_at',
      [name.trim(), JSON.stringify(definition)],
    );
    return savedFunnel(row);
  }

  async list(): Promise<SavedFunnel[]> {
    const rows: SavedFunnelRow[] = await this.dataSource.query('SELECT id, name, definition, created_at FROM saved_funnels ORDER BY created_at, id');
    return rows.map(savedFunnel);
  }

  /** True when a funnel was deleted, false when there was none with that id. */
  async delete(id: string): Promise<boolean> {
    if (!isUuid(id)) return false;
    const [, affected]: [unknown, number] = await this.dataSource.query('DELETE FROM saved_funnels WHERE id = $1', [id]);
    return affected > 0;
  }

  /**
   * Loads the mirror with what the saved funnels need: every event, plus the property keys they
   * filter or break down on and the sessions when one counts by session, so their first run does not
   * pay the first-use load (seconds at 10M events). For the start of the server, in the background.
   * A saved definition that no longer plans is skipped (running it reports why). Rejects only when
   * the database does.
   */
  async warmUp(): Promise<{ events: number; propertyKeys: string[]; sessions: boolean }> {
    // Another engine keeps its own copy: bring that up to date instead of loading the mirror.
    if (this.engine) return { events: await this.engine.warmUp(), propertyKeys: [], sessions: false };
    const propertyKeys = new Set<string>();
    let sessions = false;
    let items = false;
    for (const saved of await this.list()) {
      let plan: FunnelPlan;
      try {
        plan = planFunnel(specOfSaved(saved.definition));
      } catch {
        continue;
      }
      const needs = needsOf(plan);
      for (const key of needs.propertyKeys ?? []) propertyKeys.add(key);
      sessions ||= needs.sessions === true;
      items ||= needs.items === true;
    }
    const snapshot = await this.mirror.snapshot({ propertyKeys: [...propertyKeys], sessions, items });
    return { events: snapshot.eventCount, propertyKeys: [...propertyKeys], sessions };
  }

  /** Runs a saved funnel; `from` / `to` replace the saved range when given. */
  async runSaved(id: string, from?: Date | null, to?: Date | null, options: FunnelCallOptions = {}): Promise<FunnelResult> {
    const rows: SavedFunnelRow[] = isUuid(id) ? await this.dataSource.query('SELECT id, name, definition, created_at FROM saved_funnels WHERE id = $1', [id]) : [];
    if (rows.length === 0) throw notFound(`No saved funnel has id "${id}"; list them with the funnels query.`);
    const saved = specOfSaved(rows[0].definition);
    return this.funnel({ ...saved, from: from ?? saved.from, to: to ?? saved.to }, options);
  }

  private stepResults(plan: FunnelPlan, report: FunnelReport): FunnelStepResult[] {
    return report.steps.map((step, k) => ({
      index: step.step,
      label: plan.labels[k],
      type: plan.steps[k].eventType,
      count: step.count,
      conversionFromPrevious: step.conversionFromPrevious,
      conversionFromFirst: step.conversionFromFirst,
      dropOff: step.dropOff,
      timeFromPrevious: stepDuration(step.timeFromPrevious),
    }));
  }
}

/** A saved definition (JSON: instants as ISO text) as a FunnelSpec. */
function specOfSaved(definition: Record<string, unknown>): FunnelSpec {
  const saved = definition as unknown as Omit<FunnelSpec, 'from' | 'to' | 'compareTo'> & {
    from: string;
    to: string;
    compareTo?: { from?: string | null; to?: string | null; previousPeriod?: boolean | null } | null;
  };
  const instant = (text: string | null | undefined) => (text == null ? null : new Date(text));
  // previousPeriod stays relative: a saved funnel run over another range compares with the period before that one.
  const compareTo = saved.compareTo ? { from: instant(saved.compareTo.from), to: instant(saved.compareTo.to), previousPeriod: saved.compareTo.previousPeriod ?? null } : null;
  return { ...saved, from: new Date(saved.from), to: new Date(saved.to), compareTo };
}

/** A plan for a query that answers one range: compareTo is refused, with what to do instead. */
function onlyOneRange(plan: FunnelPlan, query: string): FunnelPlan {
  if (plan.compareTo !== null) throw badInput(`compareTo applies to the funnel query only; ask ${query} once per range.`);
  return plan;
}

/** A breakdown target as the client named it. */
function targetName(target: FilterTarget): string {
  return target.on === 'property' ? target.key : target.on === 'itemId' ? 'itemId' : 'item.category';
}

/** The mirror columns a job reads: its funnel's, and the properties its driver factors read. */
function needsOfJob(job: FunnelJob): MirrorNeeds {
  const needs = needsOf(job.plan);
  const sources = job.kind === 'drivers' ? job.sources : job.kind === 'droppedOff' ? job.factor?.sources : undefined;
  if (sources && sources.propertyKeys.length > 0) needs.propertyKeys = [...new Set([...(needs.propertyKeys ?? []), ...sources.propertyKeys])];
  return needs;
}

interface SavedFunnelRow {
  id: string;
  name: string;
  definition: Record<string, unknown>;
  created_at: Date;
}

function savedFunnel(row: SavedFunnelRow): SavedFunnel {
  return { id: row.id, name: row.name, definition: row.definition, createdAt: row.created_at };
}


/** [start, end) periods covering [from, to), cut at UTC midnights (day) or Mondays 00:00 UTC (week). */
export function periodsOf(fromMicros: number, toMicros: number, interval: TrendIntervalName): [number, number][] {
  const length = interval === 'day' ? DAY_MICROS : 7 * DAY_MICROS;
  // 1970-01-01 was a Thursday, so Mondays fall 3 days before multiples of 7 days after it.
  const origin = interval === 'day' ? 0 : -3 * DAY_MICROS;
  const periods: [number, number][] = [];
  let start = fromMicros;
  while (start < toMicros && periods.length <= MAX_TREND_PERIODS) {
    const boundary = origin + (Math.floor((start - origin) / length) + 1) * length;
    const end = Math.min(boundary, toMicros);
    periods.push([start, end]);
    start = end;
  }
  return periods;
}
