import type { ShopEvent } from '../events/event.types';
import type { ShopCatalog } from './catalog';
import { DAY_MS, type ResolvedShopOptions } from './options';
import { Rng } from '../ml/random';
import {
  CHANNELS,
  CHANNEL_SHARE,
  DEVICES,
  DEVICE_SHARE,
  HOUR_TRAFFIC,
  USUAL_DEVICE_LOYALTY,
  affinityOf,
  sessionConversionOf,
  type Channel,
  type Device,
  type ShopperTraits,
  type UserLabel,
} from './shopper';
import type { ShopKnobs } from './profiles';
import { STREAM_BEHAVIOUR } from './streams';

/**
 * Turns one visitor's latent traits into their sessions and events. A visitor is simulated in one
 * go from a random stream of its own, so the stream can be produced user by user in constant memory
 * and any user can be replayed alone.
 */

const SECOND_MS = 1000;
const MINUTE_MS = 60 * SECOND_MS;
const HOUR_MS = 60 * MINUTE_MS;
/** A new visit starts at least this long after the previous one ended (the usual session timeout). */
const SESSION_TIMEOUT_MS = 30 * MINUTE_MS;

const DESKTOP = DEVICES.indexOf('desktop');
const MOBILE = DEVICES.indexOf('mobile');
const DIRECT = CHANNELS.indexOf('direct');
const EMAIL = CHANNELS.indexOf('email');
const ADS = CHANNELS.indexOf('ads');

// Session lengths, think times, repeat views and cart rates are the profile's (src/sim/profiles.ts).
/** Chance that the next view looks at another category. */
const CATEGORY_SWITCH = 0.2;
/** Candidates drawn by popularity for each view; the visitor opens the one they like best, mostly. */
const VIEW_CANDIDATES = 3;
/** Share of a visitor's category choices that follow their favourites rather than shop traffic. */
const FAVOURITE_CATEGORY_SHARE = 0.7;
/** Buyers carting on phones and tablets often finish the purchase later, usually on a desktop. */
const DEFERRED_PURCHASE_SHARE = [0.3, 0.1, 0.2];
const DEFERRAL_MEDIAN_MS = 16 * HOUR_MS;

export type SessionKind = 'browse' | 'return_visit' | 'click_farm' | 'fake_order';

/** What actually happened in one session, known only to the simulator. */
export interface SessionTruth {
  sessionId: string;
  userIndex: number;
  kind: SessionKind;
  startMs: number;
  device: Device;
  channel: Channel;
  /**
   * For a `browse` session, the probability, fixed before the first event, that it leads to a
   * purchase (in the session or on a later return visit); it depends on the visitor, device, channel
   * and the UTC hour of the first event. 0 for click farms, 1 for fake orders, null for return
   * visits (they complete a purchase decided in an earlier session).
   */
  purchaseProbability: number | null;
  converted: boolean;
  /** For a return visit, the browse session whose purchase it completes. */
  completesSessionId?: string;
}

export interface ShopperStory {
  userIndex: number;
  userId: string;
  label: UserLabel;
  events: ShopEvent[];
  sessions: SessionTruth[];
}

export interface SimulationContext {
  options: ResolvedShopOptions;
  catalog: ShopCatalog;
  /** Item indices each fake-order ring brushes. */
  brushingRings: Int32Array[];
}

interface PendingReturn {
  atMs: number;
  cart: number[];
  device: number;
  originSessionId: string;
}

/** Collects one visitor's events, numbering them and keeping them inside the simulated period. */
class StoryRecorder {
  readonly events: ShopEvent[] = [];
  readonly sessions: SessionTruth[] = [];
  private sessionNumber = 0;

  constructor(
    private readonly context: SimulationContext,
    readonly userIndex: number,
    readonly userId: string,
    private readonly eventIdPrefix: string,
    private nextEventNumber: number,
  ) {}

  newSessionId(): string {
    return `s${this.userIndex}-${this.sessionNumber++}`;
  }

  record(type: string, sessionId: string, itemIndex: number, atMs: number, device: number, channel: number, withPrice: boolean): void {
    const catalog = this.context.catalog;
    // Think times are unbounded, so a visit that starts minutes before the end is squeezed into it.
    const timestamp = Math.min(Math.round(atMs), this.context.options.endMs - 1);
    const properties: Record<string, unknown> = withPrice
      ? { device: DEVICES[device], channel: CHANNELS[channel], category: catalog.categoryNames[catalog.itemCategory[itemIndex]], price: catalog.itemPrice[itemIndex] }
      : { device: DEVICES[device], channel: CHANNELS[channel], category: catalog.categoryNames[catalog.itemCategory[itemIndex]] };
    this.events.push({
      eventId: this.eventIdPrefix + this.nextEventNumber++,
      type,
      userId: this.userId,
      sessionId,
      itemId: catalog.items[itemIndex].itemId,
      timestamp,
      properties,
    });
  }
}

/** A start instant whose UTC hour follows `hourWeights`, anywhere in the period. */
function drawStartMs(rng: Rng, options: ResolvedShopOptions, hourWeights: readonly number[], hourWeightTotal: number): number {
  const firstMidnight = options.startMs - (((options.startMs % DAY_MS) + DAY_MS) % DAY_MS);
  const spanDays = options.startMs === firstMidnight ? options.days : options.days + 1;
  // Rejection keeps the hour profile exact when the period does not start at midnight.
  for (let attempt = 0; attempt < 64; attempt++) {
    const atMs = firstMidnight + rng.below(spanDays) * DAY_MS + rng.pickWeighted(hourWeights, hourWeightTotal) * HOUR_MS + rng.below(HOUR_MS);
    if (atMs >= options.startMs && atMs < options.endMs) return atMs;
  }
  return options.startMs + rng.below(options.endMs - options.startMs);
}

function drawStartTimes(rng: Rng, count: number, options: ResolvedShopOptions, hourWeights: readonly number[]): number[] {
  const total = hourWeights.reduce((sum, value) => sum + value, 0);
  const starts: number[] = [];
  for (let i = 0; i < count; i++) starts.push(drawStartMs(rng, options, hourWeights, total));
  return starts.sort((a, b) => a - b);
}

function utcHourOf(atMs: number): number {
  return Math.floor((((atMs % DAY_MS) + DAY_MS) % DAY_MS) / HOUR_MS);
}

/** How many earlier items a visitor who comes back to one chooses among, most recent first. */
const RECENTLY_VIEWED_REACH = 5;
/** Recent distinct views a visitor keeps track of; older ones are never revisited on purpose. */
const REMEMBERED_VIEWS = 20;
/** Of the views that go back to an item of the same visit, the share that reopen the one just seen (REES46: 4 in 5). */
const IMMEDIATE_REVISIT_SHARE = 0.8;

/** Human think time: log-normal around a median, clipped to what a person plausibly does. */
function thinkMs(rng: Rng, medianMs: number, minMs: number, maxMs: number, sigma: number): number {
  return Math.min(maxMs, Math.max(minMs, rng.logNormal(medianMs, sigma)));
}

class GenuineVisitor {
  private pendingReturn: PendingReturn | null = null;
  private readonly knobs: Readonly<ShopKnobs>;
  private readonly thinkSigma: number;
  /** The visitor's last REMEMBERED_VIEWS distinct views, most recent last (at a visit's start, all from earlier visits); kept only when the profile revisits them. */
  private readonly viewedEarlier: number[] = [];
  private readonly remembersViews: boolean;
  private lastViewed = -1;

  constructor(
    private readonly context: SimulationContext,
    private readonly traits: ShopperTraits,
    private readonly rng: Rng,
    private readonly recorder: StoryRecorder,
  ) {
    this.knobs = context.options.knobs;
    this.thinkSigma = this.knobs.thinkSigma;
    this.remembersViews = this.knobs.returnToViewedShare > 0 || this.knobs.viewedBeforeShare > 0;
  }

  live(): void {
    const { options } = this.context;
    const visits = 1 + this.rng.poisson(this.traits.sessionsPerDay * options.days);
    const starts = drawStartTimes(this.rng, visits, options, HOUR_TRAFFIC);
    let lastEndMs = -Infinity;
    let next = 0;
    while (next < starts.length || this.pendingReturn) {
      const pending = this.pendingReturn;
      if (pending && (next >= starts.length || pending.atMs <= starts[next])) {
        this.pendingReturn = null;
        lastEndMs = this.returnVisit(Math.max(pending.atMs, lastEndMs + SESSION_TIMEOUT_MS), pending);
        continue;
      }
      const startMs = Math.max(starts[next++], lastEndMs + SESSION_TIMEOUT_MS);
      // Visits pushed past the end by earlier long ones are simply not made.
      if (startMs >= options.endMs) continue;
      lastEndMs = this.browse(startMs);
    }
  }

  private pickCategory(): number {
    const traits = this.traits;
    if (this.rng.chance(FAVOURITE_CATEGORY_SHARE)) {
      return traits.favouriteCategories[this.rng.pickWeighted(traits.favouriteWeights, 1)];
    }
    return this.context.catalog.categoryPicker.sample(this.rng);
  }

  /** Affinity of the item `pickItem` returned last; a field rather than a tuple keeps the hot loop allocation-free. */
  private pickedAffinity = 0;

  /** Shop traffic proposes items by popularity; the visitor opens the candidate they like most, mostly. */
  private pickItem(category: number): number {
    const catalog = this.context.catalog;
    const members = catalog.itemsInCategory[category];
    const popularity = catalog.popularityInCategory[category];
    let chosen = -1;
    let chosenAffinity = 0;
    let weightSeen = 0;
    for (let c = 0; c < VIEW_CANDIDATES; c++) {
      const item = members[popularity.sample(this.rng)];
      const affinity = affinityOf(this.traits, catalog, item);
      // One-pass weighted choice with weight affinity²: liked items win, but not always.
      const weight = affinity * affinity;
      weightSeen += weight;
      if (chosen < 0 || this.rng.next() * weightSeen < weight) {
        chosen = item;
        chosenAffinity = affinity;
      }
    }
    this.pickedAffinity = chosenAffinity;
    return chosen;
  }

  /** One of the last RECENTLY_VIEWED_REACH items of earlier sessions, the most recent likelier (weights 1, 1/2, 1/3, …). */
  private pickViewedEarlier(): number {
    const earlier = this.viewedEarlier;
    const reach = Math.min(RECENTLY_VIEWED_REACH, earlier.length);
    let total = 0;
    for (let back = 1; back <= reach; back++) total += 1 / back;
    let draw = this.rng.next() * total;
    for (let back = 1; back < reach; back++) {
      draw -= 1 / back;
      if (draw < 0) return earlier[earlier.length - back];
    }
    return earlier[earlier.length - reach];
  }

  /**
   * The item of a session's next view: by the classic profile always a fresh pick; by the others
   * sometimes an item seen earlier in the session or in an earlier one, as real visitors go back.
   */
  private nextView(view: number, category: number, sessionViews: number[]): number {
    const { knobs, rng } = this;
    const catalog = this.context.catalog;
    let item = -1;
    if (view === 0) {
      if (knobs.returnToViewedShare > 0 && this.viewedEarlier.length > 0 && rng.chance(knobs.returnToViewedShare)) item = this.pickViewedEarlier();
    } else if (knobs.sessionRevisitShare > 0 && rng.chance(knobs.sessionRevisitShare)) {
      // Mostly the item just seen (back from its reviews, a reload), otherwise any of the visit's.
      item = rng.chance(IMMEDIATE_REVISIT_SHARE) ? this.lastViewed : sessionViews[rng.below(sessionViews.length)];
    } else if (knobs.viewedBeforeShare > 0 && this.viewedEarlier.length > 0 && rng.chance(knobs.viewedBeforeShare)) {
      item = this.pickViewedEarlier();
    }
    if (item < 0) return this.pickItem(category);
    this.pickedAffinity = affinityOf(this.traits, catalog, item);
    return item;
  }

  /** Keeps the session's distinct views and, when the profile returns to them, the visitor's recent ones. */
  private rememberView(item: number, sessionViews: number[]): void {
    this.lastViewed = item;
    if (!sessionViews.includes(item)) sessionViews.push(item);
    if (!this.remembersViews) return;
    const earlier = this.viewedEarlier;
    const at = earlier.indexOf(item);
    if (at >= 0) earlier.splice(at, 1);
    else if (earlier.length === REMEMBERED_VIEWS) earlier.shift();
    earlier.push(item);
  }

  private browse(startMs: number): number {
    const { rng, recorder, traits, knobs } = this;
    const device = rng.chance(USUAL_DEVICE_LOYALTY) ? traits.usualDevice : rng.pickWeighted(DEVICE_SHARE);
    const channel = rng.pickWeighted(CHANNEL_SHARE);
    const sessionId = recorder.newSessionId();
    const purchaseProbability = sessionConversionOf(traits.propensityLogit, device, channel, utcHourOf(startMs));
    const buying = rng.next() < purchaseProbability;
    recorder.sessions.push({
      sessionId,
      userIndex: traits.userIndex,
      kind: 'browse',
      startMs,
      device: DEVICES[device],
      channel: CHANNELS[channel],
      purchaseProbability,
      converted: buying,
    });

    const longVisit = knobs.longVisitShare > 0 && rng.chance(knobs.longVisitShare);
    const browsingMean = (knobs.browsingViewsMean[device] - 1) * (longVisit ? knobs.longVisitFactor : 1);
    const viewBudget = buying ? knobs.buyerViewBudget : Math.min(knobs.maxBrowsingViews, 1 + Math.floor(rng.exponential(browsingMean)));
    const sessionViews: number[] = [];
    const cart: number[] = [];
    const cartAffinity: number[] = [];
    let bestItem = -1;
    let bestAffinity = -1;
    let category = this.pickCategory();
    let atMs = startMs;
    for (let view = 0; view < viewBudget; view++) {
      if (view > 0) {
        atMs += thinkMs(rng, knobs.viewThinkSeconds * SECOND_MS, 3 * SECOND_MS, 15 * MINUTE_MS, this.thinkSigma);
        if (rng.chance(CATEGORY_SWITCH)) category = this.pickCategory();
      }
      const item = this.nextView(view, category, sessionViews);
      const affinity = this.pickedAffinity;
      recorder.record('view', sessionId, item, atMs, device, channel, false);
      if (this.remembersViews || knobs.sessionRevisitShare > 0) this.rememberView(item, sessionViews);
      if (affinity > bestAffinity) {
        bestItem = item;
        bestAffinity = affinity;
      }
      if (rng.chance(0.02 + 0.1 * affinity)) {
        atMs += thinkMs(rng, 6 * SECOND_MS, 1 * SECOND_MS, 2 * MINUTE_MS, this.thinkSigma);
        recorder.record('fav', sessionId, item, atMs, device, channel, false);
      }
      const cartChance = buying ? (cart.length === 0 ? 0.08 + 0.6 * affinity : 0.2 * affinity) : knobs.browsingCartRate * affinity;
      if (!cart.includes(item) && rng.chance(cartChance)) {
        atMs += thinkMs(rng, 15 * SECOND_MS, 2 * SECOND_MS, 5 * MINUTE_MS, this.thinkSigma);
        recorder.record('cart', sessionId, item, atMs, device, channel, true);
        cart.push(item);
        cartAffinity.push(affinity);
      }
      // A buyer with something in the cart only sometimes keeps looking.
      if (buying && cart.length > 0 && !rng.chance(0.35)) break;
    }
    if (buying && cart.length === 0) {
      atMs += thinkMs(rng, knobs.viewThinkSeconds * SECOND_MS, 3 * SECOND_MS, 15 * MINUTE_MS, this.thinkSigma);
      recorder.record('view', sessionId, bestItem, atMs, device, channel, false);
      atMs += thinkMs(rng, 15 * SECOND_MS, 2 * SECOND_MS, 5 * MINUTE_MS, this.thinkSigma);
      recorder.record('cart', sessionId, bestItem, atMs, device, channel, true);
      cart.push(bestItem);
      cartAffinity.push(bestAffinity);
    }

    if (buying) {
      if (cart.length >= 2 && rng.chance(0.3)) {
        let weakest = 0;
        for (let i = 1; i < cart.length; i++) if (cartAffinity[i] < cartAffinity[weakest]) weakest = i;
        atMs += thinkMs(rng, 20 * SECOND_MS, 2 * SECOND_MS, 5 * MINUTE_MS, this.thinkSigma);
        recorder.record('remove_from_cart', sessionId, cart[weakest], atMs, device, channel, true);
        cart.splice(weakest, 1);
        cartAffinity.splice(weakest, 1);
      }
      if (!this.pendingReturn && rng.chance(DEFERRED_PURCHASE_SHARE[device])) {
        const returnAtMs = atMs + Math.min(40 * HOUR_MS, Math.max(2 * HOUR_MS, rng.logNormal(DEFERRAL_MEDIAN_MS, 0.6)));
        if (returnAtMs < this.context.options.endMs - HOUR_MS) {
          this.pendingReturn = { atMs: returnAtMs, cart, device, originSessionId: sessionId };
          return atMs;
        }
      }
      return this.checkOut(sessionId, cart, atMs, device, channel, true);
    }

    for (let i = cart.length - 1; i >= 0; i--) {
      if (rng.chance(0.25)) {
        atMs += thinkMs(rng, 20 * SECOND_MS, 2 * SECOND_MS, 5 * MINUTE_MS, this.thinkSigma);
        recorder.record('remove_from_cart', sessionId, cart[i], atMs, device, channel, true);
        cart.splice(i, 1);
      }
    }
    if (cart.length > 0 && rng.chance(0.2)) return this.checkOut(sessionId, cart, atMs, device, channel, false);
    return atMs;
  }

  /** One checkout (and purchase) event per cart line, all lines at the same instant. */
  private checkOut(sessionId: string, cart: number[], fromMs: number, device: number, channel: number, pays: boolean): number {
    const { rng, recorder } = this;
    let atMs = fromMs + thinkMs(rng, 60 * SECOND_MS, 10 * SECOND_MS, 10 * MINUTE_MS, this.thinkSigma);
    for (const item of cart) recorder.record('checkout', sessionId, item, atMs, device, channel, true);
    if (!pays) return atMs;
    atMs += thinkMs(rng, 40 * SECOND_MS, 5 * SECOND_MS, 10 * MINUTE_MS, this.thinkSigma);
    for (const item of cart) recorder.record('purchase', sessionId, item, atMs, device, channel, true);
    return atMs;
  }

  /** The visitor comes back (often on a desktop, via a reminder email or directly) and pays. */
  private returnVisit(startMs: number, pending: PendingReturn): number {
    const { rng, recorder, traits } = this;
    const device = rng.chance(0.5) ? DESKTOP : pending.device;
    const channel = rng.chance(0.6) ? DIRECT : EMAIL;
    const sessionId = recorder.newSessionId();
    recorder.sessions.push({
      sessionId,
      userIndex: traits.userIndex,
      kind: 'return_visit',
      startMs,
      device: DEVICES[device],
      channel: CHANNELS[channel],
      purchaseProbability: null,
      converted: true,
      completesSessionId: pending.originSessionId,
    });
    recorder.record('view', sessionId, pending.cart[0], startMs, device, channel, false);
    return this.checkOut(sessionId, pending.cart, startMs, device, channel, true);
  }
}

/** Click farms: bursts of hundreds of views at machine-regular intervals, mostly at night, never buying. */
function liveClickFarm(context: SimulationContext, traits: ShopperTraits, rng: Rng, recorder: StoryRecorder): void {
  const { options, catalog } = context;
  const device = rng.chance(0.7) ? DESKTOP : MOBILE;
  const channel = rng.chance(0.6) ? ADS : DIRECT;
  const intervalMs = rng.between(800, 2500);
  const nightHeavy = HOUR_TRAFFIC.map((_, hour) => (hour < 6 ? 0.8 / 6 : 0.2 / 18));
  const bursts = 1 + rng.poisson(0.6);
  let lastEndMs = -Infinity;
  for (const plannedMs of drawStartTimes(rng, bursts, options, nightHeavy)) {
    const startMs = Math.max(plannedMs, lastEndMs + SESSION_TIMEOUT_MS);
    const views = 60 + rng.below(181);
    // A burst cut off by the period's end would pile its views onto one instant; skip it instead.
    if (startMs + views * intervalMs * 1.03 >= options.endMs) continue;
    const sessionId = recorder.newSessionId();
    recorder.sessions.push({ sessionId, userIndex: traits.userIndex, kind: 'click_farm', startMs, device: DEVICES[device], channel: CHANNELS[channel], purchaseProbability: 0, converted: false });
    let atMs = startMs;
    for (let view = 0; view < views; view++) {
      if (view > 0) atMs += intervalMs * (0.97 + 0.06 * rng.next());
      recorder.record('view', sessionId, rng.below(catalog.items.length), atMs, device, channel, false);
    }
    lastEndMs = atMs;
  }
}

/** Fake-order accounts: straight to the cart and paid within seconds, always a ring's few items. */
function liveFakeOrders(context: SimulationContext, traits: ShopperTraits, rng: Rng, recorder: StoryRecorder): void {
  const { options, brushingRings } = context;
  const ring = brushingRings[rng.below(brushingRings.length)];
  const orders = 3 + rng.below(8);
  const anyHour = HOUR_TRAFFIC.map(() => 1);
  let lastEndMs = -Infinity;
  for (const plannedMs of drawStartTimes(rng, orders, options, anyHour)) {
    const startMs = Math.max(plannedMs, lastEndMs + SESSION_TIMEOUT_MS);
    if (startMs + 16 * SECOND_MS >= options.endMs) continue;
    const sessionId = recorder.newSessionId();
    recorder.sessions.push({ sessionId, userIndex: traits.userIndex, kind: 'fake_order', startMs, device: 'mobile', channel: 'direct', purchaseProbability: 1, converted: true });
    const item = ring[rng.below(ring.length)];
    let atMs = startMs;
    recorder.record('cart', sessionId, item, atMs, MOBILE, DIRECT, true);
    atMs += rng.between(2 * SECOND_MS, 8 * SECOND_MS);
    recorder.record('checkout', sessionId, item, atMs, MOBILE, DIRECT, true);
    atMs += rng.between(2 * SECOND_MS, 8 * SECOND_MS);
    recorder.record('purchase', sessionId, item, atMs, MOBILE, DIRECT, true);
    lastEndMs = atMs;
  }
}

/** Simulates one visitor; `firstEventNumber` continues the shop-wide event numbering. */
export function simulateShopper(context: SimulationContext, traits: ShopperTraits, firstEventNumber: number): ShopperStory {
  const userId = `u${traits.userIndex}`;
  const rng = Rng.stream(context.options.seed, STREAM_BEHAVIOUR, traits.userIndex);
  const recorder = new StoryRecorder(context, traits.userIndex, userId, `sim-${context.options.seed}-`, firstEventNumber);
  if (traits.label === 'click_farm') liveClickFarm(context, traits, rng, recorder);
  else if (traits.label === 'fake_order') liveFakeOrders(context, traits, rng, recorder);
  else new GenuineVisitor(context, traits, rng, recorder).live();
  return { userIndex: traits.userIndex, userId, label: traits.label, events: recorder.events, sessions: recorder.sessions };
}
