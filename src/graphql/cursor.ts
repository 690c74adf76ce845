import { createHash } from 'node:crypto';
import { badInput } from './errors';

/**
 * Page cursors: one opaque format for every list of the API.
 *
 * A cursor is base64url of 6 check bytes followed by the UTF-8 JSON array
 * `[CURSOR_VERSION, list, ...key]`:
 * - the version lets a later release change a list's key and refuse older cursors by saying so;
 * - `list` is the GraphQL field that issued it, so a cursor of `trainingJobs` handed to
 *   `anomalies` is refused instead of being read as a position in another order;
 * - `key` is the keyset position of the last row shown, in the fields the list declares.
 *
 * The check bytes (the start of SHA-256 over the JSON) catch a cursor cut short or edited on the
 * way. They are not a signature: a cursor holds nothing but a position in a list its holder may
 * read anyway, so a forged one reveals nothing, and cursors need no secret shared by the API
 * processes to stay valid across processes and restarts.
 */
export const CURSOR_VERSION = 1;

const CHECK_BYTES = 6;
/** Far longer than any cursor we issue (the longest key is a 200-character session id). */
const MAX_CURSOR_LENGTH = 2048;
const BASE64URL = /^[A-Za-z0-9_-]+$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;

/**
 * The kinds of value a key field holds:
 * - `int`: a safe integer (dense ids, epoch milliseconds);
 * - `number`: a finite float8, carried exactly (JSON writes the shortest text that reads back the same double);
 * - `string`, `string?` (string or null);
 * - `uuid`: lower-case, as PostgreSQL prints uuids;
 * - `instant`: a PostgreSQL timestamptz to the microsecond, as `instantKeySql` writes it
 *   ("2026-01-05T10:00:00.123456Z"); a JS Date would drop the microseconds and skip rows.
 */
export type KeyFieldKind = 'int' | 'number' | 'string' | 'string?' | 'uuid' | 'instant';

type ValueOf<K extends KeyFieldKind> = K extends 'int' | 'number' ? number : K extends 'string?' ? string | null : string;

/** A list's key: field names and their kinds, in the order they are written into the cursor. */
export type KeySchema = Record<string, KeyFieldKind>;

export type KeyOf<S extends KeySchema> = { [F in keyof S]: ValueOf<S[F]> };

const ACCEPTS: Record<KeyFieldKind, (value: unknown) => boolean> = {
  int: (value) => Number.isSafeInteger(value),
  number: (value) => typeof value === 'number' && Number.isFinite(value),
  string: (value) => typeof value === 'string',
  'string?': (value) => value === null || typeof value === 'string',
  uuid: (value) => typeof value === 'string' && UUID.test(value),
  instant: (value) => typeof value === 'string' && INSTANT.test(value),
};

/** SQL text of a timestamptz column as an `instant` key field: UTC, microseconds, whatever the session's TimeZone and DateStyle. */
export function instantKeySql(column: string): string {
  return `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;
}

/** Encodes and decodes the cursors of one list. */
export interface CursorCodec<Key> {
  /** The GraphQL field whose cursors these are, e.g. "trainingJobs". */
  readonly list: string;
  /** The opaque cursor (base64url, about 40–300 characters) of the row at `key`. */
  encode(key: Key): string;
  /**
   * The key in `cursor`. Throws BAD_USER_INPUT, with a message that says what to pass instead,
   * when the cursor is empty, garbled, cut short, edited, of an older format or of another list.
   */
  decode(cursor: string): Key;
  /** `decode` for an optional `after` argument: null or undefined (the first page) gives null; an empty string is refused. */
  decodeAfter(after: string | null | undefined): Key | null;
}

function checkOf(json: Buffer): Buffer {
  return createHash('sha256').update(json).digest().subarray(0, CHECK_BYTES);
}

const PASS_END_CURSOR = 'Pass the endCursor of the previous page of this same list, or leave `after` out to start from the first page.';

function cursorProblem(problem: string): never {
  throw badInput(`\`after\` ${problem}. ${PASS_END_CURSOR}`);
}

/** The [version, list, ...key] array inside `cursor`, after checking it is whole and unchanged. */
function unwrap(cursor: string): unknown[] {
  if (cursor === '') cursorProblem('is empty');
  if (cursor.length > MAX_CURSOR_LENGTH || !BASE64URL.test(cursor)) cursorProblem('is not a cursor this API issued');
  const bytes = Buffer.from(cursor, 'base64url');
  // Base64url has several spellings of the same bytes only when trailing bits are changed; refuse those too.
  if (bytes.length <= CHECK_BYTES || bytes.toString('base64url') !== cursor) cursorProblem('is not a cursor this API issued, or was cut short');
  const json = bytes.subarray(CHECK_BYTES);
  if (!checkOf(json).equals(bytes.subarray(0, CHECK_BYTES))) cursorProblem('was changed or cut short on the way (its check bytes do not match)');
  let payload: unknown;
  try {
    payload = JSON.parse(json.toString('utf8'));
  } catch {
    cursorProblem('is not a cursor this API issued');
  }
  if (!Array.isArray(payload) || payload.length < 2 || typeof payload[1] !== 'string') cursorProblem('is not a cursor this API issued');
  return payload;
}

/**
 * The codec of the list `list` (its GraphQL field name) whose rows are ordered by the fields of
 * `schema`. The key's fields are written in the schema's order and checked against their kinds
 * when read back.
 */
export function cursorCodec<S extends KeySchema>(list: string, schema: S): CursorCodec<KeyOf<S>> {
  const fields = Object.keys(schema) as (keyof S & string)[];
  const decode = (cursor: string): KeyOf<S> => {
    const [version, from, ...values] = unwrap(cursor);
    if (version !== CURSOR_VERSION) cursorProblem(`is a cursor of an older format (version ${JSON.stringify(version)}); cursors do not outlive an upgrade`);
    if (from !== list) cursorProblem(`is a cursor of \`${String(from)}\`, not of \`${list}\``);
    if (values.length !== fields.length || fields.some((field, n) => !ACCEPTS[schema[field]](values[n]))) cursorProblem(`is not a cursor of \`${list}\` as this API version writes them`);
    return Object.fromEntries(fields.map((field, n) => [field, values[n]])) as KeyOf<S>;
  };
  return {
    list,
    encode(key) {
      for (const field of fields) {
        if (!ACCEPTS[schema[field]](key[field])) throw new Error(`${list} cursor: ${field} = ${String(key[field])} does not fit its kind (${schema[field]})`);
      }
      const json = Buffer.from(JSON.stringify([CURSOR_VERSION, list, ...fields.map((field) => key[field])]), 'utf8');
      return Buffer.concat([checkOf(json), json]).toString('base64url');
    },
    decode,
    decodeAfter: (after) => (after === null || after === undefined ? null : decode(after)),
  };
}
