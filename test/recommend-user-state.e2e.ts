import { EventService, IncomingEvent } from '../src/events/event.service';
import { historyFromEvents } from '../src/recommend/fold-in';
import { readUserState, UserState } from '../src/recommend/user-state';
import { createTestDatabase, TestDatabase } from './support/database';

const MINUTE = 60_000;
const WEIGHTS: Record<string, number> = { view: 1, fav: 2, cart: 3, checkout: 3, purchase: 5 };
const TYPE_CODES: Record<string, number> = { view: 0, fav: 1, cart: 2, checkout: 3, purchase: 4 };

/**
 * The user state worked out in TypeScript from the raw rows (the way serving computed it before
 * PostgreSQL did part of it): the newest 50 item events (at or before asOf); a visit continues while
 * two neighbouring events share a session id, or, when neither has one, are at most 30 minutes apart.
 */
async function referenceState(db: TestDatabase, userId: string, asOf: Date | null = null): Promise<UserState> {
  const [user] = await db.dataSource.query(`SELECT id FROM users WHERE external_id = $1`, [userId]);
  if (!user) return { id: null, history: [], session: [], purchased: new Set(), latestEventMs: null, recent: { items: [], types: [], times: [] } };
  const until = asOf ?? new Date(8.64e15);
  const rows: { item_id: number; type: string; session_id: string | null; ms: number }[] = await db.dataSource.query(
    `SELECT item_id, type, session_id, (extract(epoch FROM ts) * 1000)::float8 AS ms FROM events
     WHERE user_id = $1 AND item_id IS NOT NULL AND ts <= $2 ORDER BY ts DESC, id DESC LIMIT 50`,
    [user.id, until],
  );
  const purchased: { item_id: number }[] = await db.dataSource.query(
    `SELECT DISTINCT item_id FROM events WHERE user_id = $1 AND type = 'purchase' AND item_id IS NOT NULL AND ts <= $2`,
    [user.id, until],
  );
  const session: number[] = [];
  const live = rows.length > 0 && (asOf?.getTime() ?? Date.now()) - rows[0].ms <= 30 * MINUTE;
  for (let n = 0; live && n < rows.length; n++) {
    if (n > 0) {
      const [newer, event] = [rows[n - 1], rows[n]];
      const sameVisit = event.session_id !== null || newer.session_id !== null ? event.session_id === newer.session_id : newer.ms - event.ms <= 30 * MINUTE;
      if (!sameVisit) break;
    }
    if ((WEIGHTS[rows[n].type] ?? 0) > 0 && session[0] !== rows[n].item_id) session.unshift(rows[n].item_id);
  }
  return {
    id: user.id,
    history: historyFromEvents(
      rows.map((row) => row.item_id),
      rows.map((row) => WEIGHTS[row.type] ?? 0),
      50,
    ),
    session,
    purchased: new Set(purchased.map((row) => row.item_id)),
    latestEventMs: rows.length > 0 ? rows[0].ms : null,
    recent: { items: rows.map((row) => row.item_id), types: rows.map((row) => TYPE_CODES[row.type] ?? -1), times: rows.map((row) => row.ms) },
  };
}

describe('readUserState', () => {
  let db: TestDatabase;
  let events: EventService;

  beforeAll(async () => {
    db = await createTestDatabase('user_state');
    events = new EventService(db.dataSource, { maxBatch: 5000, maxPropertiesBytes: 16384 });
  });

  afterAll(async () => {
    await db?.drop();
  });

  it('reads history, live session, purchases and newest time as worked out from the raw events', async () => {
    const now = Date.now();
    const at = (minutesAgo: number) => Math.round(now - minutesAgo * MINUTE);
    let id = 0;
    const event = (userId: string, type: string, itemId: string | null, ms: number, sessionId: string | null = null): IncomingEvent => ({
      eventId: `e${id++}`,
      type,
      userId,
      sessionId,
      itemId,
      timestamp: ms,
    });
    const batch: IncomingEvent[] = [
      // One live visit by session id, with a repeat, a weightless removal and a search without an item.
      event('sid', 'view', 'a', at(20), 's1'),
      event('sid', 'view', 'b', at(15), 's1'),
      event('sid', 'remove_from_cart', 'b', at(14), 's1'),
      event('sid', 'view', 'b', at(13), 's1'),
      event('sid', 'search', null, at(12), 's1'),
      event('sid', 'cart', 'c', at(10), 's1'),
      event('sid', 'view', 'x', at(200), 's0'),
      // No session ids: a 29-minute gap keeps the visit, a 31-minute gap ends it.
      event('gaps', 'view', 'a', at(95)),
      event('gaps', 'view', 'b', at(64)),
      event('gaps', 'view', 'c', at(35)),
      event('gaps', 'fav', 'd', at(6)),
      // A session id next to none is a different visit.
      event('mixed', 'view', 'a', at(9)),
      event('mixed', 'view', 'b', at(5), 's9'),
      event('mixed', 'purchase', 'b', at(4), 's9'),
      // Nothing in the last 30 minutes: no live session.
      event('old', 'view', 'a', at(90), 's2'),
      event('old', 'purchase', 'a', at(89), 's2'),
      // Same timestamps: the later ingested counts as newer.
      event('ties', 'view', 'a', at(3), 's3'),
      event('ties', 'view', 'b', at(3), 's3'),
      event('ties', 'view', 'c', at(3), 's4'),
    ];
    // More than 50 item events, and random ones: ids, types, sessions and gaps drawn from a seeded generator.
    for (let n = 0; n < 70; n++) batch.push(event('long', n % 7 === 0 ? 'cart' : 'view', `i${n % 23}`, at(70 - n), 's5'));
    let seed = 17;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
    const types = ['view', 'view', 'view', 'cart', 'fav', 'remove_from_cart', 'checkout', 'purchase'];
    for (let user = 0; user < 40; user++) {
      let minutesAgo = random() * 120;
      for (let n = Math.floor(random() * 30); n > 0; n--) {
        const sessionId = random() < 0.3 ? null : `r${user}-${Math.floor(random() * 3)}`;
        batch.push(event(`random${user}`, types[Math.floor(random() * types.length)], `i${Math.floor(random() * 15)}`, at(minutesAgo), sessionId));
        minutesAgo = Math.max(0, minutesAgo - random() * 40);
      }
    }
    const ingested = await events.ingest(batch);
    expect(ingested.rejected).toEqual([]);

    const users = ['sid', 'gaps', 'mixed', 'old', 'ties', 'long', 'nobody', ...Array.from({ length: 40 }, (_, n) => `random${n}`)];
    for (const userId of users) {
      const state = await readUserState(db.dataSource, userId);
      expect({ userId, ...state }).toEqual({ userId, ...(await referenceState(db, userId)) });
      // As of earlier instants: later events unread, the visit live relative to asOf.
      for (const minutesAgo of [11, 60, 100]) {
        const asOf = new Date(at(minutesAgo));
        expect({ userId, minutesAgo, ...(await readUserState(db.dataSource, userId, asOf)) }).toEqual({ userId, minutesAgo, ...(await referenceState(db, userId, asOf)) });
      }
    }

    // Spot checks by hand, in item names.
    const names = new Map<number, string>((await db.dataSource.query(`SELECT id, external_id FROM items`)).map((r: { id: number; external_id: string }) => [r.id, r.external_id]));
    const named = async (userId: string) => {
      const state = await readUserState(db.dataSource, userId);
      return { session: state.session.map((item) => names.get(item)), history: state.history.map((entry) => `${names.get(entry.item)}:${entry.weight}`) };
    };
    expect(await named('sid')).toEqual({ session: ['a', 'b', 'c'], history: ['c:3', 'b:1', 'a:1', 'x:1'] });
    expect((await named('gaps')).session).toEqual(['b', 'c', 'd']);
    expect((await named('mixed')).session).toEqual(['b']);
    expect((await named('old')).session).toEqual([]);
    expect((await named('ties')).session).toEqual(['c']);
    expect((await readUserState(db.dataSource, 'long')).history.length).toBe(23);
    // Event by event, newest first, with type codes and times; a removal is kept with code −1.
    const sid = await readUserState(db.dataSource, 'sid');
    expect(sid.recent.items.map((item) => names.get(item))).toEqual(['c', 'b', 'b', 'b', 'a', 'x']);
    expect(sid.recent.types).toEqual([2, 0, -1, 0, 0, 0]);
    expect(sid.recent.times).toEqual([at(10), at(13), at(14), at(15), at(20), at(200)]);
    // As of 11 minutes ago: c's cart (10 minutes ago) is not read; the visit is live relative to then.
    const before = await readUserState(db.dataSource, 'sid', new Date(at(11)));
    expect(before.recent.items.map((item) => names.get(item))).toEqual(['b', 'b', 'b', 'a', 'x']);
    expect(before.session.map((item) => names.get(item))).toEqual(['a', 'b']);
    // 'old' bought a 89 minutes ago: as of 89.5 minutes ago nothing was bought yet, and the visit was live.
    const old = await readUserState(db.dataSource, 'old', new Date(at(89.5)));
    expect([old.purchased.size, old.session.map((item) => names.get(item))]).toEqual([0, ['a']]);
  });

  it('reads the state as of an instant: events at or before it, the visit live within 30 minutes of it', async () => {
    const start = Math.round(Date.now() - 3 * 60 * MINUTE);
    const batch: IncomingEvent[] = [
      { eventId: 'asof-1', type: 'view', userId: 'asof', sessionId: 's1', itemId: 'p', timestamp: start },
      { eventId: 'asof-2', type: 'view', userId: 'asof', sessionId: 's1', itemId: 'q', timestamp: start + 5 * MINUTE },
      { eventId: 'asof-3', type: 'purchase', userId: 'asof', sessionId: 's1', itemId: 'q', timestamp: start + 6 * MINUTE },
      { eventId: 'asof-4', type: 'view', userId: 'asof', sessionId: 's2', itemId: 'r', timestamp: start + 60 * MINUTE },
    ];
    expect((await events.ingest(batch)).rejected).toEqual([]);
    const names = new Map<number, string>((await db.dataSource.query(`SELECT id, external_id FROM items`)).map((r: { id: number; external_id: string }) => [r.id, r.external_id]));
    const at = async (asOf: number | null) => {
      const state = await readUserState(db.dataSource, 'asof', asOf === null ? null : new Date(asOf));
      return {
        session: state.session.map((item) => names.get(item)),
        history: state.history.map((entry) => `${names.get(entry.item)}:${entry.weight}`),
        purchased: [...state.purchased].map((item) => names.get(item)),
        latest: state.latestEventMs,
      };
    };
    expect(await at(start + 2 * MINUTE)).toEqual({ session: ['p'], history: ['p:1'], purchased: [], latest: start });
    expect(await at(start + 10 * MINUTE)).toEqual({ session: ['p', 'q'], history: ['q:5', 'p:1'], purchased: ['q'], latest: start + 6 * MINUTE });
    // 36 minutes after the purchase: that visit is over.
    expect(await at(start + 42 * MINUTE)).toEqual({ session: [], history: ['q:5', 'p:1'], purchased: ['q'], latest: start + 6 * MINUTE });
    // An event exactly at asOf counts.
    expect(await at(start + 60 * MINUTE)).toEqual({ session: ['r'], history: ['r:1', 'q:5', 'p:1'], purchased: ['q'], latest: start + 60 * MINUTE });
    expect(await at(start - MINUTE)).toEqual({ session: [], history: [], purchased: [], latest: null });
    // Now (no asOf): the newest visit ended two hours ago.
    expect(await at(null)).toEqual({ session: [], history: ['r:1', 'q:5', 'p:1'], purchased: ['q'], latest: start + 60 * MINUTE });
  });
});
