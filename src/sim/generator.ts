import type { CatalogItem, ShopEvent } from '../events/event.types';
import { simulateShopper, type SessionTruth, type ShopperStory, type SimulationContext } from './behaviour';
import { buildCatalog, type ShopCatalog } from './catalog';
import { resolveShopOptions, type DemoShopOptions, type ResolvedShopOptions } from './options';
import { Rng } from '../ml/random';
import {
  CHANNELS,
  DEVICES,
  affinityOf,
  expectedSessionConversionOf,
  labelOf,
  sessionConversionOf,
  traitsOf,
  type Channel,
  type Device,
  type ShopperTraits,
  type UserLabel,
} from './shopper';
import { STREAM_BRUSHING } from './streams';

/** Fake-order accounts per brushing ring, on average: rings are small groups pushing a few items. */
const ACCOUNTS_PER_RING = 12;

export interface DemoShopSummary {
  users: number;
  items: number;
  categories: number;
  genuine: number;
  clickFarm: number;
  fakeOrder: number;
  brushingRings: number;
}

/** What the simulator knows and the event stream only hints at. Users are `u<index>` or the index. */
export interface DemoShopGroundTruth {
  userIndexOf(userId: string): number;
  label(user: string | number): UserLabel;
  /** How much the user likes the item, in (0, 1); drives which items they open, cart and buy. */
  trueAffinity(userIndex: number, itemIndex: number): number;
  /** Expected chance that one of the user's sessions leads to a purchase (0 for click farms, 1 for fake orders). */
  purchaseProbability(user: string | number): number;
  /** Chance of one of the user's sessions, given its device, channel and UTC start hour, leading to a purchase. */
  sessionPurchaseProbability(user: string | number, device: Device, channel: Channel, hour: number): number;
  /**
   * Chance that a genuine user buys at least once in the period: 1 − (1 − p)·e^(−μp) for per-session
   * chance p and 1 + Poisson(μ) sessions (exact up to the rare sessions pushed past the period's end).
   */
  buyerProbability(user: string | number): number;
  favouriteCategories(user: string | number): string[];
  /** Item indices pushed by each fake-order ring. */
  brushingRings: ReadonlyArray<readonly number[]>;
  /** Counts labels over all users (one random draw per user, computed on first call). */
  summary(): DemoShopSummary;
}

export interface DemoShop {
  options: ResolvedShopOptions;
  items: CatalogItem[];
  catalog: ShopCatalog;
  groundTruth: DemoShopGroundTruth;
  /** Users in index order, each with their events (chronological) and session truths. */
  shoppers(): Generator<ShopperStory>;
  /** The event stream in ingestion order: user by user, each user's events in time order. */
  events(): Generator<ShopEvent>;
  sessions(): Generator<SessionTruth>;
}

function pickBrushingRings(options: ResolvedShopOptions, catalog: ShopCatalog): Int32Array[] {
  const rng = Rng.stream(options.seed, STREAM_BRUSHING);
  const count = Math.max(1, Math.round((options.users * options.fakeOrderShare) / ACCOUNTS_PER_RING));
  const rings: Int32Array[] = [];
  for (let r = 0; r < count; r++) {
    const members = catalog.itemsInCategory[rng.below(catalog.categoryNames.length)];
    const wanted = Math.min(members.length, 1 + rng.below(3));
    const ring: number[] = [];
    // Uniform picks land mostly in the long tail: brushing pushes items nobody else buys.
    for (let attempt = 0; ring.length < wanted && attempt < 50; attempt++) {
      const item = members[rng.below(members.length)];
      if (!ring.includes(item)) ring.push(item);
    }
    rings.push(Int32Array.from(ring));
  }
  return rings;
}

/**
 * Builds a deterministic synthetic shop. The catalog is built eagerly (memory grows with items);
 * users are simulated lazily, one at a time, so producing any number of events takes constant memory.
 */
export function createDemoShop(input: DemoShopOptions = {}): DemoShop {
  const options = resolveShopOptions(input);
  const catalog = buildCatalog(options);
  const brushingRings = pickBrushingRings(options, catalog);
  const context: SimulationContext = { options, catalog, brushingRings };

  const userIndexOf = (userId: string): number => {
    const index = /^u(\d+)$/.exec(userId) ? Number(userId.slice(1)) : NaN;
    if (!Number.isSafeInteger(index) || index >= options.users) throw new RangeError(`no such user in the demo shop: ${userId}`);
    return index;
  };
  const indexOf = (user: string | number): number => {
    if (typeof user === 'string') return userIndexOf(user);
    if (!Number.isSafeInteger(user) || user < 0 || user >= options.users) throw new RangeError(`no such user index: ${user}`);
    return user;
  };
  // Benchmarks ask about many items for one user in a row; replaying traits is cheap but not free.
  let cachedTraits: ShopperTraits | null = null;
  const traits = (user: string | number): ShopperTraits => {
    const index = indexOf(user);
    if (cachedTraits?.userIndex !== index) cachedTraits = traitsOf(options, catalog, index);
    return cachedTraits;
  };
  let summary: DemoShopSummary | null = null;

  const groundTruth: DemoShopGroundTruth = {
    userIndexOf,
    label: (user) => labelOf(options, indexOf(user)),
    trueAffinity: (userIndex, itemIndex) => {
      if (!Number.isSafeInteger(itemIndex) || itemIndex < 0 || itemIndex >= options.items) throw new RangeError(`no such item index: ${itemIndex}`);
      return affinityOf(traits(userIndex), catalog, itemIndex);
    },
    purchaseProbability: (user) => {
      const shopper = traits(user);
      if (shopper.label === 'click_farm') return 0;
      if (shopper.label === 'fake_order') return 1;
      return expectedSessionConversionOf(shopper);
    },
    sessionPurchaseProbability: (user, device, channel, hour) => {
      const shopper = traits(user);
      if (shopper.label === 'click_farm') return 0;
      if (shopper.label === 'fake_order') return 1;
      const deviceIndex = DEVICES.indexOf(device);
      const channelIndex = CHANNELS.indexOf(channel);
      if (deviceIndex < 0 || channelIndex < 0 || !Number.isInteger(hour) || hour < 0 || hour > 23) {
        throw new RangeError(`unknown session context: ${device}, ${channel}, hour ${hour}`);
      }
      return sessionConversionOf(shopper.propensityLogit, deviceIndex, channelIndex, hour);
    },
    buyerProbability: (user) => {
      const shopper = traits(user);
      if (shopper.label === 'click_farm') return 0;
      if (shopper.label === 'fake_order') return 1;
      const perSession = expectedSessionConversionOf(shopper);
      return 1 - (1 - perSession) * Math.exp(-shopper.sessionsPerDay * options.days * perSession);
    },
    favouriteCategories: (user) => traits(user).favouriteCategories.map((category) => catalog.categoryNames[category]),
    brushingRings: brushingRings.map((ring) => Array.from(ring)),
    summary: () => {
      if (!summary) {
        summary = { users: options.users, items: options.items, categories: options.categories, genuine: 0, clickFarm: 0, fakeOrder: 0, brushingRings: brushingRings.length };
        for (let user = 0; user < options.users; user++) {
          const label = labelOf(options, user);
          if (label === 'click_farm') summary.clickFarm++;
          else if (label === 'fake_order') summary.fakeOrder++;
          else summary.genuine++;
        }
      }
      return { ...summary };
    },
  };

  function* shoppers(): Generator<ShopperStory> {
    let nextEventNumber = 0;
    for (let user = 0; user < options.users; user++) {
      const story = simulateShopper(context, traitsOf(options, catalog, user), nextEventNumber);
      nextEventNumber += story.events.length;
      yield story;
    }
  }

  return {
    options,
    items: catalog.items,
    catalog,
    groundTruth,
    shoppers,
    *events() {
      for (const story of shoppers()) {
        const events = story.events;
        for (let i = 0; i < events.length; i++) yield events[i];
      }
    },
    *sessions() {
      for (const story of shoppers()) yield* story.sessions;
    },
  };
}
