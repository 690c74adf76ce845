import type { CatalogItem } from '../events/event.types';
import { BRAND_SYLLABLES, CATEGORY_SPECS, TITLE_ADJECTIVES, departmentOf } from './catalog-specs';
import type { ResolvedShopOptions } from './options';
import { AliasTable, Rng } from '../ml/random';
import { STREAM_CATALOG } from './streams';

/** Category sizes are skewed too, but less than items. */
const CATEGORY_SIZE_EXPONENT = 0.7;
/** Spread of prices around the category median (log scale). */
const PRICE_SIGMA = 0.45;
/** How much of an item's taste vector its category explains; the rest is the item's own. */
const CENTROID_WEIGHT = 0.75;
const ITEM_OWN_WEIGHT = 0.65;
const BRANDS_PER_DEPARTMENT = 8;

/**
 * The demo shop's catalog, in parallel typed arrays indexed by item index (the number in
 * `i<index>`), plus the samplers sessions use to pick what a visitor looks at.
 */
export interface ShopCatalog {
  items: CatalogItem[];
  categoryNames: string[];
  itemCategory: Uint16Array;
  itemPrice: Float64Array;
  /** Popularity weight of each item (Zipf over a random ranking, the profile's exponent); sums to 1. */
  itemPopularity: Float64Array;
  /** Row-major items × dimensions. */
  itemTaste: Float32Array;
  /** Row-major categories × dimensions: what items of a category have in common. */
  categoryCentroids: Float64Array;
  /** Share of all popularity that falls in each category; sums to 1. */
  categoryShare: Float64Array;
  categoryPicker: AliasTable;
  itemsInCategory: Int32Array[];
  /** Draws a position in `itemsInCategory[c]` by item popularity. */
  popularityInCategory: AliasTable[];
  dimensions: number;
}

function brandName(rng: Rng): string {
  const syllables = 2 + (rng.chance(0.3) ? 1 : 0);
  let name = '';
  for (let i = 0; i < syllables; i++) name += BRAND_SYLLABLES[rng.below(BRAND_SYLLABLES.length)];
  return name[0].toUpperCase() + name.slice(1);
}

/** Charm pricing for anything above a few euros (49.99), plain cents below. */
function shelfPrice(raw: number): number {
  if (raw >= 20) return Math.round(raw) - 0.01;
  return Math.max(0.99, Math.round(raw * 100) / 100);
}

function zipfWeights(count: number, exponent: number, rng: Rng): Float64Array {
  const rankOf = new Int32Array(count);
  for (let i = 0; i < count; i++) rankOf[i] = i;
  for (let i = count - 1; i > 0; i--) {
    const j = rng.below(i + 1);
    const swap = rankOf[i];
    rankOf[i] = rankOf[j];
    rankOf[j] = swap;
  }
  const weights = new Float64Array(count);
  let total = 0;
  for (let i = 0; i < count; i++) {
    weights[i] = 1 / Math.pow(rankOf[i] + 1, exponent);
    total += weights[i];
  }
  for (let i = 0; i < count; i++) weights[i] /= total;
  return weights;
}

export function buildCatalog(options: ResolvedShopOptions): ShopCatalog {
  const rng = Rng.stream(options.seed, STREAM_CATALOG);
  const dimensions = options.tasteDimensions;
  const categoryCount = options.categories;
  const specs = CATEGORY_SPECS.slice(0, categoryCount);
  const unitScale = 1 / Math.sqrt(dimensions);

  const categoryCentroids = new Float64Array(categoryCount * dimensions);
  for (let i = 0; i < categoryCentroids.length; i++) categoryCentroids[i] = rng.normal() * unitScale;

  const brandsByDepartment = new Map<string, string[]>();
  for (const spec of specs) {
    const department = departmentOf(spec.name);
    if (!brandsByDepartment.has(department)) {
      brandsByDepartment.set(department, Array.from({ length: BRANDS_PER_DEPARTMENT }, () => brandName(rng)));
    }
  }
  const brandPicker = new AliasTable(Array.from({ length: BRANDS_PER_DEPARTMENT }, (_, rank) => 1 / (rank + 1)));

  // Every category gets one item first, so none is empty; the rest follow the size skew.
  const sizePicker = new AliasTable(zipfWeights(categoryCount, CATEGORY_SIZE_EXPONENT, rng));
  const itemCategory = new Uint16Array(options.items);
  for (let i = 0; i < options.items; i++) itemCategory[i] = i < categoryCount ? i : sizePicker.sample(rng);

  const itemPopularity = zipfWeights(options.items, options.knobs.itemPopularityExponent, rng);
  const itemPrice = new Float64Array(options.items);
  const itemTaste = new Float32Array(options.items * dimensions);
  const items: CatalogItem[] = new Array(options.items);
  for (let i = 0; i < options.items; i++) {
    const category = itemCategory[i];
    const spec = specs[category];
    const brand = brandsByDepartment.get(departmentOf(spec.name))![brandPicker.sample(rng)];
    const noun = spec.nouns[rng.below(spec.nouns.length)];
    const adjective = TITLE_ADJECTIVES[rng.below(TITLE_ADJECTIVES.length)];
    const model = 100 + rng.below(900);
    itemPrice[i] = shelfPrice(rng.logNormal(spec.medianPrice, PRICE_SIGMA));
    for (let k = 0; k < dimensions; k++) {
      itemTaste[i * dimensions + k] = CENTROID_WEIGHT * categoryCentroids[category * dimensions + k] + ITEM_OWN_WEIGHT * rng.normal() * unitScale;
    }
    items[i] = {
      itemId: `i${i}`,
      title: `${brand} ${adjective} ${noun} ${model}`,
      category: spec.name,
      brand,
      price: itemPrice[i],
      available: true,
    };
  }

  const members: number[][] = Array.from({ length: categoryCount }, () => []);
  for (let i = 0; i < options.items; i++) members[itemCategory[i]].push(i);
  const itemsInCategory = members.map((list) => Int32Array.from(list));
  const popularityInCategory = itemsInCategory.map((list) => new AliasTable(Array.from(list, (item) => itemPopularity[item])));
  const categoryShare = new Float64Array(categoryCount);
  for (let i = 0; i < options.items; i++) categoryShare[itemCategory[i]] += itemPopularity[i];

  return {
    items,
    categoryNames: specs.map((spec) => spec.name),
    itemCategory,
    itemPrice,
    itemPopularity,
    itemTaste,
    categoryCentroids,
    categoryShare,
    categoryPicker: new AliasTable(categoryShare),
    itemsInCategory,
    popularityInCategory,
    dimensions,
  };
}
