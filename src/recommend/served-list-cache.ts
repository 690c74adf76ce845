import { LRUCache } from 'lru-cache';
import { metrics } from '../metrics/metrics';
import type { ServedCandidate } from './candidates';
import type { ServingSnapshot } from './serving-models';

/**
 * Everything a user's list depends on besides the request and the snapshot, flattened into one
 * array of numbers: users.id, then the history (item, weight pairs, most recent first), the live
 * session, the purchased items (ascending), the newest event's time, and the re-engagement
 * candidates as blended (item, score pairs, best first; they follow every event's type and time,
 * so a late event for an item already in the history changes them too), and, for `exclude: SEEN`,
 * the items of every recent event (weightless ones too: SEEN leaves them out). Two requests with equal
 * fingerprints, the same request fields and the same snapshot are served the same list.
 */
export function userFingerprint(
  id: number | null,
  history: readonly { item: number; weight: number }[],
  session: readonly number[],
  purchased: ReadonlySet<number>,
  latestEventMs: number | null,
  reengagement: { items: ArrayLike<number>; scores: ArrayLike<number>; length: number } | null = null,
  touched: ArrayLike<number> | null = null,
): number[] {
  const fingerprint: number[] = [id ?? -1, history.length];
  for (const entry of history) fingerprint.push(entry.item, entry.weight);
  fingerprint.push(session.length);
  for (const item of session) fingerprint.push(item);
  fingerprint.push(purchased.size);
  const bought = [...purchased].sort((a, b) => a - b);
  for (const item of bought) fingerprint.push(item);
  fingerprint.push(latestEventMs ?? -1);
  const engaged = reengagement?.length ?? 0;
  fingerprint.push(engaged);
  for (let n = 0; n < engaged; n++) fingerprint.push(reengagement!.items[n], reengagement!.scores[n]);
  if (touched) {
    fingerprint.push(touched.length);
    for (let n = 0; n < touched.length; n++) fingerprint.push(touched[n]);
  }
  return fingerprint;
}

interface Entry {
  fingerprint: number[];
  served: readonly ServedCandidate[];
}

function sameNumbers(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  for (let n = 0; n < a.length; n++) if (a[n] !== b[n]) return false;
  return true;
}

/**
 * Requests with longer keys (long exclusion lists) or users with longer fingerprints (many purchases) are not kept.
 * A full history (50 distinct items) with as many re-engagement candidates takes about 200 numbers.
 */
export const MAX_KEY_LENGTH = 1024;
export const MAX_FINGERPRINT_LENGTH = 384;

/**
 * The lists last served per (user, request), reused while nothing they depend on has changed: the
 * same ACTIVE versions and catalogue (the snapshot object is replaced whenever either changes) and
 * the same user state (their fingerprint, read fresh from PostgreSQL on every request). A hit
 * therefore returns exactly what scoring would; only the list and recommendation ids are new.
 * Entries belong to one snapshot: the first list stored for a newer one empties the cache (so an
 * old snapshot's models are not kept alive by it), and lists scored on an older one are not kept.
 * Least recently used entries go first once `capacity` is reached (lru-cache); capacity 0 turns it off.
 *
 * This serves repeat requests without new events (a page re-rendered, several widgets, paging
 * back); a user who has just clicked has a new fingerprint and is scored afresh.
 */
export class ServedListCache {
  /** Least recently used first out (lru-cache); null when capacity is 0 (the cache is off). */
  private readonly entries: LRUCache<string, Entry> | null;
  private snapshot: ServingSnapshot | null = null;
  hits = 0;
  misses = 0;

  constructor(readonly capacity: number) {
    this.entries = capacity > 0 ? new LRUCache<string, Entry>({ max: capacity }) : null;
  }

  get size(): number {
    return this.entries?.size ?? 0;
  }

  get(key: string, snapshot: ServingSnapshot, fingerprint: readonly number[]): readonly ServedCandidate[] | null {
    if (!this.entries) return null;
    // get() marks the entry most recently used.
    const entry = snapshot === this.snapshot ? this.entries.get(key) : undefined;
    if (!entry || !sameNumbers(entry.fingerprint, fingerprint)) {
      this.misses++;
      metrics().servedListCache.inc({ result: 'miss' });
      return null;
    }
    this.hits++;
    metrics().servedListCache.inc({ result: 'hit' });
    return entry.served;
  }

  /** Forgets every list (after an erasure: the keys name users). */
  clear(): void {
    this.entries?.clear();
  }

  set(key: string, snapshot: ServingSnapshot, fingerprint: number[], served: readonly ServedCandidate[]): void {
    if (!this.entries || key.length > MAX_KEY_LENGTH || fingerprint.length > MAX_FINGERPRINT_LENGTH) return;
    if (snapshot !== this.snapshot) {
      if (this.snapshot !== null && snapshot.generation <= this.snapshot.generation) return;
      this.entries.clear();
      this.snapshot = snapshot;
    }
    this.entries.set(key, { fingerprint, served });
  }
}
