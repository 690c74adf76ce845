import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { ShopEvent } from '../src/events/event.types';
import { run as runImportCommand } from '../src/cli/import.command';
import { ImportFileError, importFile, importRecords, type ImportRecord } from '../src/events/import/import.service';
import { resetConfig } from '../src/config';
import { createTestDatabase, type TestDatabase } from './support/database';

/**
 * The importer against a real PostgreSQL. Expected numbers come from the fixtures themselves,
 * counted here with plain string splitting, or were worked out by hand for the hand-written files;
 * never from the importer's own output.
 */
const FIXTURES = path.resolve(__dirname, 'fixtures');
const fixture = (name: string): string => path.join(FIXTURES, name);
const SHARED_DATA = path.resolve(__dirname, '../../shared/data');

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase('import');
});

afterAll(async () => {
  await db?.drop();
});

beforeEach(async () => {
  await db.dataSource.query('TRUNCATE events, users, items RESTART IDENTITY');
});

async function countsByType(): Promise<Record<string, number>> {
  const rows: { type: string; n: number }[] = await db.dataSource.query('SELECT type, count(*)::int AS n FROM events GROUP BY type');
  return Object.fromEntries(rows.map((r) => [r.type, r.n]));
}

async function scalar(sql: string, params: unknown[] = []): Promise<number> {
  const rows: { n: number | string }[] = await db.dataSource.query(sql, params);
  return Number(rows[0].n);
}

/** Data rows of a CSV fixture without quoted fields, split the simplest way. */
function csvRows(file: string, hasHeader: boolean): string[][] {
  const lines = readFileSync(file, 'utf8').split('\n').map((line) => line.replace(/\r$/, '')).filter((line) => line.length > 0);
  return (hasHeader ? lines.slice(1) : lines).map((line) => line.split(','));
}

function tally(values: string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const value of values) counts[value] = (counts[value] ?? 0) + 1;
  return counts;
}

describe('Taobao UserBehavior', () => {
  const file = fixture('taobao-user-behavior.csv');
  const behaviourToType: Record<string, string> = { pv: 'view', cart: 'cart', fav: 'fav', buy: 'purchase' };

  it('imports every row of a headerless file with types, users and item categories', async () => {
    const rows = csvRows(file, false);
    const summary = await importFile(db.dataSource, 'taobao', file);

    expect(summary).toMatchObject({ rowsRead: rows.length, imported: rows.length, duplicates: 0, rejected: 0 });
    expect(await countsByType()).toEqual(tally(rows.map((r) => behaviourToType[r[3]])));
    expect(await scalar('SELECT count(*) AS n FROM users')).toBe(new Set(rows.map((r) => r[0])).size);
    expect(await scalar('SELECT count(*) AS n FROM items')).toBe(new Set(rows.map((r) => r[1])).size);

    const [first] = rows;
    const stored = await db.dataSource.query(
      `SELECT e.ts, e.props, u.external_id AS user, i.external_id AS item, i.category
       FROM events e JOIN users u ON u.id = e.user_id JOIN items i ON i.id = e.item_id ORDER BY e.id LIMIT 1`,
    );
    expect(stored[0]).toMatchObject({ user: first[0], item: first[1], category: first[2], props: { categoryId: first[2] } });
    expect((stored[0].ts as Date).getTime()).toBe(Number(first[4]) * 1000);
  });

  it('refuses the file under another format with a hint', async () => {
    await expect(importFile(db.dataSource, 'retailrocket', file)).rejects.toThrow(/Taobao.*--format taobao/);
    expect(await scalar('SELECT count(*) AS n FROM events')).toBe(0);
  });
});

describe('REES46', () => {
  const file = fixture('rees46-2019-oct.csv');

  it('stores exact duplicate rows each, maps sessions and fills the catalog', async () => {
    const rows = csvRows(file, true);
    const repeated = Object.values(tally(rows.map((r) => r.join(',')))).filter((n) => n > 1).length;
    expect(repeated).toBeGreaterThan(0);

    const summary = await importFile(db.dataSource, 'rees46', file);
    expect(summary).toMatchObject({ rowsRead: rows.length, imported: rows.length, duplicates: 0, rejected: 0 });
    expect(await countsByType()).toEqual(tally(rows.map((r) => r[1])));

    const sessions = new Set(rows.map((r) => r[8]).filter((s) => s !== undefined && s !== ''));
    expect(await scalar('SELECT count(DISTINCT session_id) AS n FROM events')).toBe(sessions.size);
    // The excerpt's last row is cut off before its session: kept, without one.
    expect(await scalar('SELECT count(*) AS n FROM events WHERE session_id IS NULL')).toBe(rows.filter((r) => !r[8]).length);

    // Catalog: the last row that names an item gives its price, brand and category (code, else id).
    const lastRowOfItem = new Map<string, string[]>();
    for (const row of rows) lastRowOfItem.set(row[2], row);
    const items: { external_id: string; price: string | null; brand: string | null; category: string | null }[] =
      await db.dataSource.query('SELECT external_id, price, brand, category FROM items');
    expect(items).toHaveLength(lastRowOfItem.size);
    for (const item of items) {
      const row = lastRowOfItem.get(item.external_id)!;
      expect(Number(item.price)).toBeCloseTo(Number(row[6]), 2);
      expect(item.brand).toBe(row[5] || null);
      expect(item.category).toBe(row[4] || row[3]);
    }
  });

  it('a second run stores nothing and counts every row as a duplicate', async () => {
    const rows = csvRows(file, true);
    await importFile(db.dataSource, 'rees46', file);
    const again = await importFile(db.dataSource, 'rees46', file, { batchSize: 50 });
    expect(again).toMatchObject({ rowsRead: rows.length, imported: 0, duplicates: rows.length, rejected: 0, itemsUpserted: 0, usersAdded: 0 });
    expect(await scalar('SELECT count(*) AS n FROM events')).toBe(rows.length);
  });

  it('refuses the file under the Taobao format, naming REES46', async () => {
    await expect(importFile(db.dataSource, 'taobao', file)).rejects.toThrow(/REES46.*--format rees46/);
  });
});

describe('RetailRocket', () => {
  const file = fixture('retailrocket-events.csv');

  it('maps events, keeps transaction ids and rejects bad rows with their line numbers', async () => {
    const summary = await importFile(db.dataSource, 'retailrocket', file);
    // Worked out by hand from the fixture: lines 14–18 are the bad ones.
    expect(summary).toMatchObject({ rowsRead: 18, imported: 13, duplicates: 0, rejected: 5 });
    expect(summary.rejectedByReason).toEqual({ UNKNOWN_EVENT_TYPE: 1, BAD_TIMESTAMP: 1, MISSING_USER: 1, MALFORMED_ROW: 1, MISSING_ITEM: 1 });
    expect(summary.rejectedSamples.map((r) => [r.line, r.code])).toEqual([
      [14, 'UNKNOWN_EVENT_TYPE'],
      [15, 'BAD_TIMESTAMP'],
      [16, 'MISSING_USER'],
      [17, 'MALFORMED_ROW'],
      [18, 'MISSING_ITEM'],
    ]);
    expect(await countsByType()).toEqual({ view: 8, cart: 2, purchase: 3 });
    expect(await scalar('SELECT count(*) AS n FROM users')).toBe(7);
    expect(await scalar('SELECT count(*) AS n FROM items')).toBe(8);
    const purchases = await db.dataSource.query(
      `SELECT e.props->>'transactionId' AS tx, e.ts FROM events e WHERE type = 'purchase' ORDER BY e.id`,
    );
    expect(purchases.map((p: { tx: string }) => p.tx)).toEqual(['4000', '17182', '17182']);
    expect((purchases[0].ts as Date).toISOString()).toBe(new Date(1433222147345).toISOString());
  });
});

describe('Funnelcast CSV', () => {
  const file = fixture('funnelcast-events.csv');

  it('keeps file order for equal timestamps, quoted JSON properties and sessions', async () => {
    const summary = await importFile(db.dataSource, 'funnelcast-csv', file);
    expect(summary).toMatchObject({ rowsRead: 17, imported: 9, duplicates: 1, rejected: 7 });
    expect(summary.rejectedByReason).toEqual({
      INVALID_EVENT_TYPE: 1,
      BAD_TIMESTAMP: 1,
      BAD_PROPERTIES: 2,
      MISSING_EVENT_ID: 1,
      MISSING_USER: 1,
      MALFORMED_ROW: 1,
    });
    // e-008 spans lines 9–10 (a quoted newline), so the rows after it are one line further down.
    expect(summary.rejectedSamples.map((r) => r.line)).toEqual([12, 13, 14, 15, 16, 17, 18]);

    const atTen: { event_id: string }[] = await db.dataSource.query(
      `SELECT event_id FROM events WHERE ts = '2024-03-01T10:00:00Z' ORDER BY id`,
    );
    expect(atTen.map((e) => e.event_id)).toEqual(['e-001', 'e-002', 'e-003', 'e-008']);

    const byId = new Map<string, { session_id: string | null; props: unknown; ts: Date; item: string | null }>(
      (
        await db.dataSource.query(
          `SELECT e.event_id, e.session_id, e.props, e.ts, i.external_id AS item FROM events e LEFT JOIN items i ON i.id = e.item_id`,
        )
      ).map((r: { event_id: string }) => [r.event_id, r]),
    );
    expect(byId.get('e-003')!.props).toEqual({ qty: 2, note: 'gift, wrapped' });
    expect(byId.get('e-008')!.props).toEqual({ note: 'pretty-printed', lines: 2 });
    expect(byId.get('e-004')!.ts.toISOString()).toBe('2024-03-01T10:01:00.000Z');
    expect(byId.get('e-004')!.item).toBeNull();
    expect(byId.get('e-005')!.ts.toISOString()).toBe('2024-03-01T10:01:00.000Z');
    expect(byId.get('e-006')!.session_id).toBeNull();
    expect(byId.get('e-001')!.session_id).toBe('s-a1');
    expect(await countsByType()).toEqual({ view: 3, cart: 1, checkout: 1, purchase: 1, search: 1, newsletter_signup: 1, fav: 1 });
  });

  it('demands its header', async () => {
    await expect(importFile(db.dataSource, 'funnelcast-csv', fixture('retailrocket-events.csv'))).rejects.toThrow(
      /RetailRocket.*--format retailrocket/,
    );
  });
});

describe('NDJSON', () => {
  const file = fixture('shop-events.ndjson');

  it.each([undefined, 2])('merges catalog lines field by field (batch size %p)', async (batchSize) => {
    const summary = await importFile(db.dataSource, 'ndjson', file, { batchSize });
    expect(summary).toMatchObject({ rowsRead: 15, imported: 4, duplicates: 1, rejected: 7, catalogRows: 3 });
    expect(summary.rejectedByReason).toEqual({ MALFORMED_ROW: 2, BAD_TIMESTAMP: 1, BAD_PROPERTIES: 2, MISSING_USER: 1, MISSING_ITEM: 1 });

    const items = await db.dataSource.query('SELECT external_id, title, category, brand, price, available, properties FROM items ORDER BY id');
    expect(items).toEqual([
      // The second sku-1 line brings a newer price and availability; its null brand erases nothing.
      { external_id: 'sku-1', title: 'Trail shoe', category: 'shoes', brand: 'Ridge', price: '79.50', available: false, properties: { color: 'red', size: '42' } },
      { external_id: 'sku-2', title: 'Rain jacket', category: 'outerwear', brand: null, price: '120.00', available: true, properties: {} },
      { external_id: 'sku-3', title: null, category: null, brand: null, price: null, available: true, properties: {} },
    ]);
    expect(await db.dataSource.query('SELECT external_id FROM users ORDER BY id')).toEqual([{ external_id: 'u-1' }, { external_id: '42' }]);
    expect(await countsByType()).toEqual({ view: 2, cart: 1, purchase: 1 });
  });
});

describe('importRecords', () => {
  function* shopEvents(count: number): Generator<ImportRecord> {
    for (let i = 1; i <= count; i++) {
      const event: ShopEvent = {
        eventId: `gen-${i}`,
        type: i % 10 === 0 ? 'purchase' : 'view',
        userId: `user-${i % 7}`,
        sessionId: `session-${i % 7}`,
        itemId: `item-${i % 5}`,
        // Many equal timestamps, so only ids can say which came first.
        timestamp: Date.UTC(2024, 0, 1) + Math.floor(i / 10) * 1000,
        properties: { position: i },
      };
      yield { kind: 'event', event };
    }
  }

  it('assigns ids in the order given across batches', async () => {
    const summary = await importRecords(db.dataSource, shopEvents(95), { batchSize: 10 });
    expect(summary).toMatchObject({ rowsRead: 95, imported: 95, usersAdded: 7, itemsUpserted: 5 });
    const positions: { position: number }[] = await db.dataSource.query(`SELECT (props->>'position')::int AS position FROM events ORDER BY id`);
    expect(positions.map((p) => p.position)).toEqual(Array.from({ length: 95 }, (_, i) => i + 1));
  });

  it('an interrupted import keeps whole batches and a re-run completes it', async () => {
    async function* failingAfter(limit: number): AsyncGenerator<ImportRecord> {
      let n = 0;
      for (const record of shopEvents(95)) {
        if (++n > limit) throw new Error('connection to the shop lost');
        yield record;
      }
    }
    await expect(importRecords(db.dataSource, failingAfter(47), { batchSize: 10 })).rejects.toThrow('connection to the shop lost');
    // 47 records read: four full batches of 10 committed; the 7 in the open batch were never written.
    expect(await scalar('SELECT count(*) AS n FROM events')).toBe(40);

    const rerun = await importRecords(db.dataSource, shopEvents(95), { batchSize: 10 });
    expect(rerun).toMatchObject({ imported: 55, duplicates: 40 });
    expect(await scalar('SELECT count(DISTINCT event_id) AS n FROM events')).toBe(95);
  });

  it('rejects records that would break a batch instead of failing the import', async () => {
    const base: ShopEvent = { eventId: 'x', type: 'view', userId: 'u', sessionId: null, itemId: null, timestamp: 0, properties: null };
    const summary = await importRecords(db.dataSource, [
      { kind: 'event', event: { ...base, eventId: 'ok-1' } },
      { kind: 'event', event: { ...base, eventId: 'nul', userId: 'u\0x' } },
      { kind: 'event', event: { ...base, eventId: 'long', userId: 'u'.repeat(5000) } },
      { kind: 'event', event: { ...base, eventId: 'type', type: 'add to cart' } },
      { kind: 'event', event: { ...base, eventId: 'ts', timestamp: Number.NaN } },
      { kind: 'event', event: { ...base, eventId: 'jsonb-nul', properties: { note: 'a\u0000b' } } },
      { kind: 'event', event: { ...base, eventId: 'tab\there', userId: 'back\\slash\nnewline' } },
      { kind: 'item', item: { itemId: 'pricey', price: 1e13 } },
      { kind: 'event', event: { ...base, eventId: 'surrogate', userId: 'u\ud800' } }, // UTF-8 cannot hold it; it would merge with 'u\ufffd'
    ]);
    expect(summary).toMatchObject({ rowsRead: 9, imported: 2, rejected: 7 });
    expect(summary.rejectedSamples.map((r) => [r.line, r.code])).toEqual([
      [2, 'MALFORMED_ROW'],
      [3, 'ID_TOO_LONG'],
      [4, 'INVALID_EVENT_TYPE'],
      [5, 'BAD_TIMESTAMP'],
      [6, 'BAD_PROPERTIES'],
      [8, 'BAD_PRICE'],
      [9, 'MALFORMED_ROW'],
    ]);
    // Text that needs COPY escaping arrives unchanged.
    expect(await db.dataSource.query(`SELECT u.external_id FROM events e JOIN users u ON u.id = e.user_id WHERE e.event_id = 'tab\there'`)).toEqual([
      { external_id: 'back\\slash\nnewline' },
    ]);
  });
});

describe('funnelcast import (command)', () => {
  let output: string[];
  let errors: string[];

  beforeEach(() => {
    output = [];
    errors = [];
    jest.spyOn(console, 'log').mockImplementation((...args: unknown[]) => void output.push(args.join(' ')));
    jest.spyOn(console, 'error').mockImplementation((...args: unknown[]) => void errors.push(args.join(' ')));
    process.env.DATABASE_URL = db.url;
    resetConfig();
  });

  afterEach(() => {
    jest.restoreAllMocks();
    delete process.env.DATABASE_URL;
    resetConfig();
  });

  it('prints a summary with reject reasons and exits 0 when rows were rejected', async () => {
    const code = await runImportCommand(['--format', 'retailrocket', '--batch-size', '5', fixture('retailrocket-events.csv')]);
    expect(errors).toEqual([]);
    expect(code).toBe(0);
    const text = output.join('\n');
    expect(text).toMatch(/rows read\s+18/);
    expect(text).toMatch(/imported\s+13/);
    expect(text).toMatch(/UNKNOWN_EVENT_TYPE\s+1/);
    expect(text).toMatch(/line 14: UNKNOWN_EVENT_TYPE/);
    expect(await scalar('SELECT count(*) AS n FROM events')).toBe(13);
  });

  it('exits 1 with a clear message for a missing file, a wrong format or no database', async () => {
    expect(await runImportCommand(['--format', 'taobao', fixture('no-such-file.csv')])).toBe(1);
    expect(errors.join('\n')).toMatch(/no such file/);
    expect(await runImportCommand(['--format', 'taobao', fixture('rees46-2019-oct.csv')])).toBe(1);
    expect(errors.join('\n')).toMatch(/try --format rees46/);
    expect(await runImportCommand(['--format', 'csv', fixture('rees46-2019-oct.csv')])).toBe(1);
    delete process.env.DATABASE_URL;
    resetConfig();
    expect(await runImportCommand(['--format', 'taobao', fixture('taobao-user-behavior.csv')])).toBe(1);
    expect(errors.join('\n')).toMatch(/DATABASE_URL is not set/);
  });

  describe('issue #12 reproductions', () => {
    let dir: string;
    beforeAll(() => {
      dir = mkdtempSync(path.join(tmpdir(), 'fc-import-'));
    });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));
    const file = (name: string, lines: string[]): string => {
      const where = path.join(dir, name);
      writeFileSync(where, `${lines.join('\n')}\n`);
      return where;
    };

    it('keeps numeric ids above 2^53 exact: 9007199254740993 and 9007199254740992 are two users, two events', async () => {
      // Both ids round to the same double (2^53); as text they differ in the last digit.
      const ids = ['9007199254740993', '9007199254740992'];
      const lines = ids.map(
        (id) => `{"eventId":${id},"type":"view","userId":${id},"sessionId":${id},"itemId":${id},"timestamp":"2025-03-01T10:00:00Z"}`,
      );
      lines.push(`{"item":{"itemId":9007199254740995,"title":"big"}}`);
      expect(await runImportCommand(['--format', 'ndjson', file('big-ids.ndjson', lines)])).toBe(0);
      expect(errors).toEqual([]);
      expect(output.join('\n')).toMatch(/imported\s+2\n\s*duplicates\s+0/);
      const rows = await db.dataSource.query(
        `SELECT e.event_id, u.external_id AS user, e.session_id, i.external_id AS item
         FROM events e JOIN users u ON u.id = e.user_id JOIN items i ON i.id = e.item_id ORDER BY e.id`,
      );
      expect(rows).toEqual(ids.map((id) => ({ event_id: id, user: id, session_id: id, item: id })));
      expect(await db.dataSource.query(`SELECT title FROM items WHERE external_id = '9007199254740995'`)).toEqual([{ title: 'big' }]);
    });

    it('refuses seconds read as milliseconds with the line and the unit to use, and stores them with --timestamp-unit s', async () => {
      // 1740823200 s = 2025-03-01T10:00:00Z; read as ms it is 1,740,823.2 s after the epoch: 20 days and 12,823.2 s.
      const seconds = file('seconds.ndjson', [
        '{"eventId":"s-1","type":"view","userId":"ann","timestamp":"2025-03-01T09:59:00Z"}',
        '{"eventId":"s-2","type":"view","userId":"ann","timestamp":1740823200}',
        '{"eventId":"s-3","type":"cart","userId":"ann","timestamp":1740823260}',
      ]);
      expect(await runImportCommand(['--format', 'ndjson', seconds])).toBe(1);
      expect(errors.join('\n')).toBe(
        'funnelcast import: line 2: timestamp 1740823200 read as milliseconds is 1970-01-21T03:33:43.200Z, which looks like seconds ' +
          '(2025-03-01T10:00:00.000Z); run the import with --timestamp-unit s (timestampUnit in code). The import stopped there; nothing was stored.',
      );
      expect(await scalar('SELECT count(*) AS n FROM events')).toBe(0);

      errors.length = 0;
      expect(await runImportCommand(['--format', 'ndjson', '--timestamp-unit', 's', seconds])).toBe(0);
      expect(errors).toEqual([]);
      const stored: { event_id: string; ts: Date }[] = await db.dataSource.query('SELECT event_id, ts FROM events ORDER BY id');
      expect(stored.map((r) => [r.event_id, r.ts.toISOString()])).toEqual([
        ['s-1', '2025-03-01T09:59:00.000Z'],
        ['s-2', '2025-03-01T10:00:00.000Z'],
        ['s-3', '2025-03-01T10:01:00.000Z'],
      ]);
    });

    it('once the unit is settled, rejects a stray value row by row; milliseconds in a seconds file are named too', async () => {
      const mixed = file('mixed.csv', [
        'event_id,type,user_id,session_id,item_id,timestamp,properties',
        'm-1,view,bob,,,1740823200000,',
        'm-2,view,bob,,,1740823260,',
        'm-3,view,bob,,,2025-03-01T10:02:00Z,',
      ]);
      const summary = await importFile(db.dataSource, 'funnelcast-csv', mixed);
      expect(summary).toMatchObject({ imported: 2, rejected: 1, rejectedByReason: { IMPLAUSIBLE_TIMESTAMP: 1 } });
      expect(summary.rejectedSamples[0]).toMatchObject({ line: 3, code: 'IMPLAUSIBLE_TIMESTAMP' });
      expect(summary.rejectedSamples[0].message).toMatch(/looks like seconds \(2025-03-01T10:01:00.000Z\); run the import with --timestamp-unit s/);

      const millis = file('millis.csv', ['543462,1715,1464116,pv,1740823200000']);
      await expect(importFile(db.dataSource, 'taobao', millis)).rejects.toThrow(
        /line 1: timestamp "1740823200000" read as seconds is beyond the year 5000, which looks like milliseconds \(2025-03-01T10:00:00.000Z\); run the import with --timestamp-unit ms/,
      );
    });

    it('rejects a timestamp more than a day ahead, as ingest does', async () => {
      const summary = await importFile(
        db.dataSource,
        'ndjson',
        file('future.ndjson', [
          '{"eventId":"f-1","type":"view","userId":"cy","timestamp":"2031-01-01T00:00:00Z"}',
          '{"eventId":"f-2","type":"view","userId":"cy","timestamp":"2025-03-01T10:00:00Z"}',
        ]),
      );
      expect(summary).toMatchObject({ imported: 1, rejected: 1, rejectedByReason: { FUTURE_TIMESTAMP: 1 } });
      expect(summary.rejectedSamples[0]).toMatchObject({ line: 1, code: 'FUTURE_TIMESTAMP' });
      expect(summary.rejectedSamples[0].message).toMatch(/^timestamp 2031-01-01T00:00:00.000Z is more than a day after .*; send the time the event happened$/);
    });

    it('imports event types in any script, NFC-normalised', async () => {
      const summary = await importFile(
        db.dataSource,
        'funnelcast-csv',
        file('zh.csv', [
          'event_id,type,user_id,session_id,item_id,timestamp,properties',
          'z-1,浏览,张三,,,2025-03-01T10:00:00Z,',
          'z-2,加购,张三,,,2025-03-01T10:01:00Z,',
          'z-3,cafe\u0301,张三,,,2025-03-01T10:02:00Z,',
          'z-4,加 购,张三,,,2025-03-01T10:03:00Z,',
        ]),
      );
      expect(summary).toMatchObject({ imported: 3, rejected: 1, rejectedByReason: { INVALID_EVENT_TYPE: 1 } });
      expect(await countsByType()).toEqual({ 浏览: 1, 加购: 1, 'caf\u00e9': 1 });
    });

    it('refuses an unknown unit or a misspelt option before reading anything', async () => {
      expect(await runImportCommand(['--format', 'ndjson', '--timestamp-unit', 'sec', fixture('shop-events.ndjson')])).toBe(1);
      expect(errors.join('\n')).toMatch(/--timestamp-unit must be s \(Unix seconds\) or ms \(milliseconds\), not "sec"/);
      expect(await runImportCommand(['--format', 'ndjson', '--timestamp-units', 's', fixture('shop-events.ndjson')])).toBe(1);
      expect(errors.join('\n')).toMatch(/Unknown option '--timestamp-units'/);
      expect(await scalar('SELECT count(*) AS n FROM events')).toBe(0);
    });
  });

  it('rejects a missing file before touching the database', async () => {
    await expect(importFile(db.dataSource, 'ndjson', fixture('missing.ndjson'))).rejects.toBeInstanceOf(ImportFileError);
  });
});

const sharedData = existsSync(path.join(SHARED_DATA, 'taobao_userbehavior_timeslice.csv')) ? describe : describe.skip;
if (sharedData === describe.skip) {
  // eslint-disable-next-line no-console
  console.warn(`Skipping the full-sample import tests: ${SHARED_DATA} is not there.`);
}

sharedData('full public samples (../shared/data)', () => {
  it('imports the Taobao slice with the README counts', async () => {
    const summary = await importFile(db.dataSource, 'taobao', path.join(SHARED_DATA, 'taobao_userbehavior_timeslice.csv'));
    expect(summary).toMatchObject({ rowsRead: 110_300, imported: 110_300, rejected: 0 });
    expect(await countsByType()).toEqual({ view: 98_361, cart: 6_063, fav: 3_383, purchase: 2_493 });
    expect(await scalar('SELECT count(*) AS n FROM users')).toBe(66_454);
    expect(await scalar('SELECT count(*) AS n FROM items')).toBe(84_793);
  });

  it('imports the REES46 excerpt with the README counts', async () => {
    const summary = await importFile(db.dataSource, 'rees46', path.join(SHARED_DATA, 'rees46_2019oct_head.csv'));
    expect(summary).toMatchObject({ rowsRead: 17_435, imported: 17_435, rejected: 0 });
    expect(await countsByType()).toEqual({ view: 17_056, cart: 165, purchase: 214 });
    expect(await scalar('SELECT count(*) AS n FROM users')).toBe(4_505);
    // The README's 5,067 sessions count the last, cut-off row's missing session as one more.
    expect(await scalar('SELECT count(DISTINCT session_id) AS n FROM events')).toBe(5_066);
    expect(await scalar('SELECT count(*) AS n FROM events WHERE session_id IS NULL')).toBe(1);
  });
});
