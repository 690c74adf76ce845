import type { ShopCatalog } from './catalog';
import type { ResolvedShopOptions } from './options';
import { Rng } from '../ml/random';
import { STREAM_LABEL, STREAM_TRAITS } from './streams';

/**
 * The latent model of a visitor: who they are (label), what they like (taste), how often they come
 * back and how ready they are to buy. Everything here is ground truth; the event stream only shows
 * its consequences.
 */

export type UserLabel = 'genuine' | 'click_farm' | 'fake_order';
export const USER_LABELS: readonly UserLabel[] = ['genuine', 'click_farm', 'fake_order'];

export const DEVICES = ['mobile', 'desktop', 'tablet'] as const;
export type Device = (typeof DEVICES)[number];
export const CHANNELS = ['organic', 'ads', 'email', 'direct', 'social'] as const;
export type Channel = (typeof CHANNELS)[number];

/** Population share of each device as a visitor's usual one. */
export const DEVICE_SHARE = [0.58, 0.34, 0.08];
/** A session uses the visitor's usual device this often, otherwise one drawn from DEVICE_SHARE. */
export const USUAL_DEVICE_LOYALTY = 0.8;
/** Log-odds shift of a session's purchase probability: small screens browse, desktops buy. */
export const DEVICE_CONVERSION_EFFECT = [-0.35, 0.25, 0.05];

export const CHANNEL_SHARE = [0.34, 0.24, 0.1, 0.16, 0.16];
/** Email and direct visitors already know what they want; social traffic mostly scrolls. */
export const CHANNEL_CONVERSION_EFFECT = [0, -0.15, 0.45, 0.35, -0.55];

/** Relative traffic by hour of day (shop time = UTC): a small lunch bump and an evening peak. */
export const HOUR_TRAFFIC = [0.9, 0.5, 0.3, 0.2, 0.2, 0.3, 0.6, 1.0, 1.3, 1.5, 1.6, 1.7, 2.0, 1.9, 1.7, 1.7, 1.8, 2.0, 2.4, 2.9, 3.2, 3.0, 2.3, 1.5];
/** Late-night visits rarely end in a purchase; evening ones a little more often. */
export const HOUR_CONVERSION_EFFECT = HOUR_TRAFFIC.map((_, hour) => (hour < 6 ? -0.4 : hour >= 19 && hour <= 22 ? 0.25 : hour === 12 || hour === 13 ? 0.1 : 0));

/** Spread of visits per day across visitors (log-normal around the profile's median). */
const SESSIONS_PER_DAY_SIGMA = 0.9;
/** Median log-odds that a session converts are the profile's (classic: −3.4, about 3 %, 5–6 % on average over users). */
const PROPENSITY_SIGMA = 1.0;
/** Frequent visitors are somewhat readier to buy, so activity is a (weak) signal of propensity. */
const ACTIVITY_PROPENSITY_CORRELATION = 0.4;

/** Weights of the affinity score: taste match, favourite-category bonus, offset. */
const AFFINITY_TASTE_WEIGHT = 3.0;
const AFFINITY_FAVOURITE_WEIGHT = 0.8;
const AFFINITY_OFFSET = -1.0;
const TASTE_NOISE = 0.8;

export interface ShopperTraits {
  userIndex: number;
  label: UserLabel;
  /** Category indices the visitor mostly browses, with weights summing to 1. */
  favouriteCategories: number[];
  favouriteWeights: number[];
  taste: Float64Array;
  /** Mean number of visits per day beyond the first one. */
  sessionsPerDay: number;
  /** Log-odds that a session converts, before device, channel and hour effects. */
  propensityLogit: number;
  usualDevice: number;
}

export function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

export function labelOf(options: ResolvedShopOptions, userIndex: number): UserLabel {
  const draw = Rng.stream(options.seed, STREAM_LABEL, userIndex).next();
  if (draw < options.clickFarmShare) return 'click_farm';
  if (draw < options.clickFarmShare + options.fakeOrderShare) return 'fake_order';
  return 'genuine';
}

export function traitsOf(options: ResolvedShopOptions, catalog: ShopCatalog, userIndex: number): ShopperTraits {
  const rng = Rng.stream(options.seed, STREAM_TRAITS, userIndex);
  const dimensions = catalog.dimensions;
  const favouriteCount = Math.min(1 + rng.below(3), catalog.categoryNames.length);
  const favouriteCategories: number[] = [];
  // Popular categories are more often someone's favourite; a few retries keep the list distinct.
  for (let attempt = 0; favouriteCategories.length < favouriteCount && attempt < 20; attempt++) {
    const category = catalog.categoryPicker.sample(rng);
    if (!favouriteCategories.includes(category)) favouriteCategories.push(category);
  }
  const raw = favouriteCategories.map(() => rng.exponential(1));
  const rawTotal = raw.reduce((sum, value) => sum + value, 0);
  const favouriteWeights = raw.map((value) => value / rawTotal);

  const taste = new Float64Array(dimensions);
  const noiseScale = TASTE_NOISE / Math.sqrt(dimensions);
  for (let k = 0; k < dimensions; k++) {
    let value = rng.normal() * noiseScale;
    for (let f = 0; f < favouriteCategories.length; f++) value += favouriteWeights[f] * catalog.categoryCentroids[favouriteCategories[f] * dimensions + k];
    taste[k] = value;
  }

  const activity = rng.normal();
  const ownPropensity = rng.normal();
  const propensityLogit =
    options.knobs.propensityMeanLogit +
    PROPENSITY_SIGMA * (ACTIVITY_PROPENSITY_CORRELATION * activity + Math.sqrt(1 - ACTIVITY_PROPENSITY_CORRELATION ** 2) * ownPropensity);
  return {
    userIndex,
    label: labelOf(options, userIndex),
    favouriteCategories,
    favouriteWeights,
    taste,
    sessionsPerDay: options.knobs.medianSessionsPerDay * Math.exp(SESSIONS_PER_DAY_SIGMA * activity),
    propensityLogit,
    usualDevice: rng.pickWeighted(DEVICE_SHARE),
  };
}

/** How much the visitor likes an item, in (0, 1): taste match plus a bonus for favourite categories. */
export function affinityOf(traits: ShopperTraits, catalog: ShopCatalog, itemIndex: number): number {
  const dimensions = catalog.dimensions;
  const offset = itemIndex * dimensions;
  let dot = 0;
  for (let k = 0; k < dimensions; k++) dot += traits.taste[k] * catalog.itemTaste[offset + k];
  const category = catalog.itemCategory[itemIndex];
  let favouriteWeight = 0;
  for (let f = 0; f < traits.favouriteCategories.length; f++) if (traits.favouriteCategories[f] === category) favouriteWeight = traits.favouriteWeights[f];
  return sigmoid(AFFINITY_TASTE_WEIGHT * dot + AFFINITY_FAVOURITE_WEIGHT * favouriteWeight + AFFINITY_OFFSET);
}

/** The probability that one session of a genuine visitor ends in a purchase (now or on a return visit). */
export function sessionConversionOf(propensityLogit: number, device: number, channel: number, hour: number): number {
  return sigmoid(propensityLogit + DEVICE_CONVERSION_EFFECT[device] + CHANNEL_CONVERSION_EFFECT[channel] + HOUR_CONVERSION_EFFECT[hour]);
}

export function deviceChanceOf(traits: ShopperTraits, device: number): number {
  return (device === traits.usualDevice ? USUAL_DEVICE_LOYALTY : 0) + (1 - USUAL_DEVICE_LOYALTY) * DEVICE_SHARE[device];
}

const HOUR_TRAFFIC_TOTAL = HOUR_TRAFFIC.reduce((sum, value) => sum + value, 0);
const CHANNEL_SHARE_TOTAL = CHANNEL_SHARE.reduce((sum, value) => sum + value, 0);

/** Expected session conversion of a genuine visitor, averaged exactly over device, channel and hour. */
export function expectedSessionConversionOf(traits: ShopperTraits): number {
  let expected = 0;
  for (let device = 0; device < DEVICES.length; device++) {
    const deviceChance = deviceChanceOf(traits, device);
    for (let channel = 0; channel < CHANNELS.length; channel++) {
      const contextChance = (deviceChance * CHANNEL_SHARE[channel]) / CHANNEL_SHARE_TOTAL;
      for (let hour = 0; hour < 24; hour++) {
        expected += contextChance * (HOUR_TRAFFIC[hour] / HOUR_TRAFFIC_TOTAL) * sessionConversionOf(traits.propensityLogit, device, channel, hour);
      }
    }
  }
  return expected;
}
