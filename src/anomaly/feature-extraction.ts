import { StringDecoder } from 'node:string_decoder';
import type { PoolClient } from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import type { DataSource } from 'typeorm';
import { withPgClient } from '../db/data-source';
import { Dictionary, eventKindOf, extractFeatures, FEATURE_COUNT, ipPrefixOf, UserEventBuffer } from './features';

/**
 * The behaviour features of every (user, UTC day) with events in a window: one row of
 * FEATURE_COUNT per day a user was active, rows ordered by (user, day), so one user's days are
 * consecutive rows.
 */
export interface UserFeatureTable {
  /** Dense user id (users.id) of each row, ascending. */
  userIds: Int32Array;
  /** UTC day of each row, as days since 1970-01-01. */
  days: Int32Array;
  /** Row-major, user-days × FEATURE_COUNT; NaN where a feature is undefined for that day. */
  features: Float32Array;
  /** First and last event instant (epoch ms) of the user on that day inside the window. */
  firstEventMs: Float64Array;
  lastEventMs: Float64Array;
  /** User-days. */
  rows: number;
  /** Distinct users. */
  users: number;
  events: number;
}

export interface FeatureWindow {
  /** Events with from ≤ ts < to; from null: since the first event. */
  from: Date | null;
  to: Date;
}

/**
 * Streams the window's events ordered by (user_id, ts, id) out of PostgreSQL with COPY TO STDOUT
 * and computes each user-day's features as soon as the next day or user starts, so memory holds
 * one user-day's events and the output table, whatever the number of events. A session that runs
 * past midnight counts on each day with the part of it that falls there. The ordering follows the
 * `events (user_id, ts, id)` index. Category comes from the catalog, else the event's `category`
 * property; device and IP from the `device` and `ip` properties.
 */
export function extractUserFeatures(
  dataSource: DataSource,
  window: FeatureWindow,
  onProgress?: (usersDone: number, eventsDone: number) => void,
): Promise<UserFeatureTable> {
  return withPgClient(dataSource, (client) => streamUserFeatures(client, window, onProgress));
}

/** COPY does not take bind parameters; ISO strings from Date are safe literals. */
function windowSql(window: FeatureWindow): string {
  const to = `e.ts < '${window.to.toISOString()}'::timestamptz`;
  return window.from ? `e.ts >= '${window.from.toISOString()}'::timestamptz AND ${to}` : to;
}

/** COPY's text format escapes backslash, tab, newline and carriage return; `\N` is NULL. */
function copyText(field: string): string | null {
  if (field === '\\N') return null;
  if (!field.includes('\\')) return field;
  return field.replace(/\\(.)/g, (_, c: string) => (c === 't' ? '\t' : c === 'n' ? '\n' : c === 'r' ? '\r' : c));
}

const DAY_MS = 86_400_000;

class TableBuilder {
  rows = 0;
  users = 0;
  userIds = new Int32Array(1024);
  days = new Int32Array(1024);
  features = new Float32Array(1024 * FEATURE_COUNT);
  firstEventMs = new Float64Array(1024);
  lastEventMs = new Float64Array(1024);

  add(userId: number, day: number, events: UserEventBuffer): void {
    if (this.rows === this.userIds.length) this.grow();
    const row = this.rows++;
    if (row === 0 || this.userIds[row - 1] !== userId) this.users++;
    this.userIds[row] = userId;
    this.days[row] = day;
    this.firstEventMs[row] = events.ts[0];
    this.lastEventMs[row] = events.ts[events.length - 1];
    extractFeatures(events, this.features, row * FEATURE_COUNT);
  }

  private grow(): void {
    const capacity = this.userIds.length * 2;
    const userIds = new Int32Array(capacity);
    userIds.set(this.userIds);
    const days = new Int32Array(capacity);
    days.set(this.days);
    const features = new Float32Array(capacity * FEATURE_COUNT);
    features.set(this.features);
    const first = new Float64Array(capacity);
    first.set(this.firstEventMs);
    const last = new Float64Array(capacity);
    last.set(this.lastEventMs);
    Object.assign(this, { userIds, days, features, firstEventMs: first, lastEventMs: last });
  }

  table(events: number): UserFeatureTable {
    return {
      userIds: this.userIds.slice(0, this.rows),
      days: this.days.slice(0, this.rows),
      features: this.features.slice(0, this.rows * FEATURE_COUNT),
      firstEventMs: this.firstEventMs.slice(0, this.rows),
      lastEventMs: this.lastEventMs.slice(0, this.rows),
      rows: this.rows,
      users: this.users,
      events,
    };
  }
}

export async function streamUserFeatures(
  client: PoolClient,
  window: FeatureWindow,
  onProgress?: (usersDone: number, eventsDone: number) => void,
): Promise<UserFeatureTable> {
  const sql = `COPY (
    SELECT e.user_id, (extract(epoch FROM e.ts) * 1000)::bigint, e.type, e.session_id, e.item_id,
           coalesce(i.category, e.props->>'category'), e.props->>'device', e.props->>'ip'
    FROM events e LEFT JOIN items i ON i.id = e.item_id
    WHERE ${windowSql(window)}
    ORDER BY e.user_id, e.ts, e.id) TO STDOUT`;
  const stream = client.query(copyTo(sql));
  const features = new UserFeatureStream(onProgress);
  let carry = '';
  // A chunk may end inside a multi-byte character; the decoder keeps the partial bytes for the next one.
  const decoder = new StringDecoder('utf8');

  const handleLine = (line: string) => {
    const fields = line.split('\t');
    features.push(
      Number(fields[0]),
      Number(fields[1]),
      copyText(fields[2]) ?? '',
      copyText(fields[3]),
      fields[4] === '\\N' ? -1 : Number(fields[4]),
      copyText(fields[5]),
      copyText(fields[6]),
      copyText(fields[7]),
    );
  };

  for await (const chunk of stream as AsyncIterable<Buffer>) {
    const text = carry + decoder.write(chunk);
    let start = 0;
    for (let newline = text.indexOf('\n'); newline >= 0; newline = text.indexOf('\n', start)) {
      handleLine(text.slice(start, newline));
      start = newline + 1;
    }
    carry = text.slice(start);
  }
  if (carry.length > 0) handleLine(carry);
  return features.finish();
}

/**
 * The per-event half of feature extraction, fed events in (user, ts, id) order by either reader
 * (PostgreSQL's COPY stream, ClickHouse's rows): each user-day's features are computed as soon as
 * the next day or user starts, so it holds one user-day's events and the output table.
 */
export class UserFeatureStream {
  private readonly buffer = new UserEventBuffer();
  private readonly builder = new TableBuilder();
  private readonly sessions = new Map<string, number>();
  private readonly categories = new Dictionary();
  private readonly devices = new Dictionary();
  private readonly prefixes = new Dictionary();
  private currentUser = -1;
  private currentDay = 0;
  private events = 0;

  constructor(private readonly onProgress?: (usersDone: number, eventsDone: number) => void) {}

  /**
   * One event: dense user id, epoch ms (whole), type, client session id, item id (−1: none), the
   * category (the catalog's, else the event's `category` property), the `device` and `ip` properties.
   */
  push(user: number, ts: number, type: string, sessionId: string | null, item: number, category: string | null, device: string | null, ip: string | null): void {
    const day = Math.floor(ts / DAY_MS);
    if (user !== this.currentUser) {
      this.finishDay();
      this.sessions.clear();
      this.currentUser = user;
      this.currentDay = day;
      if (this.onProgress && this.builder.users % 50_000 === 0) this.onProgress(this.builder.users, this.events);
    } else if (day !== this.currentDay) {
      this.finishDay();
      this.currentDay = day;
    }
    let session = -1;
    if (sessionId !== null) {
      session = this.sessions.get(sessionId) ?? this.sessions.size;
      if (session === this.sessions.size) this.sessions.set(sessionId, session);
    }
    this.buffer.push(ts, eventKindOf(type), session, item, this.categories.idOf(category), this.devices.idOf(device), ip === null ? -1 : this.prefixes.idOf(ipPrefixOf(ip)));
    this.events++;
  }

  /** The table of every user-day pushed. */
  finish(): UserFeatureTable {
    this.finishDay();
    this.onProgress?.(this.builder.users, this.events);
    return this.builder.table(this.events);
  }

  private finishDay(): void {
    if (this.buffer.length > 0) this.builder.add(this.currentUser, this.currentDay, this.buffer);
    this.buffer.clear();
  }
}
