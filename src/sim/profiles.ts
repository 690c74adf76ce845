/**
 * The generator's behavioural knobs, grouped into named profiles. `classic` is the shop every test
 * and benchmark was written against (and stays byte-identical for a seed); `realistic` is fitted to
 * the statistics of the real samples in ../shared/data (docs/demo-shop.md has the side-by-side
 * table and says which figures the samples could not estimate and what was assumed instead).
 */

export const SHOP_PROFILES = ['classic', 'realistic'] as const;
export type ShopProfile = (typeof SHOP_PROFILES)[number];

export interface ShopKnobs {
  /** Catalog size per visitor when `items` is not given (at least 50 items). */
  itemsPerUser: number;
  /** Zipf exponent of item popularity: higher puts more of the views on the head. */
  itemPopularityExponent: number;
  /** Median visits per day of a genuine visitor beyond the first (log-normal across visitors). */
  medianSessionsPerDay: number;
  /** Mean views of a session that does not buy, by device (mobile, desktop, tablet). */
  browsingViewsMean: readonly number[];
  /** Share of browsing sessions that are long visits, their mean views beyond the first times `longVisitFactor`: a heavier tail of session lengths. */
  longVisitShare: number;
  longVisitFactor: number;
  /** Most views a session that does not buy makes. */
  maxBrowsingViews: number;
  /** A buyer who has not found anything after this many views takes the best item seen. */
  buyerViewBudget: number;
  /** Median seconds between two views of a session (log-normal). */
  viewThinkSeconds: number;
  /** Log-normal sigma of every think time: larger means more very quick and very slow steps. */
  thinkSigma: number;
  /** Median log-odds that a session converts, before device, channel and hour effects. */
  propensityMeanLogit: number;
  /** Chance per view (after the first) of opening again an item viewed earlier in the same session. */
  sessionRevisitShare: number;
  /** Chance that a later session starts on an item the visitor viewed in an earlier one (re-engagement). */
  returnToViewedShare: number;
  /** Chance per later view of a visit (one not already a revisit within it) of opening one of the visitor's recent views, mostly of earlier visits. */
  viewedBeforeShare: number;
  /** Per-view chance of putting the item in the cart in a session that does not buy, times the visitor's affinity. */
  browsingCartRate: number;
}

const CLASSIC: ShopKnobs = {
  itemsPerUser: 0.25,
  itemPopularityExponent: 0.9,
  medianSessionsPerDay: 0.07,
  browsingViewsMean: [3.5, 5, 4.5],
  longVisitShare: 0,
  longVisitFactor: 1,
  maxBrowsingViews: 30,
  buyerViewBudget: 15,
  viewThinkSeconds: 35,
  thinkSigma: 0.8,
  propensityMeanLogit: -3.4,
  sessionRevisitShare: 0,
  returnToViewedShare: 0,
  viewedBeforeShare: 0,
  browsingCartRate: 0.1,
};

const REALISTIC: ShopKnobs = {
  itemsPerUser: 2,
  itemPopularityExponent: 0.7,
  medianSessionsPerDay: 0.07,
  browsingViewsMean: [2.2, 2.8, 2.6],
  longVisitShare: 0.15,
  longVisitFactor: 7,
  maxBrowsingViews: 40,
  buyerViewBudget: 12,
  viewThinkSeconds: 45,
  thinkSigma: 0.9,
  propensityMeanLogit: -4.1,
  sessionRevisitShare: 0.2,
  returnToViewedShare: 0.35,
  viewedBeforeShare: 0.1,
  browsingCartRate: 0.1,
};

export const SHOP_KNOBS: Readonly<Record<ShopProfile, Readonly<ShopKnobs>>> = { classic: CLASSIC, realistic: REALISTIC };

export function isShopProfile(name: unknown): name is ShopProfile {
  return typeof name === 'string' && (SHOP_PROFILES as readonly string[]).includes(name);
}
