/**
 * Runs a checked funnel (funnel-definition.ts) over the event mirror: lays events out per counting
 * unit, turns steps and exclusions into per-event bitmasks, and feeds each unit to the windowFunnel
 * engine. The report itself (counts, conversion, times) is funnel-aggregate.ts's job.
 *
 * Time range: a unit counts for [from, to) when its reported chain starts there. Which events the
 * scan sees (from `from` up to `to` + window, those after `to` able to complete and to stop a chain)
 * is the engine's rule (WindowFunnel.evaluateUnitInRange, FUNNEL-SEMANTICS.md "Time range"); this
 * file only skips units that cannot start a chain in the range.
 */
import { scratchFloat64, scratchUint32 } from './scratch';
import { compileFilter, FilterTarget, PropertyFilter, StepDefinition } from './step-filter';
import { combinationKeyOf, groupKeyOf, MISSING_GROUP_KEY } from './breakdown-key';
import type { MirrorNeeds, MirrorSegment, MirrorSnapshot } from './event-mirror';
import type { FunnelPlan } from './funnel-definition';
import type { FunnelUnitLevels } from './funnel-aggregate';
import { sharedFloat64, sharedInt32 } from './shared-memory';
import { WindowFunnel } from './window-funnel';
import { ControlledFunnel } from './controlled-funnel';

/** The engine a plan runs on: the linear windowFunnel engine, or the exact controlled evaluator when the plan has controls. */
export type FunnelEngine = WindowFunnel | ControlledFunnel;

/** WindowFunnel for a plan without controls (the fast path, unchanged); ControlledFunnel otherwise (FUNNEL-SEMANTICS.md, "Controls"). */
export function engineFor(plan: FunnelPlan): FunnelEngine {
  const options = { stepCount: plan.steps.length, conversionWindow: plan.windowMicros, modes: plan.modes, exclusions: plan.exclusions };
  return plan.controls === null ? new WindowFunnel(options) : new ControlledFunnel({ ...options, controls: plan.controls });
}

/** Optional steps of a plan as FunnelUnitLevels carries them (undefined without any). */
export function optionalStepsOf(plan: FunnelPlan): boolean[] | undefined {
  return plan.controls?.optional?.some(Boolean) ? [...plan.controls.optional] : undefined;
}

/** One mirror segment's events grouped by counting unit, in (ts, id) order within each unit. */
export interface UnitPart {
  unitCount: number;
  /** Unit i of the part owns positions [unitOffsets[i], unitOffsets[i + 1]) of the arrays below. */
  unitOffsets: Int32Array;
  times: Float64Array;
  /** Segment row at each position; null when positions are the segment's rows (user counting). */
  rows: Int32Array | null;
  /** Dense user id per unit; null when the unit index is the user id (the base, counting users). */
  unitUsers: Int32Array | null;
  /** Session code per unit (session counting). */
  unitSessions: Int32Array | null;
}

/**
 * A snapshot's units: the base segment's part, then the delta's. Unit numbers run over both: unit
 * n < base.unitCount is the base part's unit n, unit base.unitCount + i the delta part's unit i.
 * A user with rows in the delta has its whole history there, so the base units of such users are
 * `shadowed`: they are skipped, and their events counted once, in the delta.
 */
export interface UnitLayout {
  unitCount: number;
  base: UnitPart;
  delta: UnitPart;
  /** 1 for each base unit whose user's events are read from the delta. */
  shadowed: Uint8Array;
}

/** Per layout part: bit k of masks[p] when the event at position p matches definition k. */
export interface PartMasks {
  base: Uint32Array;
  delta: Uint32Array;
}

export interface FunnelEvaluation extends FunnelUnitLevels {
  layout: UnitLayout;
  /** Units with at least one event in [from, to) (and in the cohort). */
  activeUnits: Int32Array;
  /** Position (in its part) of the reported chain's step-1 event per unit, -1 at level 0. */
  firstEvents: Int32Array;
}

/** Per layout part: the held properties' value code at each position (0: the event lacks one), for ControlledFunnel.holdValues. */
export interface PartValues {
  base: Int32Array;
  delta: Int32Array;
}

/** A funnel bound to one mirror snapshot: masks computed, columns loaded, cohort resolved. */
/** A funnel bound to a snapshot; its masks are scratch arrays (scratch.ts): use it before the thread prepares another. */
export interface PreparedFunnel {
  plan: FunnelPlan;
  snapshot: MirrorSnapshot;
  layout: UnitLayout;
  stepMasks: PartMasks;
  exclusionMasks: PartMasks | undefined;
  /** With holdConstant: the held value code per position; null otherwise. */
  holdValues: PartValues | null;
  /** 1 for users in the cohort, by dense id; null when there is no cohort. */
  cohortUsers: Uint8Array | null;
  engine: FunnelEngine;
  /** The units this run evaluates, [first, end): all of them, or one part of a split funnel (funnel-split.ts). */
  units: UnitRange;
}

/**
 * Units [first, end) of a layout, numbered over both parts (base units, then delta units); a split
 * funnel gives each worker one such range. An `end` past the layout's last unit means "to the
 * last unit" (a split cut on the main thread does not know how many session units the delta has).
 */
export interface UnitRange {
  first: number;
  end: number;
}

/** A filter evaluated once per distinct value of its column; the codes come from each segment. */
interface CompiledFilter {
  /** The property whose codes are looked up; null for the item column. */
  key: string | null;
  /** Added to a code before looking up `pass` (item columns use -1 for "none"). */
  shift: number;
  pass: Uint8Array;
}

/**
 * Binds a checked funnel to a snapshot: the unit layout (users: the segments as they are; sessions:
 * `sessionBase` when the caller has the base part for this snapshot's base, else built here, plus
 * the delta's part), the step and exclusion masks, and the engine. Pure computation over the
 * snapshot's arrays, so it runs the same on the main thread and in a funnel worker (funnel-worker.ts).
 */
export function prepareFunnel(
  plan: FunnelPlan,
  snapshot: MirrorSnapshot,
  cohortUsers: Uint8Array | null,
  sessionBase: UnitPart | null = null,
  range: UnitRange | null = null,
): PreparedFunnel {
  const layout =
    plan.countBy === 'session'
      ? unitLayout(snapshot, sessionBase ?? sessionUnits(snapshot.base), sessionUnits(snapshot.delta))
      : unitLayout(snapshot, userUnits(snapshot.base), userUnits(snapshot.delta));
  const units = range === null ? { first: 0, end: layout.unitCount } : { first: Math.min(range.first, layout.unitCount), end: Math.min(range.end, layout.unitCount) };
  const { base: baseUnits, delta: deltaUnits } = partRanges(layout, units);
  const masksOf = (definitions: StepDefinition[], slot: string): PartMasks => {
    const filters = definitions.map((definition) => (definition.filters ?? []).map((filter) => compileOnColumn(snapshot, filter)));
    // Masks only for the range's positions; the arrays keep each part's indexing, so the engine
    // reads them as for a whole run, and the rest stays 0 (no step) and is never read.
    return {
      base: computeMasks(snapshot, snapshot.base, definitions, filters, layout.base, positionsOf(layout.base, baseUnits), `${slot}:base`),
      delta: computeMasks(snapshot, snapshot.delta, definitions, filters, layout.delta, positionsOf(layout.delta, deltaUnits), `${slot}:delta`),
    };
  };
  const stepMasks = masksOf(plan.steps, 'step masks');
  const exclusionMasks = plan.exclusionSteps.length > 0 ? masksOf(plan.exclusionSteps, 'exclusion masks') : undefined;
  const engine = engineFor(plan);
  let holdValues: PartValues | null = null;
  if (plan.holdTargets.length > 0) {
    const codeOf = holdCoder(snapshot, plan.holdTargets);
    holdValues = {
      base: holdValuesOf(snapshot.base, layout.base, positionsOf(layout.base, baseUnits), codeOf),
      delta: holdValuesOf(snapshot.delta, layout.delta, positionsOf(layout.delta, deltaUnits), codeOf),
    };
  }
  return { plan, snapshot, layout, stepMasks, exclusionMasks, holdValues, cohortUsers, engine, units };
}

/**
 * Where a range of layout units lies in each part: base units [lo, min(hi, nb)) and delta units
 * [max(lo, nb) - nb, hi - nb), with nb the base's unit count (each empty when the range misses it).
 */
export function partRanges(layout: UnitLayout, units: UnitRange): { base: UnitRange; delta: UnitRange } {
  const nb = layout.base.unitCount;
  const baseEnd = Math.min(units.end, nb);
  const deltaFirst = Math.max(units.first, nb) - nb;
  return {
    base: { first: Math.min(units.first, baseEnd), end: baseEnd },
    delta: { first: deltaFirst, end: Math.max(deltaFirst, units.end - nb) },
  };
}

/** The positions of a part that units [first, end) of it own. */
function positionsOf(part: UnitPart, units: UnitRange): UnitRange {
  return { first: part.unitOffsets[units.first], end: part.unitOffsets[units.end] };
}

/**
 * Levels and reported step times per unit for chains starting in [fromMicros, toMicros); units
 * outside prepared.units stay at level 0 and inactive. The step times are a scratch array
 * (scratch.ts): valid until the thread's next evaluation, zero for the units of the range that did
 * not start a chain, unspecified outside the range.
 */
export function evaluateFunnel(prepared: PreparedFunnel, fromMicros: number, toMicros: number): FunnelEvaluation {
  const { layout, stepMasks, exclusionMasks, holdValues, cohortUsers, engine } = prepared;
  const stepCount = engine.stepCount;
  const unitCount = layout.unitCount;
  const levels = new Uint8Array(unitCount);
  const stepTimes = scratchFloat64('step times', unitCount * stepCount);
  const firstEvents = new Int32Array(unitCount).fill(-1);
  const active = new Int32Array(unitCount);
  let activeCount = 0;
  const range = { from: fromMicros, to: toMicros };
  const evaluatePart = (part: UnitPart, units: UnitRange, partMasks: Uint32Array, partExclusions: Uint32Array | undefined, firstUnit: number, shadowed: Uint8Array | null, values: Int32Array | null): void => {
    const { unitOffsets, times, unitUsers } = part;
    if (engine instanceof ControlledFunnel) engine.holdValues = values;
    for (let i = units.first; i < units.end; i++) {
      const start = unitOffsets[i];
      const end = unitOffsets[i + 1];
      if (start === end || (shadowed !== null && shadowed[i] === 1)) continue;
      if (cohortUsers !== null) {
        const user = unitUsers ? unitUsers[i] : i;
        if (user >= cohortUsers.length || cohortUsers[user] === 0) continue;
      }
      // Events are in time order: [low, high) is the unit's stretch inside [from, to).
      let low = start;
      while (low < end && times[low] < fromMicros) low++;
      let high = end;
      while (high > low && times[high - 1] >= toMicros) high--;
      if (low === high) continue;
      const u = firstUnit + i;
      active[activeCount++] = u;
      let canStart = false;
      for (let p = low; p < high && !canStart; p++) canStart = (partMasks[p] & 1) !== 0;
      if (!canStart) continue;
      levels[u] = engine.evaluateUnitInRange(times, partMasks, partExclusions, start, end, range, stepTimes, u * stepCount);
      firstEvents[u] = engine.reportedFirstEvent;
    }
  };
  const parts = partRanges(layout, prepared.units);
  const nb = layout.base.unitCount;
  stepTimes.fill(0, parts.base.first * stepCount, parts.base.end * stepCount);
  stepTimes.fill(0, (nb + parts.delta.first) * stepCount, (nb + parts.delta.end) * stepCount);
  evaluatePart(layout.base, parts.base, stepMasks.base, exclusionMasks?.base, 0, layout.shadowed, holdValues?.base ?? null);
  evaluatePart(layout.delta, parts.delta, stepMasks.delta, exclusionMasks?.delta, layout.base.unitCount, null, holdValues?.delta ?? null);
  return { levels, stepTimes, stepCount, optional: optionalStepsOf(prepared.plan), layout, activeUnits: active.subarray(0, activeCount), firstEvents };
}

/**
 * Positions (in the unit's layout part) of the reported chain's events for steps 1..count, count at
 * most the unit's level, as read from one evaluation. The engine reports the step-1 event and every
 * step's time; step s's event is the unit's first event at that time that matches step s, at or
 * after step s−1's event (strictly after under strictOnce, where one event fills one step). That is
 * the engine's pick except when several events at one timestamp match the same step: then the first
 * of them in ingestion order.
 */
export function reportedStepEvents(prepared: PreparedFunnel, evaluation: FunnelEvaluation, unit: number, count: number): number[] {
  const { layout, stepTimes, stepCount, firstEvents } = evaluation;
  const inBase = unit < layout.base.unitCount;
  const part = inBase ? layout.base : layout.delta;
  const masks = inBase ? prepared.stepMasks.base : prepared.stepMasks.delta;
  const end = part.unitOffsets[(inBase ? unit : unit - layout.base.unitCount) + 1];
  const skip = prepared.plan.modes.strictOnce ? 1 : 0;
  const positions = [firstEvents[unit]];
  for (let s = 2; s <= count; s++) {
    const time = stepTimes[unit * stepCount + s - 1];
    const bit = (1 << (s - 1)) >>> 0;
    let p = positions[s - 2] + skip;
    while (p < end && !(part.times[p] === time && (masks[p] & bit) !== 0)) p++;
    if (p === end) throw new Error(`No step-${s} event at the reported time for unit ${unit}.`);
    positions.push(p);
  }
  return positions;
}

/** The dense user id of a layout unit. */
export function unitUser(layout: UnitLayout, unit: number): number {
  const [part, i] = unit < layout.base.unitCount ? [layout.base, unit] : [layout.delta, unit - layout.base.unitCount];
  return part.unitUsers ? part.unitUsers[i] : i;
}

/** The session code of a layout unit (session counting; -1 when counting users). */
export function unitSession(layout: UnitLayout, unit: number): number {
  const [part, i] = unit < layout.base.unitCount ? [layout.base, unit] : [layout.delta, unit - layout.base.unitCount];
  return part.unitSessions ? part.unitSessions[i] : -1;
}

/**
 * Units are (user, session) pairs of one segment; events without a session belong to none. Within
 * a user the segment is in (ts, id) order, and each session collects its rows in that order. The
 * part lives on shared memory, so the base's, built in one worker, can be kept and handed to the others.
 */
export function sessionUnits(segment: MirrorSegment): UnitPart {
  const codes = segment.sessions!.codes;
  const sessionCount = segment.sessions!.names.count;
  // Number the units user by user (sessions in order of their first event), then place each row
  // with a stable counting sort by unit: rows keep their (ts, id) order inside a unit.
  const unitOfRow = new Int32Array(segment.size);
  // The last user seen with each session, and that pair's unit: arrays over every session for the
  // base, a map for the (small) delta so its cost follows the delta.
  const small = segment.size * 4 < sessionCount;
  const lastUserOfSession = small ? null : new Int32Array(sessionCount).fill(-1);
  const unitOfSession = small ? null : new Int32Array(sessionCount);
  const pairs = new Map<number, { user: number; unit: number }>();
  let unitUsers = new Int32Array(1024);
  let unitSessions = new Int32Array(1024);
  let unitCount = 0;
  const userCount = segment.userOffsets.length - 1;
  for (let i = 0; i < userCount; i++) {
    const user = segment.userIds ? segment.userIds[i] : i;
    for (let row = segment.userOffsets[i]; row < segment.userOffsets[i + 1]; row++) {
      const code = codes[row];
      if (code === 0) {
        unitOfRow[row] = -1;
        continue;
      }
      let unit = -1;
      if (lastUserOfSession && unitOfSession) {
        if (lastUserOfSession[code] === user) unit = unitOfSession[code];
      } else {
        const pair = pairs.get(code);
        if (pair && pair.user === user) unit = pair.unit;
      }
      if (unit < 0) {
        if (unitCount === unitUsers.length) {
          unitUsers = grow(unitUsers);
          unitSessions = grow(unitSessions);
        }
        unit = unitCount++;
        unitUsers[unit] = user;
        unitSessions[unit] = code;
        if (lastUserOfSession && unitOfSession) {
          lastUserOfSession[code] = user;
          unitOfSession[code] = unit;
        } else {
          pairs.set(code, { user, unit });
        }
      }
      unitOfRow[row] = unit;
    }
  }
  const unitOffsets = sharedInt32(unitCount + 1);
  for (let row = 0; row < segment.size; row++) if (unitOfRow[row] >= 0) unitOffsets[unitOfRow[row] + 1]++;
  for (let u = 0; u < unitCount; u++) unitOffsets[u + 1] += unitOffsets[u];
  const cursor = unitOffsets.slice(0, unitCount);
  const rows = sharedInt32(unitOffsets[unitCount]);
  for (let row = 0; row < segment.size; row++) if (unitOfRow[row] >= 0) rows[cursor[unitOfRow[row]]++] = row;
  const times = sharedFloat64(rows.length);
  for (let p = 0; p < rows.length; p++) times[p] = segment.times[rows[p]];
  const sharedUnitUsers = sharedInt32(unitCount);
  sharedUnitUsers.set(unitUsers.subarray(0, unitCount));
  const sharedUnitSessions = sharedInt32(unitCount);
  sharedUnitSessions.set(unitSessions.subarray(0, unitCount));
  return { unitCount, unitOffsets, times, rows, unitUsers: sharedUnitUsers, unitSessions: sharedUnitSessions };
}

/** The mirror columns (and lazily loaded ones) a funnel reads. */
export function needsOf(plan: FunnelPlan): MirrorNeeds {
  const targets: FilterTarget[] = [...plan.steps, ...plan.exclusionSteps].flatMap((step) => step.filters ?? []);
  if (plan.breakdown) targets.push(...plan.breakdown.targets);
  targets.push(...plan.holdTargets);
  return {
    propertyKeys: [...new Set(targets.flatMap((target) => (target.on === 'property' ? [target.key] : [])))],
    items: targets.some((target) => target.on !== 'property'),
    sessions: plan.countBy === 'session',
  };
}

/** One unit per user of the segment, its stretch as it lies. */
function userUnits(segment: MirrorSegment): UnitPart {
  return {
    unitCount: segment.userOffsets.length - 1,
    unitOffsets: segment.userOffsets,
    times: segment.times,
    rows: null,
    unitUsers: segment.userIds,
    unitSessions: null,
  };
}

/** The two parts as one layout, with the base units of users that the delta holds marked as shadowed. */
function unitLayout(snapshot: MirrorSnapshot, base: UnitPart, delta: UnitPart): UnitLayout {
  const shadowed = new Uint8Array(base.unitCount);
  const deltaUsers = snapshot.delta.userIds!;
  if (deltaUsers.length > 0) {
    if (base.unitUsers === null) {
      for (let i = 0; i < deltaUsers.length; i++) if (deltaUsers[i] < shadowed.length) shadowed[deltaUsers[i]] = 1;
    } else {
      const inDelta = new Uint8Array(snapshot.userCount);
      for (let i = 0; i < deltaUsers.length; i++) inDelta[deltaUsers[i]] = 1;
      for (let u = 0; u < base.unitCount; u++) shadowed[u] = inDelta[base.unitUsers[u]];
    }
  }
  return { unitCount: base.unitCount + delta.unitCount, base, delta, shadowed };
}

/**
 * Bit k of masks[p] when the event at position p of `part` (rows of `segment`) matches
 * definitions[k], for p in `positions`; unspecified elsewhere, where nothing reads (a scratch array
 * of `slot`, see scratch.ts).
 */
function computeMasks(
  snapshot: MirrorSnapshot,
  segment: MirrorSegment,
  definitions: StepDefinition[],
  compiled: CompiledFilter[][],
  part: UnitPart,
  positions: UnitRange,
  slot: string,
): Uint32Array {
  const plain = new Uint32Array(snapshot.typeCount);
  const filtered: { bit: number; filters: { codes: Int32Array; shift: number; pass: Uint8Array }[] }[][] = Array.from({ length: snapshot.typeCount }, () => []);
  for (let k = 0; k < definitions.length; k++) {
    const type = snapshot.typeCodes.get(definitions[k].eventType);
    if (type === undefined || type >= snapshot.typeCount) continue; // no such events stored: the step matches nothing
    const bit = (1 << k) >>> 0;
    if (compiled[k].length === 0) plain[type] |= bit;
    else {
      filtered[type].push({
        bit,
        filters: compiled[k].map(({ key, shift, pass }) => ({ codes: key === null ? segment.items : segment.properties.get(key)!.codes, shift, pass })),
      });
    }
  }
  const rows = part.rows;
  const size = rows ? rows.length : segment.size;
  const types = segment.types;
  const masks = scratchUint32(slot, size);
  if (filtered.every((candidates) => candidates.length === 0)) {
    // Types only: one table lookup per event.
    if (rows) for (let p = positions.first; p < positions.end; p++) masks[p] = plain[types[rows[p]]];
    else for (let p = positions.first; p < positions.end; p++) masks[p] = plain[types[p]];
    return masks;
  }
  for (let p = positions.first; p < positions.end; p++) {
    const row = rows ? rows[p] : p;
    const type = types[row];
    let mask = plain[type];
    const candidates = filtered[type];
    for (let c = 0; c < candidates.length; c++) {
      const { bit, filters } = candidates[c];
      let matches = true;
      for (let f = 0; f < filters.length && matches; f++) {
        const { codes, shift, pass } = filters[f];
        const index = codes[row] + shift;
        matches = index < pass.length && pass[index] === 1;
      }
      if (matches) mask |= bit;
    }
    masks[p] = mask >>> 0;
  }
  return masks;
}

const BLANK_ROW = { type: '', props: null, itemId: null, category: null };

/** A filter evaluated once per distinct value of its column, through step-filter.ts's predicates. */
function compileOnColumn(snapshot: MirrorSnapshot, filter: PropertyFilter): CompiledFilter {
  const predicate = compileFilter(filter);
  if (filter.on === 'property') {
    // Both segments share the column's dictionary.
    const values = snapshot.base.properties.get(filter.key)!.values;
    const pass = new Uint8Array(values.length);
    pass[0] = predicate(BLANK_ROW) ? 1 : 0;
    for (let code = 1; code < values.length; code++) {
      pass[code] = predicate({ ...BLANK_ROW, props: { [filter.key]: values[code] } }) ? 1 : 0;
    }
    return { key: filter.key, shift: 0, pass };
  }
  const items = snapshot.itemDictionary!;
  const pass = new Uint8Array(items.externalIds.length + 1);
  pass[0] = predicate(BLANK_ROW) ? 1 : 0;
  for (let id = 0; id < items.externalIds.length; id++) {
    const row = filter.on === 'itemId' ? { ...BLANK_ROW, itemId: items.externalIds[id] ?? null } : { ...BLANK_ROW, category: items.categories[id] ?? null };
    pass[id + 1] = predicate(row) ? 1 : 0;
  }
  return { key: null, shift: 1, pass };
}

/**
 * Group key per unit (breakdown-key.ts) from the breakdown target of its reported step-1 event: the
 * value's JSON text, types kept apart, or MISSING_GROUP_KEY when the event has none. A property set
 * to JSON null is the value null, not missing; an item target has no JSON null, so no item or an
 * item without a category is missing. Keys are worked out once per distinct value.
 */
export function breakdownKeys(prepared: PreparedFunnel, evaluation: FunnelEvaluation, targets: readonly FilterTarget[], units: ArrayLike<number>): string[] {
  if (targets.length === 1) return targetKeys(prepared, evaluation, targets[0], units);
  // Several properties: a group is the combination of the values (breakdown-key.ts, combinationKeyOf).
  const columns = targets.map((target) => targetKeys(prepared, evaluation, target, units));
  return Array.from({ length: units.length }, (_, n) => combinationKeyOf(columns.map((column) => column[n])));
}

function targetKeys(prepared: PreparedFunnel, evaluation: FunnelEvaluation, target: FilterTarget, units: ArrayLike<number>): string[] {
  const { snapshot } = prepared;
  const { layout } = evaluation;
  // Codes are per segment, so each segment keeps its own code → key cache.
  let keyOf: (segment: MirrorSegment, row: number) => string;
  if (target.on === 'property') {
    const key = target.key;
    const caches = new Map<MirrorSegment, (string | undefined)[]>();
    keyOf = (segment, row) => {
      const column = segment.properties.get(key)!;
      let cache = caches.get(segment);
      if (!cache) caches.set(segment, (cache = []));
      const code = column.codes[row];
      return (cache[code] ??= groupKeyOf(column.values[code]));
    };
  } else {
    const items = snapshot.itemDictionary!;
    const byId = target.on === 'itemId' ? items.externalIds : items.categories;
    keyOf = (segment, row) => groupKeyOf(segment.items[row] < 0 ? undefined : (byId[segment.items[row]] ?? undefined));
  }
  const keys: string[] = [];
  for (let n = 0; n < units.length; n++) {
    const unit = units[n];
    const position = evaluation.firstEvents[unit];
    if (position < 0) {
      keys.push(MISSING_GROUP_KEY);
      continue;
    }
    const inBase = unit < layout.base.unitCount;
    const part = inBase ? layout.base : layout.delta;
    keys.push(keyOf(inBase ? snapshot.base : snapshot.delta, part.rows ? part.rows[position] : position));
  }
  return keys;
}

/**
 * Codes for the held properties' values, shared by both segments (their property dictionaries and
 * item ids are the mirror's): 0 when an event lacks a value (the property is absent or JSON null, or
 * no item / no category), else one positive code per distinct value, or per combination of values
 * when several properties are held.
 */
function holdCoder(snapshot: MirrorSnapshot, targets: readonly FilterTarget[]): (segment: MirrorSegment, row: number) => number {
  const categories = new Map<string, number>();
  const one = targets.map((target): ((segment: MirrorSegment, row: number) => number) => {
    if (target.on === 'property') {
      const key = target.key;
      return (segment, row) => {
        const column = segment.properties.get(key)!;
        const code = column.codes[row];
        return code === 0 || column.values[code] === null ? 0 : code;
      };
    }
    if (target.on === 'itemId') return (segment, row) => segment.items[row] + 1;
    const byItem = snapshot.itemDictionary!.categories;
    return (segment, row) => {
      const item = segment.items[row];
      const category = item < 0 ? null : (byItem[item] ?? null);
      if (category === null) return 0;
      let code = categories.get(category);
      if (code === undefined) categories.set(category, (code = categories.size + 1));
      return code;
    };
  });
  if (one.length === 1) return one[0];
  const combinations = new Map<string, number>();
  return (segment, row) => {
    const codes = one.map((codeOf) => codeOf(segment, row));
    if (codes.includes(0)) return 0;
    const key = codes.join(',');
    let code = combinations.get(key);
    if (code === undefined) combinations.set(key, (code = combinations.size + 1));
    return code;
  };
}

/** The held value code at each position of `positions` in `part` (0 elsewhere). */
function holdValuesOf(segment: MirrorSegment, part: UnitPart, positions: UnitRange, codeOf: (segment: MirrorSegment, row: number) => number): Int32Array {
  const size = part.rows ? part.rows.length : segment.size;
  const values = new Int32Array(size);
  for (let p = positions.first; p < positions.end; p++) values[p] = codeOf(segment, part.rows ? part.rows[p] : p);
  return values;
}

function grow(array: Int32Array<ArrayBuffer>): Int32Array<ArrayBuffer> {
  const grown = new Int32Array(array.length * 2);
  grown.set(array);
  return grown;
}
