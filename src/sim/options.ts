import { CATEGORY_SPECS } from './catalog-specs';
import { SHOP_KNOBS, SHOP_PROFILES, isShopProfile, type ShopKnobs, type ShopProfile } from './profiles';

/** What a caller may set; everything has a default. */
export interface DemoShopOptions {
  /** Number of visitors (genuine and abnormal). Default 10 000. */
  users?: number;
  /** Length of the simulated period in days. Default 14. */
  days?: number;
  /** Any non-negative safe integer; same seed → byte-identical shop. Default 1. */
  seed?: number;
  /**
   * Which behaviour the shop follows (src/sim/profiles.ts): `classic` (the default, the shop tests
   * were written against: small catalogue, long sessions, no repeat views by design) or `realistic`
   * (fitted to real samples: large long-tail catalogue, short sessions, repeat views, fewer
   * purchases; what `funnelcast demo` and `generate` use).
   */
  profile?: ShopProfile;
  /** Catalog size. Default max(50, round(users / 4)) for `classic`, max(50, users · 2) for `realistic`. */
  items?: number;
  /** Number of categories, at most 52. Default round(√items) clamped to 20…50 (and to `items`). */
  categories?: number;
  /** First instant of the period (UTC); a Date, ISO string or epoch milliseconds. Default 2026-01-05T00:00:00Z. */
  start?: Date | string | number;
  /** Dimensions of the latent taste vectors of users and items. Default 12. */
  tasteDimensions?: number;
  /** Share of users that are click-farm bots. Default 0.01. */
  clickFarmShare?: number;
  /** Share of users that are fake-order (brushing) accounts. Default 0.005. */
  fakeOrderShare?: number;
}

export interface ResolvedShopOptions {
  profile: ShopProfile;
  knobs: Readonly<ShopKnobs>;
  users: number;
  days: number;
  seed: number;
  items: number;
  categories: number;
  startMs: number;
  endMs: number;
  tasteDimensions: number;
  clickFarmShare: number;
  fakeOrderShare: number;
}

export const DEFAULT_START = '2026-01-05T00:00:00.000Z';
export const DAY_MS = 86_400_000;

/**
 * The start that makes a `days`-long shop end at the last UTC midnight at or before `nowMs`: the
 * demo's and `generate`'s default, so that training, prediction and "the last 7 days" find recent
 * events. The period starts at a midnight, so for a seed the shop is the one generated from any
 * other midnight shifted by whole days: the same users, items, sessions and hours of day (the
 * generator has no day-of-week effects). Returns an ISO instant.
 */
export function startEndingToday(days: number, nowMs = Date.now()): string {
  const lastMidnight = Math.floor(nowMs / DAY_MS) * DAY_MS;
  return new Date(lastMidnight - days * DAY_MS).toISOString();
}

function wholeNumber(name: string, value: number, min: number): number {
  if (!Number.isSafeInteger(value) || value < min) throw new RangeError(`${name} must be a whole number ≥ ${min} (got ${value})`);
  return value;
}

function share(name: string, value: number): number {
  if (!(value >= 0 && value <= 1)) throw new RangeError(`${name} must lie in [0, 1] (got ${value})`);
  return value;
}

export function resolveShopOptions(options: DemoShopOptions = {}): ResolvedShopOptions {
  const profile = options.profile ?? 'classic';
  if (!isShopProfile(profile)) throw new RangeError(`profile must be one of ${SHOP_PROFILES.join(', ')} (got ${String(profile)})`);
  const knobs = SHOP_KNOBS[profile];
  const users = wholeNumber('users', options.users ?? 10_000, 1);
  const days = wholeNumber('days', options.days ?? 14, 1);
  const seed = wholeNumber('seed', options.seed ?? 1, 0);
  const items = wholeNumber('items', options.items ?? Math.max(50, Math.round(users * knobs.itemsPerUser)), 1);
  const defaultCategories = Math.min(items, Math.max(20, Math.min(50, Math.round(Math.sqrt(items)))));
  const categories = wholeNumber('categories', options.categories ?? defaultCategories, 1);
  if (categories > CATEGORY_SPECS.length) throw new RangeError(`categories must be at most ${CATEGORY_SPECS.length} (got ${categories})`);
  if (categories > items) throw new RangeError(`categories (${categories}) cannot exceed items (${items})`);
  const startMs = new Date(options.start ?? DEFAULT_START).getTime();
  if (!Number.isFinite(startMs)) throw new RangeError(`start is not a valid date (got ${String(options.start)})`);
  const clickFarmShare = share('clickFarmShare', options.clickFarmShare ?? 0.01);
  const fakeOrderShare = share('fakeOrderShare', options.fakeOrderShare ?? 0.005);
  if (clickFarmShare + fakeOrderShare > 1) throw new RangeError('clickFarmShare + fakeOrderShare must not exceed 1');
  return {
    profile,
    knobs,
    users,
    days,
    seed,
    items,
    categories,
    startMs,
    endMs: startMs + days * DAY_MS,
    tasteDimensions: wholeNumber('tasteDimensions', options.tasteDimensions ?? 12, 1),
    clickFarmShare,
    fakeOrderShare,
  };
}
