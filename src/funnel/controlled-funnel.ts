/**
 * The exact evaluator for funnels with controls (FUNNEL-SEMANTICS.md, "Controls"): per-step
 * conversion windows, a minimum time from the previous step, optional steps and a property held
 * constant along the chain, on top of every windowFunnel mode, exclusion and range rule of
 * window-funnel.ts. The linear engine there keeps one "best" partial chain per level, which these
 * rules break (a later start is no longer always better once a step's own window or minimum gap
 * depends on the previous pick), so funnels with a control come here and funnels without one stay
 * on the linear engine.
 *
 * How it stays exact: every control, like strictIncrease, strictOnce and the exclusions, is a
 * condition on two consecutive picks of a chain (the previous pick and the next), except the overall
 * window, which depends on the chain's start. So for each pick the only thing worth remembering is
 * the latest start of any valid chain ending there (`pickStart`), and the predecessor that gives the
 * reported chain (latest start, then earliest picks). Cost: per pick, the earlier picks of the
 * steps it may follow that lie inside its window; O(picks × picks in a window) per unit, measured
 * in docs/benchmarks.md ("Funnel controls"). Nothing is allocated per event: scratch arrays grow and
 * are reused across units.
 */
import { FunnelDefinitionError, FunnelExclusion, FunnelInputError, FunnelModes, FunnelRange, MAX_FUNNEL_STEPS, rangeStretch } from './window-funnel';

/**
 * The controls, indexed by step (index k is step k + 1). Times are in the unit of the timestamps.
 * `stepWindows[k]` / `minGaps[k]` bound ts(step k + 1) − ts(previous step of the chain) from above
 * (inclusive) and below (inclusive); entries for step 1 are ignored. The previous step of the chain
 * is the step before, or, when optional steps were skipped, the last step the chain filled.
 */
export interface FunnelControls {
  /** Per step: at most this long after the previous step of the chain; Infinity (or absent) for none. */
  stepWindows?: readonly number[];
  /** Per step: at least this long after the previous step of the chain; 0 (or absent) for none. */
  minGaps?: readonly number[];
  /** Per step: the chain may skip it. Step 1 and the last step cannot be optional. */
  optional?: readonly boolean[];
  /** Every event of a chain carries the same value of one property (events without it join none). */
  holdConstant?: boolean;
}

export interface ControlledFunnelOptions {
  stepCount: number;
  conversionWindow: number;
  modes?: FunnelModes;
  exclusions?: readonly FunnelExclusion[];
  controls: FunnelControls;
}

/** True when the controls change nothing (no step window, gap, optional step or held property). */
export function controlsAreEmpty(controls: FunnelControls | undefined | null): boolean {
  if (!controls) return true;
  return (
    !controls.holdConstant &&
    !(controls.optional ?? []).some(Boolean) &&
    !(controls.stepWindows ?? []).some((w, k) => k > 0 && w !== undefined && w !== null && Number.isFinite(w)) &&
    !(controls.minGaps ?? []).some((g, k) => k > 0 && g !== undefined && g !== null && g > 0)
  );
}

const NONE = -1;

export class ControlledFunnel {
  readonly stepCount: number;
  readonly conversionWindow: number;
  /**
   * After evaluateUnit: index (into the columns) of the step-1 event of the reported chain, -1 at
   * level 0 (same meaning as WindowFunnel.reportedFirstEvent).
   */
  reportedFirstEvent = -1;
  /** Per unit value of the held property, by event index (0: the event has none); set by the caller before evaluating. */
  holdValues: Int32Array | null = null;

  private readonly modes: Required<FunnelModes>;
  private readonly stepWindows: Float64Array;
  private readonly minGaps: Float64Array;
  /** Per step s (1-based): the lowest step whose pick may precede a pick for s (s − 1 unless optional steps sit between). */
  private readonly lowestPrevious: Int32Array;
  private readonly holdConstant: boolean;
  private readonly exclusions: readonly FunnelExclusion[];
  /** Latest excluded event index seen so far per exclusion rule (during one scan). */
  private readonly lastExcluded: Int32Array;

  // Picks that some valid chain ends at, in scan order; append-only per unit.
  private pickEvent = new Int32Array(64);
  private pickStep = new Int32Array(64);
  private pickStart = new Float64Array(64);
  private pickParent = new Int32Array(64);
  /** Per step, the picks for it in scan order: a linked list through `pickPreviousSameStep`. */
  private pickPreviousSameStep = new Int32Array(64);
  private readonly lastPickOfStep: Int32Array;
  private readonly firstPickAtLevel: Int32Array;
  private chainA: number[] = [];
  private chainB: number[] = [];

  constructor(options: ControlledFunnelOptions) {
    const { stepCount, conversionWindow, modes = {}, exclusions = [], controls } = options;
    if (!Number.isInteger(stepCount) || stepCount < 1 || stepCount > MAX_FUNNEL_STEPS) {
      throw new FunnelDefinitionError(`A funnel has 1 to ${MAX_FUNNEL_STEPS} steps, not ${stepCount}.`);
    }
    if (Number.isNaN(conversionWindow) || conversionWindow < 0) throw new FunnelDefinitionError(`conversionWindow must be a number >= 0, not ${conversionWindow}.`);
    if (modes.allowReentry && !modes.strictOrder) throw new FunnelDefinitionError('allowReentry requires strictOrder.');
    const optional = controls.optional ?? [];
    if (optional[0] || (stepCount > 1 && optional[stepCount - 1])) throw new FunnelDefinitionError('Step 1 and the last step cannot be optional.');
    exclusions.forEach(({ fromStep, toStep }, r) => {
      if (!Number.isInteger(fromStep) || !Number.isInteger(toStep) || fromStep < 1 || toStep > stepCount || fromStep >= toStep) {
        throw new FunnelDefinitionError(`Exclusion ${r} must satisfy 1 <= fromStep < toStep <= ${stepCount}; got ${fromStep}..${toStep}.`);
      }
      if (optional[fromStep - 1] || optional[toStep - 1]) throw new FunnelDefinitionError(`Exclusion ${r} guards an optional step; its fromStep and toStep must be required steps.`);
    });
    this.stepCount = stepCount;
    this.conversionWindow = conversionWindow;
    this.modes = {
      strictDeduplication: !!modes.strictDeduplication,
      strictOrder: !!modes.strictOrder,
      strictIncrease: !!modes.strictIncrease,
      strictOnce: !!modes.strictOnce,
      allowReentry: !!modes.allowReentry,
    };
    this.stepWindows = new Float64Array(stepCount + 1).fill(Infinity);
    this.minGaps = new Float64Array(stepCount + 1);
    this.lowestPrevious = new Int32Array(stepCount + 1);
    for (let s = 2; s <= stepCount; s++) {
      const window = controls.stepWindows?.[s - 1];
      const gap = controls.minGaps?.[s - 1];
      if (window !== undefined && window !== null) {
        if (!(window >= 0)) throw new FunnelDefinitionError(`The window of step ${s} must be >= 0, not ${window}.`);
        this.stepWindows[s] = window;
      }
      if (gap !== undefined && gap !== null) {
        if (!(gap >= 0 && Number.isFinite(gap))) throw new FunnelDefinitionError(`The minimum time before step ${s} must be a finite number >= 0, not ${gap}.`);
        this.minGaps[s] = gap;
      }
      let previous = s - 1;
      while (previous > 1 && optional[previous - 1]) previous--;
      this.lowestPrevious[s] = previous;
    }
    this.holdConstant = !!controls.holdConstant;
    this.exclusions = exclusions;
    this.lastExcluded = new Int32Array(exclusions.length);
    this.lastPickOfStep = new Int32Array(stepCount + 1);
    this.firstPickAtLevel = new Int32Array(stepCount + 1);
  }

  /** As WindowFunnel.evaluateUnitInRange: chains start in [range.from, range.to); the scan reads events from `from` to before `to` + window. */
  evaluateUnitInRange(
    timestamps: Float64Array,
    stepMasks: Uint32Array,
    exclusionMasks: Uint32Array | undefined,
    start: number,
    end: number,
    range: FunnelRange,
    stepTimesOut?: Float64Array,
    outOffset = 0,
  ): number {
    const [low, high] = rangeStretch(timestamps, start, end, range, this.conversionWindow);
    return this.evaluateUnit(timestamps, stepMasks, exclusionMasks, low, high, stepTimesOut, outOffset, range.to);
  }

  /**
   * Level of the unit whose events are [start, end): the highest step some valid chain reaches before
   * the scan stops. Writes stepCount step times at `outOffset` when `stepTimesOut` is given: the
   * reported chain's timestamp per step it filled, NaN for optional steps it skipped and past its level.
   */
  evaluateUnit(
    timestamps: Float64Array,
    stepMasks: Uint32Array,
    exclusionMasks: Uint32Array | undefined,
    start: number,
    end: number,
    stepTimesOut?: Float64Array,
    outOffset = 0,
    startBefore = Infinity,
  ): number {
    const stepCount = this.stepCount;
    const allStepsMask = stepCount === 32 ? 0xffffffff : (1 << stepCount) - 1;
    const { strictDeduplication, strictOrder, strictIncrease, strictOnce, allowReentry } = this.modes;
    const { stepWindows, minGaps, lowestPrevious, lastPickOfStep, firstPickAtLevel, lastExcluded, exclusions } = this;
    const conversionWindow = this.conversionWindow;
    const values = this.holdConstant ? this.holdValues : null;
    if (this.holdConstant && values === null) throw new FunnelInputError('holdConstant needs holdValues set before evaluating.');
    const hasExclusions = exclusionMasks !== undefined && exclusions.length > 0;

    let matchCount = 0;
    for (let i = start; i < end; i++) {
      if (i > start && timestamps[i] < timestamps[i - 1]) throw new FunnelInputError(`Events ${start}..${end - 1} are not sorted by timestamp (at index ${i}).`);
      let mask = stepMasks[i] & allStepsMask;
      while (mask !== 0) {
        mask &= mask - 1;
        matchCount++;
      }
    }
    this.ensureCapacity(matchCount);
    const { pickEvent, pickStep, pickStart, pickParent, pickPreviousSameStep } = this;
    lastPickOfStep.fill(NONE);
    firstPickAtLevel.fill(NONE);
    lastExcluded.fill(NONE);
    let picks = 0;
    let level = 0;

    scan: for (let i = start; i < end; i++) {
      const timestamp = timestamps[i];
      if (hasExclusions) {
        let excluded = exclusionMasks[i] >>> 0;
        while (excluded !== 0) {
          const low = excluded & -excluded;
          const r = 31 - Math.clz32(low);
          if (r < lastExcluded.length) lastExcluded[r] = i;
          excluded = (excluded ^ low) >>> 0;
        }
      }
      let mask = stepMasks[i] & allStepsMask;
      if (mask === 0) {
        // "Seen step 1" is level >= 1: some valid chain has started.
        if (strictOrder && level >= 1) break;
        continue;
      }
      const value = values === null ? 0 : values[i];
      while (mask !== 0) {
        const low = mask & -mask;
        mask ^= low;
        const step = 32 - Math.clz32(low);
        if (step >= 2) {
          if (strictDeduplication && level >= step) break scan;
          if (strictOrder && level >= 1 && level < lowestPrevious[step]) {
            if (allowReentry) continue;
            break scan;
          }
        }
        if (values !== null && value === 0) continue; // no value of the held property: joins no chain
        let bestStart = -Infinity;
        let parent = NONE;
        if (step === 1) {
          if (timestamp >= startBefore) continue;
          bestStart = timestamp;
        } else {
          const earliest = timestamp - Math.min(conversionWindow, stepWindows[step]);
          const latest = timestamp - minGaps[step];
          for (let from = step - 1; from >= lowestPrevious[step]; from--) {
            // Picks of one step come in scan order, so walking back stops at the first one out of the window.
            for (let q = lastPickOfStep[from]; q !== NONE; q = pickPreviousSameStep[q]) {
              const event = pickEvent[q];
              const previousTime = timestamps[event];
              if (previousTime < earliest) break;
              if (previousTime > latest) continue;
              if (strictIncrease && !(timestamp > previousTime)) continue;
              if (strictOnce && event === i) continue;
              if (values !== null && values[event] !== value) continue;
              if (pickStart[q] < timestamp - conversionWindow) continue;
              if (hasExclusions && this.excludedBetween(from, step, event)) continue;
              const candidateStart = pickStart[q];
              if (candidateStart > bestStart || (candidateStart === bestStart && this.earlierChain(q, parent))) {
                bestStart = candidateStart;
                parent = q;
              }
            }
          }
          if (parent === NONE) continue;
        }
        const p = picks++;
        pickEvent[p] = i;
        pickStep[p] = step;
        pickStart[p] = bestStart;
        pickParent[p] = parent;
        pickPreviousSameStep[p] = lastPickOfStep[step];
        lastPickOfStep[step] = p;
        if (step > level) {
          level = step;
          firstPickAtLevel[step] = p;
          if (step === stepCount) break scan;
        }
      }
    }

    if (stepTimesOut !== undefined) for (let k = 0; k < stepCount; k++) stepTimesOut[outOffset + k] = NaN;
    let p = level > 0 ? firstPickAtLevel[level] : NONE;
    let firstEvent = -1;
    while (p !== NONE) {
      if (stepTimesOut !== undefined) stepTimesOut[outOffset + pickStep[p] - 1] = timestamps[pickEvent[p]];
      firstEvent = pickEvent[p];
      p = pickParent[p];
    }
    this.reportedFirstEvent = firstEvent;
    return level;
  }

  /** An excluded event of a rule guarding the link (fromStep → toStep) lies after `fromEvent`, up to the current event. */
  private excludedBetween(fromStep: number, toStep: number, fromEvent: number): boolean {
    const exclusions = this.exclusions;
    for (let r = 0; r < exclusions.length; r++) {
      const rule = exclusions[r];
      if (rule.fromStep <= fromStep && toStep <= rule.toStep && this.lastExcluded[r] > fromEvent) return true;
    }
    return false;
  }

  /**
   * Whether the chain ending at pick `a` comes before the one ending at pick `b` (NONE: no chain yet)
   * in the reported-chain order for chains of equal start: the earlier pick at the first difference.
   * Both get the same next pick appended, which is later than either end.
   */
  private earlierChain(a: number, b: number): boolean {
    if (b === NONE) return true;
    const chainA = this.chainOf(a, this.chainA);
    const chainB = this.chainOf(b, this.chainB);
    const length = Math.min(chainA.length, chainB.length);
    for (let j = 0; j < length; j++) if (chainA[j] !== chainB[j]) return this.positionBefore(chainA[j], chainB[j]);
    // One is a prefix of the other: the longer one's next pick comes before the appended pick.
    return chainA.length > chainB.length;
  }

  /** Picks of the chain ending at `p`, first to last. */
  private chainOf(p: number, out: number[]): number[] {
    out.length = 0;
    for (let q = p; q !== NONE; q = this.pickParent[q]) out.push(q);
    return out.reverse();
  }

  /** Pick order: by event, then step. */
  private positionBefore(a: number, b: number): boolean {
    const ea = this.pickEvent[a];
    const eb = this.pickEvent[b];
    return ea !== eb ? ea < eb : this.pickStep[a] < this.pickStep[b];
  }

  private ensureCapacity(matchCount: number): void {
    if (this.pickEvent.length >= matchCount) return;
    let size = this.pickEvent.length;
    while (size < matchCount) size *= 2;
    this.pickEvent = new Int32Array(size);
    this.pickStep = new Int32Array(size);
    this.pickStart = new Float64Array(size);
    this.pickParent = new Int32Array(size);
    this.pickPreviousSameStep = new Int32Array(size);
  }
}
