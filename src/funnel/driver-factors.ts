/**
 * Conversion drivers, the part that reads events: for the units whose reported chain reached step k,
 * which factors each one has, tallied apart for those that went on to step k + 1 (converters) and
 * those that did not. Runs where funnels run (funnel-jobs.ts: a worker thread or the main thread,
 * whole or split into parts whose tallies add up); the statistics are drivers-report.ts's job.
 *
 * A unit's factors (docs/funnels.md, "Conversion drivers"):
 * - `stepProperty` key=value: the value (JSON text, or "(missing)") of an event property of its
 *   step-k event: the event of its reported chain (funnel-run.ts `reportedStepEvents`);
 * - `hourOfDay` (key "utc"): the 6-hour part of the UTC day of that event ("0", "6", "12", "18");
 * - `eventType` (value "done"): an event of that type after the step-k event and before the step-k+1
 *   event for converters, or up to the end of the conversion window (step-1 time + window) for the
 *   others; types of the funnel's own steps are not factors;
 * - `userProperty` key=value: the user's stored property (read from PostgreSQL by the service);
 * - `cohort` key=name, value "member": the unit's user is in that named cohort (options.cohorts,
 *   resolved to users by the service with funnel-cohort.ts); the rest of the units lack it.
 */
import { groupKeyOf, MISSING_GROUP_KEY } from './breakdown-key';
import type { CohortSpec } from './funnel-definition';
import type { MirrorSegment } from './event-mirror';
import { FunnelEvaluation, PreparedFunnel, reportedStepEvents, unitSession, unitUser } from './funnel-run';
import { sessionName } from './session-dictionary';

export type DriverFactorKind = 'stepProperty' | 'hourOfDay' | 'eventType' | 'userProperty' | 'cohort';

/**
 * One factor. `value` is a group key (breakdown-key.ts), an hour band's first hour, "done" or
 * "member"; `range` replaces it for a numeric band [low, high), high null for no upper end.
 * `cohort` (kind `cohort` only, and only where the factor must be opened again: droppedOff's code)
 * is the cohort's definition; it is no part of `factorId`, where the name stands for it.
 */
export interface DriverFactor {
  kind: DriverFactorKind;
  key: string;
  value: string | null;
  range: [number, number | null] | null;
  cohort?: CohortSpec;
}

/** A named cohort's members, by dense user id: 1 for a member; users past the end are not members. */
export interface CohortColumn {
  name: string;
  members: Uint8Array;
}

/** The value of every `cohort` factor: the unit's user is a member. */
export const COHORT_MEMBER = 'member';

/** A user property's value per dense user id, for the worker: codes index `values` (group keys), code 0 = no value. */
export interface UserPropertyColumn {
  key: string;
  codes: Int32Array;
  values: string[];
}

/** What a drivers tally reads besides the funnel. */
export interface DriverSources {
  /** 1-based step k: factors of units that reached it, converters being those that reached k + 1. */
  step: number;
  propertyKeys: string[];
  userProperties: UserPropertyColumn[];
  /** Named cohorts, each one binary factor (members vs the rest); absent or empty: none. */
  cohorts?: CohortColumn[];
  eventTypes: boolean;
  hourOfDay: boolean;
  /** Units sampled on each side (dropped off, converted) for the model drivers; 0: none. */
  modelSample?: number;
}

/** A unit sampled for the model drivers: its user (dense id), its session (null when counting users) and when its step-k event happened. */
export interface SampledUnit {
  user: number;
  session: string | null;
  /** The step-k event's time, microseconds since the epoch. */
  stepAt: number;
  /** The sampling key (unitSampleKey): the sample is the `limit` units with the smallest keys. */
  key: number;
}

/** A deterministic sample of the units that reached the step, on each side: a bottom-k sample by unitSampleKey, so parts merge into the whole's sample. */
export interface DriverSample {
  limit: number;
  droppedOff: SampledUnit[];
  converted: SampledUnit[];
}

/** Per factor (by `factorId`, in id order), units with it and, of those, converters; plus the totals. Parts add up. */
export interface DriverTally {
  reached: number;
  converted: number;
  factorIds: string[];
  withFactor: number[];
  withFactorConverted: number[];
  /** Present when sources.modelSample > 0. */
  sample?: DriverSample;
}

export const HOUR_BAND_HOURS = 6;
const DONE = 'done';
const MICROS_PER_HOUR = 3_600_000_000;

/** The stable text of a factor, used as a map key, across parts and, encoded, in the API (`driverFactorCode`). */
export function factorId(factor: DriverFactor): string {
  return JSON.stringify([factor.kind, factor.key, factor.value, factor.range]);
}

export function factorOfId(id: string): DriverFactor {
  const [kind, key, value, range] = JSON.parse(id) as [DriverFactorKind, string, string | null, [number, number | null] | null];
  return { kind, key, value, range };
}

/** What one unit offers to factors: where its step-k event and its between-steps stretch lie. */
interface UnitView {
  segment: MirrorSegment;
  rows: Int32Array | null;
  /** Position (in the part) of the step-k event. */
  stepEvent: number;
  /** Positions (stepEvent, betweenEnd) are the events between the steps. */
  betweenEnd: number;
  user: number;
}

/**
 * Reads units' factors off one evaluation. Event types are looked up once; a stamp array marks the
 * types seen per unit, so a type counts once per unit however often it occurs.
 */
class FactorReader {
  private readonly typeNames: string[];
  private readonly stepTypes: Set<string>;
  private readonly seenStamp: Int32Array;
  private stamp = 0;

  constructor(
    private readonly prepared: PreparedFunnel,
    private readonly evaluation: FunnelEvaluation,
    private readonly sources: DriverSources,
  ) {
    const { snapshot, plan } = prepared;
    this.typeNames = new Array<string>(snapshot.typeCount).fill('');
    for (const [name, code] of snapshot.typeCodes) if (code < snapshot.typeCount) this.typeNames[code] = name;
    this.stepTypes = new Set(plan.steps.map((step) => step.eventType));
    this.seenStamp = new Int32Array(snapshot.typeCount);
  }

  /** Where unit `unit` (at level ≥ step) has its step-k event and between-steps stretch. */
  view(unit: number): UnitView {
    const { prepared, evaluation, sources } = this;
    const k = sources.step;
    const { layout } = evaluation;
    const inBase = unit < layout.base.unitCount;
    const part = inBase ? layout.base : layout.delta;
    const i = inBase ? unit : unit - layout.base.unitCount;
    const positions = reportedStepEvents(prepared, evaluation, unit, Math.min(k + 1, evaluation.levels[unit]));
    const stepEvent = positions[k - 1];
    let betweenEnd: number;
    if (positions.length > k) betweenEnd = positions[k];
    else {
      const windowEnd = evaluation.stepTimes[unit * evaluation.stepCount] + prepared.plan.windowMicros;
      const unitEnd = part.unitOffsets[i + 1];
      betweenEnd = stepEvent + 1;
      while (betweenEnd < unitEnd && part.times[betweenEnd] <= windowEnd) betweenEnd++;
    }
    return { segment: inBase ? prepared.snapshot.base : prepared.snapshot.delta, rows: part.rows, stepEvent, betweenEnd, user: unitUser(layout, unit) };
  }

  /** Every factor of the unit, as factor ids (numeric bands are not factors here: see `has`). */
  factorsOf(view: UnitView, part: { times: Float64Array }): string[] {
    const { sources } = this;
    const ids: string[] = [];
    const row = view.rows ? view.rows[view.stepEvent] : view.stepEvent;
    for (const key of sources.propertyKeys) ids.push(factorId({ kind: 'stepProperty', key, value: this.propertyKey(view.segment, key, row), range: null }));
    if (sources.hourOfDay) ids.push(factorId({ kind: 'hourOfDay', key: 'utc', value: String(hourBandOf(part.times[view.stepEvent])), range: null }));
    for (const column of sources.userProperties) ids.push(factorId({ kind: 'userProperty', key: column.key, value: userValueOf(column, view.user), range: null }));
    for (const cohort of sources.cohorts ?? []) if (isMember(cohort, view.user)) ids.push(factorId({ kind: 'cohort', key: cohort.name, value: COHORT_MEMBER, range: null }));
    if (sources.eventTypes) for (const type of this.typesBetween(view)) ids.push(factorId({ kind: 'eventType', key: type, value: DONE, range: null }));
    return ids;
  }

  /** Whether the unit has `factor` (numeric bands included). */
  has(view: UnitView, part: { times: Float64Array }, factor: DriverFactor): boolean {
    const row = view.rows ? view.rows[view.stepEvent] : view.stepEvent;
    switch (factor.kind) {
      case 'stepProperty': {
        const column = view.segment.properties.get(factor.key);
        if (!column) return false;
        if (factor.range) {
          const value = column.values[column.codes[row]];
          return typeof value === 'number' && value >= factor.range[0] && (factor.range[1] === null || value < factor.range[1]);
        }
        return this.propertyKey(view.segment, factor.key, row) === factor.value;
      }
      case 'hourOfDay':
        return String(hourBandOf(part.times[view.stepEvent])) === factor.value;
      case 'userProperty': {
        const column = this.sources.userProperties.find((candidate) => candidate.key === factor.key);
        return column !== undefined && userValueOf(column, view.user) === factor.value;
      }
      case 'eventType':
        return this.typesBetween(view).includes(factor.key);
      case 'cohort': {
        const cohort = (this.sources.cohorts ?? []).find((candidate) => candidate.name === factor.key);
        return cohort !== undefined && factor.value === COHORT_MEMBER && isMember(cohort, view.user);
      }
    }
  }

  private propertyKey(segment: MirrorSegment, key: string, row: number): string {
    const column = segment.properties.get(key);
    return column ? groupKeyOf(column.values[column.codes[row]]) : MISSING_GROUP_KEY;
  }

  private typesBetween(view: UnitView): string[] {
    const stamp = ++this.stamp;
    const types: string[] = [];
    const segmentTypes = view.segment.types;
    for (let p = view.stepEvent + 1; p < view.betweenEnd; p++) {
      const code = segmentTypes[view.rows ? view.rows[p] : p];
      if (this.seenStamp[code] === stamp) continue;
      this.seenStamp[code] = stamp;
      const name = this.typeNames[code];
      if (!this.stepTypes.has(name)) types.push(name);
    }
    return types;
  }
}

function hourBandOf(micros: number): number {
  const hour = Math.floor((((micros % (24 * MICROS_PER_HOUR)) + 24 * MICROS_PER_HOUR) % (24 * MICROS_PER_HOUR)) / MICROS_PER_HOUR);
  return hour - (hour % HOUR_BAND_HOURS);
}

function userValueOf(column: UserPropertyColumn, user: number): string {
  const code = user < column.codes.length ? column.codes[user] : 0;
  return code === 0 ? MISSING_GROUP_KEY : column.values[code];
}

function isMember(cohort: CohortColumn, user: number): boolean {
  return user < cohort.members.length && cohort.members[user] === 1;
}

function partOf(evaluation: FunnelEvaluation, unit: number): { times: Float64Array } {
  return unit < evaluation.layout.base.unitCount ? evaluation.layout.base : evaluation.layout.delta;
}

/** The drivers tally over the evaluation's active units that reached `sources.step`. */
export function tallyDrivers(prepared: PreparedFunnel, evaluation: FunnelEvaluation, sources: DriverSources): DriverTally {
  const reader = new FactorReader(prepared, evaluation, sources);
  const k = sources.step;
  const index = new Map<string, number>();
  const tally: DriverTally = { reached: 0, converted: 0, factorIds: [], withFactor: [], withFactorConverted: [] };
  const { activeUnits, levels, layout } = evaluation;
  const limit = sources.modelSample ?? 0;
  const candidates: { droppedOff: SampledUnit[]; converted: SampledUnit[] } = { droppedOff: [], converted: [] };
  const sessionNames = prepared.snapshot.base.sessions?.names ?? null;
  for (let n = 0; n < activeUnits.length; n++) {
    const unit = activeUnits[n];
    if (levels[unit] < k) continue;
    const converted = levels[unit] > k;
    tally.reached++;
    if (converted) tally.converted++;
    if (limit > 0) {
      const side = converted ? candidates.converted : candidates.droppedOff;
      const user = unitUser(layout, unit);
      const sessionCode = unitSession(layout, unit);
      const session = sessionCode < 0 ? null : sessionName(sessionNames!, sessionCode);
      side.push({ user, session, stepAt: evaluation.stepTimes[unit * evaluation.stepCount + k - 1], key: unitSampleKey(user, session) });
      // Keep the candidates bounded: trim to the smallest keys whenever they reach twice the limit.
      if (side.length >= 2 * limit) side.splice(0, side.length, ...smallestKeys(side, limit));
    }
    for (const id of reader.factorsOf(reader.view(unit), partOf(evaluation, unit))) {
      const slot = slotOf(tally, index, id);
      tally.withFactor[slot]++;
      if (converted) tally.withFactorConverted[slot]++;
    }
  }
  if (limit > 0) tally.sample = { limit, droppedOff: smallestKeys(candidates.droppedOff, limit), converted: smallestKeys(candidates.converted, limit) };
  return inIdOrder(tally);
}

/**
 * A unit's sampling key: FNV-1a (32 bits) of its dense user id and session id. It depends on the
 * unit alone, not on where the unit lies in a part or a segment, so the same events give the same
 * sample, however the funnel is split.
 */
export function unitSampleKey(user: number, session: string | null): number {
  let hash = 0x811c9dc5;
  const text = session === null ? String(user) : `${user}\u0000${session}`;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
  return hash >>> 0;
}

/** The `limit` units with the smallest keys (ties: user, then session), in that order. */
function smallestKeys(units: readonly SampledUnit[], limit: number): SampledUnit[] {
  return [...units]
    .sort((x, y) => x.key - y.key || x.user - y.user || ((x.session ?? '') < (y.session ?? '') ? -1 : (x.session ?? '') > (y.session ?? '') ? 1 : 0))
    .slice(0, limit);
}

/** The position of factor `id` in `tally` (by `index`), appended with zero counts when new. */
function slotOf(tally: DriverTally, index: Map<string, number>, id: string): number {
  let slot = index.get(id);
  if (slot === undefined) {
    slot = tally.factorIds.length;
    index.set(id, slot);
    tally.factorIds.push(id);
    tally.withFactor.push(0);
    tally.withFactorConverted.push(0);
  }
  return slot;
}

/** The tally with its factors in id order, so that a whole run and merged parts give equal tallies. */
function inIdOrder(tally: DriverTally): DriverTally {
  const order = tally.factorIds.map((_, n) => n).sort((x, y) => (tally.factorIds[x] < tally.factorIds[y] ? -1 : tally.factorIds[x] > tally.factorIds[y] ? 1 : 0));
  return {
    reached: tally.reached,
    converted: tally.converted,
    factorIds: order.map((n) => tally.factorIds[n]),
    withFactor: order.map((n) => tally.withFactor[n]),
    withFactorConverted: order.map((n) => tally.withFactorConverted[n]),
    ...(tally.sample ? { sample: tally.sample } : {}),
  };
}

/** Tallies of parts of one funnel, added up per factor. */
export function mergeDriverTallies(parts: readonly DriverTally[]): DriverTally {
  const merged: DriverTally = { reached: 0, converted: 0, factorIds: [], withFactor: [], withFactorConverted: [] };
  const index = new Map<string, number>();
  for (const part of parts) {
    merged.reached += part.reached;
    merged.converted += part.converted;
    if (part.sample) {
      const { limit } = part.sample;
      merged.sample = {
        limit,
        droppedOff: smallestKeys([...(merged.sample?.droppedOff ?? []), ...part.sample.droppedOff], limit),
        converted: smallestKeys([...(merged.sample?.converted ?? []), ...part.sample.converted], limit),
      };
    }
    part.factorIds.forEach((id, n) => {
      const slot = slotOf(merged, index, id);
      merged.withFactor[slot] += part.withFactor[n];
      merged.withFactorConverted[slot] += part.withFactorConverted[n];
    });
  }
  return inIdOrder(merged);
}

/**
 * A test of `factor` for units that stopped at `sources.step` (droppedOff with a driver's factor):
 * true when the unit has it, read exactly as the tally reads it, so the list holds the driver's
 * dropped-off units with the factor.
 */
export function factorMatcher(prepared: PreparedFunnel, evaluation: FunnelEvaluation, sources: DriverSources, factor: DriverFactor): (unit: number) => boolean {
  const reader = new FactorReader(prepared, evaluation, sources);
  return (unit) => reader.has(reader.view(unit), partOf(evaluation, unit), factor);
}
