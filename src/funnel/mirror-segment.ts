/**
 * The event mirror's storage (event-mirror.ts): segments of rows in (user, ts, id) order, and the
 * plans that build new segments out of old ones by copying runs of rows. Nothing here changes a
 * segment's rows once built, so a snapshot that holds one stays valid while newer ones replace it.
 *
 * - The **base** segment has an entry in `userOffsets` for every user: user u's rows are
 *   [userOffsets[u], userOffsets[u + 1]). It is rebuilt only by compaction (in the background) and
 *   by loads so large that a rebuild costs no more than the rows that arrived.
 * - The **delta** segment holds, for each user with events newer than the base, that user's whole
 *   history (base rows copied, new rows merged in (ts, id) order); `userIds` lists those users. A
 *   reader takes a user's events from the delta when it has them, else from the base, so a user is
 *   always one contiguous stretch of one segment, which is what the funnel engine scans. A catch-up
 *   copies the delta and touches only the users that got events: its cost follows the delta, which
 *   compaction keeps small, not the table.
 */
import { sharedFloat64, sharedInt32, sharedUint16 } from './shared-memory';

/** Row columns, as a segment has them and as a batch of new rows offers them. */
export interface RowSource {
  ids: Float64Array;
  users: Int32Array;
  /** Microseconds since the epoch. */
  times: Float64Array;
  types: Uint16Array;
  /** Item dense id, -1 for none. */
  items: Int32Array;
  /** Codes of each lazily loaded column (keyed by the column's dictionary); 0 is "no value". */
  codes: ReadonlyMap<object, Int32Array>;
}

/** Rows in (user, ts, id) order on shared memory, with their per-user index. Rows never change once built; a column loaded later adds its codes. */
export interface Segment extends RowSource {
  size: number;
  /** Users with rows here, ascending; null in the base, where entry u of userOffsets is user u. */
  userIds: Int32Array | null;
  /** The rows of the i-th user are [userOffsets[i], userOffsets[i + 1]). */
  userOffsets: Int32Array;
  codes: Map<object, Int32Array>;
}

export function emptySegment(kind: 'base' | 'delta'): Segment {
  return {
    size: 0,
    ids: sharedFloat64(0),
    users: sharedInt32(0),
    times: sharedFloat64(0),
    types: sharedUint16(0),
    items: sharedInt32(0),
    userIds: kind === 'base' ? null : sharedInt32(0),
    userOffsets: sharedInt32(1),
    codes: new Map(),
  };
}

/** Users with an entry in the base's userOffsets. */
export function baseUserCount(base: Segment): number {
  return base.userOffsets.length - 1;
}

/** Where a new segment's rows come from, in order: (source, first row, row count) triples. */
export class RunPlan {
  readonly runs: number[] = [];
  size = 0;

  add(source: number, start: number, length: number): void {
    if (length <= 0) return;
    const runs = this.runs;
    const n = runs.length;
    if (n > 0 && runs[n - 3] === source && runs[n - 2] + runs[n - 1] === start) runs[n - 1] += length;
    else runs.push(source, start, length);
    this.size += length;
  }
}

type Column = Float64Array | Int32Array | Uint16Array;

/**
 * Copies the planned rows of every column into new shared arrays, pausing (a `yield`) after about
 * `rowsPerStep` rows so a caller can spread a large copy over several turns of the event loop.
 * `codeColumns` lists the lazily loaded columns to carry; every source must have them.
 */
export function* gatherSteps(
  sources: readonly RowSource[],
  plan: RunPlan,
  codeColumns: readonly object[],
  shape: { userIds: Int32Array | null; userOffsets: Int32Array },
  rowsPerStep = Infinity,
): Generator<void, Segment> {
  let sinceYield = 0;
  const size = plan.size;
  const runs = plan.runs;
  function* copy<T extends Column>(target: T, pick: (source: RowSource) => T): Generator<void, T> {
    const arrays = sources.map(pick);
    let destination = 0;
    for (let r = 0; r < runs.length; r += 3) {
      const from = arrays[runs[r]];
      const start = runs[r + 1];
      const length = runs[r + 2];
      if (length === 1) target[destination] = from[start];
      else target.set(from.subarray(start, start + length) as never, destination);
      destination += length;
      sinceYield += length;
      if (sinceYield >= rowsPerStep) {
        sinceYield = 0;
        yield;
      }
    }
    return target;
  }
  const ids = yield* copy(sharedFloat64(size), (source) => source.ids);
  const users = yield* copy(sharedInt32(size), (source) => source.users);
  const times = yield* copy(sharedFloat64(size), (source) => source.times);
  const types = yield* copy(sharedUint16(size), (source) => source.types);
  const items = yield* copy(sharedInt32(size), (source) => source.items);
  const codes = new Map<object, Int32Array>();
  for (const column of codeColumns) {
    codes.set(column, yield* copy(sharedInt32(size), (source) => {
      const found = source.codes.get(column);
      if (!found) throw new Error('A segment lacks a loaded column; the mirror loads every column into every segment.');
      return found;
    }));
  }
  return { size, ids, users, times, types, items, codes, ...shape };
}

/** gatherSteps in one go. */
export function gather(sources: readonly RowSource[], plan: RunPlan, codeColumns: readonly object[], shape: { userIds: Int32Array | null; userOffsets: Int32Array }): Segment {
  const steps = gatherSteps(sources, plan, codeColumns, shape);
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
  }
}

/** Sources of a compaction plan. */
export const FROM_BASE = 0;
export const FROM_DELTA = 1;

/** A new base: each user's stretch from the delta when it has one there, else from the base. */
export function compactionPlan(base: Segment, delta: Segment): { plan: RunPlan; userOffsets: Int32Array } {
  const deltaUsers = delta.userIds!;
  const oldUserCount = baseUserCount(base);
  const userCount = Math.max(oldUserCount, deltaUsers.length > 0 ? deltaUsers[deltaUsers.length - 1] + 1 : 0);
  const userOffsets = sharedInt32(userCount + 1);
  const plan = new RunPlan();
  let i = 0;
  for (let user = 0; user < userCount; user++) {
    userOffsets[user] = plan.size;
    if (i < deltaUsers.length && deltaUsers[i] === user) {
      plan.add(FROM_DELTA, delta.userOffsets[i], delta.userOffsets[i + 1] - delta.userOffsets[i]);
      i++;
    } else if (user < oldUserCount) {
      plan.add(FROM_BASE, base.userOffsets[user], base.userOffsets[user + 1] - base.userOffsets[user]);
    }
  }
  userOffsets[userCount] = plan.size;
  return { plan, userOffsets };
}

/**
 * The delta once `base` has absorbed part of it: users whose delta stretch is as long as their
 * stretch in `base` leave it. That test is exact because a user's delta stretch always holds every
 * row of the user that the base holds (rows are only ever added), so equal length means equal rows.
 */
export function trimmedDelta(delta: Segment, base: Segment, codeColumns: readonly object[]): Segment {
  const deltaUsers = delta.userIds!;
  const userCount = baseUserCount(base);
  const plan = new RunPlan();
  const userIds: number[] = [];
  const offsets: number[] = [0];
  for (let i = 0; i < deltaUsers.length; i++) {
    const user = deltaUsers[i];
    const length = delta.userOffsets[i + 1] - delta.userOffsets[i];
    const inBase = user < userCount ? base.userOffsets[user + 1] - base.userOffsets[user] : 0;
    if (length === inBase) continue;
    plan.add(0, delta.userOffsets[i], length);
    userIds.push(user);
    offsets.push(plan.size);
  }
  return gather([delta], plan, codeColumns, { userIds: sharedInt32From(userIds), userOffsets: sharedInt32From(offsets) });
}

/** Sources of a delta merge plan. */
export const OLD_DELTA = 0;
export const OLD_BASE = 1;
export const NEW_ROWS = 2;

/**
 * The next delta after `size` new rows (a RowSource indexed 0..size-1, any order): each user with
 * new rows gets its history so far (from the delta, or copied from the base the first time) merged
 * with them in (ts, id) order; the other delta users are copied as they are, in bulk.
 */
export function deltaMergePlan(base: Segment, delta: Segment, added: RowSource, size: number): { plan: RunPlan; userIds: Int32Array; userOffsets: Int32Array } {
  const order = Array.from({ length: size }, (_, b) => b).sort(
    (a, b) => added.users[a] - added.users[b] || added.times[a] - added.times[b] || added.ids[a] - added.ids[b],
  );
  const deltaUsers = delta.userIds!;
  const oldUserCount = baseUserCount(base);
  const plan = new RunPlan();
  const userIds: number[] = [];
  const offsets: number[] = [0];
  let i = 0;
  let b = 0;
  while (i < deltaUsers.length || b < size) {
    const nextOld = i < deltaUsers.length ? deltaUsers[i] : Infinity;
    const nextNew = b < size ? added.users[order[b]] : Infinity;
    const user = Math.min(nextOld, nextNew);
    let source: number;
    let start: number;
    let end: number;
    if (user === nextOld) {
      source = OLD_DELTA;
      start = delta.userOffsets[i];
      end = delta.userOffsets[i + 1];
      i++;
    } else {
      source = OLD_BASE;
      start = user < oldUserCount ? base.userOffsets[user] : 0;
      end = user < oldUserCount ? base.userOffsets[user + 1] : 0;
    }
    const old = source === OLD_DELTA ? delta : base;
    let cursor = start;
    for (; b < size && added.users[order[b]] === user; b++) {
      const row = order[b];
      const time = added.times[row];
      const id = added.ids[row];
      let until = cursor;
      while (until < end && (old.times[until] < time || (old.times[until] === time && old.ids[until] < id))) until++;
      plan.add(source, cursor, until - cursor);
      cursor = until;
      plan.add(NEW_ROWS, row, 1);
    }
    plan.add(source, cursor, end - cursor);
    userIds.push(user);
    offsets.push(plan.size);
  }
  return { plan, userIds: sharedInt32From(userIds), userOffsets: sharedInt32From(offsets) };
}

function sharedInt32From(values: number[]): Int32Array {
  const array = sharedInt32(values.length);
  array.set(values);
  return array;
}
