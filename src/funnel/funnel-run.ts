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
import { compileFilter, FilterTarget, PropertyFilter, StepDefinition } from './step-filter';
import type { MirrorNeeds, MirrorSnapshot } from './event-mirror';
import type { FunnelPlan } from './funnel-definition';
import type { FunnelUnitLevels } from './funnel-aggregate';
import { sharedFloat64, sharedInt32 } from './shared-memory';
import { WindowFunnel } from './window-funnel';

/** The events grouped by counting unit, in (ts, id) order within each unit. */
export interface UnitLayout {
  unitCount: number;
  /** Unit u owns positions [unitOffsets[u], unitOffsets[u + 1]) of the arrays below. */
  unitOffsets: Int32Array;
  times: Float64Array;
  /** Mirror row at each position; null when positions are mirror rows (user counting). */
  rows: Int32Array | null;
  /** Dense user id per unit; null when the unit index is the user id. */
  unitUsers: Int32Array | null;
  /** Session code per unit (session counting). */
  unitSessions: Int32Array | null;
}

export interface FunnelEvaluation extends FunnelUnitLevels {
  layout: UnitLayout;
  /** Units with at least one event in [from, to) (and in the cohort). */
  activeUnits: Int32Array;
  /** Position of the reported chain's step-1 event per unit, -1 at level 0. */
  firstEvents: Int32Array;
}

/** A funnel bound to one mirror snapshot: masks computed, columns loaded, cohort resolved. */
export interface PreparedFunnel {
  plan: FunnelPlan;
  snapshot: MirrorSnapshot;
  layout: UnitLayout;
  stepMasks: Uint32Array;
  exclusionMasks: Uint32Array | undefined;
  /** 1 for users in the cohort, by dense id; null when there is no cohort. */
  cohortUsers: Uint8Array | null;
  engine: WindowFunnel;
}

interface CompiledFilter {
  codes: Int32Array;
  /** Added to a code before looking up `pass` (item columns use -1 for "none"). */
  shift: number;
  pass: Uint8Array;
}

/**
 * Binds a checked funnel to a snapshot: the unit layout (the mirror itself for users; for sessions
 * `sessionLayout` when the caller has one for this snapshot's version, else built here), the step
 * and exclusion masks, and the engine. Pure computation over the snapshot's arrays, so it runs the
 * same on the main thread and in a funnel worker (funnel-worker.ts).
 */
export function prepareFunnel(plan: FunnelPlan, snapshot: MirrorSnapshot, cohortUsers: Uint8Array | null, sessionLayout: UnitLayout | null = null): PreparedFunnel {
  const layout = plan.countBy === 'session' ? (sessionLayout ?? sessionUnits(snapshot)) : userUnits(snapshot);
  const stepMasks = computeMasks(snapshot, plan.steps, layout);
  const exclusionMasks = plan.exclusionSteps.length > 0 ? computeMasks(snapshot, plan.exclusionSteps, layout) : undefined;
  const engine = new WindowFunnel({
    stepCount: plan.steps.length,
    conversionWindow: plan.windowMicros,
    modes: plan.modes,
    exclusions: plan.exclusions,
  });
  return { plan, snapshot, layout, stepMasks, exclusionMasks, cohortUsers, engine };
}

/** Levels and reported step times per unit for chains starting in [fromMicros, toMicros). */
export function evaluateFunnel(prepared: PreparedFunnel, fromMicros: number, toMicros: number): FunnelEvaluation {
  const { layout, stepMasks, exclusionMasks, cohortUsers, engine } = prepared;
  const stepCount = engine.stepCount;
  const { unitCount, unitOffsets, times, unitUsers } = layout;
  const levels = new Uint8Array(unitCount);
  const stepTimes = new Float64Array(unitCount * stepCount);
  const firstEvents = new Int32Array(unitCount).fill(-1);
  const active = new Int32Array(unitCount);
  let activeCount = 0;
  const range = { from: fromMicros, to: toMicros };
  for (let u = 0; u < unitCount; u++) {
    const start = unitOffsets[u];
    const end = unitOffsets[u + 1];
    if (start === end) continue;
    if (cohortUsers !== null) {
      const user = unitUsers ? unitUsers[u] : u;
      if (user >= cohortUsers.length || cohortUsers[user] === 0) continue;
    }
    // Events are in time order: [low, high) is the unit's stretch inside [from, to).
    let low = start;
    while (low < end && times[low] < fromMicros) low++;
    let high = end;
    while (high > low && times[high - 1] >= toMicros) high--;
    if (low === high) continue;
    active[activeCount++] = u;
    let canStart = false;
    for (let p = low; p < high && !canStart; p++) canStart = (stepMasks[p] & 1) !== 0;
    if (!canStart) continue;
    levels[u] = engine.evaluateUnitInRange(times, stepMasks, exclusionMasks, start, end, range, stepTimes, u * stepCount);
    firstEvents[u] = engine.reportedFirstEvent;
  }
  return { levels, stepTimes, stepCount, layout, activeUnits: active.subarray(0, activeCount), firstEvents };
}

/**
 * Units are (user, session) pairs; events without a session belong to none. Within a user the
 * mirror is in (ts, id) order, and each session collects its rows in that order. The layout lives
 * on shared memory, so one built in a worker can be kept and handed to the others.
 */
export function sessionUnits(snapshot: MirrorSnapshot): UnitLayout {
  const codes = snapshot.sessions!.codes;
  const sessionCount = snapshot.sessions!.values.length;
  // Number the units user by user (sessions in order of their first event), then place each row
  // with a stable counting sort by unit: rows keep their (ts, id) order inside a unit.
  const unitOfRow = new Int32Array(snapshot.size);
  const lastUserOfSession = new Int32Array(sessionCount).fill(-1);
  const unitOfSession = new Int32Array(sessionCount);
  let unitUsers = new Int32Array(1024);
  let unitSessions = new Int32Array(1024);
  let unitCount = 0;
  const userCount = snapshot.userOffsets.length - 1;
  for (let user = 0; user < userCount; user++) {
    for (let row = snapshot.userOffsets[user]; row < snapshot.userOffsets[user + 1]; row++) {
      const code = codes[row];
      if (code === 0) {
        unitOfRow[row] = -1;
        continue;
      }
      if (lastUserOfSession[code] !== user) {
        lastUserOfSession[code] = user;
        if (unitCount === unitUsers.length) {
          unitUsers = grow(unitUsers);
          unitSessions = grow(unitSessions);
        }
        unitUsers[unitCount] = user;
        unitSessions[unitCount] = code;
        unitOfSession[code] = unitCount++;
      }
      unitOfRow[row] = unitOfSession[code];
    }
  }
  const unitOffsets = sharedInt32(unitCount + 1);
  for (let row = 0; row < snapshot.size; row++) if (unitOfRow[row] >= 0) unitOffsets[unitOfRow[row] + 1]++;
  for (let u = 0; u < unitCount; u++) unitOffsets[u + 1] += unitOffsets[u];
  const cursor = unitOffsets.slice(0, unitCount);
  const rows = sharedInt32(unitOffsets[unitCount]);
  for (let row = 0; row < snapshot.size; row++) if (unitOfRow[row] >= 0) rows[cursor[unitOfRow[row]]++] = row;
  const times = sharedFloat64(rows.length);
  for (let p = 0; p < rows.length; p++) times[p] = snapshot.times[rows[p]];
  const sharedUnitUsers = sharedInt32(unitCount);
  sharedUnitUsers.set(unitUsers.subarray(0, unitCount));
  const sharedUnitSessions = sharedInt32(unitCount);
  sharedUnitSessions.set(unitSessions.subarray(0, unitCount));
  return { unitCount, unitOffsets, times, rows, unitUsers: sharedUnitUsers, unitSessions: sharedUnitSessions };
}

/** The mirror columns (and lazily loaded ones) a funnel reads. */
export function needsOf(plan: FunnelPlan): MirrorNeeds {
  const targets: FilterTarget[] = [...plan.steps, ...plan.exclusionSteps].flatMap((step) => step.filters ?? []);
  if (plan.breakdown) targets.push(plan.breakdown.target);
  return {
    propertyKeys: [...new Set(targets.flatMap((target) => (target.on === 'property' ? [target.key] : [])))],
    items: targets.some((target) => target.on !== 'property'),
    sessions: plan.countBy === 'session',
  };
}

function userUnits(snapshot: MirrorSnapshot): UnitLayout {
  return {
    unitCount: snapshot.userOffsets.length - 1,
    unitOffsets: snapshot.userOffsets,
    times: snapshot.times,
    rows: null,
    unitUsers: null,
    unitSessions: null,
  };
}

/** Bit k of masks[p] when the event at position p matches definitions[k]. */
function computeMasks(snapshot: MirrorSnapshot, definitions: StepDefinition[], layout: UnitLayout): Uint32Array {
  const plain = new Uint32Array(snapshot.typeCount);
  const filtered: { bit: number; filters: CompiledFilter[] }[][] = Array.from({ length: snapshot.typeCount }, () => []);
  for (let k = 0; k < definitions.length; k++) {
    const type = snapshot.typeCodes.get(definitions[k].eventType);
    if (type === undefined || type >= snapshot.typeCount) continue; // no such events stored: the step matches nothing
    const bit = (1 << k) >>> 0;
    const filters = definitions[k].filters ?? [];
    if (filters.length === 0) plain[type] |= bit;
    else filtered[type].push({ bit, filters: filters.map((filter) => compileOnColumn(snapshot, filter)) });
  }
  const rows = layout.rows;
  const size = rows ? rows.length : snapshot.size;
  const types = snapshot.types;
  const masks = new Uint32Array(size);
  if (filtered.every((candidates) => candidates.length === 0)) {
    // Types only: one table lookup per event.
    if (rows) for (let p = 0; p < size; p++) masks[p] = plain[types[rows[p]]];
    else for (let p = 0; p < size; p++) masks[p] = plain[types[p]];
    return masks;
  }
  for (let p = 0; p < size; p++) {
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
    const column = snapshot.properties.get(filter.key)!;
    const pass = new Uint8Array(column.values.length);
    pass[0] = predicate(BLANK_ROW) ? 1 : 0;
    for (let code = 1; code < column.values.length; code++) {
      pass[code] = predicate({ ...BLANK_ROW, props: { [filter.key]: column.values[code] } }) ? 1 : 0;
    }
    return { codes: column.codes, shift: 0, pass };
  }
  const items = snapshot.itemDictionary!;
  const pass = new Uint8Array(items.externalIds.length + 1);
  pass[0] = predicate(BLANK_ROW) ? 1 : 0;
  for (let id = 0; id < items.externalIds.length; id++) {
    const row = filter.on === 'itemId' ? { ...BLANK_ROW, itemId: items.externalIds[id] ?? null } : { ...BLANK_ROW, category: items.categories[id] ?? null };
    pass[id + 1] = predicate(row) ? 1 : 0;
  }
  return { codes: snapshot.items, shift: 1, pass };
}

/** Group key per unit from the breakdown property of its reported step-1 event ("(none)" when missing). */
export function breakdownKeys(prepared: PreparedFunnel, evaluation: FunnelEvaluation, target: FilterTarget, units: ArrayLike<number>): string[] {
  const { snapshot } = prepared;
  let read: (row: number) => unknown;
  if (target.on === 'property') {
    const column = snapshot.properties.get(target.key)!;
    read = (row) => column.values[column.codes[row]];
  } else {
    const items = snapshot.itemDictionary!;
    const byId = target.on === 'itemId' ? items.externalIds : items.categories;
    read = (row) => (snapshot.items[row] < 0 ? undefined : byId[snapshot.items[row]]);
  }
  const rows = evaluation.layout.rows;
  const keys: string[] = [];
  for (let n = 0; n < units.length; n++) {
    const position = evaluation.firstEvents[units[n]];
    const value = position < 0 ? undefined : read(rows ? rows[position] : position);
    keys.push(value === undefined || value === null ? '(none)' : typeof value === 'string' ? value : JSON.stringify(value));
  }
  return keys;
}

function grow(array: Int32Array<ArrayBuffer>): Int32Array<ArrayBuffer> {
  const grown = new Int32Array(array.length * 2);
  grown.set(array);
  return grown;
}
