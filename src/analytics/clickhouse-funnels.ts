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
 * What the API process holds per query is the events of the units that start a chain in the range
 * (only the funnel's event types, unless strict_order needs all), not the shop's whole history.
 * Moving the level itself into ClickHouse's `windowFunnel` for units where it provably agrees is
 * the next step (docs/analytics-store.md, "What is left").
 */
import type { DataSource } from 'typeorm';
import { groupKeyOf, MISSING_GROUP_KEY, OTHER_GROUP_KEY } from '../funnel/breakdown-key';
import { aggregateFunnel, breakdownFunnel, durationsBetween, FunnelUnitLevels, summarizeDurations, timeToConvertHistogram } from '../funnel/funnel-aggregate';
import type { FunnelBudget } from '../funnel/funnel-budget';
import { includedUsers } from '../funnel/funnel-cohort';
import type { FunnelPlan } from '../funnel/funnel-definition';
import { compareDropped, DroppedKey, DroppedOffOutcome, enteredUnitsOf, FunnelJob, FunnelOutcome } from '../funnel/funnel-jobs';
import { needsOf } from '../funnel/funnel-run';
import { compileStepMask, FunnelEventRow } from '../funnel/step-filter';
import { WindowFunnel } from '../funnel/window-funnel';
import { ownValue } from '../own-property';
import type { ClickHouseClient } from './clickhouse-client';
import { sqlString } from './clickhouse-client';
import { tableName } from './clickhouse-schema';
import type { ClickHouseSync } from './clickhouse-sync';

/** One counting unit as ClickHouse returns it: events in (ts, id) order, only when it can start a chain in the range. */
interface UnitRow {
  user: number;
  session?: string | null;
  /** Some event (any type) in [from, to). */
  active: number;
  /** [ts µs, id, type, item id, properties JSON text ('' when not needed)]. */
  events: [number, number, string, number | null, string][];
}

/** A unit ready for the engine. */
interface Unit {
  user: number;
  session: string | null;
  active: boolean;
  times: Float64Array;
  steps: Uint32Array;
  exclusions: Uint32Array | undefined;
  rows: FunnelEventRow[];
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

  /** Catches ClickHouse up with PostgreSQL (so every committed event counts, as in-process), then answers `job`. */
  async compute(job: FunnelJob, budget: FunnelBudget): Promise<FunnelOutcome> {
    const { plan } = job;
    await budget.race(this.sync.catchUp());
    const [{ size }]: { size: number }[] = await budget.race(this.dataSource.query('SELECT COALESCE(MAX(id), 0)::int + 1 AS size FROM users'));
    const cohortUsers = await budget.race(includedUsers(this.dataSource, plan, size));
    const rows = await budget.race(this.clickhouse.query<UnitRow>(this.unitsSql(plan)));
    budget.check();
    const units = await this.unitsOf(plan, rows, cohortUsers);
    budget.check();
    const engine = new WindowFunnel({ stepCount: plan.steps.length, conversionWindow: plan.windowMicros, modes: plan.modes, exclusions: plan.exclusions });
    switch (job.kind) {
      case 'report': {
        const evaluation = evaluate(engine, units, plan.fromMicros, plan.toMicros, true);
        return { kind: 'report', report: aggregateFunnel(evaluation, evaluation.activeUnits), breakdown: plan.breakdown ? breakdownOf(plan, units, evaluation) : null };
      }
      case 'trend':
        return {
          kind: 'trend',
          periods: job.periods.map(([start, end]) => {
            const { levels, activeUnits } = evaluate(engine, units, start, end, false);
            let entered = 0;
            let converted = 0;
            for (const unit of activeUnits) {
              if (levels[unit] >= 1) entered++;
              if (levels[unit] === plan.steps.length) converted++;
            }
            return { entered, converted };
          }),
        };
      case 'timeToConvert': {
        const evaluation = evaluate(engine, units, plan.fromMicros, plan.toMicros, true);
        const durations = durationsBetween(evaluation, job.fromStep, job.toStep, evaluation.activeUnits);
        return {
          kind: 'timeToConvert',
          units: durations.length,
          summary: summarizeDurations(durations),
          histogram: timeToConvertHistogram(evaluation, job.fromStep, job.toStep, { bucketCount: job.buckets }, evaluation.activeUnits),
        };
      }
      case 'droppedOff':
        if (job.factor) throw new Error('Driver factors are computed by the in-process engine only.');
        return droppedOff(units, evaluate(engine, units, plan.fromMicros, plan.toMicros, true), job.afterStep, job.first, job.cursor);
      case 'drivers':
        // The service refuses drivers on ClickHouse before any work (FunnelService.drivers).
        throw new Error('Conversion drivers are computed by the in-process engine only.');
    }
  }

  /**
   * One row per counting unit with an event in [from, to) (or, for a trend, any of its periods:
   * the same range): whether it is active, and when it has a step-1-type event in [from, to), its
   * events from `from` up to `to + window` in (ts, id) order: those of the funnel's types, or all
   * of them under strict_order (an event matching no step stops its scan). Properties travel only
   * for the types whose steps or exclusions filter on them, or whose step-1 event a breakdown reads.
   */
  unitsSql(plan: FunnelPlan): string {
    const definitions = [...plan.steps, ...plan.exclusionSteps];
    const types = [...new Set(definitions.map((step) => step.eventType))];
    const propTypes = new Set(definitions.filter((step) => (step.filters ?? []).some((filter) => filter.on === 'property')).map((step) => step.eventType));
    if (plan.breakdown?.target.on === 'property') propTypes.add(plan.steps[0].eventType);
    const list = (values: Iterable<string>): string => `[${[...values].map(sqlString).join(', ')}]`;
    const relevant = plan.modes.strictOrder ? '1' : `has(${list(types)}, type)`;
    const props = propTypes.size === 0 ? "''" : `if(has(${list(propTypes)}, type), props, '')`;
    const session = plan.countBy === 'session';
    const from = Math.floor(plan.fromMicros);
    const to = Math.floor(plan.toMicros);
    return `
SELECT user_id AS user${session ? ', session_id AS session' : ''},
  countIf(ts < ${to}) > 0 AS active,
  if(countIf(type = ${sqlString(plan.steps[0].eventType)} AND ts < ${to}) > 0,
     arraySort(e -> (e.1, e.2), groupArrayIf((ts, id, type, item_id, ${props}), ${relevant})),
     []) AS events
FROM ${tableName(this.database, 'events')} FINAL
WHERE ts >= ${from} AND ts < ${to + plan.windowMicros}${session ? ' AND session_id IS NOT NULL' : ''}
GROUP BY user_id${session ? ', session_id' : ''}
HAVING active
ORDER BY user_id${session ? ', session_id' : ''}`;
  }

  /** Units in the cohort with their step and exclusion masks, worked out by step-filter.ts as in-process. */
  private async unitsOf(plan: FunnelPlan, rows: UnitRow[], cohortUsers: Uint8Array | null): Promise<Unit[]> {
    const stepMask = compileStepMask(plan.steps);
    const exclusionMask = plan.exclusionSteps.length > 0 ? compileStepMask(plan.exclusionSteps) : null;
    const items = needsOf(plan).items ? await this.itemsOf(rows) : null;
    const units: Unit[] = [];
    for (const row of rows) {
      if (cohortUsers !== null && (row.user >= cohortUsers.length || cohortUsers[row.user] === 0)) continue;
      const n = row.events.length;
      const unit: Unit = {
        user: row.user,
        session: row.session ?? null,
        active: row.active === 1 || (row.active as unknown) === true,
        times: new Float64Array(n),
        steps: new Uint32Array(n),
        exclusions: exclusionMask ? new Uint32Array(n) : undefined,
        rows: new Array<FunnelEventRow>(n),
      };
      row.events.forEach(([ts, , type, itemId, props], i) => {
        const item = itemId === null ? null : items?.get(itemId);
        const event: FunnelEventRow = {
          type,
          props: props === '' ? null : (JSON.parse(props) as Record<string, unknown>),
          itemId: item?.externalId ?? null,
          category: item?.category ?? null,
        };
        unit.times[i] = ts;
        unit.steps[i] = stepMask(event);
        if (unit.exclusions) unit.exclusions[i] = exclusionMask!(event);
        unit.rows[i] = event;
      });
      units.push(unit);
    }
    return units;
  }

  /** The shop's id and category of each item the units' events name (the catalog as it is now, like the mirror's). */
  private async itemsOf(rows: UnitRow[]): Promise<Map<number, { externalId: string; category: string | null }>> {
    const ids = new Set<number>();
    for (const row of rows) for (const event of row.events) if (event[3] !== null) ids.add(event[3]);
    const found: { id: number; external_id: string; category: string | null }[] =
      ids.size === 0 ? [] : await this.dataSource.query('SELECT id, external_id, category FROM items WHERE id = ANY($1::int[])', [[...ids]]);
    return new Map(found.map((item) => [item.id, { externalId: item.external_id, category: item.category }]));
  }
}

/**
 * Levels and reported step times for chains starting in [from, to), as funnel-run.ts's
 * evaluateFunnel gives them. Active units: for the funnel's own range, those with any event in it
 * (ClickHouse's `active`, which counts every type); for a trend period, those with a read event in
 * it, which is all a trend uses (entered and converted units have a step-1 event there).
 */
function evaluate(engine: WindowFunnel, units: Unit[], from: number, to: number, ownRange: boolean): Evaluation {
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
    let canStart = false;
    for (let p = low; p < high && !canStart; p++) canStart = (steps[p] & 1) !== 0;
    if (!canStart) return;
    levels[u] = engine.evaluateUnitInRange(times, steps, unit.exclusions, 0, times.length, range, stepTimes, u * stepCount);
    firstEvents[u] = engine.reportedFirstEvent;
  });
  return { levels, stepTimes, stepCount, activeUnits: Int32Array.from(active), firstEvents };
}

/** Breakdown groups of the entered units by their reported step-1 event's value, as funnel-jobs.ts groups them. */
function breakdownOf(plan: FunnelPlan, units: Unit[], evaluation: Evaluation): NonNullable<Extract<FunnelOutcome, { kind: 'report' }>['breakdown']> {
  const target = plan.breakdown!.target;
  const { entered, enteredUnits } = enteredUnitsOf(evaluation);
  const keys = Array.from(entered, (u) => {
    const position = evaluation.firstEvents[u];
    if (position < 0) return MISSING_GROUP_KEY;
    const row = units[u].rows[position];
    if (target.on === 'property') return groupKeyOf(ownValue(row.props, target.key));
    return groupKeyOf((target.on === 'itemId' ? row.itemId : row.category) ?? undefined);
  });
  return breakdownFunnel(enteredUnits, keys, { topN: plan.breakdown!.limit, otherKey: OTHER_GROUP_KEY }).map((group) => ({
    key: group.key,
    isOther: group.isOther,
    report: group.report,
  }));
}

/** Units that reached `afterStep` and no further, in droppedOff's order (user, then session), the page after `cursor`. */
function droppedOff(units: Unit[], evaluation: Evaluation, afterStep: number, first: number, cursor: DroppedKey | null): DroppedOffOutcome {
  const dropped: (DroppedKey & { unit: number })[] = [];
  for (const u of evaluation.activeUnits) {
    if (evaluation.levels[u] === afterStep) dropped.push({ unit: u, user: units[u].user, session: units[u].session });
  }
  dropped.sort(compareDropped);
  const start = cursor === null ? 0 : dropped.findIndex((entry) => compareDropped(entry, cursor) > 0);
  const from = start < 0 ? dropped.length : start;
  return {
    kind: 'droppedOff',
    totalCount: dropped.length,
    page: dropped.slice(from, from + first).map((entry) => ({
      user: entry.user,
      session: entry.session,
      reachedAt: evaluation.stepTimes[entry.unit * evaluation.stepCount + afterStep - 1],
    })),
    hasNextPage: from + first < dropped.length,
  };
}
