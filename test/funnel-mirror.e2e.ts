/**
 * The event mirror kept up to date batch by batch must equal a mirror loaded from scratch: same
 * events per user in the same (ts, id) order, same dictionary-coded columns, whether a user's events
 * sit in the base segment or in the delta, and again once the delta is compacted into the base.
 * Batches arrive out of time order, repeat users and add new ones, so both merge paths (into the
 * delta, and a rebuild of the base for a large batch) are exercised.
 */
import { EventMirror, MirrorNeeds, MirrorSegment, MirrorSnapshot } from '../src/funnel/event-mirror';
import { sessionName } from '../src/funnel/session-dictionary';
import { startTestApp, TestApp } from './support/app';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp('funnel_mirror');
});
afterAll(() => t.stop());

const NEEDS: MirrorNeeds = { propertyKeys: ['device'], sessions: true };

/** Every event of the snapshot, user by user: from the delta for the users it holds, else from the base. */
function rows(snapshot: MirrorSnapshot) {
  const read = (segment: MirrorSegment, p: number) => {
    const device = segment.properties.get('device')!;
    const session = segment.sessions!;
    return {
      id: segment.ids[p],
      user: segment.users[p],
      time: segment.times[p],
      type: [...snapshot.typeCodes].find(([, code]) => code === segment.types[p])![0],
      item: segment.items[p],
      device: device.values[device.codes[p]],
      session: session.codes[p] === 0 ? undefined : sessionName(session.names, session.codes[p]),
    };
  };
  const result: ReturnType<typeof read>[] = [];
  const { base, delta } = snapshot;
  const deltaUsers = delta.userIds!;
  let d = 0;
  for (let user = 0; user < snapshot.userCount; user++) {
    const [segment, i] = d < deltaUsers.length && deltaUsers[d] === user ? [delta, d++] : [base, user];
    if (segment === base && user >= base.userOffsets.length - 1) continue;
    for (let p = segment.userOffsets[i]; p < segment.userOffsets[i + 1]; p++) result.push(read(segment, p));
  }
  return result;
}

let random = 7;
const next = (n: number) => {
  random = (random * 1103515245 + 12345) % 2147483648;
  return random % n;
};
let eventNumber = 0;
const batch = (size: number) =>
  Array.from({ length: size }, () => ({
    eventId: `m-${eventNumber++}`,
    type: ['view', 'cart', 'purchase'][next(3)],
    userId: `user-${next(12)}`,
    sessionId: next(4) === 0 ? null : `s-${next(3)}`,
    itemId: next(2) === 0 ? null : `item-${next(5)}`,
    timestamp: Date.UTC(2026, 0, 5) + next(20) * 1000,
    properties: next(3) === 0 ? null : { device: ['mobile', 'desktop', 1, null][next(4)] },
  }));

async function freshRows() {
  return rows(await new EventMirror(t.app.services.dataSource).snapshot(NEEDS));
}

it('stays equal to a fresh load while batches arrive, and after compaction', async () => {
  const live = new EventMirror(t.app.services.dataSource, { compactAt: false });
  await t.app.services.events.ingest(batch(40));
  expect((await live.snapshot(NEEDS)).eventCount).toBe(40);
  let deltaSeen = false;
  for (const size of [1, 3, 2, 30, 1, 5]) {
    await t.app.services.events.ingest(batch(size));
    expect(rows(await live.snapshot(NEEDS))).toEqual(await freshRows());
    deltaSeen ||= live.stats.deltaRows > 0;
  }
  expect(deltaSeen).toBe(true);
  expect(live.stats.deltaRows).toBeGreaterThan(0);
  const beforeCompaction = await live.snapshot(NEEDS);
  const seenBefore = rows(beforeCompaction);
  await live.compact();
  expect(live.stats).toMatchObject({ deltaRows: 0, deltaUsers: 0, compactions: 1 });
  expect(rows(await live.snapshot(NEEDS))).toEqual(await freshRows());
  // A snapshot taken before stays as it was while newer rows and a new base replace its segments.
  await t.app.services.events.ingest(batch(2));
  await live.snapshot(NEEDS);
  expect(rows(beforeCompaction)).toEqual(seenBefore);

  const final = rows(await live.snapshot(NEEDS));
  expect(final).toHaveLength(eventNumber);
  // (user, time, id) order
  for (let p = 1; p < final.length; p++) {
    const [a, b] = [final[p - 1], final[p]];
    expect(a.user < b.user || (a.user === b.user && (a.time < b.time || (a.time === b.time && a.id < b.id)))).toBe(true);
  }
});

it('loads a column into both segments when it is first asked for while the delta holds rows', async () => {
  const late = new EventMirror(t.app.services.dataSource, { compactAt: false });
  await late.snapshot();
  await t.app.services.events.ingest(batch(3));
  await late.snapshot();
  expect(late.stats.deltaRows).toBeGreaterThan(0);
  expect(rows(await late.snapshot(NEEDS))).toEqual(await freshRows());
  // Rows merged after the load carry the column too.
  await t.app.services.events.ingest(batch(2));
  expect(rows(await late.snapshot(NEEDS))).toEqual(await freshRows());
});

it('compacts by itself once the delta passes its threshold, and stays exact', async () => {
  const mirror = new EventMirror(t.app.services.dataSource, { compactAt: () => 10 });
  await mirror.snapshot(NEEDS);
  for (let round = 0; round < 4; round++) {
    await t.app.services.events.ingest(batch(4));
    await mirror.snapshot(NEEDS);
  }
  await mirror.compact(); // waits for one already under way
  expect(mirror.stats.compactions).toBeGreaterThan(0);
  expect(rows(await mirror.snapshot(NEEDS))).toEqual(await freshRows());
});

it('loads a property column with each value typed as it was stored', async () => {
  // Strings that read like other JSON values, and texts that need COPY escapes.
  const values: unknown[] = ['10', 10, 'true', true, false, 'null', null, '[1]', [1], '{"a":1}', { a: 1 }, -2.5, '-2.5', 'tab\there', 'line\nbreak', 'back\\slash', '浏览', ''];
  const stored = await t.app.services.events.ingest(
    values.map((value, n) => ({ eventId: `typed-${n}`, type: 'view', userId: `typed-user-${n % 3}`, timestamp: Date.UTC(2026, 0, 6) + n * 1000, properties: { v: value } })),
  );
  expect(stored.accepted).toBe(values.length);
  const idOf = new Map<number, number>(
    ((await t.app.services.dataSource.query(`SELECT id, event_id FROM events WHERE event_id LIKE 'typed-%'`)) as { id: string; event_id: string }[]).map((row) => [
      Number(row.id),
      Number(row.event_id.slice('typed-'.length)),
    ]),
  );
  const check = (snapshot: MirrorSnapshot) => {
    const seen = new Map<number, number>(); // value index → code
    for (const segment of [snapshot.base, snapshot.delta]) {
      const column = segment.properties.get('v')!;
      for (let p = 0; p < segment.size; p++) {
        const n = idOf.get(segment.ids[p]);
        if (n === undefined) {
          expect(column.codes[p]).toBe(0); // other tests' events have no "v"
          continue;
        }
        expect(column.values[column.codes[p]]).toEqual(values[n]);
        seen.set(n, column.codes[p]);
      }
    }
    // Every stored value has its own code: "10" and 10 are different values.
    expect(new Set(seen.values()).size).toBe(values.length);
  };
  // Derived from the properties column, and read from PostgreSQL (a mirror that keeps no properties column).
  check(await new EventMirror(t.app.services.dataSource).snapshot({ propertyKeys: ['v'] }));
  const uncapped = new EventMirror(t.app.services.dataSource, { propsLimit: 0 });
  check(await uncapped.snapshot({ propertyKeys: ['v'] }));
  expect(uncapped.loadedColumns.propertiesColumn).toBe(false);
});

it('drops the properties column once past its limit, and reads keys from PostgreSQL with the same answers', async () => {
  const [{ distinct }]: { distinct: string }[] = await t.app.services.dataSource.query('SELECT count(DISTINCT props) AS distinct FROM events');
  // Exactly at the limit: kept.
  const capped = new EventMirror(t.app.services.dataSource, { compactAt: false, propsLimit: Number(distinct) });
  expect(rows(await capped.snapshot(NEEDS))).toEqual(await freshRows());
  expect(capped.loadedColumns.propertiesColumn).toBe(true);
  // One new distinct object passes it; the key loaded before stays exact, and a key asked for later comes from PostgreSQL.
  await t.app.services.events.ingest([
    { eventId: 'cap-1', type: 'view', userId: 'user-1', timestamp: Date.UTC(2026, 0, 5, 1), properties: { device: 'watch', plan: 'pro' } },
    { eventId: 'cap-2', type: 'cart', userId: 'cap-user', timestamp: Date.UTC(2026, 0, 5, 2), properties: { device: 'mobile' } },
  ]);
  expect(rows(await capped.snapshot(NEEDS))).toEqual(await freshRows());
  expect(capped.loadedColumns.propertiesColumn).toBe(false);
  const plans = (snapshot: MirrorSnapshot) => {
    const byId = new Map<number, unknown>();
    for (const segment of [snapshot.delta, snapshot.base]) {
      const plan = segment.properties.get('plan')!;
      for (let p = 0; p < segment.size; p++) if (!byId.has(segment.ids[p])) byId.set(segment.ids[p], plan.values[plan.codes[p]]);
    }
    return [...byId].sort(([a], [b]) => a - b);
  };
  const fresh = async () => plans(await new EventMirror(t.app.services.dataSource).snapshot({ propertyKeys: ['plan'] }));
  expect(plans(await capped.snapshot({ propertyKeys: ['plan'] }))).toEqual(await fresh());
  expect((await fresh()).filter(([, plan]) => plan === 'pro')).toHaveLength(1);
  await t.app.services.events.ingest([{ eventId: 'cap-3', type: 'view', userId: 'user-2', timestamp: Date.UTC(2026, 0, 5, 3), properties: { plan: 'pro' } }]);
  expect(plans(await capped.snapshot({ propertyKeys: ['plan'] }))).toEqual(await fresh());
  expect(rows(await capped.snapshot(NEEDS))).toEqual(await freshRows());
});
