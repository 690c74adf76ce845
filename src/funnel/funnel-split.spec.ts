/**
 * A funnel split into unit ranges and merged (funnel-split.ts) answers exactly what the whole job
 * answers (funnel-jobs.ts), for every job kind, on random snapshots with ties, sessions, cohorts,
 * filters, exclusions, breakdowns that fold groups into "other" and conversion-driver tallies, with and without a delta
 * segment (late users' whole histories, their stale base rows shadowed), cut anywhere over the
 * base's and the delta's units; and its step counts and times agree with the brute-force reference
 * (window-funnel.reference.ts) worked out from the raw events.
 * No worker threads here (funnel-pool.spec.ts has those): the parts run one after another.
 */
import { unitSampleKey, type DriverFactor, type UserPropertyColumn } from './driver-factors';
import type { MirrorSnapshot } from './event-mirror';
import { planFunnel, FunnelSpec } from './funnel-definition';
import { DroppedKey, FunnelJob, FunnelJobInputs, runFunnelJob, runFunnelPart } from './funnel-jobs';
import { sessionUnits, UnitRange } from './funnel-run';
import { cutByEvents, mergeFunnelParts, planSplit } from './funnel-split';
import { sharedFloat64, sharedInt32, sharedUint16 } from './shared-memory';
import { SessionDictionary } from './session-dictionary';
import { referenceWindowFunnel } from './window-funnel.reference';
import { Rng } from '../ml/random';

const PERIOD_MICROS = 2 * 3600e6;
const MINUTE_MICROS = 60e6;
const START_MICROS = Date.UTC(2026, 0, 5) * 1000;
const TYPES = ['a', 'b', 'c', 'x'];
/** Breakdown values that look alike on purpose: numbers, their text, booleans, null. */
const DEVICES: unknown[] = [undefined, 'mobile', 'desktop', 'tablet', 10, '10', true, null];

interface RawEvent {
  user: number;
  minute: number;
  type: number;
  device: number;
  session: number;
}

/** `users` users with 0–29 events each over twelve hours, on 5-minute marks, so ties are common. */
function randomEvents(seed: number, users: number): RawEvent[] {
  const random = Rng.stream(seed);
  const events: RawEvent[] = [];
  for (let user = 0; user < users; user++) {
    const count = Math.floor(random.next() * 30);
    for (let n = 0; n < count; n++) {
      events.push({
        user,
        minute: Math.floor(random.next() * 12 * 12) * 5,
        type: Math.floor(random.next() * TYPES.length),
        device: Math.floor(random.next() * DEVICES.length),
        session: Math.floor(random.next() * 4), // 0: no session
      });
    }
  }
  return events;
}

/**
 * The mirror's two segments for `events`, rows in (user, ts, id) order, ids in generation order.
 * Without `late` users everything is in the base and the delta is empty. Otherwise the delta holds
 * each late user's whole history, and the base holds, for the late users it knows, a stale part of
 * it (the first half of their events by id): shadowed, so it must never be counted. The last
 * `newUsers` users are late and have no base entry at all, as users first seen after the base was built.
 */
function snapshotOf(events: RawEvent[], users: number, options: { late?: (user: number) => boolean; newUsers?: number } = {}): { snapshot: MirrorSnapshot; rows: RawEvent[] } {
  const newUsers = options.late ? (options.newUsers ?? 0) : 0;
  const baseUsers = users - newUsers;
  const isLate = (user: number): boolean => user >= baseUsers || (options.late?.(user) ?? false);
  const ordered = events.map((event, id) => ({ event, id })).sort((x, y) => x.event.user - y.event.user || x.event.minute - y.event.minute || x.id - y.id);
  const byUser = new Map<number, number[]>();
  for (const { event, id } of ordered) byUser.set(event.user, [...(byUser.get(event.user) ?? []), id]);
  const staleIds = new Set<number>();
  for (const [user, ids] of byUser) {
    if (!isLate(user) || user >= baseUsers) continue;
    [...ids].sort((x, y) => x - y).slice(0, Math.ceil(ids.length / 2)).forEach((id) => staleIds.add(id));
  }
  const baseRows = ordered.filter(({ event, id }) => !isLate(event.user) || staleIds.has(id));
  const deltaRows = ordered.filter(({ event }) => isLate(event.user));
  const deviceValues = DEVICES;
  const sessionDictionary = new SessionDictionary();
  for (const name of ['s1', 's2', 's3']) sessionDictionary.internText(name); // codes 1, 2, 3
  const segment = (rows: typeof ordered, userIds: number[] | null): MirrorSnapshot['base'] => {
    const size = rows.length;
    const offsets = sharedInt32((userIds ? userIds.length : baseUsers) + 1);
    const index = new Map((userIds ?? []).map((user, i) => [user, i]));
    const seg: MirrorSnapshot['base'] = {
      size,
      ids: sharedFloat64(size),
      users: sharedInt32(size),
      times: sharedFloat64(size),
      types: sharedUint16(size),
      items: sharedInt32(size).fill(-1),
      userIds: userIds ? sharedInt32(userIds.length) : null,
      userOffsets: offsets,
      properties: new Map([['device', { codes: sharedInt32(size), values: deviceValues }]]),
      sessions: { codes: sharedInt32(size), names: sessionDictionary.names() },
    };
    rows.forEach(({ event, id }, row) => {
      seg.ids[row] = id + 1;
      seg.users[row] = event.user;
      seg.times[row] = START_MICROS + event.minute * MINUTE_MICROS;
      seg.types[row] = event.type;
      seg.properties.get('device')!.codes[row] = event.device;
      seg.sessions!.codes[row] = event.session;
      offsets[(userIds ? index.get(event.user)! : event.user) + 1]++;
    });
    for (let i = 0; i + 1 < offsets.length; i++) offsets[i + 1] += offsets[i];
    seg.userIds?.set(userIds!);
    return seg;
  };
  const deltaUsers = [...new Set(deltaRows.map(({ event }) => event.user))];
  const lateInBase = baseRows.filter(({ event }) => isLate(event.user)).length;
  const snapshot: MirrorSnapshot = {
    version: 1,
    baseVersion: 1,
    eventCount: baseRows.length - lateInBase + deltaRows.length,
    userCount: users,
    base: segment(baseRows, null),
    delta: segment(deltaRows, deltaUsers),
    typeCodes: new Map(TYPES.map((type, code) => [type, code])),
    typeCount: TYPES.length,
    itemDictionary: null,
  };
  return { snapshot, rows: ordered.map(({ event }) => event) };
}

/** The unit offsets of both parts of a snapshot's layout, as prepareFunnel lays them out. */
function unitOffsetsOf(snapshot: MirrorSnapshot, countBy: 'user' | 'session'): { base: Int32Array; delta: Int32Array } {
  if (countBy === 'user') return { base: snapshot.base.userOffsets, delta: snapshot.delta.userOffsets };
  return { base: sessionUnits(snapshot.base).unitOffsets, delta: sessionUnits(snapshot.delta).unitOffsets };
}

const base = { conversionWindowSeconds: 2 * 3600, from: new Date(START_MICROS / 1000 + 3600e3), to: new Date(START_MICROS / 1000 + 10 * 3600e3) };
const SPECS: { name: string; spec: FunnelSpec }[] = [];
for (const countBy of ['user', 'session'] as const) {
  for (const modes of [[], ['strict_order'], ['strict_deduplication'], ['strict_increase', 'strict_once'], ['strict_order', 'allow_reentry']]) {
    SPECS.push({ name: `a→b→c ${countBy} [${modes}]`, spec: { ...base, countBy, modes, steps: [{ type: 'a' }, { type: 'b' }, { type: 'c' }] } });
  }
  SPECS.push({
    name: `filters, exclusion, breakdown (top 2 and other) ${countBy}`,
    spec: {
      ...base,
      countBy,
      steps: [{ type: 'a' }, { type: 'b', filters: [{ property: 'device', op: 'neq', value: 'desktop' }] }, { type: 'a' }, { type: 'c' }],
      exclusions: [{ type: 'x', fromStep: 1, toStep: 2 }],
      breakdown: { property: 'device', limit: 2 },
    },
  });
  SPECS.push({ name: `breakdown, every group kept ${countBy}`, spec: { ...base, countBy, steps: [{ type: 'b' }, { type: 'c' }], breakdown: { property: 'device', limit: 100 } } });
}

/** A user property for drivers: users 0, 3, 6, … gold, 1, 4, … silver, the rest without one. */
const TIERS: UserPropertyColumn = { key: 'tier', codes: Int32Array.from({ length: 300 }, (_, user) => (user % 3 === 2 ? 0 : (user % 3) + 1)), values: ['(missing)', '"gold"', '"silver"'] };
const DRIVER_FACTORS: DriverFactor[] = [
  { kind: 'stepProperty', key: 'device', value: '"mobile"', range: null },
  { kind: 'stepProperty', key: 'device', value: '(missing)', range: null },
  { kind: 'eventType', key: 'x', value: 'done', range: null },
  { kind: 'userProperty', key: 'tier', value: '"gold"', range: null },
];

function jobsOf(spec: FunnelSpec): FunnelJob[] {
  const plan = planFunnel(spec);
  const periods: [number, number][] = [];
  for (let start = plan.fromMicros; start < plan.toMicros; start += PERIOD_MICROS) periods.push([start, Math.min(start + PERIOD_MICROS, plan.toMicros)]);
  const jobs: FunnelJob[] = [
    { kind: 'report', plan },
    { kind: 'trend', plan, periods },
    { kind: 'timeToConvert', plan, fromStep: 1, toStep: 2, buckets: 7 },
    { kind: 'timeToConvert', plan, fromStep: 1, toStep: plan.steps.length, buckets: 1 },
  ];
  for (const afterStep of [1, 2]) {
    jobs.push({ kind: 'droppedOff', plan, afterStep, first: 4, cursor: null });
    jobs.push({ kind: 'droppedOff', plan, afterStep, first: 1000, cursor: null });
    const sources = { step: afterStep, propertyKeys: ['device'], userProperties: [TIERS], eventTypes: true, hourOfDay: true, modelSample: 3 };
    // One drivers job and one droppedOff by factor per funnel, factor kinds taking turns over the
    // funnels (the test's time grows with every job).
    if (afterStep === 1) jobs.push({ kind: 'drivers', plan, sources });
    else jobs.push({ kind: 'droppedOff', plan, afterStep, first: 1000, cursor: null, factor: { sources, factor: DRIVER_FACTORS[(plan.steps.length + (plan.modes.strictOrder ? 1 : 0) + (plan.countBy === 'session' ? 2 : 0)) % DRIVER_FACTORS.length] } });
  }
  return jobs;
}

/**
 * Several ways to cut the units of a layout (base units, then delta units): by events into 2, 3
 * and 7 parts, one unit per part, lopsided, at the base/delta boundary, and through the delta.
 */
function partitions(offsets: { base: Int32Array; delta: Int32Array }): UnitRange[][] {
  const nb = offsets.base.length - 1;
  const unitCount = nb + offsets.delta.length - 1;
  const cuts = (points: number[]): UnitRange[] =>
    [0, ...points, unitCount].flatMap((first, n, all) => (n + 1 < all.length && all[n + 1] > first ? [{ first, end: all[n + 1] }] : []));
  return [
    cutByEvents(offsets.base, 2, offsets.delta),
    cutByEvents(offsets.base, 3, offsets.delta),
    cutByEvents(offsets.base, 7, offsets.delta),
    Array.from({ length: unitCount }, (_, u) => ({ first: u, end: u + 1 })),
    cuts([1, unitCount - 1]),
    cuts([nb]),
    cuts([nb - 1, nb + Math.floor((unitCount - nb) / 2)]),
  ];
}

describe.each([
  { seed: 3, late: false },
  { seed: 17, late: true },
  { seed: 41, late: true },
])('random snapshot (seed $seed, delta segment: $late)', ({ seed, late }) => {
  const users = 90;
  const { snapshot } = snapshotOf(randomEvents(seed, users), users, late ? { late: (user) => user % 4 === 1, newUsers: 6 } : {});
  const sessionLayout = sessionUnits(snapshot.base);
  const random = Rng.stream(seed * 7);
  const cohort = Uint8Array.from({ length: users }, () => (random.next() < 0.7 ? 1 : 0));

  it.each(SPECS.map(({ name, spec }) => [name, spec] as const))('%s: the parts merge into the whole job’s answer', (_name, spec) => {
    let compared = 0;
    for (const cohortUsers of [null, cohort]) {
      const inputs: FunnelJobInputs = { snapshot, cohortUsers, sessionLayout: spec.countBy === 'session' ? sessionLayout : null };
      const offsets = unitOffsetsOf(snapshot, spec.countBy ?? 'user');
      const planned = planSplit(jobsOf(spec)[0], inputs, { parts: 3, splitEvents: 0 })!;
      for (const job of jobsOf(spec)) {
        const whole = runFunnelJob(job, inputs).outcome;
        for (const parts of [...partitions(offsets), planned]) {
          const merged = mergeFunnelParts(job, parts.map((part) => runFunnelPart(job, inputs, part)).reverse());
          expect({ job: job.kind, parts: parts.length, outcome: merged }).toEqual({ job: job.kind, parts: parts.length, outcome: whole });
          compared++;
        }
        // Paging on: the page after a cursor in the middle of the list.
        if (job.kind === 'droppedOff' && whole.kind === 'droppedOff' && whole.page.length > 2) {
          const cursor: DroppedKey = { user: whole.page[1].user, session: whole.page[1].session };
          const next: FunnelJob = { ...job, cursor, first: 2 };
          const wholeNext = runFunnelJob(next, inputs).outcome;
          const mergedNext = mergeFunnelParts(next, cutByEvents(offsets.base, 3, offsets.delta).map((part) => runFunnelPart(next, inputs, part)));
          expect(mergedNext).toEqual(wholeNext);
        }
      }
    }
    expect(compared).toBeGreaterThan(0);
  });

  it('samples the model drivers’ units as a bottom-3 by unitSampleKey over the dropped-off list', () => {
    let checked = 0;
    for (const { spec } of SPECS) {
      const plan = planFunnel(spec);
      const inputs: FunnelJobInputs = { snapshot, cohortUsers: null, sessionLayout: spec.countBy === 'session' ? sessionLayout : null };
      const drivers = runFunnelJob({ kind: 'drivers', plan, sources: { step: 1, propertyKeys: [], userProperties: [], eventTypes: false, hourOfDay: false, modelSample: 3 } }, inputs).outcome;
      const dropped = runFunnelJob({ kind: 'droppedOff', plan, afterStep: 1, first: 1000, cursor: null }, inputs).outcome;
      if (drivers.kind !== 'drivers' || dropped.kind !== 'droppedOff') throw new Error('kinds');
      // The reference: every dropped-off unit keyed, sorted, the first three, with its step time.
      const expected = dropped.page
        .map((unit) => ({ user: unit.user, session: unit.session, stepAt: unit.reachedAt, key: unitSampleKey(unit.user, unit.session) }))
        .sort((x, y) => x.key - y.key || x.user - y.user || ((x.session ?? '') < (y.session ?? '') ? -1 : 1))
        .slice(0, 3);
      expect(drivers.tally.sample!.droppedOff).toEqual(expected);
      expect(drivers.tally.sample!.converted.length).toBe(Math.min(3, drivers.tally.converted));
      checked += expected.length;
    }
    expect(checked).toBeGreaterThan(10);
  });

  it('has data that exercises the merge: conversions, several groups folded into other, dropped-off pages', () => {
    const spec = SPECS.find(({ name }) => name.startsWith('filters, exclusion, breakdown (top 2 and other) user'))!.spec;
    const { outcome } = runFunnelJob({ kind: 'report', plan: planFunnel(spec) }, { snapshot, cohortUsers: null, sessionLayout: null });
    if (outcome.kind !== 'report') throw new Error(outcome.kind);
    expect(outcome.report.steps[outcome.report.steps.length - 1].count).toBeGreaterThan(2);
    expect(outcome.breakdown!.map((group) => group.isOther)).toEqual([false, false, true]);
  });

  if (late) {
    it('has delta units that count: the base’s units alone answer differently, for users and for sessions', () => {
      expect(snapshot.delta.size).toBeGreaterThan(0);
      for (const countBy of ['user', 'session'] as const) {
        const job: FunnelJob = { kind: 'report', plan: planFunnel({ ...base, countBy, steps: [{ type: 'a' }, { type: 'b' }] }) };
        const inputs: FunnelJobInputs = { snapshot, cohortUsers: null, sessionLayout: countBy === 'session' ? sessionLayout : null };
        const whole = runFunnelJob(job, inputs).outcome;
        const nb = unitOffsetsOf(snapshot, countBy).base.length - 1;
        // What a split that lost the delta's part would answer.
        const baseOnly = mergeFunnelParts(job, [runFunnelPart(job, inputs, { first: 0, end: nb })]);
        if (whole.kind !== 'report' || baseOnly.kind !== 'report') throw new Error('report');
        expect(baseOnly.report.steps[0].count).toBeLessThan(whole.report.steps[0].count);
        expect(baseOnly.report.steps[1].count).toBeLessThan(whole.report.steps[1].count);
      }
    });
  }
});

/** Linear interpolation between closest ranks, written out here rather than imported. */
function percentileOf(values: number[], p: number): number {
  const sorted = [...values].sort((x, y) => x - y);
  const h = (sorted.length - 1) * p;
  const below = sorted[Math.floor(h)];
  const above = sorted[Math.min(Math.floor(h) + 1, sorted.length - 1)];
  return below + (h - Math.floor(h)) * (above - below);
}

it('agrees with the brute-force reference when split over base and delta (every event in range, every mode)', () => {
  // Enough users that some chains reach the last step in every mode, whichever numbers the generator draws.
  const users = 300;
  // With a delta (late users, some of them new) and shadowed base rows: the reference sees only the log.
  const { snapshot, rows } = snapshotOf(randomEvents(29, users), users, { late: (user) => user % 3 === 0, newUsers: 10 });
  const firstMinute = Math.min(...rows.map((event) => event.minute));
  const lastMinute = Math.max(...rows.map((event) => event.minute));
  const steps = ['a', 'b', 'a', 'c'];
  let converted = 0;
  for (const modes of [[], ['strict_order'], ['strict_deduplication'], ['strict_increase'], ['strict_once'], ['strict_order', 'allow_reentry']]) {
    const plan = planFunnel({
      steps: steps.map((type) => ({ type })),
      conversionWindowSeconds: 3600,
      modes,
      from: new Date(START_MICROS / 1000 + firstMinute * 60_000),
      to: new Date(START_MICROS / 1000 + (lastMinute + 1) * 60_000),
    });
    const job: FunnelJob = { kind: 'report', plan };
    const inputs: FunnelJobInputs = { snapshot, cohortUsers: null, sessionLayout: null };
    const parts = planSplit(job, inputs, { parts: 3, splitEvents: 0 })!;
    expect(parts).toHaveLength(3);
    const outcome = mergeFunnelParts(job, parts.map((part) => runFunnelPart(job, inputs, part)));
    if (outcome.kind !== 'report') throw new Error(outcome.kind);

    // The reference, user by user, from the raw events (already in (ts, id) order per user).
    const counts = new Array<number>(steps.length).fill(0);
    const durations: number[][] = steps.map(() => []);
    let unitCount = 0;
    for (let user = 0; user < users; user++) {
      const events = rows.filter((event) => event.user === user);
      if (events.length === 0) continue;
      unitCount++;
      const { level, stepTimes } = referenceWindowFunnel(
        events.map((event) => ({ timestamp: event.minute * 60, steps: steps.flatMap((type, k) => (TYPES[event.type] === type ? [k + 1] : [])) })),
        { stepCount: steps.length, conversionWindow: 3600, modes: plan.modes },
      );
      for (let k = 0; k < level; k++) {
        counts[k]++;
        if (k > 0) durations[k].push((stepTimes[k] - stepTimes[k - 1]) * 1e6);
      }
    }
    converted += counts[steps.length - 1];
    const context = `[${modes}]`;
    expect({ context, unitCount: outcome.report.unitCount, counts: outcome.report.steps.map((step) => step.count) }).toEqual({ context, unitCount, counts });
    outcome.report.steps.forEach((step, k) => {
      if (k === 0 || durations[k].length === 0) {
        expect({ context, k, time: step.timeFromPrevious }).toEqual({ context, k, time: null });
        return;
      }
      expect(step.timeFromPrevious!.median).toBeCloseTo(percentileOf(durations[k], 0.5), 3);
      expect(step.timeFromPrevious!.p90).toBeCloseTo(percentileOf(durations[k], 0.9), 3);
      expect(step.timeFromPrevious!.average).toBeCloseTo(durations[k].reduce((sum, d) => sum + d, 0) / durations[k].length, 3);
    });
  }
  expect(converted).toBeGreaterThan(10);
});

describe('planSplit', () => {
  const users = 40;
  const { snapshot } = snapshotOf(randomEvents(5, users), users, { late: (user) => user % 5 === 2, newUsers: 4 });
  const report = (countBy: 'user' | 'session'): FunnelJob => ({ kind: 'report', plan: planFunnel({ ...base, countBy, steps: [{ type: 'a' }, { type: 'b' }] }) });

  it('keeps small snapshots whole and cuts big ones into contiguous ranges covering every unit of both segments', () => {
    const inputs = { snapshot, cohortUsers: null, sessionLayout: null };
    expect(planSplit(report('user'), inputs, { parts: 2, splitEvents: snapshot.eventCount + 1 })).toBeNull();
    expect(planSplit(report('user'), inputs, { parts: 1, splitEvents: 0 })).toBeNull();
    const parts = planSplit(report('user'), inputs, { parts: 4, splitEvents: snapshot.eventCount })!;
    const nb = snapshot.base.userOffsets.length - 1;
    const unitCount = nb + snapshot.delta.userIds!.length;
    expect(parts[0].first).toBe(0);
    expect(parts[parts.length - 1].end).toBe(unitCount);
    for (let n = 1; n < parts.length; n++) expect(parts[n].first).toBe(parts[n - 1].end);
    // Each part holds about a quarter of the rows of both segments: within one unit's rows of it.
    const rowsBefore = (u: number) => (u <= nb ? snapshot.base.userOffsets[u] : snapshot.base.size + snapshot.delta.userOffsets[u - nb]);
    const most = Math.max(...Array.from({ length: unitCount }, (_, u) => rowsBefore(u + 1) - rowsBefore(u)));
    const rows = snapshot.base.size + snapshot.delta.size;
    for (const { first, end } of parts) expect(Math.abs(rowsBefore(end) - rowsBefore(first) - rows / 4)).toBeLessThanOrEqual(most);
    // The delta holds more than a part's share of rows here, so the cut runs through its units too.
    expect(snapshot.delta.size).toBeGreaterThan(rows / 4);
    expect(parts.filter(({ end }) => end > nb + 1).length).toBeGreaterThanOrEqual(2);
  });

  it('runs a session funnel whole until the base’s session units exist, then gives the whole delta to the last part', () => {
    expect(planSplit(report('session'), { snapshot, cohortUsers: null, sessionLayout: null }, { parts: 2, splitEvents: 0 })).toBeNull();
    const baseUnits = sessionUnits(snapshot.base);
    const parts = planSplit(report('session'), { snapshot, cohortUsers: null, sessionLayout: baseUnits }, { parts: 2, splitEvents: 0 })!;
    expect(parts).toHaveLength(2);
    expect(parts[0]).toEqual({ first: 0, end: parts[1].first });
    expect(parts[1].first).toBeLessThanOrEqual(baseUnits.unitCount);
    expect(parts[1].end).toBeGreaterThanOrEqual(baseUnits.unitCount + sessionUnits(snapshot.delta).unitCount);
  });
});
