import { createHash, hash } from 'node:crypto';
import { FIRST_INSTANT_MS, LAST_INSTANT_MS } from '../../graphql/input-rules';
import { isLosslessNumber, parse as parseLossless } from 'lossless-json';
import { readEventTimestamp, type TimestampProblem, type TimestampReading, type TimestampUnit } from '../event-time';
import type { CatalogItem } from '../event.types';
import { parseQuotedRow, type TextRow } from './csv-reader';
import type { ImportFormat, ImportRecord, ItemFacts, RejectCode } from './import.types';

/** How one file format turns its rows into events and catalog facts. */
export interface FormatReader {
  format: ImportFormat;
  /** The name people know the dataset by, for messages. */
  label: string;
  mode: 'csv' | 'lines';
  /** The header line as the dataset ships it; null for formats without one. */
  header: string | null;
  headerRequired: boolean;
  /** The unit of numeric timestamps when the import does not name one: the dataset's own. */
  timestampUnit: TimestampUnit;
  toRecord(row: TextRow, options?: ReadOptions): ImportRecord;
}

/** How an import reads its rows beyond the format itself. */
export interface ReadOptions {
  /** Unit of numeric timestamps; the format's own when left out. */
  timestampUnit?: TimestampUnit;
}

const readings = new Map<TimestampUnit, TimestampReading>(
  (['s', 'ms'] as const).map((unit) => [unit, { unit, unitHint: 'run the import with --timestamp-unit UNIT (timestampUnit in code)' }]),
);

/** A timestamp field read by the shared rules of event-time.ts, in the import's unit. */
function timestampOf(value: unknown, reader: FormatReader, options: ReadOptions | undefined): number | TimestampProblem {
  return readEventTimestamp(value, readings.get(options?.timestampUnit ?? reader.timestampUnit)!);
}

function isNumeric(value: unknown): boolean {
  return typeof value === 'number' || (typeof value === 'string' && value.length > 0 && value.charCodeAt(0) >= 48 && value.charCodeAt(0) <= 57 && !value.includes('-'));
}


function reject(row: TextRow, code: RejectCode, message: string): ImportRecord {
  return { kind: 'reject', line: row.line, code, message };
}

function timestampReject(row: TextRow, problem: TimestampProblem, column: string): ImportRecord {
  return reject(row, problem.code, column === 'timestamp' ? problem.message : problem.message.replace(/^timestamp/, column));
}

function columnCountReject(row: TextRow, expected: number, header: string): ImportRecord {
  return reject(row, 'MALFORMED_ROW', `expected ${expected} columns (${header}), found ${row.fields.length}`);
}

/**
 * Datasets without their own event ids get one from the row's text and line, so the same file
 * imported twice is stored once while identical rows inside the file are each kept.
 */
function derivedEventId(prefix: string, row: TextRow): string {
  return `${prefix}:${sha1Hex(row.text).slice(0, 16)}:${row.line}`;
}

/** The one-shot `crypto.hash` (Node ≥ 20.12) is several times faster than a Hash object per row. */
const sha1Hex: (text: string) => string =
  typeof hash === 'function' ? (text) => hash('sha1', text, 'hex') : (text) => createHash('sha1').update(text).digest('hex');

function inRange(ms: number | null): ms is number {
  return ms !== null && ms >= FIRST_INSTANT_MS && ms <= LAST_INSTANT_MS;
}

const SPACED_UTC = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?(?: ?UTC|Z)?$/;

/** `2019-10-01 00:00:00 UTC`, REES46's form; parsed by hand because `Date.parse` does not promise to read it. */
export function parseUtcDateTime(text: string): number | null {
  const m = SPACED_UTC.exec(text);
  if (m === null) return null;
  const [year, month, day, hour, minute, second] = [m[1], m[2], m[3], m[4], m[5], m[6]].map(Number);
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 59) return null;
  const ms = Date.UTC(year, month - 1, day, hour, minute, second) + (m[7] ? Math.floor(Number(`0.${m[7]}`) * 1000) : 0);
  // Date.UTC rolls 31 April over into May; a real date comes back with the same day.
  if (new Date(ms).getUTCDate() !== day) return null;
  return ms;
}

// Maps, not object literals: a behaviour column reading "constructor" must be refused, not find Object.prototype's.
const TAOBAO_BEHAVIOURS = new Map([
  ['pv', 'view'],
  ['cart', 'cart'],
  ['fav', 'fav'],
  ['buy', 'purchase'],
]);

const taobao: FormatReader = {
  format: 'taobao',
  label: 'Taobao UserBehavior',
  mode: 'csv',
  header: 'user_id,item_id,category_id,behavior_type,timestamp',
  headerRequired: false,
  timestampUnit: 's',
  toRecord(row, options) {
    const f = row.fields;
    if (f.length !== 5) return columnCountReject(row, 5, taobao.header!);
    const type = TAOBAO_BEHAVIOURS.get(f[3]);
    if (type === undefined) return reject(row, 'UNKNOWN_EVENT_TYPE', `behavior_type "${f[3]}" is not pv, cart, fav or buy`);
    if (f[0].length === 0) return reject(row, 'MISSING_USER', 'user_id is empty');
    if (f[1].length === 0) return reject(row, 'MISSING_ITEM', 'item_id is empty');
    const timestamp = timestampOf(f[4], taobao, options);
    if (typeof timestamp !== 'number') return timestampReject(row, timestamp, 'timestamp');
    const category = f[2].length > 0 ? f[2] : null;
    return {
      kind: 'event',
      line: row.line,
      numericTimestamp: true,
      event: {
        eventId: derivedEventId('taobao', row),
        type,
        userId: f[0],
        sessionId: null,
        itemId: f[1],
        timestamp,
        properties: category === null ? null : { categoryId: category },
      },
      itemFacts: category === null ? undefined : { category },
    };
  },
};

const REES46_TYPES = new Set(['view', 'cart', 'remove_from_cart', 'purchase']);
const REES46_HEADER = 'event_time,event_type,product_id,category_id,category_code,brand,price,user_id,user_session';

/** Prices fit numeric(14,2); anything else is a data error, not something to round away. */
export function parsePrice(text: string): number | null | undefined {
  if (text.length === 0) return null;
  const price = Number(text);
  return Number.isFinite(price) && price >= 0 && price < 1e12 ? price : undefined;
}

const rees46: FormatReader = {
  format: 'rees46',
  label: 'REES46',
  mode: 'csv',
  header: REES46_HEADER,
  headerRequired: false,
  timestampUnit: 'ms', // its times are text; the unit applies to nothing
  toRecord(row) {
    const f = row.fields;
    // user_session is the last column and may be empty; a row cut off before it (the published
    // excerpt ends that way) still says who did what, so it is kept without a session.
    if (f.length !== 9 && f.length !== 8) return columnCountReject(row, 9, REES46_HEADER);
    const type = f[1];
    if (!REES46_TYPES.has(type)) return reject(row, 'UNKNOWN_EVENT_TYPE', `event_type "${type}" is not view, cart, remove_from_cart or purchase`);
    if (f[7].length === 0) return reject(row, 'MISSING_USER', 'user_id is empty');
    if (f[2].length === 0) return reject(row, 'MISSING_ITEM', 'product_id is empty');
    const timestamp = parseUtcDateTime(f[0]);
    if (!inRange(timestamp)) return reject(row, 'BAD_TIMESTAMP', `event_time "${f[0]}" is not like 2019-10-01 00:00:00 UTC`);
    const price = parsePrice(f[6]);
    if (price === undefined) return reject(row, 'BAD_PRICE', `price "${f[6]}" is not a non-negative number below 10^12`);
    const categoryId = f[3];
    const categoryCode = f[4];
    const brand = f[5].length > 0 ? f[5] : null;
    const properties: Record<string, unknown> = {};
    if (categoryId.length > 0) properties.categoryId = categoryId;
    if (categoryCode.length > 0) properties.categoryCode = categoryCode;
    if (brand !== null) properties.brand = brand;
    if (price !== null) properties.price = price;
    const session = f.length === 9 && f[8].length > 0 ? f[8] : null;
    const itemFacts: ItemFacts = { category: categoryCode || categoryId || null, brand, price };
    return {
      kind: 'event',
      line: row.line,
      event: {
        eventId: derivedEventId('rees46', row),
        type,
        userId: f[7],
        sessionId: session,
        itemId: f[2],
        timestamp,
        properties,
      },
      itemFacts,
    };
  },
};

const RETAILROCKET_EVENTS = new Map([
  ['view', 'view'],
  ['addtocart', 'cart'],
  ['transaction', 'purchase'],
]);

const retailrocket: FormatReader = {
  format: 'retailrocket',
  label: 'RetailRocket events.csv',
  mode: 'csv',
  header: 'timestamp,visitorid,event,itemid,transactionid',
  headerRequired: false,
  timestampUnit: 'ms',
  toRecord(row, options) {
    const f = row.fields;
    if (f.length !== 5) return columnCountReject(row, 5, retailrocket.header!);
    const type = RETAILROCKET_EVENTS.get(f[2]);
    if (type === undefined) return reject(row, 'UNKNOWN_EVENT_TYPE', `event "${f[2]}" is not view, addtocart or transaction`);
    if (f[1].length === 0) return reject(row, 'MISSING_USER', 'visitorid is empty');
    if (f[3].length === 0) return reject(row, 'MISSING_ITEM', 'itemid is empty');
    const timestamp = timestampOf(f[0], retailrocket, options);
    if (typeof timestamp !== 'number') return timestampReject(row, timestamp, 'timestamp');
    return {
      kind: 'event',
      line: row.line,
      numericTimestamp: true,
      event: {
        eventId: derivedEventId('retailrocket', row),
        type,
        userId: f[1],
        sessionId: null,
        itemId: f[3],
        timestamp,
        properties: f[4].length > 0 ? { transactionId: f[4] } : null,
      },
    };
  },
};

/** Parses a properties value that must be a JSON object; null for "none"; a string explaining the problem otherwise. */
function propertiesFromJsonText(text: string): Record<string, unknown> | null | string {
  if (text.length === 0) return null;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return 'properties is not valid JSON';
  }
  return propertiesFromValue(value);
}

function propertiesFromValue(value: unknown): Record<string, unknown> | null | string {
  if (value === null || value === undefined) return null;
  if (typeof value !== 'object' || Array.isArray(value)) return 'properties must be a JSON object';
  return value as Record<string, unknown>;
}

const FUNNELCAST_HEADER = 'event_id,type,user_id,session_id,item_id,timestamp,properties';

const funnelcastCsv: FormatReader = {
  format: 'funnelcast-csv',
  label: 'Funnelcast CSV',
  mode: 'csv',
  header: FUNNELCAST_HEADER,
  headerRequired: true,
  timestampUnit: 'ms',
  toRecord(row, options) {
    const f = row.fields;
    if (f.length !== 7) return columnCountReject(row, 7, FUNNELCAST_HEADER);
    if (f[0].length === 0) return reject(row, 'MISSING_EVENT_ID', 'event_id is empty');
    const timestamp = timestampOf(f[5], funnelcastCsv, options);
    if (typeof timestamp !== 'number') return timestampReject(row, timestamp, 'timestamp');
    const properties = propertiesFromJsonText(f[6]);
    if (typeof properties === 'string') return reject(row, 'BAD_PROPERTIES', properties);
    return {
      kind: 'event',
      line: row.line,
      numericTimestamp: isNumeric(f[5]),
      event: {
        eventId: f[0],
        type: f[1],
        userId: f[2],
        sessionId: f[3] || null,
        itemId: f[4] || null,
        timestamp,
        properties,
      },
    };
  },
};

/** Fields of an NDJSON event line, and of its `item` object, that hold ids. */
const NDJSON_ID_FIELDS = ['eventId', 'userId', 'sessionId', 'itemId'] as const;

/**
 * Whether JSON.parse may have changed a numeric id: a number above 2^53 - 1 (rounded to a double)
 * or not a whole one (1.5, and 1e3 or 1000.0, whose text is not their digits). A safe integer
 * written as plain digits, the usual numeric id, reads back exactly as String(n).
 */
function numericIdNeedsText(value: unknown, text: string): boolean {
  if (typeof value !== 'object' || value === null) return false;
  const raw = value as Record<string, unknown>;
  for (const field of NDJSON_ID_FIELDS) {
    const id = raw[field];
    if (typeof id === 'number' && (!Number.isSafeInteger(id) || Object.is(id, -0) || NUMERIC_ID_WITH_FRACTION_OR_EXPONENT.test(text))) return true;
  }
  return raw.item !== undefined && numericIdNeedsText(raw.item, text);
}

/** An id key followed by a number with a fraction or an exponent (1e3 and 1000.0 parse to safe integers). */
const NUMERIC_ID_WITH_FRACTION_OR_EXPONENT = /"(?:eventId|userId|sessionId|itemId)"\s*:\s*-?\d+[.eE]/;

/** Safe integers written as digits: their text is String(n). */
function stringifySafeIds(value: Record<string, unknown>): void {
  for (const field of NDJSON_ID_FIELDS) if (typeof value[field] === 'number') value[field] = String(value[field]);
  if (typeof value.item === 'object' && value.item !== null && !Array.isArray(value.item)) stringifySafeIds(value.item as Record<string, unknown>);
}

const WHOLE_NUMBER = /^-?\d+$/;

/** Puts the exact text of whole-number ids from `exact` (a lossless parse) in place of their numbers in `value`. */
function useExactIds(value: Record<string, unknown>, exact: Record<string, unknown>): void {
  for (const field of NDJSON_ID_FIELDS) {
    const text = exact[field];
    if (typeof value[field] === 'number' && isLosslessNumber(text) && WHOLE_NUMBER.test(text.value)) value[field] = text.value;
  }
  if (typeof value.item === 'object' && value.item !== null && typeof exact.item === 'object' && exact.item !== null) {
    useExactIds(value.item as Record<string, unknown>, exact.item as Record<string, unknown>);
  }
}

/**
 * One NDJSON line. Ids written as numbers are kept as their exact digits: JSON.parse turns
 * 9007199254740993 into 9007199254740992 (the nearest double), which would make two users one and
 * drop an event as a duplicate. Lines where JSON.parse may have changed a numeric id (see
 * numericIdNeedsText) are read a second time by lossless-json, which hands numbers over as text;
 * every other value stays as JSON.parse reads it, and lines with string ids or plain safe integers
 * pay nothing extra.
 */
export function parseNdjsonLine(text: string): unknown {
  const value: unknown = JSON.parse(text);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return value;
  if (!numericIdNeedsText(value, text)) {
    stringifySafeIds(value as Record<string, unknown>);
    return value;
  }
  // Duplicate keys: the last one wins, as in JSON.parse (lossless-json refuses them by default).
  const exact = parseLossless(text, null, { onDuplicateKey: ({ newValue }) => newValue });
  useExactIds(value as Record<string, unknown>, exact as Record<string, unknown>);
  return value;
}

/**
 * An id field of an NDJSON line: a string as written, a whole number as its digits (see
 * parseNdjsonLine), null when missing or empty; a problem for anything else.
 */
function optionalId(value: unknown, name: string): string | null | { problem: string } {
  if (value === undefined || value === null || value === '') return null;
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return { problem: `${name} is a number with a fraction or an exponent (read as ${value}); send ids as strings or plain digits` };
  return { problem: `${name} must be a string (or a whole number), not ${Array.isArray(value) ? 'a list' : typeof value}` };
}

function optionalText(value: unknown): string | null | undefined {
  if (value === undefined || value === null) return null;
  return typeof value === 'string' ? value : undefined;
}

function ndjsonItem(row: TextRow, value: unknown): ImportRecord {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return reject(row, 'MALFORMED_ROW', '"item" must be an object');
  const raw = value as Record<string, unknown>;
  const itemId = optionalId(raw.itemId, 'item.itemId');
  if (itemId === null) return reject(row, 'MISSING_ITEM', 'item.itemId is missing; every catalog line needs one');
  if (typeof itemId !== 'string') return reject(row, 'MALFORMED_ROW', itemId.problem);
  const title = optionalText(raw.title);
  const category = optionalText(raw.category);
  const brand = optionalText(raw.brand);
  if (title === undefined || category === undefined || brand === undefined) {
    return reject(row, 'MALFORMED_ROW', 'item.title, item.category and item.brand must be strings when given');
  }
  let price: number | null = null;
  if (raw.price !== undefined && raw.price !== null) {
    const parsed = typeof raw.price === 'number' || typeof raw.price === 'string' ? parsePrice(String(raw.price)) : undefined;
    if (parsed === undefined) return reject(row, 'BAD_PRICE', `item.price ${JSON.stringify(raw.price)} is not a non-negative number below 10^12`);
    price = parsed;
  }
  if (raw.available !== undefined && raw.available !== null && typeof raw.available !== 'boolean') {
    return reject(row, 'MALFORMED_ROW', 'item.available must be true or false');
  }
  const properties = propertiesFromValue(raw.properties);
  if (typeof properties === 'string') return reject(row, 'BAD_PROPERTIES', `item.${properties}`);
  const item: CatalogItem = { itemId, title, category, brand, price, properties };
  if (typeof raw.available === 'boolean') item.available = raw.available;
  return { kind: 'item', line: row.line, item };
}

const ndjson: FormatReader = {
  format: 'ndjson',
  label: 'NDJSON',
  mode: 'lines',
  header: null,
  headerRequired: false,
  timestampUnit: 'ms',
  toRecord(row, options) {
    let value: unknown;
    try {
      value = parseNdjsonLine(row.text);
    } catch {
      return reject(row, 'MALFORMED_ROW', 'not valid JSON');
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return reject(row, 'MALFORMED_ROW', 'each line must be a JSON object');
    const raw = value as Record<string, unknown>;
    if ('item' in raw) return ndjsonItem(row, raw.item);
    const eventId = optionalId(raw.eventId, 'eventId');
    if (eventId === null) return reject(row, 'MISSING_EVENT_ID', 'eventId is missing; every event needs one');
    if (typeof eventId !== 'string') return reject(row, 'MALFORMED_ROW', eventId.problem);
    if (typeof raw.type !== 'string') return reject(row, 'INVALID_EVENT_TYPE', 'type must be a string');
    const userId = optionalId(raw.userId, 'userId');
    if (userId === null) return reject(row, 'MISSING_USER', 'userId is missing; every event needs one');
    if (typeof userId !== 'string') return reject(row, 'MALFORMED_ROW', userId.problem);
    const sessionId = optionalId(raw.sessionId, 'sessionId');
    if (sessionId !== null && typeof sessionId !== 'string') return reject(row, 'MALFORMED_ROW', sessionId.problem);
    const itemId = optionalId(raw.itemId, 'itemId');
    if (itemId !== null && typeof itemId !== 'string') return reject(row, 'MALFORMED_ROW', itemId.problem);
    const timestamp = timestampOf(raw.timestamp, ndjson, options);
    if (typeof timestamp !== 'number') return timestampReject(row, timestamp, 'timestamp');
    const properties = propertiesFromValue(raw.properties);
    if (typeof properties === 'string') return reject(row, 'BAD_PROPERTIES', properties);
    return {
      kind: 'event',
      line: row.line,
      numericTimestamp: isNumeric(raw.timestamp),
      event: { eventId, type: raw.type, userId, sessionId, itemId, timestamp, properties },
    };
  },
};

export const FORMAT_READERS: Record<ImportFormat, FormatReader> = {
  taobao,
  rees46,
  retailrocket,
  'funnelcast-csv': funnelcastCsv,
  ndjson,
};

function normaliseHeader(text: string): string {
  return text.trim().toLowerCase().replace(/\s*,\s*/g, ',').replace(/"/g, '');
}

/** Which format a header line belongs to, if it is one of theirs. */
export function formatOfHeader(text: string): FormatReader | null {
  const wanted = normaliseHeader(text);
  for (const reader of Object.values(FORMAT_READERS)) {
    if (reader.header !== null && normaliseHeader(reader.header) === wanted) return reader;
  }
  return null;
}

/** The other format a rejected first row would parse in, to turn "every row rejected" into a hint. */
export function formatThatReads(row: TextRow, except: ImportFormat): FormatReader | null {
  for (const reader of Object.values(FORMAT_READERS)) {
    if (reader.format === except) continue;
    const fields = reader.mode === 'lines' ? [row.text] : (parseQuotedRow(row.text) ?? [row.text]);
    if (reader.toRecord({ ...row, fields }).kind !== 'reject') return reader;
  }
  return null;
}
