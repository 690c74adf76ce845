import { notVisibleIn, parseSnapshot } from './event-mirror';

describe('the mirror read position (a pg_snapshot)', () => {
  it('parses pg_current_snapshot() text', () => {
    expect(parseSnapshot('762:765:762,764')).toEqual({ xmin: '762', xmax: '765', inFlight: ['762', '764'] });
    expect(parseSnapshot('10:10:')).toEqual({ xmin: '10', xmax: '10', inFlight: [] });
    // 64-bit ids stay exact as text.
    expect(parseSnapshot('18446744073709551000:18446744073709551615:').xmax).toBe('18446744073709551615');
  });

  it('refuses anything else, so nothing but digits reaches the catch-up SQL', () => {
    for (const text of ['', '1:2', '1:2:3,', "1:2:3'); DROP TABLE events; --", 'a:b:']) expect(() => parseSnapshot(text)).toThrow(/Not a pg_snapshot/);
  });

  it('asks for the transactions the snapshot had not seen: from xmax on, and those in flight', () => {
    expect(notVisibleIn(parseSnapshot('10:10:'))).toBe(`tx >= '10'::xid8`);
    expect(notVisibleIn(parseSnapshot('7:12:7,9'))).toBe(`(tx >= '12'::xid8 OR tx = ANY('{7,9}'::xid8[]))`);
  });
});
