import { characterProblem, LAST_INSTANT_MS, MAX_ID_LENGTH } from '../graphql/input-rules';
import { readEventTimestamp, type TimestampReading } from './event-time';
import { EVENT_TYPE_PATTERN, EVENT_TYPE_RULE, normaliseEventType, type CatalogItem, type ShopEvent } from './event.types';

/**
 * The checks every event and item must pass whatever its source (GraphQL ingest, file import, the
 * generator), so a bad record becomes a reject with a reason instead of failing a whole batch in
 * PostgreSQL (NUL in text, over-long keys, \u0000 in jsonb, …). Character and length rules come
 * from graphql/input-rules.ts, the same ones every GraphQL argument passes.
 */
export type RejectCode =
  | 'MALFORMED_ROW'
  | 'UNKNOWN_EVENT_TYPE'
  | 'INVALID_EVENT_TYPE'
  | 'MISSING_EVENT_ID'
  | 'MISSING_USER'
  | 'MISSING_ITEM'
  | 'EMPTY_ID'
  | 'ID_TOO_LONG'
  | 'MISSING_TIMESTAMP'
  | 'BAD_TIMESTAMP'
  | 'IMPLAUSIBLE_TIMESTAMP'
  | 'FUTURE_TIMESTAMP'
  | 'BAD_PROPERTIES'
  | 'PROPERTIES_TOO_LARGE'
  | 'BAD_PRICE'
  | 'BEYOND_RETENTION'
  | 'TOO_OLD';

export interface RecordProblem {
  code: RejectCode;
  message: string;
}

/** The one id-length limit of the API, ingest and import (see graphql/input-rules.ts). */
export { MAX_ID_LENGTH };
const LAST_MS = LAST_INSTANT_MS;

function idProblem(name: string, value: string | null | undefined, required: RejectCode | null): RecordProblem | null {
  if (value === null || value === undefined || value.length === 0) {
    return required === null ? null : { code: required, message: `${name} is ${value === '' ? 'empty' : 'missing'}; every event needs one` };
  }
  if (value.trim().length === 0) {
    return { code: required ?? 'EMPTY_ID', message: `${name} is blank; send a non-empty id${required ? '' : ' or leave it out'}` };
  }
  if (value.length > MAX_ID_LENGTH) return { code: 'ID_TOO_LONG', message: `${name} is longer than ${MAX_ID_LENGTH} characters` };
  const characters = characterProblem(value);
  if (characters) return { code: 'MALFORMED_ROW', message: `${name} ${characters}` };
  return null;
}

function textProblem(name: string, value: string | null | undefined): RecordProblem | null {
  if (value === null || value === undefined) return null;
  if (typeof value !== 'string') return { code: 'MALFORMED_ROW', message: `${name} must be text` };
  const characters = characterProblem(value);
  return characters ? { code: 'MALFORMED_ROW', message: `${name} ${characters}` } : null;
}

/**
 * Serialises properties for jsonb, or explains why they cannot be stored. JSON.stringify writes
 * NUL and lone surrogates as \u escapes, which jsonb refuses, so those are caught here.
 */
export function serialiseProperties(
  properties: Record<string, unknown> | null | undefined,
  maxBytes: number,
  name = 'properties',
): string | null | RecordProblem {
  if (properties === null || properties === undefined) return null;
  if (typeof properties !== 'object' || Array.isArray(properties)) {
    return { code: 'BAD_PROPERTIES', message: `${name} must be a JSON object such as {"device":"mobile"}` };
  }
  let json: string;
  try {
    json = JSON.stringify(properties);
  } catch {
    return { code: 'BAD_PROPERTIES', message: `${name} cannot be written as JSON` };
  }
  if (json.length * 3 > maxBytes && Buffer.byteLength(json) > maxBytes) {
    return { code: 'PROPERTIES_TOO_LARGE', message: `${name} is larger than ${maxBytes} bytes as JSON` };
  }
  if (json.includes('\\u') && /\\u0000|\\ud[89a-f]/i.test(json)) {
    return { code: 'BAD_PROPERTIES', message: `${name} contains a NUL character or a broken surrogate pair` };
  }
  // JSON.stringify writes Infinity and NaN (1e400 in a request body parses to Infinity) as null:
  // refuse them rather than store a different value. Only JSON with a null can hold one.
  const nonFinite = json.includes('null') ? nonFinitePath(properties, name) : null;
  if (nonFinite !== null) {
    return { code: 'BAD_PROPERTIES', message: `${nonFinite} is not a finite number (too large for a double); send it as a string` };
  }
  return json;
}

function nonFinitePath(value: unknown, path: string): string | null {
  if (typeof value === 'number') return Number.isFinite(value) ? null : path;
  if (typeof value !== 'object' || value === null) return null;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = nonFinitePath(value[i], `${path}[${i}]`);
      if (found !== null) return found;
    }
    return null;
  }
  for (const key of Object.keys(value)) {
    const found = nonFinitePath((value as Record<string, unknown>)[key], `${path}.${key}`);
    if (found !== null) return found;
  }
  return null;
}

/**
 * The one check of an event for every write path (GraphQL ingest, file import, importRecords,
 * the generator): a type by EVENT_TYPE_PATTERN, a timestamp from 1970 to at most
 * MAX_CLOCK_SKEW_MS after `now`, and ids by the shared id rules. `type` must already be
 * normalised (normaliseEventType). Returns the first problem, or null.
 */
export function eventProblem(event: ShopEvent, now: number): RecordProblem | null {
  for (const [name, value] of [['eventId', event.eventId], ['userId', event.userId], ['sessionId', event.sessionId], ['itemId', event.itemId]] as const) {
    if (value !== null && value !== undefined && typeof value !== 'string') {
      return { code: 'MALFORMED_ROW', message: `${name} must be a string (got ${typeof value})` };
    }
  }
  if (event.type === null || event.type === undefined || event.type === '') {
    return { code: 'INVALID_EVENT_TYPE', message: `type is missing; send an event type: ${EVENT_TYPE_RULE}` };
  }
  if (typeof event.type !== 'string' || !EVENT_TYPE_PATTERN.test(event.type)) {
    return { code: 'INVALID_EVENT_TYPE', message: `type ${JSON.stringify(event.type)} is not an event type: ${EVENT_TYPE_RULE}` };
  }
  const timestamp = event.timestamp;
  if (!Number.isInteger(timestamp) || timestamp < 0 || timestamp > LAST_MS) {
    return { code: 'BAD_TIMESTAMP', message: `timestamp ${timestamp} is not epoch milliseconds between 1970 and 9999` };
  }
  if (timestamp > now + MAX_CLOCK_SKEW_MS) {
    return {
      code: 'FUTURE_TIMESTAMP',
      message: `timestamp ${new Date(timestamp).toISOString()} is more than a day after ${new Date(now).toISOString()}; send the time the event happened`,
    };
  }
  return (
    idProblem('eventId', event.eventId, 'MISSING_EVENT_ID') ??
    idProblem('userId', event.userId, 'MISSING_USER') ??
    idProblem('itemId', event.itemId, null) ??
    idProblem('sessionId', event.sessionId, null)
  );
}

/** Prices must fit numeric(14,2). */
export function priceProblem(price: number | null | undefined): RecordProblem | null {
  if (price === null || price === undefined) return null;
  if (typeof price !== 'number' || !Number.isFinite(price) || price < 0 || price >= 1e12) {
    return { code: 'BAD_PRICE', message: `price ${price} is not a non-negative number below 10^12` };
  }
  return null;
}

export function itemProblem(item: CatalogItem): RecordProblem | null {
  if (typeof item.itemId !== 'string') return { code: 'MISSING_ITEM', message: 'itemId must be a string' };
  if (item.available !== undefined && typeof item.available !== 'boolean') {
    return { code: 'MALFORMED_ROW', message: 'available must be true or false' };
  }
  return (
    idProblem('itemId', item.itemId, 'MISSING_ITEM') ??
    textProblem('title', item.title) ??
    textProblem('category', item.category) ??
    textProblem('brand', item.brand) ??
    priceProblem(item.price)
  );
}

/**
 * Latest timestamp any write path accepts, relative to now: events are reported after they
 * happen, give or take a sender's wrong clock. Import holds to it too, so a file cannot store what
 * the API would refuse.
 */
export const MAX_CLOCK_SKEW_MS = 24 * 60 * 60 * 1000;

/** An event as a GraphQL client sent it: every field may be missing or null, the timestamp is as written. */
export interface IncomingEvent {
  eventId?: string | null;
  type?: string | null;
  userId?: string | null;
  sessionId?: string | null;
  itemId?: string | null;
  timestamp?: unknown;
  properties?: unknown;
}

/** How ingest reads numeric timestamps: milliseconds, and a refusal that says what to send instead. */
const INGEST_TIMESTAMPS: TimestampReading = {
  unit: 'ms',
  unitHint: 'send milliseconds since 1970 (multiply seconds by 1000) or ISO 8601 text',
};

/**
 * The ingest path's check of one event as a client sent it: the timestamp read by
 * readEventTimestamp (ISO 8601 with a zone, or epoch milliseconds), then eventProblem, then the
 * properties. Returns the problem, or the event to store with its serialised properties.
 */
export function incomingEventProblem(
  event: IncomingEvent,
  maxPropertiesBytes: number,
  now = Date.now(),
): RecordProblem | { event: ShopEvent; properties: string | null } {
  const timestamp = readEventTimestamp(event.timestamp, INGEST_TIMESTAMPS);
  const shopEvent: ShopEvent = {
    eventId: event.eventId as string,
    type: normaliseEventType(event.type) as string,
    userId: event.userId as string,
    // An empty optional id means "none", as the schema says.
    sessionId: event.sessionId || null,
    itemId: event.itemId || null,
    timestamp: typeof timestamp === 'number' ? timestamp : 0,
    properties: null,
  };
  // An unreadable timestamp stands in as 0, which passes, so the other fields are judged too.
  const problem = eventProblem(shopEvent, now);
  if (problem) return problem;
  if (typeof timestamp !== 'number') return timestamp;
  const properties = serialiseProperties(event.properties as Record<string, unknown> | null | undefined, maxPropertiesBytes);
  return typeof properties === 'object' && properties !== null ? properties : { event: shopEvent, properties };
}
