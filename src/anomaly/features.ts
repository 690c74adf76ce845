/**
 * Behaviour features of one user over a time window (the detectors use one UTC day: see
 * feature-extraction.ts), computed from that user's events in (ts, id) order. Every detector reads the same vector; FEATURES says what each number means, in
 * which direction it is suspicious and how to say it in plain words.
 *
 * Definitions (all over the user's events inside the window):
 * - a session is the client's `sessionId`; events without one are grouped by inactivity: a gap of
 *   more than 30 minutes since the previous session-less event starts a new one;
 * - a gap is the time between two consecutive events of the same session.
 */

export const EVENT_KIND = { view: 0, cart: 1, remove_from_cart: 2, fav: 3, checkout: 4, purchase: 5, search: 6, other: 7 } as const;
export type EventKindCode = (typeof EVENT_KIND)[keyof typeof EVENT_KIND];

export function eventKindOf(type: string): EventKindCode {
  return (EVENT_KIND as Record<string, EventKindCode>)[type] ?? EVENT_KIND.other;
}

export type FeatureUnit = 'count' | 'share' | 'ratio' | 'minutes' | 'index';

export interface FeatureSpec {
  name: string;
  /** Which side of the median is suspicious: a user is never flagged for being unusually calm. */
  suspicious: 'high' | 'low';
  /** Counts and rates are compared on a log scale (log1p), where humans spread evenly. */
  logScale: boolean;
  unit: FeatureUnit;
  /** What the number is, completing "<value> …" in explanations. */
  phrase: string;
}

export const FEATURES: readonly FeatureSpec[] = [
  { name: 'eventsPerActiveDay', suspicious: 'high', logScale: true, unit: 'count', phrase: 'events per active day' },
  { name: 'peakEventsIn5Minutes', suspicious: 'high', logScale: true, unit: 'count', phrase: 'events within 5 minutes' },
  { name: 'burstiness', suspicious: 'low', logScale: false, unit: 'index', phrase: 'burstiness of the gaps between events (−1 is a metronome)' },
  { name: 'regularGapShare', suspicious: 'high', logScale: false, unit: 'share', phrase: 'of consecutive gaps within 10% of the previous one' },
  { name: 'viewsPerSession', suspicious: 'high', logScale: true, unit: 'count', phrase: 'views per session on average' },
  { name: 'maxViewsPerSession', suspicious: 'high', logScale: true, unit: 'count', phrase: 'views in one session' },
  { name: 'distinctItems', suspicious: 'high', logScale: true, unit: 'count', phrase: 'distinct items touched' },
  { name: 'distinctCategories', suspicious: 'high', logScale: true, unit: 'count', phrase: 'distinct categories touched' },
  { name: 'cartToPurchase', suspicious: 'high', logScale: false, unit: 'ratio', phrase: 'purchases per cart addition' },
  { name: 'purchasesPerView', suspicious: 'high', logScale: true, unit: 'ratio', phrase: 'purchases per item view' },
  { name: 'unbrowsedPurchaseShare', suspicious: 'high', logScale: false, unit: 'share', phrase: 'of purchases were of items never viewed before' },
  { name: 'nightShare', suspicious: 'high', logScale: false, unit: 'share', phrase: 'of events between 00:00 and 06:00 UTC' },
  { name: 'meanSessionMinutes', suspicious: 'high', logScale: true, unit: 'minutes', phrase: 'per session on average' },
  { name: 'repeatedSessionShare', suspicious: 'high', logScale: false, unit: 'share', phrase: 'of sessions repeat an earlier session event for event' },
  { name: 'distinctDevices', suspicious: 'high', logScale: true, unit: 'count', phrase: 'different devices' },
  { name: 'distinctIpPrefixes', suspicious: 'high', logScale: true, unit: 'count', phrase: 'different IP prefixes' },
];
export const FEATURE_COUNT = FEATURES.length;
export const FEATURE_NAMES = FEATURES.map((feature) => feature.name);
export const FEATURE_INDEX: Readonly<Record<string, number>> = Object.fromEntries(FEATURE_NAMES.map((name, index) => [name, index]));

const MINUTE_MS = 60_000;
const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;
export const SESSION_TIMEOUT_MS = 30 * MINUTE_MS;
export const PEAK_WINDOW_MS = 5 * MINUTE_MS;
/** Two consecutive gaps count as regular when they differ by at most this share of the larger one. */
export const REGULAR_GAP_TOLERANCE = 0.1;
/** Night is 00:00–05:59 UTC: the shop has no time zone per user, and most stores see their trough there. */
export const NIGHT_END_HOUR = 6;

/**
 * One user's events in (ts, id) order as parallel arrays, refilled for every user so that a scan
 * of millions of users allocates nothing per event. Codes: `session` and `device`/`ipPrefix`
 * are small per-scan dictionary ids, −1 when absent; `item` and `category` are dictionary ids, −1
 * when absent.
 */
export class UserEventBuffer {
  length = 0;
  ts: Float64Array;
  kind: Uint8Array;
  session: Int32Array;
  item: Int32Array;
  category: Int32Array;
  device: Int32Array;
  ipPrefix: Int32Array;

  constructor(capacity = 1024) {
    this.ts = new Float64Array(capacity);
    this.kind = new Uint8Array(capacity);
    this.session = new Int32Array(capacity);
    this.item = new Int32Array(capacity);
    this.category = new Int32Array(capacity);
    this.device = new Int32Array(capacity);
    this.ipPrefix = new Int32Array(capacity);
  }

  clear(): void {
    this.length = 0;
  }

  push(ts: number, kind: number, session: number, item: number, category: number, device: number, ipPrefix: number): void {
    if (this.length === this.ts.length) this.grow();
    const i = this.length++;
    this.ts[i] = ts;
    this.kind[i] = kind;
    this.session[i] = session;
    this.item[i] = item;
    this.category[i] = category;
    this.device[i] = device;
    this.ipPrefix[i] = ipPrefix;
  }

  private grow(): void {
    const capacity = this.ts.length * 2;
    const grown = <T extends Float64Array | Uint8Array | Int32Array>(array: T): T => {
      const next = new (array.constructor as new (n: number) => T)(capacity);
      next.set(array);
      return next;
    };
    this.ts = grown(this.ts);
    this.kind = grown(this.kind);
    this.session = grown(this.session);
    this.item = grown(this.item);
    this.category = grown(this.category);
    this.device = grown(this.device);
    this.ipPrefix = grown(this.ipPrefix);
  }
}

/** Scratch space reused across users. */
class Scratch {
  sessionIndex = new Int32Array(1024);
  readonly sessionOf = new Map<number, number>();
  readonly items = new Set<number>();
  readonly categories = new Set<number>();
  readonly devices = new Set<number>();
  readonly prefixes = new Set<number>();
  readonly days = new Set<number>();
  readonly viewed = new Set<number>();
  readonly sequences = new Set<string>();

  reset(length: number): void {
    if (this.sessionIndex.length < length) this.sessionIndex = new Int32Array(length * 2);
    this.sessionOf.clear();
    this.items.clear();
    this.categories.clear();
    this.devices.clear();
    this.prefixes.clear();
    this.days.clear();
    this.viewed.clear();
    this.sequences.clear();
  }
}

const scratch = new Scratch();

/**
 * Writes the FEATURES of the buffered events into `out` at `offset` (NaN where a feature is
 * undefined, e.g. cart-to-purchase for a user who never carted). The buffer must hold at least
 * one event, in (ts, id) order.
 */
export function extractFeatures(events: UserEventBuffer, out: Float32Array | Float64Array, offset = 0): void {
  const n = events.length;
  if (n === 0) throw new RangeError('extractFeatures needs at least one event');
  const { ts, kind, session, item, category, device, ipPrefix } = events;
  const s = scratch;
  s.reset(n);

  // Sessions, numbered in order of first appearance.
  let sessions = 0;
  let lastAnonymousTs = -Infinity;
  let anonymousSession = -1;
  for (let i = 0; i < n; i++) {
    if (session[i] >= 0) {
      let index = s.sessionOf.get(session[i]);
      if (index === undefined) {
        index = sessions++;
        s.sessionOf.set(session[i], index);
      }
      s.sessionIndex[i] = index;
    } else {
      if (anonymousSession < 0 || ts[i] - lastAnonymousTs > SESSION_TIMEOUT_MS) anonymousSession = sessions++;
      lastAnonymousTs = ts[i];
      s.sessionIndex[i] = anonymousSession;
    }
  }

  let views = 0;
  let carts = 0;
  let purchases = 0;
  let unbrowsedPurchases = 0;
  let nightEvents = 0;
  for (let i = 0; i < n; i++) {
    const k = kind[i];
    if (item[i] >= 0) s.items.add(item[i]);
    if (category[i] >= 0) s.categories.add(category[i]);
    if (device[i] >= 0) s.devices.add(device[i]);
    if (ipPrefix[i] >= 0) s.prefixes.add(ipPrefix[i]);
    const day = Math.floor(ts[i] / DAY_MS);
    s.days.add(day);
    if (Math.floor((ts[i] - day * DAY_MS) / HOUR_MS) < NIGHT_END_HOUR) nightEvents++;
    if (k === EVENT_KIND.view) {
      views++;
      if (item[i] >= 0) s.viewed.add(item[i]);
    } else if (k === EVENT_KIND.cart) carts++;
    else if (k === EVENT_KIND.purchase) {
      purchases++;
      if (item[i] < 0 || !s.viewed.has(item[i])) unbrowsedPurchases++;
    }
  }

  // Peak: most events in any [t, t + 5 min) that starts at an event (two pointers over sorted ts).
  let peak = 0;
  for (let start = 0, end = 0; start < n; start++) {
    while (end < n && ts[end] < ts[start] + PEAK_WINDOW_MS) end++;
    if (end - start > peak) peak = end - start;
  }

  // Per-session walks: gaps, views, lengths, sequences. Events of one session may interleave with
  // another's, so each session is walked through its own chain of "previous event" positions.
  const sessionFirstTs = new Float64Array(sessions).fill(NaN);
  const sessionLastTs = new Float64Array(sessions);
  const sessionViews = new Int32Array(sessions);
  // Each session's (kind, item) sequence as two independent 32-bit rolling hashes plus its length.
  const hashA = new Int32Array(sessions);
  const hashB = new Int32Array(sessions).fill(0x2545f491);
  const sessionLength = new Int32Array(sessions);
  const previousGap = new Float64Array(sessions).fill(NaN);
  let gapCount = 0;
  let gapSum = 0;
  let gapSquares = 0;
  let gapPairs = 0;
  let regularPairs = 0;
  for (let i = 0; i < n; i++) {
    const index = s.sessionIndex[i];
    if (Number.isNaN(sessionFirstTs[index])) sessionFirstTs[index] = ts[i];
    else {
      const gap = ts[i] - sessionLastTs[index];
      gapCount++;
      gapSum += gap;
      gapSquares += gap * gap;
      const before = previousGap[index];
      if (before > 0 && gap > 0) {
        gapPairs++;
        if (Math.abs(gap - before) <= REGULAR_GAP_TOLERANCE * Math.max(gap, before)) regularPairs++;
      }
      previousGap[index] = gap;
    }
    sessionLastTs[index] = ts[i];
    if (kind[i] === EVENT_KIND.view) sessionViews[index]++;
    const token = kind[i] * 1_000_003 + item[i] + 1;
    hashA[index] = (Math.imul(hashA[index], 31) + token) | 0;
    hashB[index] = Math.imul(hashB[index] ^ token, 0x01000193);
    sessionLength[index]++;
  }
  let maxViews = 0;
  let totalMinutes = 0;
  let repeatedSessions = 0;
  for (let index = 0; index < sessions; index++) {
    if (sessionViews[index] > maxViews) maxViews = sessionViews[index];
    totalMinutes += (sessionLastTs[index] - sessionFirstTs[index]) / MINUTE_MS;
    const sequence = `${hashA[index]}:${hashB[index]}:${sessionLength[index]}`;
    if (s.sequences.has(sequence)) repeatedSessions++;
    else s.sequences.add(sequence);
  }

  let burstiness = NaN;
  if (gapCount >= 2) {
    const mean = gapSum / gapCount;
    const sd = Math.sqrt(Math.max(0, gapSquares / gapCount - mean * mean));
    burstiness = sd + mean === 0 ? NaN : (sd - mean) / (sd + mean);
  }

  const f = FEATURE_INDEX;
  out[offset + f.eventsPerActiveDay] = n / s.days.size;
  out[offset + f.peakEventsIn5Minutes] = peak;
  out[offset + f.burstiness] = burstiness;
  out[offset + f.regularGapShare] = gapPairs === 0 ? NaN : regularPairs / gapPairs;
  out[offset + f.viewsPerSession] = views / sessions;
  out[offset + f.maxViewsPerSession] = maxViews;
  out[offset + f.distinctItems] = s.items.size;
  out[offset + f.distinctCategories] = s.categories.size;
  out[offset + f.cartToPurchase] = carts === 0 ? NaN : purchases / carts;
  out[offset + f.purchasesPerView] = purchases / Math.max(1, views);
  out[offset + f.unbrowsedPurchaseShare] = purchases === 0 ? NaN : unbrowsedPurchases / purchases;
  out[offset + f.nightShare] = nightEvents / n;
  out[offset + f.meanSessionMinutes] = totalMinutes / sessions;
  out[offset + f.repeatedSessionShare] = repeatedSessions / sessions;
  out[offset + f.distinctDevices] = s.devices.size === 0 ? NaN : s.devices.size;
  out[offset + f.distinctIpPrefixes] = s.prefixes.size === 0 ? NaN : s.prefixes.size;
}

/** An event as tests and small callers write it; `extractFeaturesOf` encodes it into a buffer. */
export interface BehaviourEvent {
  ts: number;
  type: string;
  sessionId?: string | null;
  itemId?: string | null;
  category?: string | null;
  device?: string | null;
  ip?: string | null;
}

/**
 * The network part of an address: the first three octets of IPv4 (a /24), the first three groups
 * of IPv6 (a /48). Null when the string is not an address.
 */
export function ipPrefixOf(ip: string): string | null {
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(ip)) return ip.slice(0, ip.lastIndexOf('.'));
  if (ip.includes(':') && /^[0-9a-f:]+$/i.test(ip)) {
    const groups = ip.toLowerCase().split(':');
    if (groups.length >= 3 && groups.slice(0, 3).every((group) => group !== '')) return groups.slice(0, 3).join(':');
  }
  return null;
}

/** Maps strings to small dense ids, −1 for null/empty. */
export class Dictionary {
  private readonly ids = new Map<string, number>();
  idOf(value: string | null | undefined): number {
    if (value === null || value === undefined || value === '') return -1;
    let id = this.ids.get(value);
    if (id === undefined) {
      id = this.ids.size;
      this.ids.set(value, id);
    }
    return id;
  }
  get size(): number {
    return this.ids.size;
  }
}

/** Features of one user's events given as objects (any order of equal timestamps is kept). */
export function extractFeaturesOf(events: readonly BehaviourEvent[]): Float64Array {
  const sorted = [...events].sort((a, b) => a.ts - b.ts);
  const buffer = new UserEventBuffer(Math.max(1, sorted.length));
  const sessions = new Dictionary();
  const items = new Dictionary();
  const categories = new Dictionary();
  const devices = new Dictionary();
  const prefixes = new Dictionary();
  for (const event of sorted) {
    buffer.push(
      event.ts,
      eventKindOf(event.type),
      sessions.idOf(event.sessionId),
      items.idOf(event.itemId),
      categories.idOf(event.category),
      devices.idOf(event.device),
      prefixes.idOf(event.ip ? ipPrefixOf(event.ip) : null),
    );
  }
  const out = new Float64Array(FEATURE_COUNT);
  extractFeatures(buffer, out);
  return out;
}

/** UTC day number (days since 1970-01-01) of an epoch-ms instant. */
export function utcDayOf(ms: number): number {
  return Math.floor(ms / DAY_MS);
}

/** "2026-01-05" for a UTC day number. */
export function isoDay(day: number): string {
  return new Date(day * DAY_MS).toISOString().slice(0, 10);
}

/** Features of one user's events per UTC day they were active, days ascending (as the detectors see them). */
export function extractDailyFeaturesOf(events: readonly BehaviourEvent[]): { day: string; features: Float64Array }[] {
  const byDay = new Map<number, BehaviourEvent[]>();
  for (const event of events) {
    const day = utcDayOf(event.ts);
    const list = byDay.get(day);
    if (list) list.push(event);
    else byDay.set(day, [event]);
  }
  return [...byDay.entries()].sort((a, b) => a[0] - b[0]).map(([day, list]) => ({ day: isoDay(day), features: extractFeaturesOf(list) }));
}
