import type { CatalogEntry, VersionRef } from './serving-models';
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
  if (lists.length === 1) {
    const [only] = lists;
    return only.ranked.map(([item, score]) => ({ item, score, source: only.source, version: only.version }));
  }
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

/** The k best (index, score) pairs of a dense score array, best first, via a size-k min-heap. */
export function topOfScores(scores: ArrayLike<number>, k: number, skip: (index: number) => boolean = () => false): [number, number][] {
  const heap: [number, number][] = [];
  const less = (a: [number, number], b: [number, number]) => a[1] < b[1] || (a[1] === b[1] && a[0] > b[0]);
  const siftDown = (start: number) => {
    for (let i = start; ; ) {
      const l = 2 * i + 1;
      const r = l + 1;
      let smallest = i;
      if (l < heap.length && less(heap[l], heap[smallest])) smallest = l;
      if (r < heap.length && less(heap[r], heap[smallest])) smallest = r;
      if (smallest === i) return;
      [heap[i], heap[smallest]] = [heap[smallest], heap[i]];
      i = smallest;
    }
  };
  for (let index = 0; index < scores.length; index++) {
    // Most items lose to the heap's smallest: compare before allocating anything.
    if (heap.length >= k && (k === 0 || scores[index] < heap[0][1] || (scores[index] === heap[0][1] && index > heap[0][0]))) continue;
    if (skip(index)) continue;
    const entry: [number, number] = [index, scores[index]];
    if (heap.length < k) {
      heap.push(entry);
      for (let i = heap.length - 1; i > 0; ) {
        const parent = (i - 1) >> 1;
        if (!less(heap[i], heap[parent])) break;
        [heap[i], heap[parent]] = [heap[parent], heap[i]];
        i = parent;
      }
    } else if (k > 0 && less(heap[0], entry)) {
      heap[0] = entry;
      siftDown(0);
    }
  }
  return heap.sort((a, b) => b[1] - a[1] || a[0] - b[0]);
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
      this.served.push({ ...candidate, listScore });
      this.taken.add(candidate.item);
      const category = entry.category ?? '';
      this.perCategory.set(category, (this.perCategory.get(category) ?? 0) + 1);
    }
  }
}
