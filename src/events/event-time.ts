import { FIRST_INSTANT_MS, LAST_INSTANT_MS } from '../graphql/input-rules';

/**
 * How an event's time is read, the same for GraphQL ingest and every import format, so a value
 * means one instant whichever way it arrives. The grammar is written out in docs/data-model.md
 * ("Timestamps"); keep the two in step.
 */

/** The unit of a numeric timestamp: Unix seconds or milliseconds since 1970-01-01T00:00:00Z. */
export type TimestampUnit = 's' | 'ms';
export const TIMESTAMP_UNITS: readonly TimestampUnit[] = ['s', 'ms'];

/**
 * Numbers at or above this read as milliseconds, below it as seconds: 10^11 ms is 1973-03-03 and
 * 10^11 s is the year 5138, so every instant an event can plausibly carry (1973 to now) has a
 * numeric form in exactly one unit on each side. A value on the wrong side is refused, with the
 * other unit's reading as a hint, instead of being stored fifty years off.
 */
export const SECONDS_MILLISECONDS_BOUNDARY = 1e11;

export interface TimestampProblem {
  code: 'MISSING_TIMESTAMP' | 'BAD_TIMESTAMP' | 'IMPLAUSIBLE_TIMESTAMP';
  message: string;
}

/**
 * RFC 3339 `date-time` (what the GraphQL `DateTime` scalar read before) widened by the ISO 8601
 * forms the importer always took: a bare date (midnight UTC), minutes without seconds, an offset
 * without its colon. T/Z may be lower case (RFC 3339 §5.6). Any number of fraction digits; the
 * instant is kept to the millisecond (truncated, as PostgreSQL would round only below that).
 */
const ISO_DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})(?:[Tt](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?([Zz]|[+-]\d{2}:?\d{2}))?$/;
/** Something that looks like a date-time with a space for the T, or no zone, to say what to change. */
const SPACED = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}/;
const NO_ZONE = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?$/;

const EXAMPLES = 'e.g. 2025-03-12T00:00:12Z or 2025-03-12T01:00:12.500+01:00';

function show(value: unknown): string {
  const text = typeof value === 'string' ? JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}…` : value) : String(value);
  return text;
}

function offsetMinutes(zone: string): number | null {
  if (zone.length === 1) return 0; // Z or z
  const hours = +zone.slice(1, 3);
  const minutes = +zone.slice(zone.length - 2);
  if (hours > 23 || minutes > 59) return null;
  return (zone.charCodeAt(0) === 45 ? -1 : 1) * (hours * 60 + minutes);
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil). */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yearOfEra = y - era * 400;
  const dayOfYear = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1;
  return era * 146_097 + yearOfEra * 365 + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100) + dayOfYear - 719_468;
}

/**
 * Milliseconds since the epoch of an ISO 8601 text (see ISO_DATE_TIME), or null when the text is
 * not one or names an impossible date (31 April, 29 February 2025, hour 24, second 60). Parsed by
 * hand: `Date.parse` accepts more forms than it promises, some in the machine's own zone; and
 * without a Date object per call, since import reads millions of these.
 */
export function parseIsoInstant(text: string): number | null {
  const m = ISO_DATE_TIME.exec(text);
  if (m === null) return null;
  const year = +m[1];
  const month = +m[2];
  const day = +m[3];
  if (month < 1 || month > 12 || day < 1) return null;
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  if (day > (month === 2 && leap ? 29 : DAYS_IN_MONTH[month - 1])) return null;
  let ms = daysFromCivil(year, month, day) * 86_400_000;
  if (m[4] === undefined) return ms;
  const hour = +m[4];
  const minute = +m[5];
  const second = m[6] === undefined ? 0 : +m[6];
  if (hour > 23 || minute > 59 || second > 59) return null;
  const offset = offsetMinutes(m[8]);
  if (offset === null) return null;
  ms += ((hour * 60 + minute - offset) * 60 + second) * 1000;
  if (m[7] !== undefined) ms += m[7].length >= 3 ? +m[7].slice(0, 3) : +m[7] * 10 ** (3 - m[7].length);
  return ms;
}

function rangeProblem(ms: number, written: string): TimestampProblem | null {
  if (ms < FIRST_INSTANT_MS || ms > LAST_INSTANT_MS) {
    return { code: 'BAD_TIMESTAMP', message: `timestamp ${written} is outside 1970-01-01T00:00:00Z to 9999-12-31T23:59:59.999Z` };
  }
  return null;
}

/** Reads a number in the given unit; `written` is how it appeared, for messages. */
function fromNumber(value: number, unit: TimestampUnit, written: string, unitHint: string): number | TimestampProblem {
  if (!Number.isFinite(value) || value < 0) {
    return { code: 'BAD_TIMESTAMP', message: `timestamp ${written} is not a non-negative number of ${unit === 's' ? 'seconds' : 'milliseconds'} since 1970` };
  }
  if (unit === 'ms') {
    if (!Number.isInteger(value)) {
      return { code: 'BAD_TIMESTAMP', message: `timestamp ${written} is not a whole number of milliseconds since 1970` };
    }
    if (value < SECONDS_MILLISECONDS_BOUNDARY) {
      return {
        code: 'IMPLAUSIBLE_TIMESTAMP',
        message:
          `timestamp ${written} read as milliseconds is ${new Date(value).toISOString()}, which looks like seconds ` +
          `(${new Date(value * 1000).toISOString()}); ${unitHint.replace('UNIT', 's')}`,
      };
    }
    return rangeProblem(value, written) ?? value;
  }
  if (value >= SECONDS_MILLISECONDS_BOUNDARY) {
    return {
      code: 'IMPLAUSIBLE_TIMESTAMP',
      message:
        `timestamp ${written} read as seconds is beyond the year 5000, which looks like milliseconds ` +
        `(${value <= LAST_INSTANT_MS ? new Date(value).toISOString() : 'still out of range'}); ${unitHint.replace('UNIT', 'ms')}`,
    };
  }
  // Seconds may carry a fraction (Python's time.time()); milliseconds are what is stored.
  return Math.round(value * 1000);
}

const DIGITS = /^\d{1,20}(?:\.\d{1,9})?$/;

export interface TimestampReading {
  /** Unit of numbers and of digit-only strings. */
  unit: TimestampUnit;
  /**
   * What to tell a sender whose numbers look like the other unit; `UNIT` stands for that unit.
   * The CLI says "use --timestamp-unit UNIT", the API "send …".
   */
  unitHint: string;
}

/**
 * An event's timestamp as a sender wrote it, in milliseconds since the epoch, or the reason it
 * cannot be stored: ISO 8601 text with a zone (see ISO_DATE_TIME), or a number (or a string of
 * digits) in `reading.unit`. Numbers on the wrong side of SECONDS_MILLISECONDS_BOUNDARY for their
 * unit are IMPLAUSIBLE_TIMESTAMP, with the other unit's reading in the message. Does not judge
 * the future: that is eventProblem's rule, the same for ingest and import.
 */
export function readEventTimestamp(value: unknown, reading: TimestampReading): number | TimestampProblem {
  if (value === null || value === undefined || value === '') {
    return { code: 'MISSING_TIMESTAMP', message: `timestamp is missing; send when the event happened, ${EXAMPLES}` };
  }
  if (typeof value === 'number') return fromNumber(value, reading.unit, String(value), reading.unitHint);
  if (typeof value !== 'string') {
    return { code: 'BAD_TIMESTAMP', message: `timestamp must be ISO 8601 text or a number, not ${Array.isArray(value) ? 'a list' : typeof value}` };
  }
  if (DIGITS.test(value)) return fromNumber(Number(value), reading.unit, show(value), reading.unitHint);
  const ms = parseIsoInstant(value);
  if (ms !== null) return rangeProblem(ms, show(value)) ?? ms;
  let fix = `send ISO 8601 with a zone (${EXAMPLES}) or a number of ${reading.unit === 's' ? 'seconds' : 'milliseconds'} since 1970`;
  if (SPACED.test(value)) fix = `put a T between the date and the time (${value.replace(' ', 'T').slice(0, 40)})`;
  else if (NO_ZONE.test(value)) fix = `add the zone: Z for UTC or an offset such as +01:00 (${value}Z)`;
  else if (ISO_DATE_TIME.test(value)) fix = 'the date or time does not exist (month 1–12, a day the month has, hour 0–23, minute and second 0–59)';
  return { code: 'BAD_TIMESTAMP', message: `timestamp ${show(value)} is not a timestamp Funnelcast reads: ${fix}` };
}
