/**
 * The funnel engine: for each counting unit (a user or a session), the deepest funnel step reached
 * inside the conversion window, following ClickHouse's `windowFunnel` and its modes, plus the
 * timestamps of the chain we report for time-between-steps analyses.
 *
 * The rules are written out in FUNNEL-SEMANTICS.md beside this file; tests compare this engine
 * with a brute-force reading of those rules (window-funnel.reference.ts).
 *
 * Why this is exact and linear: per level we keep only the partial chains that could still beat
 * every other one (latest start for the window; earliest last pick for strict_increase /
 * strict_once), so each level is a deque whose start times and tags both increase. A new event
 * extends the newest compatible entry, and at most one entry per level is ever skipped, so each
 * event costs O(steps it matches) amortised. Nothing is allocated per event: all state lives in
 * typed arrays owned by the engine and reused across units.
 */

export const MAX_FUNNEL_STEPS = 32;

/**
 * The stretch [low, high) of a unit's events [start, end) (in timestamp order) that a scan over
 * `range` reads: from `range.from` up to (not including) `range.to + conversionWindow`. No chain
 * starting before `to` can pick an event at or after to + window (the window is inclusive of
 * last − first <= window, and first < to), and a stop there cuts nothing such a chain could use.
 */
export function rangeStretch(timestamps: Float64Array, start: number, end: number, range: FunnelRange, conversionWindow: number): [number, number] {
  let low = start;
  while (low < end && timestamps[low] < range.from) low++;
  const scanEnd = range.to + conversionWindow;
  let high = end;
  while (high > low && timestamps[high - 1] >= scanEnd) high--;
  return [low, high];
}

export interface FunnelModes {
  /** A repeat of a step that some chain has already reached ends the search (step 1 repeats restart instead). */
  strictDeduplication?: boolean;
  /** After the first step-1 event, an event matching no step, or a step whose previous step was never reached, ends the search. */
  strictOrder?: boolean;
  /** Consecutive steps of a chain need strictly increasing timestamps. */
  strictIncrease?: boolean;
  /** One event fills at most one step of a chain, even if it matches several. */
  strictOnce?: boolean;
  /** With strictOrder: a step event whose previous step was never reached is skipped instead of ending the search. */
  allowReentry?: boolean;
}

/**
 * An excluded event between two steps (PostHog's "exclusion steps"): a chain that has reached
 * `fromStep` may not progress past it if an excluded event happens after its `fromStep` event and
 * at or before its `toStep` event. Steps are 1-based, `1 <= fromStep < toStep <= stepCount`.
 */
export interface FunnelExclusion {
  fromStep: number;
  toStep: number;
}

export interface WindowFunnelOptions {
  stepCount: number;
  /** In the unit of the timestamps (seconds or milliseconds); a chain needs last − first <= conversionWindow. */
  conversionWindow: number;
  modes?: FunnelModes;
  /** Bit r of an event's exclusion mask means the event is an excluded event for `exclusions[r]`. */
  exclusions?: readonly FunnelExclusion[];
}

/**
 * The events of many units, one column per attribute. Within a unit, events are sorted by
 * (timestamp, ingestion order); that order is the funnel's notion of "before".
 */
export interface FunnelEventColumns {
  timestamps: Float64Array;
  /** Bit k set: the event matches step k + 1. */
  stepMasks: Uint32Array;
  /** Bit r set: the event is excluded by `exclusions[r]`. Omit when the funnel has no exclusions. */
  exclusionMasks?: Uint32Array;
  /** Unit u owns events [unitOffsets[u], unitOffsets[u + 1]); length = units + 1. */
  unitOffsets: Uint32Array | Int32Array;
}

/**
 * A time range [from, to) in the unit of the timestamps: chains must start in it, later steps may
 * fall up to the conversion window after `to` (FUNNEL-SEMANTICS.md, "Time range").
 */
export interface FunnelRange {
  from: number;
  to: number;
}

export interface FunnelUnitResults {
  /** Level reached per unit, 0..stepCount. */
  levels: Uint8Array;
  /**
   * stepTimes[u * stepCount + k]: timestamp at which the reported chain of unit u reached step k + 1,
   * NaN past its level. The reported chain is the first conversion to the unit's level, measured
   * from the latest step-1 event that leads to it (see FUNNEL-SEMANTICS.md).
   */
  stepTimes: Float64Array;
}

export class FunnelDefinitionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FunnelDefinitionError';
  }
}

/** The events handed to the engine break its contract (e.g. not sorted). */
export class FunnelInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FunnelInputError';
  }
}

const NO_PARENT = -1;

export class WindowFunnel {
  readonly stepCount: number;
  readonly conversionWindow: number;
  private readonly strictDeduplication: boolean;
  private readonly strictOrder: boolean;
  private readonly strictIncrease: boolean;
  private readonly strictOnce: boolean;
  private readonly allowReentry: boolean;
  /** Per exclusion rule, the levels (bit j = level j + 1) whose open chains it invalidates. */
  private readonly exclusionLevelMasks: Uint32Array;

  // Chain-state pool for one unit: append-only, so parent links stay valid for reporting.
  private poolFirst = new Float64Array(64);
  private poolTag = new Float64Array(64);
  private poolEvent = new Int32Array(64);
  private poolParent = new Int32Array(64);
  // Per level, a deque of pool slots: queueSlots[head[j] .. tail[j]), each level in its own stretch.
  private queueSlots = new Int32Array(64);
  private readonly head: Int32Array;
  private readonly tail: Int32Array;
  /** Pool slot of the first chain that reached each level in the current unit. */
  private readonly firstSlotAtLevel: Int32Array;

  /**
   * After evaluateUnit: index (into the columns) of the step-1 event of the reported chain, -1 at
   * level 0. Breakdowns read the step-1 event's properties from it.
   */
  reportedFirstEvent = -1;

  constructor(options: WindowFunnelOptions) {
    const { stepCount, conversionWindow, modes = {}, exclusions = [] } = options;
    if (!Number.isInteger(stepCount) || stepCount < 1 || stepCount > MAX_FUNNEL_STEPS) {
      throw new FunnelDefinitionError(`A funnel has 1 to ${MAX_FUNNEL_STEPS} steps, not ${stepCount}.`);
    }
    if (Number.isNaN(conversionWindow) || conversionWindow < 0) {
      // Infinity is allowed: "no window" is a legitimate funnel (ever converted).
      throw new FunnelDefinitionError(`conversionWindow must be a number >= 0, not ${conversionWindow}.`);
    }
    if (modes.allowReentry && !modes.strictOrder) {
      // Same rule as ClickHouse: re-entry only relaxes strict_order, so alone it means nothing.
      throw new FunnelDefinitionError('allowReentry requires strictOrder.');
    }
    if (exclusions.length > 32) {
      throw new FunnelDefinitionError('A funnel has at most 32 exclusions.');
    }
    this.exclusionLevelMasks = new Uint32Array(exclusions.length);
    exclusions.forEach(({ fromStep, toStep }, r) => {
      if (!Number.isInteger(fromStep) || !Number.isInteger(toStep) || fromStep < 1 || toStep <= fromStep || toStep > stepCount) {
        throw new FunnelDefinitionError(
          `Exclusion ${r} must satisfy 1 <= fromStep < toStep <= ${stepCount}; got ${fromStep}..${toStep}.`,
        );
      }
      // Chains at levels fromStep..toStep-1 still need their next pick inside the guarded stretch.
      let mask = 0;
      for (let level = fromStep; level < toStep; level++) mask |= 1 << (level - 1);
      this.exclusionLevelMasks[r] = mask >>> 0;
    });
    this.stepCount = stepCount;
    this.conversionWindow = conversionWindow;
    this.strictDeduplication = !!modes.strictDeduplication;
    this.strictOrder = !!modes.strictOrder;
    this.strictIncrease = !!modes.strictIncrease;
    this.strictOnce = !!modes.strictOnce;
    this.allowReentry = !!modes.allowReentry;
    this.head = new Int32Array(stepCount + 1);
    this.tail = new Int32Array(stepCount + 1);
    this.firstSlotAtLevel = new Int32Array(stepCount + 1);
  }

  /**
   * Levels and reported step times for every unit of `columns`. With `range`, each unit is judged
   * for chains starting in [range.from, range.to) (see evaluateUnitInRange); without it, over all
   * its events.
   */
  evaluateUnits(columns: FunnelEventColumns, options: { stepTimes?: boolean; range?: FunnelRange } = {}): FunnelUnitResults {
    const unitCount = columns.unitOffsets.length - 1;
    if (unitCount < 0) throw new FunnelDefinitionError('unitOffsets needs at least one entry.');
    const levels = new Uint8Array(unitCount);
    const wantTimes = options.stepTimes !== false;
    const stepTimes = new Float64Array(wantTimes ? unitCount * this.stepCount : 0);
    const range = options.range;
    for (let u = 0; u < unitCount; u++) {
      const start = columns.unitOffsets[u];
      const end = columns.unitOffsets[u + 1];
      const out = wantTimes ? stepTimes : undefined;
      levels[u] =
        range === undefined
          ? this.evaluateUnit(columns.timestamps, columns.stepMasks, columns.exclusionMasks, start, end, out, u * this.stepCount)
          : this.evaluateUnitInRange(columns.timestamps, columns.stepMasks, columns.exclusionMasks, start, end, range, out, u * this.stepCount);
    }
    return { levels, stepTimes };
  }

  /**
   * Level of the unit whose events are [start, end) of the columns, counting only chains that start
   * in [range.from, range.to) (FUNNEL-SEMANTICS.md, "Time range"): the scan covers the unit's events
   * from `range.from` up to (not including) `range.to + conversionWindow`, and a step-1 pick at or
   * after `range.to` starts no chain but is still a match (so strictOrder does not stop on it).
   * Events are in timestamp order, so the stretch is found by walking in from both ends.
   * Writes step times as evaluateUnit does.
   */
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
   * Level reached by the unit whose events are [start, end) of the columns. When `stepTimesOut` is
   * given, writes stepCount timestamps at `outOffset` (NaN past the level). A step-1 pick at
   * timestamp >= `startBefore` starts no chain (ranges: see evaluateUnitInRange).
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
    const head = this.head;
    const tail = this.tail;
    const firstSlotAtLevel = this.firstSlotAtLevel;

    // Each level's deque receives at most one entry per event matching that level's step, so a
    // counting pass sizes every deque exactly and bounds the pool by the number of matches.
    for (let level = 1; level <= stepCount; level++) head[level] = 0;
    let matchCount = 0;
    for (let i = start; i < end; i++) {
      // Sorting is the caller's job; an unsorted unit would give a silently wrong level, so say so.
      if (i > start && timestamps[i] < timestamps[i - 1]) {
        throw new FunnelInputError(`Events ${start}..${end - 1} are not sorted by timestamp (at index ${i}).`);
      }
      let mask = stepMasks[i] & allStepsMask;
      while (mask !== 0) {
        const low = mask & -mask;
        head[32 - Math.clz32(low)]++;
        mask ^= low;
        matchCount++;
      }
    }
    let offset = 0;
    for (let level = 1; level <= stepCount; level++) {
      const capacity = head[level];
      head[level] = offset;
      tail[level] = offset;
      firstSlotAtLevel[level] = NO_PARENT;
      offset += capacity;
    }
    this.ensureCapacity(matchCount);
    const poolFirst = this.poolFirst;
    const poolTag = this.poolTag;
    const poolEvent = this.poolEvent;
    const poolParent = this.poolParent;
    const queueSlots = this.queueSlots;

    const conversionWindow = this.conversionWindow;
    const strictIncrease = this.strictIncrease;
    const strictOnce = this.strictOnce;
    const strictDeduplication = this.strictDeduplication;
    const strictOrder = this.strictOrder;
    const allowReentry = this.allowReentry;
    const exclusionLevelMasks = this.exclusionLevelMasks;
    const hasExclusions = exclusionMasks !== undefined && exclusionLevelMasks.length > 0;
    const allExclusionsMask = exclusionLevelMasks.length === 32 ? 0xffffffff : (1 << exclusionLevelMasks.length) - 1;

    let poolSize = 0;
    let level = 0;
    let seenFirstStep = false;

    scan: for (let i = start; i < end; i++) {
      const timestamp = timestamps[i];
      // The tag orders chains by how easily they extend: the last pick's time under strict_increase,
      // its event under strict_once; without either, every open chain extends alike.
      const tag = strictIncrease ? timestamp : strictOnce ? i : 0;

      if (hasExclusions) {
        let excluded = exclusionMasks[i] & allExclusionsMask;
        let clearLevels = 0;
        while (excluded !== 0) {
          const low = excluded & -excluded;
          clearLevels |= exclusionLevelMasks[31 - Math.clz32(low)];
          excluded ^= low;
        }
        // Applied before this event's own picks: an event that is both excluded and the toStep event counts as excluded.
        while (clearLevels !== 0) {
          const low = clearLevels & -clearLevels;
          const cleared = 32 - Math.clz32(low);
          head[cleared] = tail[cleared];
          clearLevels ^= low;
        }
      }

      let mask = stepMasks[i] & allStepsMask;
      if (mask === 0) {
        if (strictOrder && seenFirstStep) break;
        continue;
      }
      // Steps of one event are visited in ascending order, so without strict_once an event
      // matching steps k and k + 1 can fill both (ClickHouse does the same).
      while (mask !== 0) {
        const low = mask & -mask;
        mask ^= low;
        const step = 32 - Math.clz32(low);
        let parent = NO_PARENT;
        let chainStart = timestamp;
        if (step === 1) {
          // Still a match, so under strictOrder this event is not "outside the funnel"; it just
          // cannot start a chain counted in this range.
          if (timestamp >= startBefore) continue;
          seenFirstStep = true;
        } else {
          if (strictDeduplication && level >= step) break scan;
          if (strictOrder && seenFirstStep && level < step - 1) {
            if (allowReentry) continue;
            break scan;
          }
          const from = step - 1;
          let h = head[from];
          const t = tail[from];
          const earliestStart = timestamp - conversionWindow;
          while (h < t && poolFirst[queueSlots[h]] < earliestStart) h++;
          head[from] = h;
          let k = t - 1;
          if (strictIncrease || strictOnce) {
            while (k >= h && poolTag[queueSlots[k]] >= tag) k--;
          }
          if (k < h) continue;
          parent = queueSlots[k];
          chainStart = poolFirst[parent];
        }
        // Push (chainStart, tag) onto this step's deque unless an entry there is at least as good.
        let back = tail[step];
        if (back > head[step]) {
          const last = queueSlots[back - 1];
          if (poolFirst[last] >= chainStart) continue;
          if (poolTag[last] === tag) back--;
        }
        const slot = poolSize++;
        poolFirst[slot] = chainStart;
        poolTag[slot] = tag;
        poolEvent[slot] = i;
        poolParent[slot] = parent;
        queueSlots[back] = slot;
        tail[step] = back + 1;
        if (step > level) {
          level = step;
          firstSlotAtLevel[step] = slot;
          if (step === stepCount) break scan;
        }
      }
    }

    if (stepTimesOut !== undefined) {
      for (let k = 0; k < stepCount; k++) stepTimesOut[outOffset + k] = NaN;
    }
    let slot = level > 0 ? firstSlotAtLevel[level] : NO_PARENT;
    let firstEvent = -1;
    for (let k = level - 1; k >= 0 && slot !== NO_PARENT; k--) {
      if (stepTimesOut !== undefined) stepTimesOut[outOffset + k] = timestamps[poolEvent[slot]];
      firstEvent = poolEvent[slot];
      slot = poolParent[slot];
    }
    this.reportedFirstEvent = firstEvent;
    return level;
  }

  private ensureCapacity(matchCount: number): void {
    if (this.poolFirst.length >= matchCount) return;
    let size = this.poolFirst.length;
    while (size < matchCount) size *= 2;
    this.poolFirst = new Float64Array(size);
    this.poolTag = new Float64Array(size);
    this.poolEvent = new Int32Array(size);
    this.poolParent = new Int32Array(size);
    this.queueSlots = new Int32Array(size);
  }
}
