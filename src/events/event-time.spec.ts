import { parseIsoInstant, readEventTimestamp, type TimestampReading } from './event-time';

const MS: TimestampReading = { unit: 'ms', unitHint: 'use UNIT' };
const S: TimestampReading = { unit: 's', unitHint: 'use UNIT' };

describe('parseIsoInstant', () => {
  it('reads RFC 3339 and the ISO 8601 forms the importer always took, as UTC instants', () => {
    // Expected instants written with Date.UTC, field by field.
    expect(parseIsoInstant('2025-03-12T00:00:12Z')).toBe(Date.UTC(2025, 2, 12, 0, 0, 12));
    expect(parseIsoInstant('2025-03-12t00:00:12z')).toBe(Date.UTC(2025, 2, 12, 0, 0, 12));
    expect(parseIsoInstant('2025-03-12T01:00:12.25+01:00')).toBe(Date.UTC(2025, 2, 12, 0, 0, 12, 250));
    expect(parseIsoInstant('2025-03-12T01:00:12.123456789+0100')).toBe(Date.UTC(2025, 2, 12, 0, 0, 12, 123));
    expect(parseIsoInstant('2025-03-11T20:30-03:30')).toBe(Date.UTC(2025, 2, 12, 0, 0));
    expect(parseIsoInstant('2025-03-12')).toBe(Date.UTC(2025, 2, 12));
    expect(parseIsoInstant('2024-02-29T23:59:59Z')).toBe(Date.UTC(2024, 1, 29, 23, 59, 59));
  });

  it('refuses a space for the T, a missing zone, and dates or times that do not exist', () => {
    for (const text of [
      '2025-03-12 00:00:12Z',
      '2025-03-12T00:00:12',
      '2025-02-29T00:00:00Z',
      '2025-04-31T00:00:00Z',
      '2025-13-01T00:00:00Z',
      '2025-03-12T24:00:00Z',
      '2025-03-12T23:59:60Z',
      '2025-03-12T00:00:00+24:00',
      '12/03/2025',
      'March 12, 2025',
      '2025-03-12T00:00:12ZZ',
    ]) {
      expect([text, parseIsoInstant(text)]).toEqual([text, null]);
    }
  });
});

describe('readEventTimestamp', () => {
  it('reads numbers and digit strings in the unit given', () => {
    expect(readEventTimestamp(1740823200000, MS)).toBe(1740823200000);
    expect(readEventTimestamp('1740823200000', MS)).toBe(1740823200000);
    expect(readEventTimestamp(1740823200, S)).toBe(1740823200000);
    expect(readEventTimestamp('1740823200.5', S)).toBe(1740823200500);
    expect(readEventTimestamp('2025-03-01T10:00:00Z', S)).toBe(Date.UTC(2025, 2, 1, 10));
  });

  it('refuses seconds read as milliseconds and the reverse, naming the other reading', () => {
    // 1740823200 s = 2025-03-01T10:00:00Z; as ms it is 20 days and a few hours after the epoch.
    expect(readEventTimestamp(1740823200, MS)).toEqual({
      code: 'IMPLAUSIBLE_TIMESTAMP',
      message: 'timestamp 1740823200 read as milliseconds is 1970-01-21T03:33:43.200Z, which looks like seconds (2025-03-01T10:00:00.000Z); use s',
    });
    const asSeconds = readEventTimestamp(1740823200000, S);
    expect(asSeconds).toMatchObject({ code: 'IMPLAUSIBLE_TIMESTAMP' });
    expect((asSeconds as { message: string }).message).toMatch(/looks like milliseconds \(2025-03-01T10:00:00.000Z\); use ms$/);
  });

  it('explains what to change in a text that is not a timestamp', () => {
    const spaced = readEventTimestamp('2025-03-12 00:00:12Z', MS);
    expect(spaced).toMatchObject({ code: 'BAD_TIMESTAMP' });
    expect((spaced as { message: string }).message).toMatch(/put a T between the date and the time \(2025-03-12T00:00:12Z\)/);
    expect((readEventTimestamp('2025-03-12T00:00:12', MS) as { message: string }).message).toMatch(/add the zone/);
    expect((readEventTimestamp('2025-02-30T00:00:12Z', MS) as { message: string }).message).toMatch(/does not exist/);
    expect(readEventTimestamp(null, MS)).toMatchObject({ code: 'MISSING_TIMESTAMP' });
    expect(readEventTimestamp(true, MS)).toMatchObject({ code: 'BAD_TIMESTAMP' });
    expect(readEventTimestamp(1.5e12 + 0.5, MS)).toMatchObject({ code: 'BAD_TIMESTAMP' });
    expect(readEventTimestamp(-1, MS)).toMatchObject({ code: 'BAD_TIMESTAMP' });
    expect(readEventTimestamp(Number.POSITIVE_INFINITY, MS)).toMatchObject({ code: 'BAD_TIMESTAMP' });
    expect(readEventTimestamp('1969-12-31T23:59:59Z', MS)).toMatchObject({ code: 'BAD_TIMESTAMP' });
  });
});
