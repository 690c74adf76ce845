/**
 * Funnels answered from ClickHouse (FUNNELCAST_ANALYTICS=clickhouse), identical to the in-process
 * engine by construction: ClickHouse does what grows with the events (keeping them, each once;
 * cutting them to the range and to the event types the funnel names; grouping them per counting
 * unit in (timestamp, id) order), and each unit's short event list is then evaluated by the same
 * windowFunnel engine (window-funnel.ts), step filters (step-filter.ts) and aggregation
 * (funnel-aggregate.ts) as the in-process path. So every mode, exclusion, cohort, breakdown,
 * trend, time to convert and dropped-off list means exactly what it means there, ties in time
 * included, where ClickHouse's own `windowFunnel` differs (FUNNEL-SEMANTICS.md).
 *
 * What the API process holds per query is, for one slice of users at a time (`slicesOf`, about
 * `sliceEvents` events; the next slice is read meanwhile), the events of the units that start a
 * chain in the range (only the funnel's event types, unless strict_order needs all); across slices,
 * only what their partial outcomes merge (counts, and the durations behind medians): never the
 * shop's whole history.
 *
 * Levels in ClickHouse (`pushLevels`, on by default): where ClickHouse's own `windowFunnel` provably
 * gives our level (`levelPushdownOf`: steps whose filters compile to SQL, no exclusions, and per unit
 * no two scanned rows at one timestamp; FUNNEL-SEMANTICS.md, "Deliberate differences"), a slice's
 * first query returns each unit's level (`levelsSql`), and a second its events only for the units
 * whose answer needs more than the level (step times of the reported chain, a breakdown's step-1
 * event) or whose rows are tied (`withLists`). Units whose level alone answers (in a plain report,
 * everyone below step 2) never leave ClickHouse as event lists.
 */
import type { DataSource } from 'typeorm';
import { combinationKeyOf, groupKeyOf, MISSING_GROUP_KEY } from '../funnel/breakdown-key';
import { durationsBetween, FunnelTally, FunnelUnitLevels, tallyFunnel } from '../funnel/funnel-aggregate';
import type { FunnelBudget } from '../funnel/funnel-budget';
import { includedUsers } from '../funnel/funnel-cohort';
import type { FunnelPlan } from '../funnel/funnel-definition';
import { DroppedKey, droppedPartial, DroppedUnit, enteredUnitsOf, FunnelJob, FunnelOutcome, FunnelPartial, sortAfterCursor, talliesByKey, trendCounts } from '../funnel/funnel-jobs';
import { mergeFunnelParts } from '../funnel/funnel-split';
import { engineFor, FunnelEngine, needsOf, optionalStepsOf } from '../funnel/funnel-run';
import { ControlledFunnel } from '../funnel/controlled-funnel';
import type { FilterTarget } from '../funnel/step-filter';
import { compileStepMask, FunnelEventRow } from '../funnel/step-filter';
import { analyticsUnsupported } from '../graphql/errors';
import { ownValue } from '../own-property';
import type { ClickHouseClient } from './clickhouse-client';
import { sqlString } from './clickhouse-client';
import { stepConditionSql } from './clickhouse-filters';
import { tableName } from './clickhouse-schema';
import type { ClickHouseSync } from './clickhouse-sync';

/** One counting unit as ClickHouse returns it: events in (ts, id) order, only when it can start a chain in the range. */
interface UnitRow {
  user: number;
  session?: string | null;
  /** Some event (any type) in [from, to). */
  active: number;
  /** The events' timestamps (µs), in (ts, id) order; empty when the unit's events did not travel. */
  times: number[];
  /** Their types as codes: 1 + the index in funnelTypesOf(plan), 0 for a type the funnel does not name (read under strict_order). */
  codes: number[];
  /** Their item ids and properties' JSON text ('' where not needed; absent when no type needs them). */
  items: (number | null)[];
  props?: string[];
  /** With the level pushed down and no events: the unit's level is ClickHouse's `level`, exact and all the answer needs. */
  known?: boolean;
  level?: number;
  /** With `known` under a breakdown: the first in-range step-1 event's item id and properties ('' unless read). */
  first?: [number | null, string];
}

/** One counting unit as the level query (`levelsSql`) returns it. */
interface LevelRow {
  user: number;
  session?: string | null;
  active: number;
  /** Some step-1-type event in [from, to): only such a unit can start a chain (and gets a list on the per-unit path). */
  starts: number;
  /** ClickHouse's windowFunnel level over the unit's scanned rows. */
  level: number;
  /** 1 when no two scanned rows share a timestamp (the level is then ours). */
  untied: number;
  /** Under a breakdown: the first in-range step-1 event's item id and properties ('' unless read). */
  first?: [number | null, string];
}

/** Users [low, high) by dense id: the units one slice of a query reads. */
export interface UserSlice {
  low: number;
  high: number;
}

/** A unit ready for the engine. */
interface Unit {
  user: number;
  session: string | null;
  active: boolean;
  times: Float64Array;
  steps: Uint32Array;
  exclusions: Uint32Array | undefined;
  /** With holdConstant: the held value code per event (0: none), as ControlledFunnel.holdValues; null otherwise. */
  holds: Int32Array | null;
  /** The level as ClickHouse computed it, when that is exact and the answer needs no events of this unit (no events then). */
  knownLevel: number | null;
  /** With knownLevel >= 1 under a breakdown: ClickHouse sent the reported step-1 event (`rowAt(0)`). */
  knownFirst: boolean;
  /** Event i as step-filter.ts reads it (properties parsed, item looked up), made on demand. */
  rowAt(i: number): FunnelEventRow;
}

/**
 * How a query pushes the level into ClickHouse: the `windowFunnel` call, which scanned rows it reads,
 * and when a unit's events must still travel (SQL over `level`).
 */
export interface LevelPushdown {
  /** `windowFunnelIf(...)(...)` over the scanned rows. */
  level: string;
  /** The rows windowFunnel reads (every row under strict_order, else those matching a step; less post-`to` rows matching only step 1). */
  scanned: string;
  /** Whether a unit at this level (untied) needs its events for the answer; one with ties always does. */
  needs(level: number): boolean;
  /** Under a breakdown: the first in-range step-1 event's (item id, properties), the reported step-1 event of a unit at level 1. */
  firstStep: string | null;
}

const MODE_SQL: [keyof FunnelPlan['modes'], string][] = [
  ['strictDeduplication', 'strict_deduplication'],
  ['strictOrder', 'strict_order'],
  ['strictIncrease', 'strict_increase'],
  ['strictOnce', 'strict_once'],
  ['allowReentry', 'allow_reentry'],
];

/**
 * Whether and how `job`'s levels can come from ClickHouse's `windowFunnel`; null when they cannot.
 * They can when every step's filters compile to SQL (`stepConditionSql`, clickhouse-filters.ts: the
 * conditions are then `type = … AND <filters>`, true exactly where step-filter.ts matches), there are
 * no exclusions (ClickHouse has none), the range starts at or after the epoch (windowFunnel wants
 * unsigned timestamps), and not under strict_increase without strict_once on a funnel that names a
 * type twice (an event matching two steps, where ClickHouse's greedy state differs). Per unit, the
 * query adds "no ties in time" among the scanned rows, the other documented difference. Under these
 * conditions `window-funnel.clickhouse.spec.ts` checks ClickHouse's level against ours in all 24
 * mode combinations on random logs and ranges, for any set of steps each event matches (so filters
 * change nothing there), with the same range mapping (FUNNEL-SEMANTICS.md, "Time range"). Trends
 * keep the per-unit path (one level per period, not per range).
 *
 * The scanned rows: under strict_order every row (one matching no step stops a scan, in both
 * engines); otherwise the rows matching some step (with filters, a row of a step's type may match
 * none; both engines skip such rows, so they need not be free of ties). Left out either way: a row
 * at or after `to` that matches step 1 and no other step (see below).
 */
export function levelPushdownOf(job: FunnelJob): LevelPushdown | null {
  const { plan } = job;
  // Drivers never reach ClickHouse (FunnelService.drivers refuses them first); a factor-filtered drop-off list needs every event.
  if (job.kind === 'trend' || job.kind === 'drivers' || (job.kind === 'droppedOff' && job.factor)) return null;
  if (plan.exclusions.length > 0) return null;
  // Controls (per-step windows, gaps, optional steps, held properties) have no windowFunnel form: per unit.
  if (plan.controls !== null) return null;
  if (plan.fromMicros < 0) return null;
  const types = plan.steps.map((step) => step.eventType);
  const repeated = new Set(types).size < types.length;
  if (plan.modes.strictIncrease && !plan.modes.strictOnce && repeated) return null;
  const matches = plan.steps.map(stepConditionSql);
  if (matches.some((match) => match === null)) return null;
  const stepMatches = matches as string[];
  const filtered = plan.steps.some((step) => (step.filters ?? []).length > 0);
  const to = Math.floor(plan.toMicros);
  const conditions = stepMatches.map((match, k) => (k === 0 ? `${match} AND ts < ${to}` : match));
  const modes = MODE_SQL.filter(([name]) => plan.modes[name]).map(([, sql]) => `, '${sql}'`).join('');
  const relevant = plan.modes.strictOrder ? '1' : filtered ? `(${stepMatches.join(' OR ')})` : `has([${[...new Set(types)].map(sqlString).join(', ')}], type)`;
  // A row at or after `to` whose only match is step 1 starts nothing for us, but would be a row
  // matching no condition for ClickHouse (stopping a strict_order scan): left out, as in the spec.
  // Only a later step of step 1's type can match it too; one without filters always does.
  const laterOfFirstType = plan.steps.map((step, k) => ({ step, match: stepMatches[k] })).filter(({ step }, k) => k > 0 && step.eventType === types[0]);
  const stepOneOnly = laterOfFirstType.some(({ step }) => (step.filters ?? []).length === 0)
    ? '0'
    : laterOfFirstType.length === 0
      ? stepMatches[0]
      : `${stepMatches[0]} AND NOT (${laterOfFirstType.map(({ match }) => match).join(' OR ')})`;
  const scanned = `(${relevant} AND NOT (ts >= ${to} AND ${stepOneOnly}))`;
  let needs: (level: number) => boolean;
  switch (job.kind) {
    case 'report':
      // Step times (time from previous) exist from step 2. A breakdown reads every entered unit's
      // reported step-1 event; at level 1 that is the first in-range step-1 event (`firstStep`).
      needs = (level) => level >= 2;
      break;
    case 'timeToConvert': {
      const { toStep } = job;
      needs = (level) => level >= toStep;
      break;
    }
    case 'droppedOff': {
      const { afterStep } = job;
      needs = (level) => level === afterStep;
      break;
    }
  }
  return {
    level: `windowFunnelIf(${Math.floor(plan.windowMicros)}${modes})(toUInt64(ts), ${conditions.join(', ')}, ${scanned})`,
    scanned,
    needs,
    firstStep: plan.breakdown
      ? `argMinIf((item_id, ${plan.breakdown.targets.some((target) => target.on === 'property') ? 'props' : "''"}), ts, ${conditions[0]})`
      : null,
  };
}

interface Evaluation extends FunnelUnitLevels {
  activeUnits: Int32Array;
  /** Index in the unit's events of the reported chain's step-1 event; -1 at level 0. */
  firstEvents: Int32Array;
}

export class ClickHouseFunnels {
  constructor(
    private readonly dataSource: DataSource,
    private readonly clickhouse: ClickHouseClient,
    private readonly sync: ClickHouseSync,
    private readonly database: string,
  ) {}

  /** Push levels into ClickHouse's windowFunnel where it provably agrees (see the header); false: every unit per unit. */
  pushLevels = true;

  /**
   * Units answered by their ClickHouse level alone (no events travelled), and units whose level
   * could have been pushed down but whose scanned rows had ties in time, so their events travelled;
   * since start. Tests and the bench read them to see which path ran.
   */
  readonly pushdownStats = { levelOnly: 0, tied: 0 };

  /**
   * Events (in a query's range, counted without FINAL: an estimate) per slice of users: each slice
   * is one ClickHouse query whose units the API process evaluates before reading the next, so
   * neither side holds more than a slice's unit lists (FUNNELCAST_CLICKHOUSE_SLICE_EVENTS).
   */
  sliceEvents = 1_000_000;

  /** Queries answered and slices read for them, since start (tests and the bench read them). */
  readonly sliceStats = { queries: 0, slices: 0 };

  /**
   * Catches ClickHouse up with PostgreSQL (so every committed event counts, as in-process), then
   * answers `job` slice by slice of users (`slicesOf`): each slice's units become a partial outcome
   * that merges exactly (funnel-split.ts's rules: counts add, durations interleave sorted, breakdown
   * tallies add per key before the top N is chosen, dropped-off pages keep the first `first`), so the
   * answer is the one a single pass over all units gives. Each unit lies wholly in one slice
   * (slices are ranges of user ids; a session belongs to its user).
   */
  async compute(job: FunnelJob, budget: FunnelBudget): Promise<FunnelOutcome> {
    const { plan } = job;
    await budget.race(this.sync.catchUp());
    const [{ size }]: { size: number }[] = await budget.race(this.dataSource.query('SELECT COALESCE(MAX(id), 0)::int + 1 AS size FROM users'));
    const cohortUsers = await budget.race(includedUsers(this.dataSource, plan, size));
    if (job.kind === 'drivers') throw analyticsUnsupported('funnelDrivers'); // refused earlier by FunnelService.drivers
    if (job.kind === 'droppedOff' && job.factor) throw analyticsUnsupported('droppedOff with a driver `factor`', 'drop the `factor` argument to list every unit that dropped off');
    const pushdown = this.pushLevels ? levelPushdownOf(job) : null;
    const engine = engineFor(plan);
    const optional = optionalStepsOf(plan);
    const partials: FunnelPartial[] = [];
    const slices = await budget.race(this.slicesOf(plan));
    this.sliceStats.queries++;
    this.sliceStats.slices += slices.length;
    // While the API process works on one slice, ClickHouse already answers the next slice's first
    // query (a query runs off the event loop), so the two overlap.
    const first = (slice: UserSlice): Promise<UnitRow[] | LevelRow[]> => {
      const rows = pushdown ? this.clickhouse.query<LevelRow>(this.levelsSql(plan, pushdown, slice)) : this.clickhouse.query<UnitRow>(this.unitsSql(plan, slice));
      // Awaited below; until then a failure (or one after a timeout gave up on it) must not go unhandled.
      rows.catch(() => undefined);
      return rows;
    };
    let next = slices.length > 0 ? first(slices[0]) : null;
    // No event in the range: one empty slice still gives the empty answer's shape.
    for (let n = 0; n < Math.max(1, slices.length); n++) {
      const slice = slices.length > 0 ? slices[n] : null;
      const answered: UnitRow[] | LevelRow[] = next === null ? [] : await budget.race(next);
      next = n + 1 < slices.length ? first(slices[n + 1]) : null;
      const rows = pushdown && slice ? await budget.race(this.withLists(plan, pushdown, slice, answered as LevelRow[])) : (answered as UnitRow[]);
      budget.check();
      const units = await budget.race(this.unitsOf(plan, rows, cohortUsers));
      partials.push(partialOf(job, engine, units, optional));
      budget.check();
    }
    return mergeFunnelParts(job, partials);
  }

  /**
   * Ranges of user ids [low, high) that cut the events of the query's range into slices of about
   * `sliceEvents` events (assuming events spread evenly over user ids, as dense ids make them
   * roughly do; a slice may hold more, never a part of a unit). Empty when the range has no event.
   */
  async slicesOf(plan: FunnelPlan): Promise<UserSlice[]> {
    const [stats] = await this.clickhouse.query<{ low: number; high: number; events: number }>(
      `SELECT min(user_id) AS low, max(user_id) AS high, count() AS events FROM ${tableName(this.database, 'events')} WHERE ${this.rangeSql(plan)}`,
    );
    const events = Number(stats?.events ?? 0);
    return events === 0 ? [] : userSlices(Number(stats.low), Number(stats.high), events, this.sliceEvents);
  }

  /** The rows a query reads: from `from` up to `to + window`, with a session id when counting sessions. */
  private rangeSql(plan: FunnelPlan): string {
    return `ts >= ${Math.floor(plan.fromMicros)} AND ts < ${Math.floor(plan.toMicros) + plan.windowMicros}${plan.countBy === 'session' ? ' AND session_id IS NOT NULL' : ''}`;
  }

  /**
   * The pushed-down slice's units as UnitRows: those whose level answers alone (`known`), and the
   * others (with ties, or whose level the answer cannot use alone) with their event lists, read by
   * a second query for just their users (`unitsSql` with a bitmap of them). Each unit's answer then
   * comes from one read: its level, or its events. The lists' query may see events the level query
   * did not (the sync inserted between): such a unit is answered from its events, as it would be a
   * moment later; a unit only the second read has is left for the next query.
   */
  private async withLists(plan: FunnelPlan, pushdown: LevelPushdown, slice: UserSlice, levels: LevelRow[]): Promise<UnitRow[]> {
    const needs = (row: LevelRow): boolean => flag(row.starts) && (!flag(row.untied) || pushdown.needs(Number(row.level)));
    const users = new Uint8Array(Math.ceil((slice.high - slice.low) / 8));
    let needed = 0;
    for (const row of levels) {
      if (flag(row.starts) && !flag(row.untied)) this.pushdownStats.tied++;
      if (!needs(row)) continue;
      const bit = row.user - slice.low;
      users[bit >> 3] |= 1 << (bit & 7);
      needed++;
    }
    this.pushdownStats.levelOnly += levels.length - needed;
    const keyOf = (row: { user: number; session?: string | null }): string => (row.session == null ? String(row.user) : `${row.user}\u0000${row.session}`);
    const lists = new Map<string, UnitRow>();
    if (needed > 0) for (const row of await this.clickhouse.query<UnitRow>(this.unitsSql(plan, slice, users))) lists.set(keyOf(row), row);
    return levels.map((row): UnitRow => {
      const active = flag(row.active) ? 1 : 0;
      if (needs(row)) return { ...(lists.get(keyOf(row)) ?? { user: row.user, session: row.session, times: [], codes: [], items: [] }), active };
      return { user: row.user, session: row.session, active, times: [], codes: [], items: [], known: true, level: flag(row.starts) ? Number(row.level) : 0, first: row.first };
    });
  }

  /**
   * The level query of a pushed-down slice: one row per counting unit with an event in [from, to)
   * (as `unitsSql`'s), with whether it has a step-1-type event in [from, to), ClickHouse's
   * windowFunnel level over the scanned rows, whether those rows are untied (no two at one
   * timestamp: the level is then ours), and under a breakdown the first in-range step-1 event's
   * item id and properties. No event lists: one pass that only aggregates.
   */
  levelsSql(plan: FunnelPlan, pushdown: LevelPushdown, slice: UserSlice): string {
    const session = plan.countBy === 'session';
    const to = Math.floor(plan.toMicros);
    return `
SELECT user_id AS user${session ? ', session_id AS session' : ''},
  countIf(ts < ${to}) > 0 AS active,
  countIf(type = ${sqlString(plan.steps[0].eventType)} AND ts < ${to}) > 0 AS starts,
  ${pushdown.level} AS level,
  uniqExactIf(ts, ${pushdown.scanned}) = countIf(${pushdown.scanned}) AS untied${pushdown.firstStep ? `,
  ${pushdown.firstStep} AS first` : ''}
FROM ${tableName(this.database, 'events')} FINAL
WHERE ${this.rangeSql(plan)} AND user_id >= ${slice.low} AND user_id < ${slice.high}
GROUP BY user_id${session ? ', session_id' : ''}
HAVING active
ORDER BY user${session ? ', session' : ''}`;
  }

  /**
   * One row per counting unit with an event in [from, to) (or, for a trend, any of its periods:
   * the same range): whether it is active, and when it has a step-1-type event in [from, to), its
   * events from `from` up to `to + window` in (ts, id) order: those of the funnel's types, or all
   * of them under strict_order (an event matching no step stops its scan). Properties travel only
   * for the types whose steps or exclusions filter on them, or whose step-1 event a breakdown reads.
   * With `slice`, only the units of users in [slice.low, slice.high); with `users` too, only those
   * of the users it marks (a bitmap over the slice, `withLists`).
   */
  unitsSql(plan: FunnelPlan, slice: UserSlice | null = null, users: Uint8Array | null = null): string {
    const definitions = [...plan.steps, ...plan.exclusionSteps];
    const types = funnelTypesOf(plan);
    const propTypes = new Set(definitions.filter((step) => (step.filters ?? []).some((filter) => filter.on === 'property')).map((step) => step.eventType));
    if (plan.breakdown?.targets.some((target) => target.on === 'property')) propTypes.add(plan.steps[0].eventType);
    // A held event property is read on every step's events (exclusion-only types never join a chain).
    if (plan.holdTargets.some((target) => target.on === 'property')) for (const step of plan.steps) propTypes.add(step.eventType);
    const list = (values: Iterable<string>): string => `[${[...values].map(sqlString).join(', ')}]`;
    const relevant = plan.modes.strictOrder ? '1' : `has(${list(types)}, type)`;
    const props = propTypes.size === 0 ? "''" : `if(has(${list(propTypes)}, type), props, '')`;
    const session = plan.countBy === 'session';
    const to = Math.floor(plan.toMicros);
    const unitKey = `user_id${session ? ', session_id' : ''}`;
    let range = this.rangeSql(plan);
    if (slice) range += ` AND user_id >= ${slice.low} AND user_id < ${slice.high}`;
    // Only the users whose bit is set (bit i of byte i >> 3: user slice.low + i), as a constant of
    // (high − low) / 4 hex digits: a slice spans at most MAX_SLICE_USERS ids, so the statement stays
    // far below ClickHouse's max_query_size (256 KiB) where an IN list of ids might not.
    if (slice && users) {
      const bit = `(user_id - ${slice.low})`;
      // The shift is masked to 0..7 so that no row's value, even one the range rules out later, can be out of bounds.
      range += ` AND bitAnd(reinterpretAsUInt8(substring(unhex('${Buffer.from(users).toString('hex')}'), intDiv(${bit}, 8) + 1, 1)), bitShiftLeft(toUInt8(1), bitAnd(${bit}, 7))) != 0`;
    }
    // Parallel arrays, not an array of tuples: ClickHouse writes and Node parses them several times faster.
    return `
SELECT user${session ? ', session' : ''}, active,
  arrayMap(e -> e.1, events) AS times, arrayMap(e -> indexOf(${list(types)}, e.3), events) AS codes, arrayMap(e -> e.4, events) AS items${propTypes.size === 0 ? '' : ', arrayMap(e -> e.5, events) AS props'}
FROM (
SELECT user_id AS user${session ? ', session_id AS session' : ''},
  countIf(ts < ${to}) > 0 AS active,
  if(countIf(type = ${sqlString(plan.steps[0].eventType)} AND ts < ${to}) > 0,
     arraySort(e -> (e.1, e.2), groupArrayIf((ts, id, type, item_id, ${props}), ${relevant})),
     []) AS events
FROM ${tableName(this.database, 'events')} FINAL
WHERE ${range}
GROUP BY ${unitKey}
HAVING active
)
ORDER BY user${session ? ', session' : ''}`;
  }

  /**
   * Units in the cohort with their step and exclusion masks, worked out by step-filter.ts as
   * in-process. An event whose type no filter or held property reads gets its masks from its type
   * alone (computed once per type); only the others are turned into rows (properties parsed, item
   * looked up), and a breakdown's reported step-1 row is made when asked for (`rowAt`).
   */
  private async unitsOf(plan: FunnelPlan, rows: UnitRow[], cohortUsers: Uint8Array | null): Promise<Unit[]> {
    const stepMask = compileStepMask(plan.steps);
    const exclusionMask = plan.exclusionSteps.length > 0 ? compileStepMask(plan.exclusionSteps) : null;
    const items = needsOf(plan).items ? await this.itemsOf(rows) : null;
    const holdCode = plan.holdTargets.length > 0 ? holdCoder(plan.holdTargets) : null;
    const types = funnelTypesOf(plan);
    // Per type code (1-based; 0: a type the funnel does not name, read under strict_order), the
    // masks when they depend on the type alone, or -1 when the event's row is needed.
    const filtered = new Set([...plan.steps, ...plan.exclusionSteps].filter((step) => (step.filters ?? []).length > 0).map((step) => step.eventType));
    const bare = (type: string): FunnelEventRow => ({ type, props: null, itemId: null, category: null });
    const typeSteps = [holdCode === null ? 0 : -1, ...types.map((type) => (holdCode === null && !filtered.has(type) ? stepMask(bare(type)) : -1))];
    const typeExclusions = [0, ...types.map((type) => (exclusionMask === null ? 0 : filtered.has(type) ? -1 : exclusionMask(bare(type))))];
    const rowOf = (code: number, itemId: number | null, props: string): FunnelEventRow => {
      const item = itemId === null ? null : items?.get(itemId);
      return {
        type: code === 0 ? '' : types[code - 1],
        props: props === '' ? null : (JSON.parse(props) as Record<string, unknown>),
        itemId: item?.externalId ?? null,
        category: item?.category ?? null,
      };
    };
    const units: Unit[] = [];
    for (const row of rows) {
      if (cohortUsers !== null && (row.user >= cohortUsers.length || cohortUsers[row.user] === 0)) continue;
      const n = row.times.length;
      const { codes, items: itemIds, props } = row;
      const times = Float64Array.from(row.times);
      const steps = new Uint32Array(n);
      const exclusions = exclusionMask ? new Uint32Array(n) : undefined;
      const holds = holdCode ? new Int32Array(n) : null;
      for (let i = 0; i < n; i++) {
        const code = codes[i];
        const stepBits = typeSteps[code];
        const exclusionBits = typeExclusions[code];
        if (stepBits >= 0 && exclusionBits >= 0) {
          steps[i] = stepBits;
          if (exclusions) exclusions[i] = exclusionBits;
          continue;
        }
        const event = rowOf(code, itemIds[i], props?.[i] ?? '');
        steps[i] = stepMask(event);
        if (exclusions) exclusions[i] = exclusionMask!(event);
        if (holds) holds[i] = holdCode!(event);
      }
      // Units whose events did not travel (`withLists`): ClickHouse's level is ours, and all the answer needs.
      const knownLevel = row.known ? Number(row.level) : null;
      // The reported step-1 event of a unit at level >= 1 known from ClickHouse (a breakdown's key): its first in-range step-1 event.
      const first = knownLevel !== null && knownLevel >= 1 && row.first ? row.first : null;
      units.push({
        user: row.user,
        session: row.session ?? null,
        active: flag(row.active),
        times,
        steps,
        exclusions,
        holds,
        knownLevel,
        knownFirst: first !== null,
        rowAt: first !== null ? () => rowOf(1 + types.indexOf(plan.steps[0].eventType), first[0], first[1]) : (i) => rowOf(codes[i], itemIds[i], props?.[i] ?? ''),
      });
    }
    return units;
  }

  /** The shop's id and category of each item the units' events name (the catalog as it is now, like the mirror's). */
  private async itemsOf(rows: UnitRow[]): Promise<Map<number, { externalId: string; category: string | null }>> {
    const ids = new Set<number>();
    for (const row of rows) {
      for (const itemId of row.items) if (itemId !== null) ids.add(itemId);
      if (row.first && row.first[0] !== null) ids.add(row.first[0]);
    }
    const found: { id: number; external_id: string; category: string | null }[] =
      ids.size === 0 ? [] : await this.dataSource.query('SELECT id, external_id, category FROM items WHERE id = ANY($1::int[])', [[...ids]]);
    return new Map(found.map((item) => [item.id, { externalId: item.external_id, category: item.category }]));
  }
}

/**
 * User ids a slice spans at most, whatever its events: the pushed-down lists query names its users
 * by a bitmap of this many bits (50 KB, 100,000 hex digits in the statement). Sparse ids only make
 * more slices, most of them nearly empty.
 */
export const MAX_SLICE_USERS = 400_000;

/**
 * Contiguous ranges [low, high) covering the user ids lowest..highest (inclusive) in
 * ceil(events / sliceEvents) ranges of equal width (the last may be narrower), or more where that
 * width would pass MAX_SLICE_USERS; at most one per id, at least one.
 */
export function userSlices(lowest: number, highest: number, events: number, sliceEvents: number): UserSlice[] {
  const end = highest + 1;
  const count = Math.max(1, Math.min(end - lowest, Math.max(Math.ceil(events / sliceEvents), Math.ceil((end - lowest) / MAX_SLICE_USERS))));
  const width = Math.ceil((end - lowest) / count);
  const slices: UserSlice[] = [];
  for (let start = lowest; start < end; start += width) slices.push({ low: start, high: Math.min(end, start + width) });
  return slices;
}

/** A ClickHouse boolean as JSON gives it: 1 (UInt8), or true (Bool). */
function flag(value: unknown): boolean {
  return value === 1 || value === true;
}

/** The event types a funnel names (steps, then exclusions), each once, in that order: the type codes of UnitRow. */
export function funnelTypesOf(plan: FunnelPlan): string[] {
  return [...new Set([...plan.steps, ...plan.exclusionSteps].map((step) => step.eventType))];
}

/**
 * Levels and reported step times for chains starting in [from, to), as funnel-run.ts's
 * evaluateFunnel gives them. Active units: for the funnel's own range, those with any event in it
 * (ClickHouse's `active`, which counts every type); for a trend period, those with a read event in
 * it, which is all a trend uses (entered and converted units have a step-1 event there).
 */
function evaluate(engine: FunnelEngine, units: Unit[], from: number, to: number, ownRange: boolean, optional: boolean[] | undefined): Evaluation {
  const stepCount = engine.stepCount;
  const levels = new Uint8Array(units.length);
  const stepTimes = new Float64Array(units.length * stepCount);
  const firstEvents = new Int32Array(units.length).fill(-1);
  const active: number[] = [];
  const range = { from, to };
  units.forEach((unit, u) => {
    const { times, steps } = unit;
    let low = 0;
    while (low < times.length && times[low] < from) low++;
    let high = times.length;
    while (high > low && times[high - 1] >= to) high--;
    if (ownRange ? !unit.active : low === high) return;
    active.push(u);
    if (unit.knownLevel !== null) {
      // Level from ClickHouse; the job reads no step time or step-1 event of this unit (levelPushdownOf).
      levels[u] = unit.knownLevel;
      stepTimes.fill(NaN, u * stepCount, (u + 1) * stepCount);
      if (unit.knownFirst) firstEvents[u] = 0;
      return;
    }
    let canStart = false;
    for (let p = low; p < high && !canStart; p++) canStart = (steps[p] & 1) !== 0;
    if (!canStart) return;
    if (engine instanceof ControlledFunnel) engine.holdValues = unit.holds;
    levels[u] = engine.evaluateUnitInRange(times, steps, unit.exclusions, 0, times.length, range, stepTimes, u * stepCount);
    firstEvents[u] = engine.reportedFirstEvent;
  });
  return { levels, stepTimes, stepCount, optional, activeUnits: Int32Array.from(active), firstEvents };
}

/**
 * One slice's partial outcome of `job` (funnel-jobs.ts FunnelPartial), to be merged with the other
 * slices' by mergeFunnelParts exactly as a split in-process funnel's parts are.
 */
function partialOf(job: FunnelJob, engine: FunnelEngine, units: Unit[], optional: boolean[] | undefined): FunnelPartial {
  const { plan } = job;
  switch (job.kind) {
    case 'report': {
      const evaluation = evaluate(engine, units, plan.fromMicros, plan.toMicros, true, optional);
      return { kind: 'report', tally: tallyFunnel(evaluation, evaluation.activeUnits), breakdown: plan.breakdown ? breakdownPartOf(plan, units, evaluation) : null };
    }
    case 'trend':
      return {
        kind: 'trend',
        periods: job.periods.map(([start, end]) => trendCounts(evaluate(engine, units, start, end, false, optional))),
      };
    case 'timeToConvert': {
      const evaluation = evaluate(engine, units, plan.fromMicros, plan.toMicros, true, optional);
      return { kind: 'timeToConvert', durations: durationsBetween(evaluation, job.fromStep, job.toStep, evaluation.activeUnits).sort() };
    }
    case 'droppedOff':
      return droppedPartOf(units, evaluate(engine, units, plan.fromMicros, plan.toMicros, true, optional), job.afterStep, job.first, job.cursor);
    case 'drivers':
      // compute() refuses drivers before any work.
      throw analyticsUnsupported('funnelDrivers');
  }
}

/** Per breakdown key, the tally of the slice's entered units in that group, keyed by their reported step-1 event's value as funnel-jobs.ts keys them. */
function breakdownPartOf(plan: FunnelPlan, units: Unit[], evaluation: Evaluation): { keys: string[]; tallies: FunnelTally[] } {
  const targets = plan.breakdown!.targets;
  const { entered, enteredUnits } = enteredUnitsOf(evaluation);
  const keyOf = (row: FunnelEventRow | null, target: FilterTarget): string => {
    if (row === null) return MISSING_GROUP_KEY;
    if (target.on === 'property') return groupKeyOf(ownValue(row.props, target.key));
    return groupKeyOf((target.on === 'itemId' ? row.itemId : row.category) ?? undefined);
  };
  const keyOfUnit = Array.from(entered, (u) => {
    const position = evaluation.firstEvents[u];
    const row = position < 0 ? null : units[u].rowAt(position);
    // Several properties: the combination's key, as funnel-run.ts's breakdownKeys makes it.
    return targets.length === 1 ? keyOf(row, targets[0]) : combinationKeyOf(targets.map((target) => keyOf(row, target)));
  });
  return talliesByKey(enteredUnits, keyOfUnit);
}

/**
 * Codes for the held properties' values of an event row, equal for equal values within one query:
 * 0 when the event lacks one (absent or JSON null, no item, no category), as funnel-run.ts's codes.
 */
function holdCoder(targets: readonly FilterTarget[]): (row: FunnelEventRow) => number {
  const codes = new Map<string, number>();
  return (row) => {
    const parts: string[] = [];
    for (const target of targets) {
      const value = target.on === 'property' ? ownValue(row.props, target.key) : target.on === 'itemId' ? row.itemId : row.category;
      if (value === undefined || value === null) return 0;
      parts.push(JSON.stringify(value));
    }
    const key = parts.join(',');
    let code = codes.get(key);
    if (code === undefined) codes.set(key, (code = codes.size + 1));
    return code;
  };
}

/** The slice's units that reached `afterStep` and no further, as a dropped-off partial (funnel-jobs.ts droppedPartial). */
function droppedPartOf(units: Unit[], evaluation: Evaluation, afterStep: number, first: number, cursor: DroppedKey | null): Extract<FunnelPartial, { kind: 'droppedOff' }> {
  const dropped: DroppedUnit[] = [];
  for (const u of evaluation.activeUnits) {
    if (evaluation.levels[u] === afterStep) dropped.push({ unit: u, user: units[u].user, session: units[u].session });
  }
  return droppedPartial(evaluation, dropped, sortAfterCursor(dropped, cursor), first, afterStep);
}
