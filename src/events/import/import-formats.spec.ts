import { FORMAT_READERS, formatOfHeader, parseNdjsonLine, parseUtcDateTime } from './import-formats';

describe('timestamps', () => {
  it('reads REES46 times as UTC and refuses impossible dates', () => {
    expect(parseUtcDateTime('2019-10-01 00:00:00 UTC')).toBe(Date.UTC(2019, 9, 1));
    expect(parseUtcDateTime('2019-10-01 23:59:58 UTC')).toBe(Date.UTC(2019, 9, 1, 23, 59, 58));
    expect(parseUtcDateTime('2019-04-31 00:00:00 UTC')).toBeNull();
    expect(parseUtcDateTime('2019-10-01')).toBeNull();
  });

  it('reads Taobao seconds unless told otherwise, and names the other unit when the numbers fit it', () => {
    const taobao = FORMAT_READERS.taobao;
    const row = (ts: string) => ({ line: 3, text: `1,2,3,pv,${ts}`, fields: ['1', '2', '3', 'pv', ts] });
    const seconds = taobao.toRecord(row('1511658000'));
    expect(seconds.kind === 'event' && seconds.event.timestamp).toBe(1511658000 * 1000);
    const millis = taobao.toRecord(row('1511658000000'));
    expect(millis).toMatchObject({ kind: 'reject', code: 'IMPLAUSIBLE_TIMESTAMP', line: 3 });
    expect(millis.kind === 'reject' && millis.message).toMatch(/looks like milliseconds \(2017-11-26T01:00:00.000Z\).*--timestamp-unit ms/);
    const asMs = taobao.toRecord(row('1511658000000'), { timestampUnit: 'ms' });
    expect(asMs.kind === 'event' && asMs.event.timestamp).toBe(1511658000 * 1000);
  });
});

describe('NDJSON ids', () => {
  it('keeps whole-number ids as their exact digits, beyond 2^53 too', () => {
    // 2^53 + 1 has no double of its own: JSON.parse reads it as 2^53.
    expect(JSON.parse('{"userId":9007199254740993}').userId).toBe(9007199254740992);
    const line = parseNdjsonLine('{"eventId":12345678901234567890,"userId":9007199254740993,"itemId":-7,"sessionId":"s","properties":{"n":9007199254740993}}');
    expect(line).toEqual({ eventId: '12345678901234567890', userId: '9007199254740993', itemId: '-7', sessionId: 's', properties: { n: 9007199254740992 } });
    expect(parseNdjsonLine('{"item":{"itemId":9007199254740995,"price":1}}')).toEqual({ item: { itemId: '9007199254740995', price: 1 } });
    // Last duplicate key wins, as in JSON.parse.
    expect(parseNdjsonLine('{"userId":1,"userId":9007199254740993}')).toEqual({ userId: '9007199254740993' });
    // Not whole numbers: left as numbers, for the reader to refuse.
    expect(parseNdjsonLine('{"userId":1.5}')).toEqual({ userId: 1.5 });
    expect(parseNdjsonLine('{"userId":1e3}')).toEqual({ userId: 1000 });
  });

  it('refuses ids written as numbers with a fraction or an exponent', () => {
    const record = FORMAT_READERS.ndjson.toRecord({ line: 4, text: '{"eventId":"a","type":"view","userId":1e3,"timestamp":"2025-01-01T00:00:00Z"}', fields: [] });
    expect(record).toMatchObject({ kind: 'reject', code: 'MALFORMED_ROW', line: 4 });
    expect(record.kind === 'reject' && record.message).toMatch(/userId is a number with a fraction or an exponent \(read as 1000\); send ids as strings/);
  });
});

describe('format readers', () => {
  it('recognise each other’s headers', () => {
    expect(formatOfHeader('event_time,event_type,product_id,category_id,category_code,brand,price,user_id,user_session')?.format).toBe('rees46');
    expect(formatOfHeader('Timestamp, VisitorId, Event, ItemId, TransactionId')?.format).toBe('retailrocket');
    expect(formatOfHeader('a,b,c')).toBeNull();
  });

  it('derive the same event id for the same row and line, a different one on another line', () => {
    const taobao = FORMAT_READERS.taobao;
    const fields = ['1', '2', '3', 'pv', '1511658000'];
    const id = (line: number): string => {
      const record = taobao.toRecord({ line, text: fields.join(','), fields });
      if (record.kind !== 'event') throw new Error(record.kind);
      return record.event.eventId;
    };
    expect(id(5)).toBe(id(5));
    expect(id(5)).not.toBe(id(6));
    expect(id(5)).toMatch(/^taobao:[0-9a-f]{16}:5$/);
  });

  it('refuse an event type column that names a member of Object.prototype', () => {
    for (const word of ['constructor', 'toString', 'valueOf', 'hasOwnProperty', '__proto__']) {
      const taobaoFields = ['1', '2', '3', word, '1511658000'];
      expect(FORMAT_READERS.taobao.toRecord({ line: 2, text: taobaoFields.join(','), fields: taobaoFields })).toMatchObject({ kind: 'reject', code: 'UNKNOWN_EVENT_TYPE' });
      const retailFields = ['1433221332117', '257597', word, '355908', ''];
      expect(FORMAT_READERS.retailrocket.toRecord({ line: 2, text: retailFields.join(','), fields: retailFields })).toMatchObject({ kind: 'reject', code: 'UNKNOWN_EVENT_TYPE' });
    }
  });
});
