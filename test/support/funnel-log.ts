/**
 * Random event logs for funnel tests and their expected answers, worked out by the brute-force
 * reference (src/funnel/window-funnel.reference.ts) from the log itself, independently of the
 * mirror, the layout and the engine under test.
 */
import { referenceWindowFunnel, ReferenceEvent } from '../../src/funnel/window-funnel.reference';
import type { FunnelModes } from '../../src/funnel/window-funnel';

/** One event of a generated log: `minute` is minutes after the test's start, `index` the ingestion order. */
export interface LogEvent {
  index: number;
  user: string;
  session: string;
  type: string;
  minute: number;
  p: number;
}

/** A funnel to try: each step's type and filters as sent to the API, and the same test on a log event. */
export interface Variant {
  name: string;
  steps: { type: string; matches: (e: LogEvent) => boolean; filters?: { property: string; op: string; value: unknown }[] }[];
  /** Events of type "x" between steps 1 and 3 exclude the conversion. */
  exclusion?: boolean;
}

export const isType = (type: string) => (e: LogEvent) => e.type === type;

/**
 * Step counts, active units (those with an event in the range) and mean time from the previous
 * step (seconds, null for step 1 or no conversions), by the reference over each unit's whole
 * history with the range rule applied by the reference itself.
 */
export function expectedByReference(
  log: LogEvent[],
  variant: Variant,
  modes: FunnelModes,
  countBy: 'user' | 'session',
  range: { fromMinute: number; toMinute: number },
  windowSeconds: number,
): { counts: number[]; active: number; averages: (number | null)[] } {
  const units = new Map<string, LogEvent[]>();
  for (const event of log) {
    const key = countBy === 'user' ? event.user : `${event.user}/${event.session}`;
    units.set(key, [...(units.get(key) ?? []), event]);
  }
  const stepCount = variant.steps.length;
  const counts = new Array<number>(stepCount).fill(0);
  const durationSums = new Array<number>(stepCount).fill(0);
  let active = 0;
  for (const events of units.values()) {
    events.sort((x, y) => x.minute - y.minute || x.index - y.index);
    const inRange = (e: LogEvent) => e.minute >= range.fromMinute && e.minute < range.toMinute;
    if (events.some(inRange)) active++;
    const referenceEvents: ReferenceEvent[] = events.map((e) => ({
      timestamp: e.minute * 60,
      steps: variant.steps.flatMap((step, k) => (step.matches(e) ? [k + 1] : [])),
      exclusions: variant.exclusion && e.type === 'x' ? [0] : [],
    }));
    const { level, stepTimes } = referenceWindowFunnel(
      referenceEvents,
      { stepCount, conversionWindow: windowSeconds, modes, exclusions: variant.exclusion ? [{ fromStep: 1, toStep: 3 }] : [] },
      { from: range.fromMinute * 60, to: range.toMinute * 60 },
    );
    for (let k = 0; k < level; k++) {
      counts[k]++;
      if (k > 0) durationSums[k] += stepTimes[k] - stepTimes[k - 1];
    }
  }
  return { counts, active, averages: durationSums.map((sum, k) => (k === 0 || counts[k] === 0 ? null : sum / counts[k])) };
}
