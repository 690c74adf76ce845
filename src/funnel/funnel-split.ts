/**
 * One funnel on several cores: the units (users, or sessions) are cut into ranges holding about the
 * same number of events, each range runs on its own worker (funnel-jobs.ts `runFunnelPart`), and
 * the parts' partial outcomes merge here into exactly the outcome the whole funnel gives on one
 * worker (`runFunnelJob`). Units are independent in a funnel, so only the aggregation needs care:
 *
 * - step counts, unit counts, trend counts: sums;
 * - times between steps and time to convert (median, p90, average, histogram): each part sends its
 *   durations sorted and the merge interleaves them, so percentiles, the average (summed in the
 *   same ascending order) and the histogram's edges are those of the whole set, bit for bit;
 * - breakdowns: per group key, the tallies add up; the top-N and the "other" group are chosen
 *   after adding, by breakdownFunnel's rule (most units at step 1 first, then key order);
 * - dropped-off pages: each part sends its first `first` units after the cursor, in droppedOff's
 *   order, and the merge keeps the first `first` of their union.
 *
 * Small funnels are not split: a part costs a message each way and a few allocations, which only
 * pays off above `splitEvents` events (FUNNELCAST_FUNNEL_SPLIT_EVENTS).
 */
import { OTHER_GROUP_KEY } from './breakdown-key';
import { breakdownOfTallies, FunnelTally, mergeSorted, mergeTallies, reportOfTally, summarizeSorted, durationHistogram } from './funnel-aggregate';
import { compareDropped, DroppedOffOutcome, FunnelJob, FunnelJobInputs, FunnelOutcome, FunnelPartial, ReportOutcome } from './funnel-jobs';
import type { UnitRange } from './funnel-run';
import { mergeDriverTallies } from './driver-factors';

export interface SplitOptions {
  /** Workers that may run parts at once; the funnel is cut into this many parts. */
  parts: number;
  /** Split only snapshots of at least this many events. */
  splitEvents: number;
}

/**
 * The unit ranges to run `job` as, or null when it runs whole: one part would do, the snapshot is
 * small, or a session funnel has no session units for the base yet (the whole job builds them once,
 * and later funnels on the same base split over them).
 *
 * Units are numbered over both mirror segments (funnel-run.ts UnitLayout: the base's units, then the
 * delta's), and the cut follows the events of both. Counting users, both segments' user offsets are
 * at hand and the cut is by events across base and delta alike. Counting sessions, the delta's
 * session units are built by each part (per query, as for a whole job), so their number is not known
 * here: the delta counts as one block of its events at the end and goes whole to the last part,
 * whose range runs to the end of the layout. The delta is small next to the base (compaction keeps
 * it so), so the parts stay close to even. A shadowed base unit (its user's events are read from
 * the delta) still weighs its events here though it is skipped: a small, harmless overestimate.
 */
export function planSplit(job: FunnelJob, inputs: FunnelJobInputs, options: SplitOptions): UnitRange[] | null {
  const { snapshot } = inputs;
  if (options.parts < 2 || snapshot.eventCount < options.splitEvents) return null;
  if (job.plan.countBy === 'session') {
    if (!inputs.sessionLayout) return null;
    const ranges = cutByEvents(inputs.sessionLayout.unitOffsets, options.parts, [0, snapshot.delta.size]);
    // The block stands for every delta unit, however many there are.
    ranges[ranges.length - 1].end = Number.MAX_SAFE_INTEGER;
    return ranges;
  }
  return cutByEvents(snapshot.base.userOffsets, options.parts, snapshot.delta.userOffsets);
}

/**
 * `parts` consecutive unit ranges covering every unit, each ending where its share of the events
 * does (events decide the cost, not units). Units are the base's (`baseOffsets`, unit i owning
 * events [baseOffsets[i], baseOffsets[i + 1])) followed by the delta's (`deltaOffsets`, likewise;
 * none by default), as a layout numbers them.
 */
export function cutByEvents(baseOffsets: ArrayLike<number>, parts: number, deltaOffsets: ArrayLike<number> = [0]): UnitRange[] {
  const nb = baseOffsets.length - 1;
  const baseEvents = baseOffsets[nb];
  const unitCount = nb + deltaOffsets.length - 1;
  // Events before unit u, over both segments.
  const eventsBefore = (u: number): number => (u <= nb ? baseOffsets[u] : baseEvents + deltaOffsets[u - nb]);
  const events = eventsBefore(unitCount);
  const ranges: UnitRange[] = [];
  let first = 0;
  for (let n = 1; n <= parts; n++) {
    let end = unitCount;
    if (n < parts) {
      // First unit whose events start at or past n/parts of all events.
      const target = Math.round((events * n) / parts);
      let lo = first;
      let hi = unitCount;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (eventsBefore(mid) < target) lo = mid + 1;
        else hi = mid;
      }
      end = lo;
    }
    if (end > first) ranges.push({ first, end });
    first = end;
  }
  return ranges;
}

/** The outcome of `job` from its parts' partials (any order of parts; each unit in exactly one part). */
export function mergeFunnelParts(job: FunnelJob, partials: readonly FunnelPartial[]): FunnelOutcome {
  switch (job.kind) {
    case 'report': {
      const reports = partials.map((partial) => expectKind(partial, 'report'));
      return {
        kind: 'report',
        report: reportOfTally(mergeTallies(reports.map((partial) => partial.tally))),
        breakdown: job.plan.breakdown ? mergeBreakdowns(reports.map((partial) => partial.breakdown!), job.plan.breakdown.limit) : null,
      };
    }
    case 'trend': {
      const trends = partials.map((partial) => expectKind(partial, 'trend'));
      return {
        kind: 'trend',
        periods: job.periods.map((_, n) => ({
          entered: trends.reduce((sum, trend) => sum + trend.periods[n].entered, 0),
          converted: trends.reduce((sum, trend) => sum + trend.periods[n].converted, 0),
        })),
      };
    }
    case 'timeToConvert': {
      const durations = mergeSorted(partials.map((partial) => expectKind(partial, 'timeToConvert').durations));
      return { kind: 'timeToConvert', units: durations.length, summary: summarizeSorted(durations), histogram: durationHistogram(durations, { bucketCount: job.buckets }) };
    }
    case 'droppedOff': {
      const dropped = partials.map((partial) => expectKind(partial, 'droppedOff'));
      const page = dropped.flatMap((partial) => partial.page).sort(compareDropped).slice(0, job.first);
      const afterCursor = dropped.reduce((sum, partial) => sum + partial.afterCursor, 0);
      const outcome: DroppedOffOutcome = {
        kind: 'droppedOff',
        totalCount: dropped.reduce((sum, partial) => sum + partial.totalCount, 0),
        page,
        hasNextPage: afterCursor > job.first,
      };
      return outcome;
    }
    case 'drivers':
      return { kind: 'drivers', tally: mergeDriverTallies(partials.map((partial) => expectKind(partial, 'drivers').tally)) };
  }
}

/** breakdownFunnel's groups from the parts' per-key tallies, added up per key and ranked by the same code (breakdownOfTallies). */
function mergeBreakdowns(parts: readonly { keys: string[]; tallies: FunnelTally[] }[], topN: number): ReportOutcome['breakdown'] {
  const byKey = new Map<string, FunnelTally[]>();
  for (const part of parts) {
    part.keys.forEach((key, n) => {
      let tallies = byKey.get(key);
      if (!tallies) byKey.set(key, (tallies = []));
      tallies.push(part.tallies[n]);
    });
  }
  return breakdownOfTallies(new Map([...byKey].map(([key, tallies]) => [key, mergeTallies(tallies)])), topN, OTHER_GROUP_KEY);
}

function expectKind<K extends FunnelPartial['kind']>(partial: FunnelPartial, kind: K): Extract<FunnelPartial, { kind: K }> {
  if (partial.kind !== kind) throw new Error(`A ${kind} funnel got a ${partial.kind} part.`);
  return partial as Extract<FunnelPartial, { kind: K }>;
}

/** The buffers of a partial's durations, which a worker hands over (transfers) instead of copying. */
export function transferablesOf(partial: FunnelPartial): ArrayBuffer[] {
  const tallies: FunnelTally[] = [];
  if (partial.kind === 'report') {
    tallies.push(partial.tally);
    if (partial.breakdown) tallies.push(...partial.breakdown.tallies);
  }
  const arrays: Float64Array[] = partial.kind === 'timeToConvert' ? [partial.durations] : tallies.flatMap((tally) => [tally.reachedExactly, ...tally.durations]);
  // A buffer may be listed once only; views of one buffer (none today) would share it.
  return [...new Set(arrays.map((array) => array.buffer as ArrayBuffer))].filter((buffer) => buffer.byteLength > 0);
}
