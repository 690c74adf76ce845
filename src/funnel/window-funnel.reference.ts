/**
 * Test-only: a deliberately slow, literal reading of FUNNEL-SEMANTICS.md. It lists every chain
 * that the rules allow, finds where the scan stops, and picks the answer by sorting. It shares no
 * code with the engine (only the option types), so agreement between the two means something.
 * Exponential in the worst case; feed it small logs.
 */
import type { FunnelExclusion, FunnelModes } from './window-funnel';
import type { FunnelControls } from './controlled-funnel';

export interface ReferenceEvent {
  timestamp: number;
  /** 1-based steps this event matches. */
  steps: number[];
  /** Indexes into the funnel's exclusions that this event triggers. */
  exclusions?: number[];
  /** The held property's value (controls.holdConstant); undefined when the event has none. */
  value?: number;
}

export interface ReferenceFunnel {
  stepCount: number;
  conversionWindow: number;
  modes?: FunnelModes;
  exclusions?: readonly FunnelExclusion[];
  /** FUNNEL-SEMANTICS.md "Controls". */
  controls?: FunnelControls;
}

export interface ReferenceResult {
  level: number;
  /** Timestamps of the reported chain, one per step up to the level; NaN for an optional step it skipped. */
  stepTimes: number[];
}

interface Pick {
  /** Position in the list of (event, step) pairs. */
  position: number;
  event: number;
  step: number;
  timestamp: number;
}

/**
 * The level and reported chain of one unit. `history` is the unit's whole history in (timestamp,
 * ingestion) order. With `range`, only chains starting in [range.from, range.to) count, read
 * literally from FUNNEL-SEMANTICS.md "Time range": the scan starts at `from` (earlier events are
 * dropped) and runs to the end of the history (the engine stops reading at to + window; not doing
 * so here is what checks that this changes nothing); step-1 picks at or after `to` start no chain
 * and do not count as "seen step 1", but remain picks.
 */
export function referenceWindowFunnel(history: ReferenceEvent[], funnel: ReferenceFunnel, range?: { from: number; to: number }): ReferenceResult {
  const modes = funnel.modes ?? {};
  const rules = funnel.exclusions ?? [];
  const events = range === undefined ? history : history.filter((event) => event.timestamp >= range.from);
  const mayStart = (pick: Pick): boolean => pick.step === 1 && (range === undefined || pick.timestamp < range.to);

  // Rule 1: every event becomes one pick candidate per step it matches, lower steps first.
  const picks: Pick[] = [];
  const firstPositionOfEvent: number[] = [];
  events.forEach((event, index) => {
    firstPositionOfEvent.push(picks.length);
    const steps = [...new Set(event.steps)].filter((s) => s >= 1 && s <= funnel.stepCount).sort((a, b) => a - b);
    for (const step of steps) picks.push({ position: picks.length, event: index, step, timestamp: event.timestamp });
  });

  const isExcludedBy = (eventIndex: number, rule: number): boolean =>
    (events[eventIndex].exclusions ?? []).includes(rule);

  // Rule 2: a chain is valid when every constraint holds; all of them are prefix-closed, so the
  // enumeration below may stop extending as soon as one fails.
  const controls = funnel.controls ?? {};
  const optional = (step: number): boolean => controls.optional?.[step - 1] === true;
  // A chain fills steps 1 = s1 < s2 < … < sm; every step it skips is optional. Its level is sm.
  const levelOf = (chain: Pick[]): number => chain[chain.length - 1].step;
  const chainIsValid = (chain: Pick[]): boolean => {
    const first = chain[0];
    const last = chain[chain.length - 1];
    if (last.timestamp - first.timestamp > funnel.conversionWindow) return false;
    for (let j = 1; j < chain.length; j++) {
      if (modes.strictIncrease && !(chain[j].timestamp > chain[j - 1].timestamp)) return false;
      if (modes.strictOnce && chain[j].event === chain[j - 1].event) return false;
      const gap = chain[j].timestamp - chain[j - 1].timestamp;
      const window = controls.stepWindows?.[chain[j].step - 1];
      if (window !== undefined && gap > window) return false;
      if (gap < (controls.minGaps?.[chain[j].step - 1] ?? 0)) return false;
    }
    if (controls.holdConstant && chain.some((p) => events[p.event].value === undefined || events[p.event].value !== events[first.event].value)) return false;
    for (let rule = 0; rule < rules.length; rule++) {
      const { fromStep, toStep } = rules[rule];
      if (levelOf(chain) <= fromStep) continue;
      const guardedFrom = chain.find((p) => p.step === fromStep)!.event;
      const guardedTo = chain.find((p) => p.step === Math.min(toStep, levelOf(chain)))!.event;
      for (let x = guardedFrom + 1; x <= guardedTo; x++) if (isExcludedBy(x, rule)) return false;
    }
    return true;
  };
  /** A pick for `next` may follow one for `previous` when every step between them is optional. */
  const mayFollow = (previous: number, next: number): boolean => {
    if (next <= previous) return false;
    for (let s = previous + 1; s < next; s++) if (!optional(s)) return false;
    return true;
  };

  const allChains: Pick[][] = [];
  const grow = (chain: Pick[]): void => {
    allChains.push(chain);
    const last = chain[chain.length - 1];
    for (const next of picks) {
      if (next.position <= last.position || !mayFollow(last.step, next.step)) continue;
      const longer = [...chain, next];
      if (chainIsValid(longer)) grow(longer);
    }
  };
  for (const start of picks) if (mayStart(start) && chainIsValid([start])) grow([start]);

  // Rule 3: find where the scan stops. A cut at position P keeps only chains whose picks all lie before P.
  // "Step s reached" means some chain reached s or a later step (with optional steps it may have skipped s).
  const reachedBefore = (level: number, cut: number): boolean =>
    allChains.some((chain) => levelOf(chain) >= level && chain[chain.length - 1].position < cut);
  // "Seen step 1": some chain has started (a step-1 pick that may start one, and under holdConstant carries the value).
  const firstStepBefore = (cut: number): boolean => reachedBefore(1, cut);
  // The lowest step whose reach lets a pick for `step` extend a chain: step − 1, or lower past optional steps.
  const lowestPrevious = (step: number): number => {
    let previous = step - 1;
    while (previous > 1 && optional(previous)) previous--;
    return previous;
  };

  let cut = Infinity;
  outer: for (let index = 0; index < events.length; index++) {
    const eventPicks = picks.filter((p) => p.event === index);
    if (eventPicks.length === 0) {
      const here = firstPositionOfEvent[index];
      if (modes.strictOrder && firstStepBefore(here)) {
        cut = here;
        break outer;
      }
      continue;
    }
    for (const p of eventPicks) {
      if (p.step === 1) continue;
      if (modes.strictDeduplication && reachedBefore(p.step, p.position)) {
        cut = p.position;
        break outer;
      }
      if (modes.strictOrder && firstStepBefore(p.position) && !reachedBefore(lowestPrevious(p.step), p.position) && !modes.allowReentry) {
        cut = p.position;
        break outer;
      }
    }
  }

  // Rule 4 and 5: the level is the longest chain before the cut; report the chain that completes
  // first, starting as late as possible, with the earliest picks in between.
  const kept = allChains.filter((chain) => chain[chain.length - 1].position < cut);
  const level = kept.reduce((best, chain) => Math.max(best, levelOf(chain)), 0);
  if (level === 0) return { level: 0, stepTimes: [] };
  const deepest = kept.filter((chain) => levelOf(chain) === level);
  deepest.sort((a, b) => {
    const byEnd = a[a.length - 1].position - b[b.length - 1].position;
    if (byEnd !== 0) return byEnd;
    const byStart = b[0].timestamp - a[0].timestamp;
    if (byStart !== 0) return byStart;
    for (let j = 0; j < Math.min(a.length, b.length); j++) if (a[j].position !== b[j].position) return a[j].position - b[j].position;
    return 0;
  });
  const stepTimes: number[] = Array.from({ length: level }, () => NaN);
  for (const p of deepest[0]) stepTimes[p.step - 1] = p.timestamp;
  return { level, stepTimes };
}

/**
 * Every mode combination the engine accepts (24): any subset of strictDeduplication, strictOrder,
 * strictIncrease and strictOnce, and allowReentry only together with strictOrder (as in ClickHouse,
 * which refuses it otherwise). For tests that check every mode against this reference.
 */
export const ALL_MODE_COMBINATIONS: readonly FunnelModes[] = (() => {
  const names: (keyof FunnelModes)[] = ['strictDeduplication', 'strictOrder', 'strictIncrease', 'strictOnce', 'allowReentry'];
  const combinations: FunnelModes[] = [];
  for (let bits = 0; bits < 1 << names.length; bits++) {
    const modes: FunnelModes = {};
    names.forEach((name, b) => {
      if ((bits & (1 << b)) !== 0) modes[name] = true;
    });
    if (!modes.allowReentry || modes.strictOrder) combinations.push(modes);
  }
  return combinations;
})();
