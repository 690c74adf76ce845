import { FORMAT_READERS, formatOfHeader, parseInstant, parseUtcDateTime } from './import-formats';

describe('timestamps', () => {
  it('reads REES46 times as UTC and refuses impossible dates', () => {
    expect(parseUtcDateTime('2019-10-01 00:00:00 UTC')).toBe(Date.UTC(2019, 9, 1));
    expect(parseUtcDateTime('2019-10-01 23:59:58 UTC')).toBe(Date.UTC(2019, 9, 1, 23, 59, 58));
    expect(parseUtcDateTime('2019-04-31 00:00:00 UTC')).toBeNull();
    expect(parseUtcDateTime('2019-10-01')).toBeNull();
  });

  it('takes ISO-8601 with a zone or epoch milliseconds, nothing that depends on the local zone', () => {
    expect(parseInstant('2024-03-01T11:01:00+01:00')).toBe(Date.UTC(2024, 2, 1, 10, 1));
    expect(parseInstant('2024-03-01T10:00:00.250Z')).toBe(Date.UTC(2024, 2, 1, 10, 0, 0, 250));
    expect(parseInstant('1709287260000')).toBe(1709287260000);
    expect(parseInstant(1709287260000)).toBe(1709287260000);
    expect(parseInstant('2024-03-01T10:00:00')).toBeNull();
    expect(parseInstant('March 1, 2024')).toBeNull();
    expect(parseInstant(1.5)).toBeNull();
    expect(parseInstant(-1)).toBeNull();
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
