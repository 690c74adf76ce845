import type { CatalogEntry, VersionRef } from './serving-models';
import { DenseScratch } from './dense-scratch';
import { Recommender } from './recommendation-id';

/** One item a recommender proposes, with its own score and where it came from. */
export interface Candidate {
  item: number;
  score: number;
  source: Recommender;
  version: VersionRef | null;
}

/** A recommender's ranked proposals, best first. */
export interface SourceList {
  source: Recommender;
  version: VersionRef | null;
  ranked: readonly (readonly [item: number, score: number])[];
  weight: number;
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
 * `fuseLists` as a lazy sequence: the fused order is computed at once (in a reusable array indexed
 * by item id, not a Map per request), but a candidate object is only made for each item the list
 * builder actually reads, usually the first dozen.
 */
export function fusedCandidates(lists: readonly SourceList[]): Iterable<Candidate> {
  if (lists.length === 1) {
    const [only] = lists;
    return mapRanked(only.ranked.length, (n) => ({ item: only.ranked[n][0], score: only.ranked[n][1], source: only.source, version: only.version }));
  }
  const scratch = fusionScratch;
  for (let l = 0; l < lists.length; l++) {
    const list = lists[l];
    const ranked = list.ranked;
    for (let rank = 0; rank < ranked.length; rank++) {
      const item = ranked[rank][0];
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
  const items = scratch.touched.slice(0, count);
  const sum = scratch.sum;
  items.sort((a, b) => sum[b] - sum[a] || a - b);
  const scores = new Float64Array(count);
  const from = new Int32Array(count);
  for (let n = 0; n < count; n++) {
    scores[n] = sum[items[n]];
    from[n] = scratch.from[items[n]];
  }
  scratch.reset();
  return mapRanked(count, (n) => ({ item: items[n], score: scores[n], source: lists[from[n]].source, version: lists[from[n]].version }));
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
    list.ranked.forEach(([item], rank) => {
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
    });
  }
  return [...fused]
    .sort((a, b) => b[1].score - a[1].score || a[0] - b[0])
    .map(([item, entry]) => ({ item, score: entry.score, source: entry.from.source, version: entry.from.version }));
}

/**
 * The k best (index, score) pairs of a dense score array, best first, via a size-k min-heap (worst
 * kept entry on top; ties rank the lower index higher). The heap lives in two typed arrays: this
 * runs over the whole catalogue on every request, and pairs would be garbage after it.
 */
export function topOfScores(scores: ArrayLike<number>, k: number, skip?: (index: number) => boolean): [number, number][] {
  const size = Math.max(0, Math.min(k, scores.length));
  const heapIndex = new Int32Array(size);
  const heapScore = new Float64Array(size);
  let length = 0;
  const less = (a: number, b: number) => heapScore[a] < heapScore[b] || (heapScore[a] === heapScore[b] && heapIndex[a] > heapIndex[b]);
  const swap = (a: number, b: number) => {
    const index = heapIndex[a];
    const score = heapScore[a];
    heapIndex[a] = heapIndex[b];
    heapScore[a] = heapScore[b];
    heapIndex[b] = index;
    heapScore[b] = score;
  };
  for (let index = 0; index < scores.length; index++) {
    const score = scores[index];
    // Most items lose to the heap's smallest: compare before anything else.
    if (length >= k && (k === 0 || score < heapScore[0] || (score === heapScore[0] && index > heapIndex[0]))) continue;
    if (skip !== undefined && skip(index)) continue;
    if (length < k) {
      heapIndex[length] = index;
      heapScore[length] = score;
      length++;
      for (let i = length - 1; i > 0; ) {
        const parent = (i - 1) >> 1;
        if (!less(i, parent)) break;
        swap(i, parent);
        i = parent;
      }
    } else if (heapScore[0] < score || (heapScore[0] === score && heapIndex[0] > index)) {
      heapIndex[0] = index;
      heapScore[0] = score;
      for (let i = 0; ; ) {
        const l = 2 * i + 1;
        const r = l + 1;
        let smallest = i;
        if (l < length && less(l, smallest)) smallest = l;
        if (r < length && less(r, smallest)) smallest = r;
        if (smallest === i) break;
        swap(i, smallest);
        i = smallest;
      }
    }
  }
  const top: [number, number][] = new Array(length);
  for (let n = 0; n < length; n++) top[n] = [heapIndex[n], heapScore[n]];
  return top.sort((a, b) => b[1] - a[1] || a[0] - b[0]);
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
