import { ITEM_EVENT_TYPES, SESSION_GAP_MS, visitNumbers, weightsByCode, DEFAULT_EVENT_WEIGHTS, ItemEventLog } from './item-events';
import { basketsOf, indexEvents } from './user-split';
import { sessionSequences } from './next-item-evaluation';
import { DenseIndex } from './interactions';

const MIN = 60_000;

/** A (user, time)-ordered log: [user, session id or null, item, minute]. */
function logOf(rows: [number, string | null, number, number][]): ItemEventLog {
  const users = Int32Array.from(rows, (row) => row[0]);
  const times = Float64Array.from(rows, (row) => row[3] * MIN);
  const { sessions, count } = visitNumbers(users, (n) => rows[n][1], times);
  return {
    users,
    items: Int32Array.from(rows, (row) => row[2]),
    types: new Uint8Array(rows.length).fill(ITEM_EVENT_TYPES.indexOf('view')),
    times,
    sessions,
    sessionCount: count,
  };
}

describe('visits: a (user, session id) pair', () => {
  it('gives two users who share a session id two visits, and gathers a user\'s interleaved session ids', () => {
    const log = logOf([
      [1, 'a', 10, 0],
      [1, 'b', 11, 1],
      [1, 'a', 12, 2], // back in tab "a": the same visit as the first event
      [2, 'a', 13, 3], // another user's "a"
    ]);
    expect(Array.from(log.sessions)).toEqual([0, 1, 0, 2]);
    expect(log.sessionCount).toBe(3);
    expect(sessionSequences(log)).toEqual({ items: [[10, 12], [11], [13]], starts: [0, 1 * MIN, 3 * MIN], ends: [2 * MIN, 1 * MIN, 3 * MIN] });
  });

  it('cuts a user\'s sessionless events after 30 quiet minutes between them, apart from the session-id visits', () => {
    const gap = SESSION_GAP_MS / MIN;
    const log = logOf([
      [1, null, 20, 0],
      [1, 'a', 21, 5],
      [1, null, 22, 10], // 10 min after the last sessionless event: same visit as the first
      [1, null, 23, 10 + gap + 1], // more than 30 min later: a new visit
      [2, null, 24, 10 + gap + 2], // a new user: a new visit
    ]);
    expect(Array.from(log.sessions)).toEqual([0, 1, 0, 2, 3]);
  });

  it('makes one basket per visit even when its events are not adjacent', () => {
    const log = logOf([
      [1, 'a', 10, 0],
      [1, 'b', 11, 1],
      [1, 'a', 12, 2],
      [1, 'b', 13, 3],
    ]);
    const weights = weightsByCode(DEFAULT_EVENT_WEIGHTS);
    const items = new DenseIndex([]);
    const events = indexEvents(log, weights, () => true, items);
    const baskets = basketsOf(events, weights, 'session', 10).map((basket) => Array.from(basket.items, (i) => items.ids[i]).sort());
    expect(baskets.sort()).toEqual([
      [10, 12],
      [11, 13],
    ]);
  });
});
