import { SESSION_TIMEOUT_MS } from './funnel-actions';
import type { PredictionEvent } from './session-events';

/**
 * Turns sorted events into numbers: a per-event vector for the sequence models, and the hand-made
 * features (recency per funnel stage, frequency, monetary value and the visit so far) that the logistic baseline
 * reads and the propensity model reads next to the sequence. Every hand feature has a plain name
 * (shown in explanations) and a group (what an explanation switches off together).
 */

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

const STEP_TYPES = ['view', 'cart', 'remove_from_cart', 'fav', 'checkout', 'purchase', 'search'] as const;
const STEP_DEVICES = ['mobile', 'desktop', 'tablet'] as const;
const STEP_CHANNELS = ['organic', 'ads', 'email', 'direct', 'social'] as const;
const CATEGORY_BUCKETS = 8;

/** Layout of one event's vector (offsets into it). */
const TYPE_AT = 0; // STEP_TYPES one-hot, then "other type"
const GAP_AT = TYPE_AT + STEP_TYPES.length + 1; // short gap, new-visit flag, long gap
const CATEGORY_AT = GAP_AT + 3; // hashed category one-hot, then "same category as before", "category known"
const DEVICE_AT = CATEGORY_AT + CATEGORY_BUCKETS + 2; // STEP_DEVICES one-hot, then "other device"
const CHANNEL_AT = DEVICE_AT + STEP_DEVICES.length + 1; // STEP_CHANNELS one-hot, then "other channel"
const PRICE_AT = CHANNEL_AT + STEP_CHANNELS.length + 1;
const POSITION_AT = PRICE_AT + 1;
/** Length of one event's vector. */
export const STEP_WIDTH = POSITION_AT + 1;
/** Where each part of an event's vector starts (specs and explanations read it). */
export const STEP_LAYOUT = { type: TYPE_AT, gap: GAP_AT, category: CATEGORY_AT, device: DEVICE_AT, channel: CHANNEL_AT, price: PRICE_AT, position: POSITION_AT } as const;

const LOG_SHORT_GAP = Math.log1p(SESSION_TIMEOUT_MS / 1000);
const LOG_LONG_GAP = Math.log1p(30 * 24);
const LOG_PRICE = Math.log1p(10_000);

/** FNV-1a: a stable small hash, so a category lands in the same bucket on every machine. */
export function categoryBucket(category: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < category.length; i++) {
    hash ^= category.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) % CATEGORY_BUCKETS;
}

/**
 * Writes the vectors of `events` (one user's or one session's, sorted) into `out` at row offset
 * `row`: event type, time since the previous event (short gaps within a visit, a flag and a long
 * scale across visits), hashed item category and whether it repeats, device, channel, price and
 * the position within the visit.
 */
export function encodeSteps(events: readonly PredictionEvent[], out: Float32Array, row = 0): void {
  let positionInVisit = 0;
  for (let i = 0; i < events.length; i++) {
    const event = events[i];
    const previous = i > 0 ? events[i - 1] : null;
    const base = (row + i) * STEP_WIDTH;
    const typeIndex = (STEP_TYPES as readonly string[]).indexOf(event.type);
    out[base + TYPE_AT + (typeIndex >= 0 ? typeIndex : STEP_TYPES.length)] = 1;

    const gapMs = previous ? Math.max(0, event.timestamp - previous.timestamp) : 0;
    const newVisit = !previous || (event.sessionId !== null ? event.sessionId !== previous.sessionId : gapMs > SESSION_TIMEOUT_MS);
    positionInVisit = newVisit ? 0 : positionInVisit + 1;
    if (!newVisit) out[base + GAP_AT] = Math.min(1, Math.log1p(gapMs / 1000) / LOG_SHORT_GAP);
    out[base + GAP_AT + 1] = newVisit ? 1 : 0;
    if (previous && newVisit) out[base + GAP_AT + 2] = Math.min(1, Math.log1p(gapMs / HOUR_MS) / LOG_LONG_GAP);

    if (event.category !== null && event.category !== '') {
      out[base + CATEGORY_AT + categoryBucket(event.category)] = 1;
      if (previous && previous.category === event.category) out[base + CATEGORY_AT + CATEGORY_BUCKETS] = 1;
      out[base + CATEGORY_AT + CATEGORY_BUCKETS + 1] = 1;
    }
    if (event.device !== null) {
      const device = (STEP_DEVICES as readonly string[]).indexOf(event.device);
      out[base + DEVICE_AT + (device >= 0 ? device : STEP_DEVICES.length)] = 1;
    }
    if (event.channel !== null) {
      const channel = (STEP_CHANNELS as readonly string[]).indexOf(event.channel);
      out[base + CHANNEL_AT + (channel >= 0 ? channel : STEP_CHANNELS.length)] = 1;
    }
    if (event.price !== null && event.price > 0) out[base + PRICE_AT] = Math.min(1.5, Math.log1p(event.price) / LOG_PRICE);
    out[base + POSITION_AT] = Math.min(1, positionInVisit / 30);
  }
}

export interface HandFeature {
  /** What a shop reads in an explanation. */
  name: string;
  /** Features switched off together when explaining (device one-hots are one group). */
  group: string;
}

const feature = (name: string, group = name): HandFeature => ({ name, group });

/**
 * The funnel stages whose recency is a feature: hours since the last such event as log1p(hours),
 * capped at NEVER_HOURS, which also stands for "never", with a 0/1 indicator saying it never
 * happened (so a linear model can tell "two months ago" from "never"). The indicator shares its
 * recency's explanation group.
 */
const FUNNEL_RECENCY = [
  { stage: 'view', type: 'view', never: 'never viewed' },
  { stage: 'cart', type: 'cart', never: 'never carted' },
  { stage: 'checkout', type: 'checkout', never: 'never checked out' },
  { stage: 'purchase', type: 'purchase', never: 'never purchased' },
] as const;

/** The user's history before the cutoff: recency per funnel stage, frequency, monetary value and habits. */
export const USER_FEATURES: readonly HandFeature[] = [
  feature('days since last visit'),
  feature('days since first visit'),
  feature('visits'),
  feature('visits in the last 7 days'),
  feature('events'),
  feature('events per visit'),
  feature('longest visit (events)'),
  feature('views in the last 7 days'),
  feature('items put in the cart'),
  feature('checkouts'),
  feature('orders'),
  feature('past purchases'),
  feature('amount spent'),
  feature('carts without a later purchase'),
  feature('checkouts without a later purchase'),
  ...FUNNEL_RECENCY.flatMap(({ stage, never }) => [feature(`hours since last ${stage}`, `time since last ${stage}`), feature(never, `time since last ${stage}`)]),
  feature('open cart value'),
  feature('carts per view'),
  feature('orders per visit'),
  feature('share of visits on a phone'),
  feature('share of visits from email or direct'),
  feature('typical seconds between clicks'),
];

/** The visit in progress, added after USER_FEATURES for live sessions. */
export const VISIT_FEATURES: readonly HandFeature[] = [
  feature('events in this visit'),
  feature('views in this visit'),
  feature('carts in this visit'),
  feature('checkouts in this visit'),
  feature('removals from the cart in this visit'),
  feature('cart value in this visit'),
  feature('minutes in this visit'),
  ...STEP_DEVICES.map((device) => feature(`device: ${device}`, 'device')),
  ...STEP_CHANNELS.map((channel) => feature(`channel: ${channel}`, 'channel')),
  feature('hour of day (sine)', 'hour of day'),
  feature('hour of day (cosine)', 'hour of day'),
];

export const SESSION_FEATURES: readonly HandFeature[] = [...USER_FEATURES, ...VISIT_FEATURES];

/** Days a "never happened" recency stands for. */
const NEVER_DAYS = 60;
/** The same cap in hours, for the per-stage recencies. */
const NEVER_HOURS = NEVER_DAYS * 24;

function median(values: number[]): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

function visitKey(event: PredictionEvent, previous: PredictionEvent | null, visit: number): number {
  if (!previous) return visit + 1;
  const newVisit = event.sessionId !== null ? event.sessionId !== previous.sessionId : event.timestamp - previous.timestamp > SESSION_TIMEOUT_MS;
  return newVisit ? visit + 1 : visit;
}

/**
 * USER_FEATURES of `history` (one user's events, sorted by time) as seen at `cutoffMs`, written into
 * `out` at `offset`. Only events strictly before the cutoff are read, so a caller that passes a
 * longer history cannot leak the future into an example. Counts and amounts are log1p-scaled;
 * recencies are log1p of days (visit) or hours (funnel stages), capped at 60 days, which also
 * stands for "never" (with an indicator for the stages); an empty history gives the "never" values.
 * "Without a later purchase" counts the carts (checkouts) after the user's last purchase before
 * the cutoff: all of them when the user never bought.
 */
export function userFeatures(history: readonly PredictionEvent[], cutoffMs: number, out: Float32Array | number[] = new Float32Array(USER_FEATURES.length), offset = 0): Float32Array | number[] {
  const weekAgo = cutoffMs - 7 * DAY_MS;
  let seen = 0;
  while (seen < history.length && history[seen].timestamp < cutoffMs) seen++;
  let visits = 0;
  let visitsLastWeek = 0;
  let views = 0;
  let viewsLastWeek = 0;
  let carts = 0;
  let checkouts = 0;
  let purchases = 0;
  let cartsSincePurchase = 0;
  let checkoutsSincePurchase = 0;
  let spent = 0;
  const lastAt: Record<string, number> = { view: -Infinity, cart: -Infinity, checkout: -Infinity, purchase: -Infinity };
  let openCartValue = 0;
  let longestVisit = 0;
  let phoneVisits = 0;
  let knownVisits = 0;
  let ownerVisits = 0;
  let orders = 0;
  const gaps: number[] = [];
  let visitEvents = 0;
  let visitOrdered = false;
  let visit = -1;
  for (let i = 0; i < seen; i++) {
    const event = history[i];
    const previous = i > 0 ? history[i - 1] : null;
    const key = visitKey(event, previous, visit);
    if (key !== visit) {
      visit = key;
      visits++;
      if (event.timestamp >= weekAgo) visitsLastWeek++;
      visitEvents = 0;
      visitOrdered = false;
      if (event.device !== null) {
        knownVisits++;
        if (event.device === 'mobile') phoneVisits++;
      }
      if (event.channel === 'email' || event.channel === 'direct') ownerVisits++;
    } else if (previous) gaps.push((event.timestamp - previous.timestamp) / 1000);
    visitEvents++;
    longestVisit = Math.max(longestVisit, visitEvents);
    if (event.type in lastAt) lastAt[event.type] = event.timestamp;
    const price = event.price ?? 0;
    switch (event.type) {
      case 'view':
        views++;
        if (event.timestamp >= weekAgo) viewsLastWeek++;
        break;
      case 'cart':
        carts++;
        cartsSincePurchase++;
        if (event.timestamp >= weekAgo) openCartValue += price;
        break;
      case 'remove_from_cart':
        if (event.timestamp >= weekAgo) openCartValue -= price;
        break;
      case 'checkout':
        checkouts++;
        checkoutsSincePurchase++;
        break;
      case 'purchase':
        purchases++;
        cartsSincePurchase = 0;
        checkoutsSincePurchase = 0;
        spent += price;
        if (event.timestamp >= weekAgo) openCartValue -= price;
        if (!visitOrdered) orders++;
        visitOrdered = true;
        break;
    }
  }
  const days = (at: number) => (at === -Infinity ? NEVER_DAYS : Math.min(NEVER_DAYS, (cutoffMs - at) / DAY_MS));
  const hours = (at: number) => (at === -Infinity ? NEVER_HOURS : Math.min(NEVER_HOURS, (cutoffMs - at) / HOUR_MS));
  const first = seen > 0 ? history[0].timestamp : -Infinity;
  const last = seen > 0 ? history[seen - 1].timestamp : -Infinity;
  const values = [
    Math.log1p(days(last)),
    Math.log1p(first === -Infinity ? 0 : (cutoffMs - first) / DAY_MS),
    Math.log1p(visits),
    Math.log1p(visitsLastWeek),
    Math.log1p(seen),
    Math.log1p(visits ? seen / visits : 0),
    Math.log1p(longestVisit),
    Math.log1p(viewsLastWeek),
    Math.log1p(carts),
    Math.log1p(checkouts),
    Math.log1p(orders),
    Math.log1p(purchases),
    Math.log1p(spent),
    Math.log1p(cartsSincePurchase),
    Math.log1p(checkoutsSincePurchase),
    ...FUNNEL_RECENCY.flatMap(({ type }) => [Math.log1p(hours(lastAt[type])), lastAt[type] === -Infinity ? 1 : 0]),
    Math.log1p(Math.max(0, openCartValue)),
    carts / Math.max(1, views),
    visits ? orders / visits : 0,
    knownVisits ? phoneVisits / knownVisits : 0,
    visits ? ownerVisits / visits : 0,
    Math.log1p(median(gaps)),
  ];
  for (let i = 0; i < values.length; i++) out[offset + i] = values[i];
  return out;
}

/**
 * SESSION_FEATURES: the user's history before the visit started, then the visit so far
 * (`visit`, sorted, non-empty), as seen at its last event.
 */
export function sessionFeatures(historyBefore: readonly PredictionEvent[], visit: readonly PredictionEvent[], out: Float32Array | number[] = new Float32Array(SESSION_FEATURES.length), offset = 0): Float32Array | number[] {
  if (visit.length === 0) throw new RangeError('a visit needs at least one event');
  const start = visit[0].timestamp;
  userFeatures(historyBefore, start, out, offset);
  let views = 0;
  let carts = 0;
  let checkouts = 0;
  let removals = 0;
  let cartValue = 0;
  for (const event of visit) {
    if (event.type === 'view') views++;
    else if (event.type === 'cart') {
      carts++;
      cartValue += event.price ?? 0;
    } else if (event.type === 'checkout') checkouts++;
    else if (event.type === 'remove_from_cart') {
      removals++;
      cartValue -= event.price ?? 0;
    }
  }
  const hour = new Date(start).getUTCHours() + new Date(start).getUTCMinutes() / 60;
  const first = visit[0];
  let at = offset + USER_FEATURES.length;
  const put = (value: number) => {
    out[at++] = value;
  };
  put(Math.log1p(visit.length));
  put(Math.log1p(views));
  put(Math.log1p(carts));
  put(Math.log1p(checkouts));
  put(Math.log1p(removals));
  put(Math.log1p(Math.max(0, cartValue)));
  put(Math.log1p((visit[visit.length - 1].timestamp - start) / 60_000));
  for (const device of STEP_DEVICES) put(first.device === device ? 1 : 0);
  for (const channel of STEP_CHANNELS) put(first.channel === channel ? 1 : 0);
  put(Math.sin((2 * Math.PI * hour) / 24));
  put(Math.cos((2 * Math.PI * hour) / 24));
  return out;
}
