import type { DataSource } from 'typeorm';
import { badInput, notFound } from '../graphql/errors';
import { EventMirror } from './event-mirror';
import { aggregateFunnel, breakdownFunnel, DurationSummary, durationsBetween, FunnelReport, FunnelUnitLevels, summarizeDurations, timeToConvertHistogram } from './funnel-aggregate';
import { FunnelPlan, FunnelSpec, planFunnel } from './funnel-definition';
import { breakdownKeys, FunnelEvaluation, FunnelRunner, PreparedFunnel } from './funnel-run';
import type {
  DurationBucket,
  FunnelBreakdownGroup,
  FunnelResult,
  FunnelStepResult,
  FunnelTrendPoint,
  SavedFunnel,
  StepDuration,
  TimeToConvert,
  UnitConnection,
} from './funnel.types';

export type TrendIntervalName = 'day' | 'week';

const DAY_MICROS = 86_400_000_000;
const MAX_TREND_PERIODS = 400;
const MAX_PAGE = 1000;
const MAX_BUCKETS = 100;

const toSeconds = (micros: number): number => micros / 1_000_000;

function stepDuration(summary: DurationSummary | null): StepDuration | null {
  return summary && { median: toSeconds(summary.median), p90: toSeconds(summary.p90), average: toSeconds(summary.average) };
}

/**
 * Funnels over the shop's events: reports, breakdowns, trends, time to convert, dropped-off units,
 * and saved funnels. Reads events through the in-process mirror (event-mirror.ts), which catches up
 * with PostgreSQL before every query, so results are exact and include every committed event.
 */
export class FunnelService {
  private readonly runner: FunnelRunner;

  constructor(
    private readonly dataSource: DataSource,
    readonly mirror: EventMirror = new EventMirror(dataSource),
  ) {
    this.runner = new FunnelRunner(dataSource, mirror);
  }

  async funnel(spec: FunnelSpec): Promise<FunnelResult> {
    const plan = planFunnel(spec);
    const prepared = await this.runner.prepare(plan);
    const evaluation = this.runner.evaluate(prepared, plan.fromMicros, plan.toMicros);
    const report = aggregateFunnel(evaluation, evaluation.activeUnits);
    return {
      steps: this.stepResults(plan, report),
      totalUnits: report.unitCount,
      breakdown: plan.breakdown ? this.breakdown(prepared, evaluation) : null,
    };
  }

  /** Conversion of the whole funnel per UTC day or ISO week: each period is the funnel over chains starting in it. */
  async trend(spec: FunnelSpec, interval: TrendIntervalName): Promise<FunnelTrendPoint[]> {
    const plan = planFunnel(spec);
    if (interval !== 'day' && interval !== 'week') throw badInput('interval must be DAY or WEEK.');
    const periods = periodsOf(plan.fromMicros, plan.toMicros, interval);
    if (periods.length > MAX_TREND_PERIODS) {
      throw badInput(`That range holds ${periods.length} ${interval}s; ask for at most ${MAX_TREND_PERIODS} (a shorter range, or WEEK).`);
    }
    const prepared = await this.runner.prepare(plan);
    return periods.map(([start, end]) => {
      const evaluation = this.runner.evaluate(prepared, start, end);
      const { steps } = aggregateFunnel(evaluation, evaluation.activeUnits);
      const entered = steps[0].count;
      const converted = steps[steps.length - 1].count;
      return {
        periodStart: new Date(start / 1000),
        periodEnd: new Date(end / 1000),
        entered,
        converted,
        conversionRate: entered === 0 ? 0 : converted / entered,
      };
    });
  }

  async timeToConvert(spec: FunnelSpec, fromStep: number, toStep: number, buckets = 10): Promise<TimeToConvert> {
    const plan = planFunnel(spec);
    const stepCount = plan.steps.length;
    if (!Number.isInteger(fromStep) || !Number.isInteger(toStep) || fromStep < 1 || toStep > stepCount || fromStep >= toStep) {
      throw badInput(`Need 1 ≤ fromStep < toStep ≤ ${stepCount} (steps count from 1); got fromStep ${fromStep}, toStep ${toStep}.`);
    }
    if (!Number.isInteger(buckets) || buckets < 1 || buckets > MAX_BUCKETS) {
      throw badInput(`buckets must be a whole number from 1 to ${MAX_BUCKETS}; got ${buckets}.`);
    }
    const prepared = await this.runner.prepare(plan);
    const evaluation = this.runner.evaluate(prepared, plan.fromMicros, plan.toMicros);
    const durations = durationsBetween(evaluation, fromStep, toStep, evaluation.activeUnits);
    const histogram = timeToConvertHistogram(evaluation, fromStep, toStep, { bucketCount: buckets }, evaluation.activeUnits);
    return {
      fromStep,
      toStep,
      units: durations.length,
      summary: stepDuration(summarizeDurations(durations)),
      buckets: histogram.map((bucket): DurationBucket => ({ start: toSeconds(bucket.start), end: toSeconds(bucket.end), count: bucket.count })),
    };
  }

  /**
   * Units that reached `afterStep` and no further, a page at a time. Order: user (dense id, i.e.
   * first seen), then session id; the cursor names the last unit shown, so pages stay stable while
   * new events arrive (a unit that converts meanwhile simply leaves the list).
   */
  async droppedOff(spec: FunnelSpec, afterStep: number, first = 100, after?: string | null): Promise<UnitConnection> {
    const plan = planFunnel(spec);
    const stepCount = plan.steps.length;
    if (!Number.isInteger(afterStep) || afterStep < 1 || afterStep >= stepCount) {
      throw badInput(`afterStep must be a step after which units can drop off: 1 to ${stepCount - 1}; got ${afterStep}.`);
    }
    if (!Number.isInteger(first) || first < 1 || first > MAX_PAGE) throw badInput(`first must be a whole number from 1 to ${MAX_PAGE}; got ${first}.`);
    const cursor = after ? decodeCursor(after) : null;
    const prepared = await this.runner.prepare(plan);
    const evaluation = this.runner.evaluate(prepared, plan.fromMicros, plan.toMicros);
    const { layout, levels, activeUnits } = evaluation;
    const sessionNames = prepared.snapshot.sessions?.values ?? [];
    const keyOf = (unit: number): [number, string | null] => [
      layout.unitUsers ? layout.unitUsers[unit] : unit,
      layout.unitSessions ? String(sessionNames[layout.unitSessions[unit]]) : null,
    ];
    const dropped: { unit: number; user: number; session: string | null }[] = [];
    for (let n = 0; n < activeUnits.length; n++) {
      const unit = activeUnits[n];
      if (levels[unit] !== afterStep) continue;
      const [user, session] = keyOf(unit);
      dropped.push({ unit, user, session });
    }
    const compare = (a: { user: number; session: string | null }, b: { user: number; session: string | null }): number =>
      a.user - b.user || ((a.session ?? '') < (b.session ?? '') ? -1 : (a.session ?? '') > (b.session ?? '') ? 1 : 0);
    if (layout.unitSessions) dropped.sort(compare);
    let start = 0;
    if (cursor) {
      // First unit strictly after the cursor (binary search; the list is sorted by the same order).
      let lo = 0;
      let hi = dropped.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (compare(dropped[mid], cursor) <= 0) lo = mid + 1;
        else hi = mid;
      }
      start = lo;
    }
    const page = dropped.slice(start, start + first);
    const userRows: { id: number; external_id: string }[] = page.length
      ? await this.dataSource.query('SELECT id, external_id FROM users WHERE id = ANY($1::int[])', [page.map((entry) => entry.user)])
      : [];
    const externalIdOf = new Map(userRows.map((row) => [row.id, row.external_id]));
    const last = page[page.length - 1];
    return {
      totalCount: dropped.length,
      nodes: page.map((entry) => ({
        userId: externalIdOf.get(entry.user) ?? String(entry.user),
        sessionId: entry.session,
        reachedAt: new Date(evaluation.stepTimes[entry.unit * stepCount + afterStep - 1] / 1000),
      })),
      pageInfo: {
        hasNextPage: start + first < dropped.length,
        endCursor: last ? encodeCursor({ user: last.user, session: last.session }) : (after ?? null),
      },
    };
  }

  async save(name: string, spec: FunnelSpec): Promise<SavedFunnel> {
    if (typeof name !== 'string' || name.trim().length === 0 || name.length > 200) throw badInput('name must be 1–200 characters.');
    planFunnel(spec); // only funnels that run can be saved
    const definition = { ...spec, from: spec.from.toISOString(), to: spec.to.toISOString() };
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

  /** Runs a saved funnel; `from` / `to` replace the saved range when given. */
  async runSaved(id: string, from?: Date | null, to?: Date | null): Promise<FunnelResult> {
    const rows: SavedFunnelRow[] = isUuid(id) ? await this.dataSource.query('SELECT id, name, definition, created_at FROM saved_funnels WHERE id = $1', [id]) : [];
    if (rows.length === 0) throw notFound(`No saved funnel has id "${id}"; list them with the funnels query.`);
    const saved = rows[0].definition as unknown as FunnelSpec & { from: string; to: string };
    return this.funnel({ ...saved, from: from ?? new Date(saved.from), to: to ?? new Date(saved.to) });
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

  /** Groups hold the units that entered the funnel, keyed by the breakdown property of their step-1 event. */
  private breakdown(prepared: PreparedFunnel, evaluation: FunnelEvaluation): FunnelBreakdownGroup[] {
    const { plan } = prepared;
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
    const enteredUnits: FunnelUnitLevels = { levels, stepTimes, stepCount };
    const keys = breakdownKeys(prepared, evaluation, plan.breakdown!.target, entered);
    return breakdownFunnel(enteredUnits, keys, { topN: plan.breakdown!.limit, otherKey: 'other' }).map((group) => ({
      group: group.key,
      isOther: group.isOther,
      totalUnits: group.report.unitCount,
      steps: this.stepResults(plan, group.report),
    }));
  }
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

function isUuid(id: string): boolean {
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id);
}

function encodeCursor(key: { user: number; session: string | null }): string {
  return Buffer.from(JSON.stringify([key.user, key.session])).toString('base64url');
}

function decodeCursor(cursor: string): { user: number; session: string | null } {
  try {
    const [user, session] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown[];
    if (Number.isInteger(user) && (session === null || typeof session === 'string')) return { user: user as number, session: session as string | null };
  } catch {
    // fall through to the error below
  }
  throw badInput('after is not a cursor from droppedOff; pass pageInfo.endCursor of the previous page.');
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
