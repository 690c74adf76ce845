import { createHash } from 'node:crypto';
import { GraphQLError } from 'graphql';
import { CURSOR_VERSION, cursorCodec } from './cursor';

const jobs = cursorCodec('trainingJobs', { createdAt: 'instant', id: 'uuid' });
const units = cursorCodec('droppedOff', { user: 'int', session: 'string?' });
const scores = cursorCodec('anomalies', { score: 'number', user: 'int' });

/** A cursor built by hand in the documented layout: 6 check bytes (SHA-256 of the JSON), then the JSON. */
function handMade(payload: unknown[]): string {
  const json = Buffer.from(JSON.stringify(payload));
  return Buffer.concat([createHash('sha256').update(json).digest().subarray(0, 6), json]).toString('base64url');
}

/** The BAD_USER_INPUT error `decode` throws, or a failure when it throws nothing or something else. */
function refusal(decode: () => unknown): GraphQLError {
  try {
    decode();
  } catch (error) {
    expect(error).toBeInstanceOf(GraphQLError);
    expect((error as GraphQLError).extensions.code).toBe('BAD_USER_INPUT');
    expect((error as GraphQLError).message).toMatch(/Pass the endCursor of the previous page of this same list, or leave `after` out to start from the first page\.$/);
    return error as GraphQLError;
  }
  throw new Error('expected the cursor to be refused');
}

describe('cursor codec', () => {
  it('gives back the key it was given, for every kind of field', () => {
    const job = { createdAt: '2026-01-05T10:00:00.123456Z', id: '0b7e6c1e-5a8f-4c1d-9a3e-2f1d0c9b8a70' };
    expect(jobs.decode(jobs.encode(job))).toEqual(job);
    for (const unit of [
      { user: 1, session: null },
      { user: 2_147_483_647, session: 's-1' },
      { user: 3, session: '' },
      { user: 4, session: 'ünïcödé 浏览 🛒 "quoted" \\ back' },
      { user: 5, session: 'x'.repeat(200) },
    ]) {
      expect(units.decode(units.encode(unit))).toEqual(unit);
    }
    // Doubles come back bit for bit, whatever their size.
    for (const score of [0, 1, 0.1 + 0.2, 1 / 3, 5e-324, 1.7976931348623157e308, -2.5e-7, 123456789.123456789]) {
      expect(Object.is(scores.decode(scores.encode({ score, user: 7 })).score, score)).toBe(true);
    }
  });

  it('writes opaque base64url text that says which list and format it belongs to', () => {
    const cursor = units.encode({ user: 12, session: 'a' });
    expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(cursor).toBe(handMade([CURSOR_VERSION, 'droppedOff', 12, 'a']));
    expect(units.decodeAfter(null)).toBeNull();
    expect(units.decodeAfter(undefined)).toBeNull();
    expect(units.decodeAfter(cursor)).toEqual({ user: 12, session: 'a' });
  });

  it('refuses an empty cursor', () => {
    expect(refusal(() => units.decode('')).message).toMatch(/^`after` is empty\./);
    expect(refusal(() => units.decodeAfter('')).message).toMatch(/^`after` is empty\./);
  });

  it('refuses garbage: text that is not base64url, too short, too long, or not JSON inside', () => {
    for (const garbage of ['nonsense', 'garbage', 'a', '!!!!', 'abc def', 'a+b/c=', 'x'.repeat(5000), Buffer.from('[1,"droppedOff",1,null]').toString('base64url')]) {
      expect(refusal(() => units.decode(garbage)).message).toMatch(/^`after` (is not a cursor this API issued|was changed or cut short)/);
    }
    // Correct check bytes around something that is not the [version, list, …key] array.
    for (const payload of ['{"v":1}', 'not json', '[]', '[1]', '[1, 2]']) {
      const json = Buffer.from(payload);
      const cursor = Buffer.concat([createHash('sha256').update(json).digest().subarray(0, 6), json]).toString('base64url');
      expect(refusal(() => units.decode(cursor)).message).toMatch(/^`after` is not a cursor this API issued\./);
    }
  });

  it('refuses a cursor changed on the way: any byte flipped, cut short, or extended', () => {
    const cursor = units.encode({ user: 12, session: 'session-7' });
    const bytes = Buffer.from(cursor, 'base64url');
    for (let n = 0; n < bytes.length; n++) {
      for (const bit of [0x01, 0x80]) {
        const changed = Buffer.from(bytes);
        changed[n] ^= bit;
        refusal(() => units.decode(changed.toString('base64url')));
      }
    }
    for (let length = 0; length < cursor.length; length++) refusal(() => units.decode(cursor.slice(0, length)));
    refusal(() => units.decode(`${cursor}A`));
    refusal(() => units.decode(`${cursor}AAAA`));
    // Editing the readable JSON inside (another user) without fixing the check bytes.
    const edited = Buffer.concat([bytes.subarray(0, 6), Buffer.from(JSON.stringify([CURSOR_VERSION, 'droppedOff', 13, 'session-7']))]);
    expect(refusal(() => units.decode(edited.toString('base64url'))).message).toMatch(/was changed or cut short on the way/);
  });

  it('refuses a cursor of another list, naming both lists', () => {
    const job = jobs.encode({ createdAt: '2026-01-05T10:00:00.000000Z', id: '0b7e6c1e-5a8f-4c1d-9a3e-2f1d0c9b8a70' });
    expect(refusal(() => units.decode(job)).message).toMatch(/^`after` is a cursor of `trainingJobs`, not of `droppedOff`\./);
    // Same key shape, other list: still refused.
    const sameShape = cursorCodec('atRiskUsers', { score: 'number', user: 'int' });
    expect(refusal(() => scores.decode(sameShape.encode({ score: 0.5, user: 1 }))).message).toMatch(/is a cursor of `atRiskUsers`, not of `anomalies`/);
  });

  it('refuses a cursor of another format version', () => {
    expect(refusal(() => units.decode(handMade([0, 'droppedOff', 12, null]))).message).toMatch(/^`after` is a cursor of an older format \(version 0\)/);
    expect(refusal(() => units.decode(handMade(['1', 'droppedOff', 12, null]))).message).toMatch(/older format/);
  });

  it('refuses a well-formed cursor whose key does not fit the list', () => {
    const wrongKeys: unknown[][] = [
      [12], // too few fields
      [12, null, 'extra'], // too many
      [1.5, null], // not an integer
      ['12', null], // a string for an int
      [12, 7], // a number for a string
      [2 ** 53, null], // not a safe integer
    ];
    for (const key of wrongKeys) expect(refusal(() => units.decode(handMade([CURSOR_VERSION, 'droppedOff', ...key]))).message).toMatch(/is not a cursor of `droppedOff` as this API version writes them/);
    const badJobs: unknown[][] = [
      ['2026-01-05T10:00:00.123Z', '0b7e6c1e-5a8f-4c1d-9a3e-2f1d0c9b8a70'], // milliseconds only
      ['2026-01-05 10:00:00.123456+00', '0b7e6c1e-5a8f-4c1d-9a3e-2f1d0c9b8a70'],
      ['2026-01-05T10:00:00.123456Z', 'not-a-uuid'],
      ['2026-01-05T10:00:00.123456Z', '0B7E6C1E-5A8F-4C1D-9A3E-2F1D0C9B8A70'], // PostgreSQL prints lower case
    ];
    for (const key of badJobs) refusal(() => jobs.decode(handMade([CURSOR_VERSION, 'trainingJobs', ...key])));
    refusal(() => scores.decode(handMade([CURSOR_VERSION, 'anomalies', null, 1]))); // JSON writes NaN and Infinity as null
  });

  it('will not write a key that could not be read back', () => {
    expect(() => scores.encode({ score: Number.NaN, user: 1 })).toThrow(/anomalies cursor: score = NaN does not fit its kind \(number\)/);
    expect(() => scores.encode({ score: Infinity, user: 1 })).toThrow(/does not fit its kind \(number\)/);
    expect(() => units.encode({ user: 1.5, session: null })).toThrow(/user = 1.5 does not fit its kind \(int\)/);
    expect(() => jobs.encode({ createdAt: new Date(0).toISOString(), id: '0b7e6c1e-5a8f-4c1d-9a3e-2f1d0c9b8a70' })).toThrow(/does not fit its kind \(instant\)/);
  });
});
