import { decodeSessionKnn, encodeSessionKnn, SESSION_KNN_PARAMS, sessionKnnOptions } from './session-knn.kind';
import { SessionKnn, SessionKnnOptions, storeSessions } from './session-knn';
import { parseParams } from '../training/params';

const HOUR = 3_600_000;
const [A, B, C, D, E, F] = [1, 2, 3, 4, 5, 6];

/**
 * Five stored sessions, oldest first once stored (given out of order, with a one-item session that
 * is dropped):
 *   S0 [A, B] ends 1 h, S1 [B, C, D] 2 h, S2 [A, C] 3 h, S3 [E, F] 4 h, S4 [C, E] 5 h.
 */
const SEQUENCES = [[C, E], [A, B], [F], [B, C, D], [A, C], [E, F]];
const ENDS = [5, 1, 6, 2, 3, 4].map((hours) => hours * HOUR);
const stored = storeSessions(SEQUENCES, ENDS, 20, 100);

const BASE: SessionKnnOptions = { neighbours: 3, sampleSize: 500, weighting: 'linear', similarity: 'vector', maxSessionLength: 20, halfLifeHours: 0 };
const knn = (options: Partial<SessionKnnOptions> = {}) => new SessionKnn(stored, { ...BASE, ...options });
const sorted = (scores: Map<number, number>) => [...scores].sort((a, b) => a[0] - b[0]);
const close = (actual: [number, number][], expected: [number, number][]) => {
  expect(actual.map(([item]) => item)).toEqual(expected.map(([item]) => item));
  actual.forEach(([, score], n) => expect(score).toBeCloseTo(expected[n][1], 10));
};

describe('storeSessions', () => {
  it('keeps sessions of two or more items, oldest first, with their age before the newest', () => {
    expect(Array.from(stored.offsets)).toEqual([0, 2, 5, 7, 9, 11]);
    expect(Array.from(stored.items)).toEqual([A, B, B, C, D, A, C, E, F, C, E]);
    // The one-item session ending at 6 h is gone: ages count from S4 at 5 h.
    expect(Array.from(stored.ageSeconds)).toEqual([4, 3, 2, 1, 0].map((hours) => hours * 3600));
  });

  it('keeps each session’s most recently clicked distinct items, and only the most recent sessions', () => {
    const cut = storeSessions([[7, A, 7, B], [C, D]], [2 * HOUR, HOUR], 2, 1);
    // [7, A, 7, B]: the two most recent distinct are 7 (third click) and B; [C, D] is older and dropped.
    expect(Array.from(cut.items)).toEqual([7, B]);
    expect(Array.from(cut.offsets)).toEqual([0, 2]);
  });
});

describe('SessionKnn (V-SKNN)', () => {
  // The current session [A, C], linear weights: A (position 1 of 2) 1/2, C (2 of 2) 1.
  // Candidates (sharing A or C): S0 0.5/2 = 0.25, S1 1/2 = 0.5, S2 (0.5 + 1)/2 = 0.75, S4 1/2 = 0.5; S3 shares nothing.
  it('finds neighbours through the session’s items, weighted by position, ties to the more recent', () => {
    expect(knn({ neighbours: 10 }).neighboursOf([A, C])).toEqual([
      { session: 2, similarity: 0.75 },
      { session: 4, similarity: 0.5 },
      { session: 1, similarity: 0.5 },
      { session: 0, similarity: 0.25 },
    ]);
  });

  it('scores an item by the similarities of the k neighbours holding it', () => {
    // k = 3: S2 (0.75), S4 (0.5), S1 (0.5). A: 0.75; B: 0.5; C: 0.75 + 0.5 + 0.5; D: 0.5; E: 0.5.
    close(sorted(knn().score([A, C])), [
      [A, 0.75],
      [B, 0.5],
      [C, 1.75],
      [D, 0.5],
      [E, 0.5],
    ]);
    // k = 2: S2 and S4 only.
    close(sorted(knn({ neighbours: 2 }).score([A, C])), [
      [A, 0.75],
      [C, 1.25],
      [E, 0.5],
    ]);
  });

  it('compares only the m most recent candidate sessions', () => {
    // k = 10, m = 500: every candidate, S0 included (A +0.25, B +0.25).
    close(sorted(knn({ neighbours: 10 }).score([A, C])), [
      [A, 1],
      [B, 0.75],
      [C, 1.75],
      [D, 0.5],
      [E, 0.5],
    ]);
    // m = 3: S4, S2, S1 are the three most recent candidates; S0 is not compared.
    close(sorted(knn({ neighbours: 10, sampleSize: 3 }).score([A, C])), [
      [A, 0.75],
      [B, 0.5],
      [C, 1.75],
      [D, 0.5],
      [E, 0.5],
    ]);
  });

  it('reads the order of the clicks: the newest item weighs most', () => {
    // [C, A]: C 1/2, A 1. S0 1/2 = 0.5, S1 0.5/2 = 0.25, S2 0.75, S4 0.25. k = 2: S2, S0.
    close(sorted(knn({ neighbours: 2 }).score([C, A])), [
      [A, 1.25],
      [B, 0.5],
      [C, 0.75],
    ]);
    // A repeated item counts at its latest position: [A, C, A] reads as [C, A].
    expect(knn({ neighbours: 2 }).score([A, C, A])).toEqual(knn({ neighbours: 2 }).score([C, A]));
    // Only the maxSessionLength most recent distinct items are read: [D, A, C] with 2 reads as [A, C].
    expect(knn({ maxSessionLength: 2 }).score([D, A, C])).toEqual(knn().score([A, C]));
  });

  it('weights positions 1/(n − p + 1) with div', () => {
    // [B, A, C]: B 1/3, A 1/2, C 1; divided by n = 3.
    // S0 {A, B} (1/3 + 1/2)/3 = 5/18; S1 {B, C, D} (1/3 + 1)/3 = 4/9; S2 {A, C} (1/2 + 1)/3 = 1/2; S4 {C, E} 1/3.
    const neighbours = knn({ neighbours: 10, weighting: 'div' }).neighboursOf([B, A, C]);
    expect(neighbours.map((n) => n.session)).toEqual([2, 1, 4, 0]);
    [1 / 2, 4 / 9, 1 / 3, 5 / 18].forEach((value, n) => expect(neighbours[n].similarity).toBeCloseTo(value, 10));
  });

  it('takes the binary cosine with similarity cosine', () => {
    // [A, C] against S0 {A, B}: 1/√(2·2); S1 {B, C, D}: 1/√(2·3); S2: 2/√(2·2); S4 {C, E}: 1/√(2·2).
    const neighbours = knn({ neighbours: 10, similarity: 'cosine' }).neighboursOf([A, C]);
    expect(neighbours.map((n) => n.session)).toEqual([2, 4, 0, 1]);
    [1, 0.5, 0.5, 1 / Math.sqrt(6)].forEach((value, n) => expect(neighbours[n].similarity).toBeCloseTo(value, 10));
  });

  it('halves a neighbour’s similarity every halfLifeHours of age (time-aware)', () => {
    // Ages 4, 3, 2, 0 h for S0, S1, S2, S4; half-life 1 h.
    const neighbours = knn({ neighbours: 10, halfLifeHours: 1 }).neighboursOf([A, C]);
    expect(neighbours.map((n) => n.session)).toEqual([4, 2, 1, 0]);
    [0.5, 0.75 / 4, 0.5 / 8, 0.25 / 16].forEach((value, n) => expect(neighbours[n].similarity).toBeCloseTo(value, 10));
  });

  it('knows nothing of a session whose items no stored session holds', () => {
    expect(knn().score([99]).size).toBe(0);
    expect(knn().score([]).size).toBe(0);
  });

  it('survives the artifact: the decoded model scores as the trained one', () => {
    const options = sessionKnnOptions(parseParams('SESSION_KNN', SESSION_KNN_PARAMS, { neighbours: 2, weighting: 'div' }));
    const decoded = decodeSessionKnn(encodeSessionKnn(stored, options, new Date(5 * HOUR)));
    expect(decoded.options).toEqual(options);
    expect(decoded.score([B, A, C])).toEqual(new SessionKnn(stored, options).score([B, A, C]));
  });
});
