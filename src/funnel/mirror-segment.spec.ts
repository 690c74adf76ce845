/**
 * The segment plans on random rows against the plainest reading of what the mirror must hold: all
 * rows so far, sorted by (user, ts, id), each with its code. The logical view of (base, delta) takes
 * a user's rows from the delta when the delta has the user, else from the base.
 */
import { Rng } from '../ml/random';
import { compactionPlan, deltaMergePlan, emptySegment, gather, RowSource, RunPlan, Segment, trimmedDelta } from './mirror-segment';

interface Row {
  id: number;
  user: number;
  time: number;
  code: number;
}

const column = {}; // a lazily loaded column's dictionary, as the mirror keys codes

function source(rows: Row[]): RowSource {
  return {
    ids: Float64Array.from(rows, (row) => row.id),
    users: Int32Array.from(rows, (row) => row.user),
    times: Float64Array.from(rows, (row) => row.time),
    types: Uint16Array.from(rows, (row) => row.id % 3),
    items: Int32Array.from(rows, (row) => row.id % 5),
    codes: new Map([[column, Int32Array.from(rows, (row) => row.code)]]),
  };
}

const byUserTimeId = (a: Row, b: Row) => a.user - b.user || a.time - b.time || a.id - b.id;

/** A base loaded from scratch, the way a rebuild lays it out. */
function baseOf(rows: Row[]): Segment {
  const sorted = [...rows].sort(byUserTimeId);
  const userCount = sorted.length > 0 ? sorted[sorted.length - 1].user + 1 : 0;
  const userOffsets = new Int32Array(userCount + 1);
  for (const row of sorted) userOffsets[row.user + 1]++;
  for (let u = 0; u < userCount; u++) userOffsets[u + 1] += userOffsets[u];
  const plan = new RunPlan();
  plan.add(0, 0, sorted.length);
  return gather([source(sorted)], plan, [column], { userIds: null, userOffsets });
}

function rowsOf(segment: Segment, p: number): Row {
  return { id: segment.ids[p], user: segment.users[p], time: segment.times[p], code: segment.codes.get(column)![p] };
}

function logicalRows(base: Segment, delta: Segment): Row[] {
  const rows: Row[] = [];
  const deltaUsers = delta.userIds!;
  const userCount = Math.max(base.userOffsets.length - 1, deltaUsers.length > 0 ? deltaUsers[deltaUsers.length - 1] + 1 : 0);
  let d = 0;
  for (let user = 0; user < userCount; user++) {
    if (d < deltaUsers.length && deltaUsers[d] === user) {
      for (let p = delta.userOffsets[d]; p < delta.userOffsets[d + 1]; p++) rows.push(rowsOf(delta, p));
      d++;
    } else if (user < base.userOffsets.length - 1) {
      for (let p = base.userOffsets[user]; p < base.userOffsets[user + 1]; p++) rows.push(rowsOf(base, p));
    }
  }
  // Every column must follow the rows, not only the ones read above.
  for (const segment of [base, delta]) {
    for (let p = 0; p < segment.size; p++) {
      expect(segment.types[p]).toBe(segment.ids[p] % 3);
      expect(segment.items[p]).toBe(segment.ids[p] % 5);
    }
  }
  return rows;
}

function merged(base: Segment, delta: Segment, batch: Row[]): Segment {
  const added = source(batch);
  const { plan, userIds, userOffsets } = deltaMergePlan(base, delta, added, batch.length);
  return gather([delta, base, added], plan, [column], { userIds, userOffsets });
}

function compacted(base: Segment, delta: Segment): Segment {
  const { plan, userOffsets } = compactionPlan(base, delta);
  return gather([base, delta], plan, [column], { userIds: null, userOffsets });
}

describe.each([3, 17, 40])('segments on random rows (seed %i)', (seed) => {
  const random = Rng.stream(seed);
  const pick = (n: number) => Math.floor(random.next() * n);
  let nextId = 1;
  // Few distinct times, so ties on ts are common and the id decides.
  const rowsFor = (count: number, users: number): Row[] =>
    Array.from({ length: count }, () => ({ id: nextId++, user: pick(users), time: pick(12), code: pick(4) }));

  it('keeps every row in (user, ts, id) order through merges, compactions and late swaps', () => {
    const all = rowsFor(60, 15);
    let base = baseOf(all);
    let delta = emptySegment('delta');
    delta.codes.set(column, new Int32Array(0));
    expect(logicalRows(base, delta)).toEqual([...all].sort(byUserTimeId));
    for (let round = 0; round < 12; round++) {
      // New users appear as well (ids up to 19 > 15), and batches arrive out of time order.
      const batch = rowsFor(1 + pick(6), 20);
      all.push(...batch);
      delta = merged(base, delta, batch);
      expect(logicalRows(base, delta)).toEqual([...all].sort(byUserTimeId));
      if (round % 4 === 3) {
        // A compaction from this delta, while more rows arrive into the delta against the old base.
        const next = compacted(base, delta);
        const late = rowsFor(1 + pick(4), 20);
        all.push(...late);
        delta = merged(base, delta, late);
        delta = trimmedDelta(delta, next, [column]);
        base = next;
        expect(logicalRows(base, delta)).toEqual([...all].sort(byUserTimeId));
        // Only users with rows newer than the new base stay in the delta.
        expect(new Set(delta.userIds)).toEqual(new Set(late.map((row) => row.user)));
      }
    }
    const final = compacted(base, delta);
    const emptied = trimmedDelta(delta, final, [column]);
    expect(emptied.size).toBe(0);
    expect(logicalRows(final, emptied)).toEqual([...all].sort(byUserTimeId));
  });
});
