import type { CatalogEntry, VersionRef } from './serving-models';
import { atLeast, DenseScratch } from './dense-scratch';
import { Recommender } from './recommendation-id';

/** One item a recommender proposes, with its own score and where it came from. */
export interface Candidate {
  item: number;
  score: number;
  source: Recommender;
  version: VersionRef | null;
}

/** Items with scores, best first: `items[n]` scored `scores[n]` for n < `length`. */
export interface Ranked {
  items: number[];
  scores: number[];
  length: number;
}

/** A recommender's ranked proposals, best first. */
export interface SourceList {
  source: Recommender;
  version: VersionRef | null;
  ranked: Ranked;
  weight: number;
}

/**
 * How much each recommender's list counts when `recommendations` blends them (the `weight` of its
 * SourceList); a source not named counts 1. The one place blend weights come from: serving takes
 * DEFAULT_BLEND_WEIGHTS unless it is given others (e.g. weights learned on validation users).
 */
export type BlendWeights = Readonly<Partial<Record<Recommender, number>>>;

/**
 * Fixed for now. The live session counts 1.5 (the current visit says most about the next click);
 * re-engagement 2: on held-out days of real shops the items a user already touched were the
 * likeliest to be touched again (issue #14: recall@20 0.097–0.105 against the blend's 0.058).
 */
export const DEFAULT_BLEND_WEIGHTS: BlendWeights = {
  [Recommender.MATRIX_FACTORIZATION]: 1,
  [Recommender.ITEM_KNN]: 1,
  [Recommender.SESSION_GRU]: 1.5,
  [Recommender.SESSION_KNN]: 1.5,
  [Recommender.REENGAGEMENT]: 2,
};

/** The weight of `source` in `weights` (1 when not named). */
export function blendWeight(weights: BlendWeights, source: Recommender): number {
  return weights[source] ?? 1;
}

/** What is wrong with blend weights (each finite and ≥ 0), or null. */
export function blendWeightsProblem(weights: BlendWeights): string | null {
  for (const [source, weight] of Object.entries(weights)) {
    if (!(source in Recommender)) return `blend weights name an unknown recommender ${JSON.stringify(source)}`;
    if (typeof weight !== 'number' || !Number.isFinite(weight) || weight < 0) return `the blend weight of ${source} must be a finite number of at least 0 (got ${weight})`;
  }
  return null;
}

/** Reciprocal-rank fusion's damping constant: rank 0 counts 1/61, rank 20 1/81, so a list's top decides less than its agreement with the others. */
export const FUSION_K = 60;

/**
 * Blends several recommenders' lists by weighted reciprocal-rank fusion (Σ weight / (K + rank)),
 * which needs no common score scale. Each item is credited to the recommender that contributed
 * most to its fused score.
 */
export function fuseLists(lists: readonly SourceList[]): Candidate[] {
  return Array.from(fusedCandidates(lists));
}

const fusionScratch = new DenseScratch();

/**
 * `fuseLists` as a lazy sequence, to be iterated once: the fused scores are summed at once (in a
 * reusable array indexed by item id, not a Map per request), but they are ordered, and a candidate
 * object made, only as far as the list builder reads, usually the first dozen.
 */
export function fusedCandidates(lists: readonly SourceList[]): Iterable<Candidate> {
  if (lists.length === 1) {
    const [only] = lists;
    const { items, scores } = only.ranked;
    return mapRanked(only.ranked.length, (n) => ({ item: items[n], score: scores[n], source: only.source, version: only.version }));
  }
  const scratch = fusionScratch;
  for (let l = 0; l < lists.length; l++) {
    const list = lists[l];
    const ranked = list.ranked.items;
    for (let rank = 0; rank < list.ranked.length; rank++) {
      const item = ranked[rank];
      if (!DenseScratch.fits(item)) {
        scratch.reset();
        return fuseWithMap(lists);
      }
      const contribution = list.weight / (FUSION_K + rank + 1);
      if (scratch.touch(item)) {
        scratch.sum[item] = contribution;
        scratch.best[item] = contribution;
        scratch.from[item] = l;
      } else {
        scratch.sum[item] += contribution;
        if (contribution > scratch.best[item]) {
          scratch.best[item] = contribution;
          scratch.from[item] = l;
        }
      }
    }
  }
  const count = scratch.count;
  // Plain arrays: a typed array costs about 0.8 µs to allocate, more than filling these.
  const items: number[] = [];
  const sums: number[] = [];
  const from: number[] = [];
  for (let n = 0; n < count; n++) {
    const item = scratch.touched[n];
    items.push(item);
    sums.push(scratch.sum[item]);
    from.push(scratch.from[item]);
  }
  scratch.reset();
  return bestFirst(items, sums, from, lists);
}

/**
 * The fused items best first (higher sum, then lower item id), produced lazily: the arrays are
 * made a max-heap in linear time and each step pops one, so the few items a list builder reads cost
 * O(log n) each instead of sorting all of them. One pass only: popping consumes the heap.
 */
function bestFirst(items: number[], sums: number[], from: number[], lists: readonly SourceList[]): Iterable<Candidate> {
  const better = (a: number, b: number) => sums[a] > sums[b] || (sums[a] === sums[b] && items[a] < items[b]);
  const swap = (a: number, b: number) => {
    const item = items[a];
    const sum = sums[a];
    const list = from[a];
    items[a] = items[b];
    sums[a] = sums[b];
    from[a] = from[b];
    items[b] = item;
    sums[b] = sum;
    from[b] = list;
  };
  const siftDown = (start: number, size: number) => {
    for (let i = start; ; ) {
      const left = 2 * i + 1;
      if (left >= size) return;
      const right = left + 1;
      const child = right < size && better(right, left) ? right : left;
      if (!better(child, i)) return;
      swap(i, child);
      i = child;
    }
  };
  return {
    *[Symbol.iterator]() {
      let size = items.length;
      for (let i = (size >> 1) - 1; i >= 0; i--) siftDown(i, size);
      while (size > 0) {
        const candidate: Candidate = { item: items[0], score: sums[0], source: lists[from[0]].source, version: lists[from[0]].version };
        size--;
        swap(0, size);
        siftDown(0, size);
        yield candidate;
      }
    },
  };
}

function mapRanked(length: number, at: (n: number) => Candidate): Iterable<Candidate> {
  return {
    *[Symbol.iterator]() {
      for (let n = 0; n < length; n++) yield at(n);
    },
  };
}

/** The same fusion with a Map, for item ids too large for the dense scratch (and the specs' yardstick for the dense path). */
export function fuseWithMap(lists: readonly SourceList[]): Candidate[] {
  const fused = new Map<number, { score: number; best: number; from: SourceList }>();
  for (const list of lists) {
    for (let rank = 0; rank < list.ranked.length; rank++) {
      const item = list.ranked.items[rank];
      const contribution = list.weight / (FUSION_K + rank + 1);
      const entry = fused.get(item);
      if (!entry) fused.set(item, { score: contribution, best: contribution, from: list });
      else {
        entry.score += contribution;
        if (contribution > entry.best) {
          entry.best = contribution;
          entry.from = list;
        }
      }
    }
  }
  return [...fused]
    .sort((a, b) => b[1].score - a[1].score || a[0] - b[0])
    .map(([item, entry]) => ({ item, score: entry.score, source: entry.from.source, version: entry.from.version }));
}

/**
 * The k best entries of a dense score array as (index, score), best first, ties to the lower index;
 * only indices in [start, end) are ranked, and never a NaN score. A size-k min-heap (worst kept entry on
 * top) in two reused typed arrays, emptied worst-first into plain arrays: no pair objects, no
 * comparator calls and no typed-array allocation (about 0.8 µs each in Node 20), since this runs
 * over the whole catalogue on every request.
 */
export function selectTop(scores: ArrayLike<number>, k: number, start = 0, end = scores.length): Ranked {
  const size = Math.max(0, Math.min(k, end - start));
  const heapIndex = (heapIndexScratch = atLeast(heapIndexScratch, size));
  const heapScore = (heapScoreScratch = atLeast(heapScoreScratch, size));
  let length = 0;
  // Most of a long array cannot reach the top k: with a threshold that at least k entries reach,
  // only those (in index order) go through the heap. Exact: every top-k entry is at or above it.
  const candidates = size >= PREFILTER_MIN_K && end - start >= PREFILTER_MIN_RATIO * size ? entriesAbove(scores, start, end, size) : 0;
  if (candidates > 0) {
    for (let c = 0; c < candidates; c++) {
      const index = candidateScratch[c];
      length = offer(heapIndex, heapScore, length, size, index, scores[index]);
    }
  } else {
    for (let index = start; index < end; index++) length = offer(heapIndex, heapScore, length, size, index, scores[index]);
  }
  // Heapsort in place: the worst kept entry goes to the end, leaving the arrays best first.
  for (let last = length - 1; last > 0; last--) {
    const index = heapIndex[last];
    const score = heapScore[last];
    heapIndex[last] = heapIndex[0];
    heapScore[last] = heapScore[0];
    siftDown(heapIndex, heapScore, last, index, score);
  }
  const items: number[] = [];
  const best: number[] = [];
  for (let n = 0; n < length; n++) {
    items.push(heapIndex[n]);
    best.push(heapScore[n]);
  }
  return { items, scores: best, length };
}

/**
 * Offers (index, score) to the min-heap [0, length) of at most `size` entries; returns its new
 * length. Entries come in increasing index order, so one equal to the worst kept entry loses the tie.
 */
function offer(heapIndex: Int32Array, heapScore: Float64Array, length: number, size: number, index: number, score: number): number {
  if (score !== score) return length;
  if (length < size) {
    // Sift the new entry up past every parent it is worse than.
    let i = length;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const parentScore = heapScore[parent];
      if (!(score < parentScore || (score === parentScore && index > heapIndex[parent]))) break;
      heapIndex[i] = heapIndex[parent];
      heapScore[i] = parentScore;
      i = parent;
    }
    heapIndex[i] = index;
    heapScore[i] = score;
    return length + 1;
  }
  if (size > 0 && score > heapScore[0]) siftDown(heapIndex, heapScore, length, index, score);
  return length;
}

/** The prefilter pays off from this k, and for arrays at least this many times longer than k. */
const PREFILTER_MIN_K = 8;
const PREFILTER_MIN_RATIO = 6;
const SAMPLE_SIZE = 64;
const sampleScratch = new Float64Array(SAMPLE_SIZE);
let candidateScratch = new Int32Array(1024);

/**
 * Writes into `candidateScratch`, in index order, the entries of [start, end) at or above a
 * threshold estimated from an even sample (aiming at about 2k of them), and returns how many;
 * 0 when the sample gives no usable threshold or fewer than k entries reach it (the caller then
 * scans everything).
 */
function entriesAbove(scores: ArrayLike<number>, start: number, end: number, k: number): number {
  const n = end - start;
  for (let j = 0; j < SAMPLE_SIZE; j++) sampleScratch[j] = scores[start + Math.floor((j * n) / SAMPLE_SIZE)];
  sampleScratch.sort(); // ascending, NaN last
  let valid = SAMPLE_SIZE;
  while (valid > 0 && sampleScratch[valid - 1] !== sampleScratch[valid - 1]) valid--;
  const rank = Math.ceil((2 * k * SAMPLE_SIZE) / n);
  if (rank > valid) return 0;
  const threshold = sampleScratch[valid - rank];
  candidateScratch = atLeast(candidateScratch, n);
  let count = 0;
  for (let index = start; index < end; index++) if (scores[index] >= threshold) candidateScratch[count++] = index;
  return count >= k ? count : 0;
}

let heapIndexScratch = new Int32Array(256);
let heapScoreScratch = new Float64Array(256);

/** Puts (index, score) at the root of the min-heap [0, length) and sifts it down to its place. */
function siftDown(heapIndex: Int32Array, heapScore: Float64Array, length: number, index: number, score: number): void {
  let i = 0;
  for (;;) {
    const left = 2 * i + 1;
    if (left >= length) break;
    let child = left;
    const right = left + 1;
    if (right < length && (heapScore[right] < heapScore[left] || (heapScore[right] === heapScore[left] && heapIndex[right] > heapIndex[left]))) child = right;
    const childScore = heapScore[child];
    if (!(childScore < score || (childScore === score && heapIndex[child] > index))) break;
    heapIndex[i] = heapIndex[child];
    heapScore[i] = childScore;
    i = child;
  }
  heapIndex[i] = index;
  heapScore[i] = score;
}

/** What may not be served in this list. */
export interface ListRules {
  /** Purchased (non-repeatable), excluded by the client, or the items the list is about. */
  excluded: ReadonlySet<number>;
  category: string | null;
  maxPerCategory: number | null;
}

export interface ServedCandidate extends Candidate {
  /** The score shown to clients: non-increasing down the list. */
  listScore: number;
}

/**
 * Fills a list stage by stage (the blended models first, then the fallback chain), applying the
 * rules to every candidate: available, not excluded, in the requested category, not already in
 * the list, and under the per-category cap. Scores stay non-increasing: a later stage's scores are
 * rescaled to start just below the last one served.
 */
export class ListBuilder {
  readonly served: ServedCandidate[] = [];
  private readonly taken = new Set<number>();
  private readonly perCategory = new Map<string, number>();

  constructor(
    private readonly catalog: ReadonlyMap<number, CatalogEntry>,
    private readonly limit: number,
    private readonly rules: ListRules,
  ) {}

  get full(): boolean {
    return this.served.length >= this.limit;
  }

  private admissible(item: number): CatalogEntry | null {
    if (this.taken.has(item) || this.rules.excluded.has(item)) return null;
    const entry = this.catalog.get(item);
    if (!entry || !entry.available) return null;
    if (this.rules.category !== null && entry.category !== this.rules.category) return null;
    if (this.rules.maxPerCategory !== null && (this.perCategory.get(entry.category ?? '') ?? 0) >= this.rules.maxPerCategory) return null;
    return entry;
  }

  /** Adds candidates in order until the list is full. */
  addStage(candidates: Iterable<Candidate>): void {
    if (this.full) return;
    const floor = this.served.length > 0 ? this.served[this.served.length - 1].listScore : null;
    let scale: number | null = null;
    for (const candidate of candidates) {
      if (this.full) return;
      const entry = this.admissible(candidate.item);
      if (!entry) continue;
      if (scale === null) scale = floor === null ? 1 : candidate.score > 0 ? (floor * 0.99) / candidate.score : 0;
      let listScore = floor === null ? candidate.score : candidate.score * scale;
      const last = this.served[this.served.length - 1];
      if (last && listScore > last.listScore) listScore = last.listScore;
      this.served.push({ item: candidate.item, score: candidate.score, source: candidate.source, version: candidate.version, listScore });
      this.taken.add(candidate.item);
      if (this.rules.maxPerCategory !== null) {
        const category = entry.category ?? '';
        this.perCategory.set(category, (this.perCategory.get(category) ?? 0) + 1);
      }
    }
  }
}
