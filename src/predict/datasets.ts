import type { ShopEvent } from '../events/event.types';
import { USER_FEATURES, SESSION_FEATURES, sessionFeatures, userFeatures } from './features';
import { eventQuantileSplit } from '../ml/evaluation';
import { TrainingDataError } from '../training/training-errors';
import { markovStateOf } from './markov';
import { PropensityExampleBuilder, type PropensityExamples } from './propensity-model';
import { nextActionsOf, splitSessions, type PredictionEvent, type Session } from './session-events';

/**
 * From users' sorted events to the examples each model learns from, with the time-based split
 * the evaluation uses: nothing an example reads lies at or after its cutoff.
 */

export interface UserHistory {
  userKey: string;
  /** Sorted by time, ties in ingestion order. */
  events: PredictionEvent[];
}

const text = (value: unknown): string | null => (typeof value === 'string' && value.length > 0 ? value : null);
const amount = (value: unknown): number | null => {
  const n = typeof value === 'number' ? value : typeof value === 'string' ? Number(value) : NaN;
  return Number.isFinite(n) ? n : null;
};

/** A stored or generated event as the models read it; the catalog's category and price fill gaps. */
export function predictionEventOf(event: Pick<ShopEvent, 'type' | 'timestamp' | 'sessionId' | 'properties'>, item?: { category?: string | null; price?: number | null }): PredictionEvent {
  const props = event.properties ?? {};
  return {
    type: event.type,
    timestamp: event.timestamp,
    sessionId: event.sessionId,
    category: text(item?.category) ?? text(props.category) ?? text(props.categoryCode) ?? text(props.categoryId),
    price: amount(props.price) ?? item?.price ?? null,
    device: text(props.device),
    channel: text(props.channel),
  };
}

/** Groups a stream ordered user by user (each user's events in time order) into histories. */
export function historiesOf(events: Iterable<ShopEvent>): UserHistory[] {
  const histories: UserHistory[] = [];
  let current: UserHistory | null = null;
  for (const event of events) {
    if (!current || current.userKey !== event.userId) {
      current = { userKey: event.userId, events: [] };
      histories.push(current);
    }
    current.events.push(predictionEventOf(event));
  }
  return histories;
}

export interface VisitSet {
  visits: Session[];
  /** User of each visit. */
  users: string[];
}

/** Visits that start in [fromMs, toMs). */
export function visitsBetween(histories: readonly UserHistory[], fromMs: number, toMs: number): VisitSet {
  const visits: Session[] = [];
  const users: string[] = [];
  for (const history of histories) {
    for (const session of splitSessions(history.events, history.userKey)) {
      const start = session.events[0].timestamp;
      if (start >= fromMs && start < toMs) {
        visits.push(session);
        users.push(history.userKey);
      }
    }
  }
  return { visits, users };
}

/**
 * The split instant (ms) that holds out the latest `holdoutFraction` of `visits` by start time
 * (`eventQuantileSplit`: robust to a stray early event). Throws TrainingDataError, naming `model`,
 * when there are fewer than two visits to put on the two sides.
 */
export function visitSplitMs(visits: readonly Session[], holdoutFraction: number, model: string): number {
  if (visits.length < 2) {
    throw new TrainingDataError(`The range holds ${visits.length} visit${visits.length === 1 ? '' : 's'}; the ${model} needs visits on both sides of a split. Ingest more events or widen the range.`);
  }
  return eventQuantileSplit(
    visits.map((visit) => visit.events[0].timestamp),
    holdoutFraction,
  );
}

/** The Markov baseline's view of visits: each event's state and the true next action. */
export function markovSteps(visits: readonly Session[]): { states: Int32Array; next: Int32Array } {
  const states: number[] = [];
  const next: number[] = [];
  for (const visit of visits) {
    const actions = nextActionsOf(visit.events);
    visit.events.forEach((event, i) => {
      states.push(markovStateOf(event.type));
      next.push(actions[i]);
    });
  }
  return { states: Int32Array.from(states), next: Int32Array.from(next) };
}

export interface LabelledExamples {
  examples: PropensityExamples;
  /** Who or which visit each example is about. */
  keys: string[];
  /** For visits: events seen so far in the visit; for users: 0. */
  prefixLengths: number[];
}

/**
 * User examples at `cutoffMs`: users with an event in [cutoff − activeDays, cutoff), their history
 * before the cutoff, and whether they purchase in [cutoff, cutoff + horizon).
 */
export function userExamples(histories: readonly UserHistory[], cutoffMs: number, horizonMs: number, activeMs: number, window: number): LabelledExamples {
  const builder = new PropensityExampleBuilder(window, USER_FEATURES.length);
  const keys: string[] = [];
  const features = new Float32Array(USER_FEATURES.length);
  for (const history of histories) {
    const events = history.events;
    let end = 0;
    while (end < events.length && events[end].timestamp < cutoffMs) end++;
    if (end === 0 || events[end - 1].timestamp < cutoffMs - activeMs) continue;
    let label = 0;
    for (let i = end; i < events.length && events[i].timestamp < cutoffMs + horizonMs; i++) {
      if (events[i].type === 'purchase') {
        label = 1;
        break;
      }
    }
    const past = events.slice(0, end);
    userFeatures(past, cutoffMs, features);
    builder.add(past, features, label);
    keys.push(history.userKey);
  }
  return { examples: builder.build(), keys, prefixLengths: keys.map(() => 0) };
}

/** Prefix lengths a visit contributes: every one of the first ten, then every fifth up to sixty. */
function prefixLengths(length: number): number[] {
  const lengths: number[] = [];
  for (let k = 1; k <= Math.min(length, 60); k++) if (k <= 10 || k % 5 === 0) lengths.push(k);
  return lengths;
}

/**
 * Live-visit examples from visits starting in [fromMs, toMs): each prefix that holds no purchase yet,
 * with the user's history before the visit, labelled 1 when the visit goes on to a purchase.
 * `firstEventOnly` keeps only the one-event prefixes (the moment the visit's true chance is known
 * in the demo shop).
 */
export function visitExamples(histories: readonly UserHistory[], fromMs: number, toMs: number, window: number, firstEventOnly = false): LabelledExamples {
  const builder = new PropensityExampleBuilder(window, SESSION_FEATURES.length);
  const keys: string[] = [];
  const lengths: number[] = [];
  const features = new Float32Array(SESSION_FEATURES.length);
  for (const history of histories) {
    const sessions = splitSessions(history.events, history.userKey);
    for (const session of sessions) {
      const start = session.events[0].timestamp;
      if (start < fromMs || start >= toMs) continue;
      const before = history.events.filter((event) => event.timestamp < start);
      const firstPurchase = session.events.findIndex((event) => event.type === 'purchase');
      const buys = firstPurchase >= 0;
      for (const k of firstEventOnly ? [1] : prefixLengths(session.events.length)) {
        if (buys && k > firstPurchase) break;
        const prefix = session.events.slice(0, k);
        sessionFeatures(before, prefix, features);
        // The sequence input is the recent history followed by the visit so far.
        builder.add(before.length ? [...before.slice(-window), ...prefix] : prefix, features, buys ? 1 : 0);
        keys.push(session.sessionId);
        lengths.push(k);
      }
    }
  }
  return { examples: builder.build(), keys, prefixLengths: lengths };
}
