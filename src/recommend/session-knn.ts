/**
 * Session-based k-nearest neighbours, the vector variant (V-SKNN) described by Ludewig and Jannach,
 * "Evaluation of session-based recommendation algorithms" (User Modeling and User-Adapted
 * Interaction, 2018), written from that description:
 *
 * 1. The current session's distinct items (its `maxSessionLength` most recent) get position
 *    weights: with n items, oldest p = 1 to newest p = n, `linear` gives p / n, `div` 1 / (n − p + 1),
 *    `same` 1. A repeated item keeps its most recent position.
 * 2. Candidate neighbours are the stored sessions that share at least one item with it; of those,
 *    only the `sampleSize` most recent (by their last event) are considered.
 * 3. Similarity: `vector` (V-SKNN) is Σ w(i) over the shared items i, divided by n; `cosine` (plain
 *    SKNN) is |shared| / √(n · |neighbour|) over binary vectors. With `halfLifeHours` > 0 a
 *    neighbour's similarity is also multiplied by 2^(−age / halfLife), age counted from the most
 *    recent stored session (the time-aware variant; a common factor for any other reference
 *    instant, so it never changes a ranking).
 * 4. The `neighbours` most similar candidates (ties to the more recent) are the neighbourhood, and
 *    an item scores Σ similarity over the neighbours that contain it. Items of the current session
 *    score too; serving's rules leave them out of a list.
 *
 * Sessions are held as one flat array of item ids with offsets, oldest session first, and an
 * inverted index from item to the sessions holding it, most recent first and cut at `sampleSize`
 * (the most recent `sampleSize` candidates of a query are always among the union of its items'
 * first `sampleSize` entries, so the cut loses nothing).
 */

export type PositionWeighting = 'linear' | 'div' | 'same';
export type SessionSimilarity = 'vector' | 'cosine';

export interface SessionKnnOptions {
  /** k: neighbour sessions whose items are scored. */
  neighbours: number;
  /** m: the most recent candidate sessions considered. */
  sampleSize: number;
  weighting: PositionWeighting;
  similarity: SessionSimilarity;
  /** The current session's most recent distinct items that are read. */
  maxSessionLength: number;
  /** Half-life of a neighbour session's weight in hours; 0 turns the time decay off. */
  halfLifeHours: number;
}

/** Stored sessions, oldest first: session s holds items[offsets[s] … offsets[s + 1]) (distinct item ids). */
export interface StoredSessions {
  items: Int32Array;
  offsets: Int32Array;
  /** Each session's last event, in seconds before the most recent stored session's last event (≥ 0). */
  ageSeconds: Int32Array;
}

export interface Neighbour {
  /** Index of the stored session (0 = oldest). */
  session: number;
  similarity: number;
}

/** A session-kNN model over stored sessions; `score` is what serving and evaluation call per session. */
export class SessionKnn {
  /** item id → indices of the sessions holding it, most recent first, at most `sampleSize`. */
  private readonly sessionsOf = new Map<number, Int32Array>();

  constructor(
    readonly sessions: StoredSessions,
    readonly options: SessionKnnOptions,
  ) {
    const count = sessions.offsets.length - 1;
    const lists = new Map<number, number[]>();
    for (let s = count - 1; s >= 0; s--) {
      for (let n = sessions.offsets[s]; n < sessions.offsets[s + 1]; n++) {
        const item = sessions.items[n];
        let list = lists.get(item);
        if (!list) lists.set(item, (list = []));
        if (list.length < options.sampleSize) list.push(s);
      }
    }
    for (const [item, list] of lists) this.sessionsOf.set(item, Int32Array.from(list));
  }

  get sessionCount(): number {
    return this.sessions.offsets.length - 1;
  }

  /** The current session's distinct items, oldest first, each at its most recent position, at most `maxSessionLength`. */
  private distinctRecent(session: readonly number[]): number[] {
    const seen = new Set<number>();
    const newestFirst: number[] = [];
    for (let n = session.length - 1; n >= 0 && newestFirst.length < this.options.maxSessionLength; n--) {
      if (seen.has(session[n])) continue;
      seen.add(session[n]);
      newestFirst.push(session[n]);
    }
    return newestFirst.reverse();
  }

  /** The neighbourhood of a session (item ids, oldest first), most similar first. */
  neighboursOf(session: readonly number[]): Neighbour[] {
    const items = this.distinctRecent(session);
    const n = items.length;
    if (n === 0) return [];
    const { weighting, similarity, sampleSize, halfLifeHours } = this.options;
    // Σ position weight of the shared items (vector), or their count (cosine), per candidate session.
    const shared = new Map<number, number>();
    for (let p = 1; p <= n; p++) {
      const list = this.sessionsOf.get(items[p - 1]);
      if (!list) continue;
      const weight = similarity === 'cosine' ? 1 : weighting === 'linear' ? p / n : weighting === 'div' ? 1 / (n - p + 1) : 1;
      for (let e = 0; e < list.length; e++) shared.set(list[e], (shared.get(list[e]) ?? 0) + weight);
    }
    let candidates = [...shared.keys()];
    if (candidates.length > sampleSize) candidates = candidates.sort((a, b) => b - a).slice(0, sampleSize);
    const { offsets, ageSeconds } = this.sessions;
    const decayPerSecond = halfLifeHours > 0 ? 1 / (halfLifeHours * 3600) : 0;
    const neighbours = candidates.map((s): Neighbour => {
      let value = similarity === 'cosine' ? shared.get(s)! / Math.sqrt(n * (offsets[s + 1] - offsets[s])) : shared.get(s)! / n;
      if (decayPerSecond > 0) value *= 2 ** (-ageSeconds[s] * decayPerSecond);
      return { session: s, similarity: value };
    });
    neighbours.sort((a, b) => b.similarity - a.similarity || b.session - a.session);
    return neighbours.slice(0, this.options.neighbours);
  }

  /** Item id → Σ similarity of the neighbour sessions holding it (items of the session included). */
  score(session: readonly number[]): Map<number, number> {
    const scores = new Map<number, number>();
    const { items, offsets } = this.sessions;
    for (const { session: s, similarity } of this.neighboursOf(session)) {
      for (let e = offsets[s]; e < offsets[s + 1]; e++) scores.set(items[e], (scores.get(items[e]) ?? 0) + similarity);
    }
    return scores;
  }
}

/**
 * Stored sessions from item sequences and their last event times (epoch ms): sessions of at least
 * two distinct items, each cut to its `maxSessionLength` most recently clicked distinct items, the
 * `maxSessions` most recent kept, oldest first. A one-item session would only ever score its own item.
 */
export function storeSessions(sequences: readonly (readonly number[])[], ends: readonly number[], maxSessionLength: number, maxSessions: number): StoredSessions {
  const kept: { items: number[]; end: number }[] = [];
  sequences.forEach((sequence, n) => {
    const seen = new Set<number>();
    const newestFirst: number[] = [];
    for (let e = sequence.length - 1; e >= 0 && newestFirst.length < maxSessionLength; e--) {
      if (seen.has(sequence[e])) continue;
      seen.add(sequence[e]);
      newestFirst.push(sequence[e]);
    }
    if (newestFirst.length >= 2) kept.push({ items: newestFirst.reverse(), end: ends[n] });
  });
  // Stable: sessions ending at the same millisecond keep their order.
  kept.sort((a, b) => a.end - b.end);
  const recent = kept.slice(Math.max(0, kept.length - maxSessions));
  const newest = recent.length > 0 ? recent[recent.length - 1].end : 0;
  const offsets = new Int32Array(recent.length + 1);
  recent.forEach((session, s) => (offsets[s + 1] = offsets[s] + session.items.length));
  const items = new Int32Array(offsets[recent.length]);
  recent.forEach((session, s) => items.set(session.items, offsets[s]));
  return { items, offsets, ageSeconds: Int32Array.from(recent, (session) => Math.min(2 ** 31 - 1, Math.round((newest - session.end) / 1000))) };
}
