import type { Ranked } from './candidates';
import type { UserEvents } from './user-split';

/** Re-engagement's recency half-life in the blend: an item touched a day before the user's newest event counts half. */
const HALF_LIFE_MS = 24 * 3_600_000;

/**
 * The re-engagement member of the blend for one user: the items of their kept events, each scored
 * Σ weight · 2^(−age / 24 h) over its events (age before the user's newest event), best first.
 * Null when the user has no events.
 */
export function reengagementRanking(events: UserEvents | undefined, depth: number): Ranked | null {
  if (!events || events.items.length === 0) return null;
  const newest = events.times[0];
  const scores = new Map<number, number>();
  for (let n = 0; n < events.items.length; n++) {
    const score = events.weights[n] * Math.pow(2, -(newest - events.times[n]) / HALF_LIFE_MS);
    scores.set(events.items[n], (scores.get(events.items[n]) ?? 0) + score);
  }
  const ranked = [...scores].sort((a, b) => b[1] - a[1] || a[0] - b[0]).slice(0, depth);
  return { items: ranked.map(([item]) => item), scores: ranked.map(([, score]) => score), length: ranked.length };
}
