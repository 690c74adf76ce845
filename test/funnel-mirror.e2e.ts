/**
 * The event mirror kept up to date batch by batch must equal a mirror loaded from scratch: same
 * rows in the same (user, ts, id) order, same lazily loaded columns. Batches arrive out of time
 * order, repeat users and add new ones, so both merge paths (splice and rebuild) are exercised.
 */
import { EventMirror, MirrorSnapshot } from '../src/funnel/event-mirror';
import { startTestApp, TestApp } from './support/app';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp('funnel_mirror');
});
afterAll(() => t.stop());

const NEEDS = { propertyKeys: ['device'], sessions: true };

function rows(snapshot: MirrorSnapshot) {
  const device = snapshot.properties.get('device')!;
  const session = snapshot.sessions!;
  return Array.from({ length: snapshot.size }, (_, p) => ({
    id: snapshot.ids[p],
    user: snapshot.users[p],
    time: snapshot.times[p],
    type: [...snapshot.typeCodes].find(([, code]) => code === snapshot.types[p])![0],
    item: snapshot.items[p],
    device: device.values[device.codes[p]],
    session: session.values[session.codes[p]],
  }));
}

it('stays equal to a fresh load while batches arrive', async () => {
  const live = new EventMirror(t.app.services.dataSource);
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
  await t.app.services.events.ingest(batch(40));
  expect((await live.snapshot(NEEDS)).size).toBe(40);
  for (const size of [1, 3, 2, 30, 1, 5]) {
    await t.app.services.events.ingest(batch(size));
    const fresh = new EventMirror(t.app.services.dataSource);
    expect(rows(await live.snapshot(NEEDS))).toEqual(rows(await fresh.snapshot(NEEDS)));
  }
  const final = rows(await live.snapshot(NEEDS));
  expect(final).toHaveLength(eventNumber);
  // (user, time, id) order
  for (let p = 1; p < final.length; p++) {
    const [a, b] = [final[p - 1], final[p]];
    expect(a.user < b.user || (a.user === b.user && (a.time < b.time || (a.time === b.time && a.id < b.id)))).toBe(true);
  }
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
    const column = snapshot.properties.get('v')!;
    const seen = new Map<number, number>(); // value index → code
    for (let p = 0; p < snapshot.size; p++) {
      const n = idOf.get(snapshot.ids[p]);
      if (n === undefined) {
        expect(column.codes[p]).toBe(0); // other tests' events have no "v"
        continue;
      }
      expect(column.values[column.codes[p]]).toEqual(values[n]);
      seen.set(n, column.codes[p]);
    }
    // Every stored value has its own code: "10" and 10 are different values.
    expect(new Set(seen.values()).size).toBe(values.length);
  };
  check(await new EventMirror(t.app.services.dataSource).snapshot({ propertyKeys: ['v'] }));
});
