/**
 * The ingest contract of issue #12 through the real server and PostgreSQL: one bad field rejects
 * its event and never the batch, timestamps in the documented forms only, event types in any
 * script (through funnels and the mirror), and the ingest guard judging on event time whatever
 * the arrival order. Every expected value is worked out by hand in the comments.
 */
import { startTestApp, TestApp } from './support/app';

const INGEST = `mutation($events: [EventInput!]!) {
  ingestEvents(events: $events) { accepted duplicates rejected { index code message } }
}`;

let t: TestApp;
let clientKey: string;
let analystKey: string;

beforeAll(async () => {
  t = await startTestApp('ingest-rules');
  clientKey = await t.createKey('client');
  analystKey = await t.createKey('analyst');
});
afterAll(() => t.stop());

async function ingest(events: Record<string, unknown>[]) {
  const result = await t.gql(INGEST, { events }, clientKey);
  expect(result.status).toBe(200);
  expect(result.errors).toBeUndefined();
  return result.data!.ingestEvents as { accepted: number; duplicates: number; rejected: { index: number; code: string; message: string }[] };
}

async function storedTimes(prefix: string): Promise<Record<string, string>> {
  const rows: { event_id: string; ts: Date }[] = await t.app.services.dataSource.query(
    `SELECT event_id, ts FROM events WHERE event_id LIKE $1 ORDER BY id`,
    [`${prefix}%`],
  );
  return Object.fromEntries(rows.map((row) => [row.event_id, row.ts.toISOString()]));
}

describe('one bad field rejects its event, not the batch', () => {
  const four = (prefix: string, bad: Record<string, unknown>) =>
    [0, 1, 2, 3].map((i) => ({
      eventId: `${prefix}-${i}`,
      type: 'view',
      userId: 'ann',
      timestamp: `2025-03-12T00:00:1${i}Z`,
      ...(i === 2 ? bad : {}),
    }));

  it('a timestamp with a space for the T: the other 3 are stored, the bad one named with what to send', async () => {
    const result = await ingest(four('space', { timestamp: '2025-03-12 00:00:12Z' }));
    expect(result.accepted).toBe(3);
    expect(result.rejected).toEqual([
      {
        index: 2,
        code: 'BAD_TIMESTAMP',
        message: 'timestamp "2025-03-12 00:00:12Z" is not a timestamp Funnelcast reads: put a T between the date and the time (2025-03-12T00:00:12Z)',
      },
    ]);
    expect(Object.keys(await storedTimes('space-'))).toEqual(['space-0', 'space-1', 'space-3']);
  });

  it('a null userId, type, eventId or timestamp, or one left out', async () => {
    const cases: [Record<string, unknown>, string, RegExp][] = [
      [{ userId: null }, 'MISSING_USER', /^userId is missing; every event needs one$/],
      [{ type: null }, 'INVALID_EVENT_TYPE', /^type is missing; send an event type: 1–64 Unicode letters or digits/],
      [{ eventId: null }, 'MISSING_EVENT_ID', /^eventId is missing/],
      [{ timestamp: null }, 'MISSING_TIMESTAMP', /^timestamp is missing; send when the event happened, e.g. 2025-03-12T00:00:12Z/],
      [{ timestamp: undefined }, 'MISSING_TIMESTAMP', /^timestamp is missing/], // JSON.stringify leaves the key out
      [{ timestamp: true }, 'BAD_TIMESTAMP', /^timestamp must be ISO 8601 text or a number, not boolean$/],
      [{ timestamp: { at: 1 } }, 'BAD_TIMESTAMP', /not object$/],
    ];
    for (const [n, [bad, code, message]] of cases.entries()) {
      const result = await ingest(four(`null${n}`, bad));
      expect([n, result.accepted, result.rejected.map((r) => [r.index, r.code])]).toEqual([n, 3, [[2, code]]]);
      expect(result.rejected[0].message).toMatch(message);
    }
  });

  it('reads RFC 3339 with any offset and epoch milliseconds; refuses seconds with the reading they were meant as', async () => {
    const result = await ingest([
      { eventId: 'ts-offset', type: 'view', userId: 'ann', timestamp: '2025-03-12T01:00:12.250+01:00' },
      { eventId: 'ts-lower', type: 'view', userId: 'ann', timestamp: '2025-03-12t00:00:12z' },
      { eventId: 'ts-ms', type: 'view', userId: 'ann', timestamp: 1741737612000 },
      { eventId: 'ts-ms-text', type: 'view', userId: 'ann', timestamp: '1741737612000' },
      { eventId: 'ts-seconds', type: 'view', userId: 'ann', timestamp: 1741737612 },
      { eventId: 'ts-no-zone', type: 'view', userId: 'ann', timestamp: '2025-03-12T00:00:12' },
      { eventId: 'ts-31-april', type: 'view', userId: 'ann', timestamp: '2025-04-31T00:00:00Z' },
      { eventId: 'ts-future', type: 'view', userId: 'ann', timestamp: new Date(Date.now() + 3 * 86_400_000).toISOString() },
    ]);
    expect(result.accepted).toBe(4);
    expect(result.rejected.map((r) => [r.index, r.code])).toEqual([
      [4, 'IMPLAUSIBLE_TIMESTAMP'],
      [5, 'BAD_TIMESTAMP'],
      [6, 'BAD_TIMESTAMP'],
      [7, 'FUTURE_TIMESTAMP'],
    ]);
    // 1741737612 s is 2025-03-12T00:00:12Z: 20,159 days (55 years with 14 leap days, then 31 + 28 + 11) and 12 s.
    // Read as ms it is 1,741,737.612 s: 20 days (1,728,000 s) and 13,737.612 s (3 h 48 min 57.612 s), i.e. 1970-01-21T03:48:57.612Z.
    expect(result.rejected[0].message).toBe(
      'timestamp 1741737612 read as milliseconds is 1970-01-21T03:48:57.612Z, which looks like seconds (2025-03-12T00:00:12.000Z); ' +
        'send milliseconds since 1970 (multiply seconds by 1000) or ISO 8601 text',
    );
    expect(result.rejected[1].message).toMatch(/add the zone: Z for UTC or an offset such as \+01:00 \(2025-03-12T00:00:12Z\)/);
    const at = new Date(Date.UTC(2025, 2, 12, 0, 0, 12)).toISOString();
    expect(await storedTimes('ts-')).toEqual({
      'ts-offset': new Date(Date.UTC(2025, 2, 12, 0, 0, 12, 250)).toISOString(),
      'ts-lower': at,
      'ts-ms': at,
      'ts-ms-text': at,
    });
  });

  it('takes the timestamp as an inline literal too, a big integer included; a number too large for a double rejects its event', async () => {
    const query = `mutation { ingestEvents(events: [
      { eventId: "lit-1", type: "view", userId: "ann", timestamp: 1741737612000 },
      { eventId: "lit-2", type: "view", userId: "ann", timestamp: "2025-03-12 00:00:12Z" },
      { eventId: "lit-3", type: "view", userId: null, timestamp: "2025-03-12T00:00:12Z" },
      { eventId: "lit-4", type: "view", userId: "ann", timestamp: "2025-03-12T00:00:12Z", properties: { n: 1e400 } }
    ]) { accepted rejected { index code message } } }`;
    const result = await t.gql(query, {}, clientKey);
    expect(result.errors).toBeUndefined();
    expect(result.data!.ingestEvents.accepted).toBe(1);
    expect(result.data!.ingestEvents.rejected.map((r: { index: number; code: string }) => [r.index, r.code])).toEqual([
      [1, 'BAD_TIMESTAMP'],
      [2, 'MISSING_USER'],
      [3, 'BAD_PROPERTIES'],
    ]);
    // 1e400 parses to Infinity, which JSON would store as null: refused instead.
    expect(result.data!.ingestEvents.rejected[2].message).toBe('properties.n is not a finite number (too large for a double); send it as a string');
  });
});

describe('event types in any script', () => {
  const FUNNEL = `query($input: FunnelInput!) { funnel(input: $input) { totalUnits steps { type count } } }`;
  const at = (time: string) => `2026-03-02T${time}:00Z`;
  /*
   * Funnel 浏览 → 加购 → 购买, window 1 h, chains starting in [2026-03-02, 2026-03-03):
   *   zh-1  浏览 10:00 (设备 手机) · 加购 10:05 · 购买 10:20          → 3
   *   zh-2  浏览 10:00 (设备 电脑) · 加购 11:30 (90 min: too late)     → 1
   *   zh-3  加购 10:00                                                  → 0, active
   *   zh-4  浏览 10:00 · café 10:01 (sent decomposed: e + U+0301)       → 1
   * Steps 3 / 1 / 1 of 4 active users; with 设备 = 手机 on step 1: 1 / 1 / 1.
   * Funnel 浏览 → café (precomposed U+00E9): zh-4 converts: 3 / 1.
   */
  const SHOP = [
    { userId: 'zh-1', type: '浏览', timestamp: at('10:00'), properties: { 设备: '手机' } },
    { userId: 'zh-1', type: '加购', timestamp: at('10:05') },
    { userId: 'zh-1', type: '购买', timestamp: at('10:20') },
    { userId: 'zh-2', type: '浏览', timestamp: at('10:00'), properties: { 设备: '电脑' } },
    { userId: 'zh-2', type: '加购', timestamp: at('11:30') },
    { userId: 'zh-3', type: '加购', timestamp: at('10:00') },
    { userId: 'zh-4', type: '浏览', timestamp: at('10:00') },
    { userId: 'zh-4', type: 'cafe\u0301', timestamp: at('10:01') },
  ].map((event, n) => ({ eventId: `zh-${n}`, ...event }));
  const BASE = { conversionWindowSeconds: 3600, from: '2026-03-02T00:00:00Z', to: '2026-03-03T00:00:00Z' };

  async function funnel(input: Record<string, unknown>) {
    const result = await t.gql(FUNNEL, { input: { ...BASE, ...input } }, analystKey);
    expect(result.errors).toBeUndefined();
    return result.data!.funnel as { totalUnits: number; steps: { type: string; count: number }[] };
  }

  beforeAll(async () => {
    const stored = await ingest(SHOP);
    expect(stored).toEqual({ accepted: SHOP.length, duplicates: 0, rejected: [] });
  });

  it('stores Chinese names and runs funnels, filters and stats on them', async () => {
    const steps = [{ type: '浏览' }, { type: '加购' }, { type: '购买' }];
    const all = await funnel({ steps });
    expect(all.totalUnits).toBe(4);
    expect(all.steps).toEqual([
      { type: '浏览', count: 3 },
      { type: '加购', count: 1 },
      { type: '购买', count: 1 },
    ]);
    const phones = await funnel({ steps: [{ type: '浏览', filters: [{ property: '设备', op: 'EQ', value: '手机' }] }, ...steps.slice(1)] });
    expect(phones.steps.map((s) => s.count)).toEqual([1, 1, 1]);

    // An event ingested after the first funnel reaches the next one through the mirror's catch-up: zh-3 views
    // at 09:59 and its 加购 at 10:00 follows within the hour → 浏览 4, 加购 2 (zh-1, zh-3), 购买 1.
    expect(await ingest([{ eventId: 'zh-late', type: '浏览', userId: 'zh-3', timestamp: at('09:59') }])).toMatchObject({ accepted: 1 });
    expect((await funnel({ steps })).steps.map((s) => s.count)).toEqual([4, 2, 1]);

    const stats = await t.gql(`query { eventStats(from: "2026-03-02T00:00:00Z", to: "2026-03-03T00:00:00Z") { byType { type count } } }`, {}, analystKey);
    expect(stats.data!.eventStats.byType).toEqual([
      { type: '浏览', count: 4 },
      { type: '加购', count: 3 },
      { type: 'café', count: 1 },
      { type: '购买', count: 1 },
    ]);
  });

  it('treats canonically equal spellings as one type (NFC)', async () => {
    const [row] = await t.app.services.dataSource.query(`SELECT type FROM events WHERE event_id = 'zh-7'`);
    expect(row.type).toBe('caf\u00e9');
    const result = await funnel({ steps: [{ type: '浏览' }, { type: 'caf\u00e9' }] });
    expect(result.steps.map((s) => s.count)).toEqual([4, 1]);
    const decomposed = await funnel({ steps: [{ type: '浏览' }, { type: 'cafe\u0301' }] });
    expect(decomposed.steps.map((s) => s.count)).toEqual([4, 1]);
  });

  it('refuses spaces, symbols and over-long names, in events and in funnel steps', async () => {
    const result = await ingest([
      { eventId: 'bad-type-1', type: '加 购', userId: 'zh-1', timestamp: at('12:00') },
      { eventId: 'bad-type-2', type: '🛒', userId: 'zh-1', timestamp: at('12:00') },
      { eventId: 'bad-type-3', type: '浏'.repeat(65), userId: 'zh-1', timestamp: at('12:00') },
      { eventId: 'ok-type-64', type: '浏'.repeat(64), userId: 'zh-1', timestamp: at('12:00') },
      { eventId: 'ok-type-hi', type: 'देखें', userId: 'zh-1', timestamp: at('12:00') },
    ]);
    expect(result.accepted).toBe(2);
    expect(result.rejected.map((r) => [r.index, r.code])).toEqual([
      [0, 'INVALID_EVENT_TYPE'],
      [1, 'INVALID_EVENT_TYPE'],
      [2, 'INVALID_EVENT_TYPE'],
    ]);
    expect(result.rejected[0].message).toBe('type "加 购" is not an event type: 1–64 Unicode letters or digits and _ . : - (e.g. view, add_to_cart, 浏览)');
    const refused = await t.gql(FUNNEL, { input: { ...BASE, steps: [{ type: '浏览' }, { type: '加 购' }] } }, analystKey);
    expect(refused.errors![0].extensions!.code).toBe('BAD_USER_INPUT');
    expect(refused.errors![0].message).toMatch(/steps\[1\]\.type must be an event type \(1–64 Unicode letters or digits/);
  });
});

describe('the ingest guard judges on event time', () => {
  const RISK = `query($userId: String!) { userRisk(userId: $userId) { flagged ingestGuard { since peakEventsPerMinute } } }`;
  const BASE_MS = Date.UTC(2026, 2, 5, 12, 0, 0);
  const views = (userId: string, count: number, spacingMs: number) =>
    Array.from({ length: count }, (_, k) => ({ eventId: `${userId}-${k}`, type: 'view', userId, timestamp: new Date(BASE_MS + k * spacingMs).toISOString() }));

  async function guard(userId: string) {
    const result = await t.gql(RISK, { userId });
    expect(result.errors).toBeUndefined();
    return result.data!.userRisk.ingestGuard as { since: string; peakEventsPerMinute: number } | null;
  }

  it('marks a burst sent newest batch first (200 views in 2 s, later half first)', async () => {
    // Views k = 0…199 at BASE + 10k ms. The later half alone is 100 events in a minute (limit 120): not marked.
    const burst = views('burst', 200, 10);
    expect((await ingest(burst.slice(100))).accepted).toBe(100);
    expect(await guard('burst')).toBeNull();
    // With the earlier half, all 200 lie within 2 s: the minute ending at view 199 holds 200. View k ends a
    // minute holding k + 1 views, first over 120 at k = 120, at BASE + 1,200 ms.
    expect((await ingest(burst.slice(0, 100))).accepted).toBe(100);
    expect(await guard('burst')).toEqual({ since: new Date(BASE_MS + 1200).toISOString(), peakEventsPerMinute: 200 });
  });

  it('leaves a user at the limit alone in any order (120 views in 2 s, later half first)', async () => {
    const atLimit = views('at-limit', 120, 16);
    await ingest(atLimit.slice(60));
    await ingest(atLimit.slice(0, 60));
    expect(await guard('at-limit')).toBeNull();
    // One more view inside the same 2 s, sent last but dated first: 121 in a minute.
    await ingest([{ eventId: 'at-limit-extra', type: 'view', userId: 'at-limit', timestamp: new Date(BASE_MS - 5).toISOString() }]);
    // The 121st view in time order is view 119 at BASE + 1,904 ms.
    expect(await guard('at-limit')).toEqual({ since: new Date(BASE_MS + 119 * 16).toISOString(), peakEventsPerMinute: 121 });
  });
});
