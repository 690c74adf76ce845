import { AliasTable, Rng, WeightedSampler } from './random';

function draws(rng: Rng, count: number): number[] {
  return Array.from({ length: count }, () => rng.nextUint32());
}

describe('Rng', () => {
  it('replays the same stream for the same seed and path, and a different one otherwise', () => {
    expect(draws(Rng.stream(42, 3, 7), 50)).toEqual(draws(Rng.stream(42, 3, 7), 50));
    expect(draws(Rng.stream(42, 3, 7), 50)).not.toEqual(draws(Rng.stream(43, 3, 7), 50));
    expect(draws(Rng.stream(42, 3, 7), 50)).not.toEqual(draws(Rng.stream(42, 3, 8), 50));
    // Seeds above 2^32 must not collapse onto their low 32 bits.
    expect(draws(Rng.stream(2 ** 32 + 5), 10)).not.toEqual(draws(Rng.stream(5), 10));
  });

  it('gives uniforms with mean 1/2 and variance 1/12', () => {
    const rng = Rng.stream(1);
    const n = 200_000;
    let sum = 0;
    let squares = 0;
    let lowest = 1;
    let highest = 0;
    for (let i = 0; i < n; i++) {
      const u = rng.next();
      lowest = Math.min(lowest, u);
      highest = Math.max(highest, u);
      sum += u;
      squares += u * u;
    }
    expect(lowest).toBeGreaterThanOrEqual(0);
    expect(highest).toBeLessThan(1);
    const mean = sum / n;
    // Standard error of the mean of U(0,1) is sqrt(1/12/n) ≈ 0.00065; allow five of them.
    expect(Math.abs(mean - 0.5)).toBeLessThan(5 * Math.sqrt(1 / 12 / n));
    expect(Math.abs(squares / n - mean * mean - 1 / 12)).toBeLessThan(0.002);
  });

  it('gives standard normals and Poisson counts with the right moments', () => {
    const rng = Rng.stream(2);
    const n = 100_000;
    let sum = 0;
    let squares = 0;
    for (let i = 0; i < n; i++) {
      const z = rng.normal();
      sum += z;
      squares += z * z;
    }
    expect(Math.abs(sum / n)).toBeLessThan(5 / Math.sqrt(n));
    // Var of z² is 2, so the mean of z² has standard error sqrt(2/n).
    expect(Math.abs(squares / n - 1)).toBeLessThan(5 * Math.sqrt(2 / n));
    let poissonSum = 0;
    for (let i = 0; i < n; i++) poissonSum += rng.poisson(2.5);
    expect(Math.abs(poissonSum / n - 2.5)).toBeLessThan(5 * Math.sqrt(2.5 / n));
  });

  it('draws indices in proportion to their weights, by scan and by alias table', () => {
    const weights = [5, 1, 0, 3, 1];
    const total = 10;
    const rng = Rng.stream(3);
    const table = new AliasTable(weights);
    const n = 100_000;
    const byScan = new Array(weights.length).fill(0);
    const byAlias = new Array(weights.length).fill(0);
    for (let i = 0; i < n; i++) {
      byScan[rng.pickWeighted(weights)]++;
      byAlias[table.sample(rng)]++;
    }
    weights.forEach((weight, index) => {
      const p = weight / total;
      const tolerance = 5 * Math.sqrt(n * p * (1 - p)) + 1;
      expect(Math.abs(byScan[index] - n * p)).toBeLessThanOrEqual(tolerance);
      expect(Math.abs(byAlias[index] - n * p)).toBeLessThanOrEqual(tolerance);
    });
    expect(byAlias[2]).toBe(0);
  });
});

/** The reference C code (prng.di.unimi.it/xoshiro128starstar.c) transcribed with BigInt, independently of Rng's Math.imul version. */
function referenceOutputs(state: [number, number, number, number], count: number): number[] {
  const mask = 0xffffffffn;
  const s = state.map((word) => BigInt(word >>> 0));
  const rotl = (x: bigint, k: bigint) => ((x << k) | (x >> (32n - k))) & mask;
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    out.push(Number(rotl((s[1] * 5n) & mask, 7n) * 9n & mask));
    const t = (s[1] << 9n) & mask;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11n);
  }
  return out;
}

describe('Rng is xoshiro128**', () => {
  it('gives the reference code’s outputs', () => {
    // By hand from the reference: rotl(2 * 5, 7) * 9 = 11520, then s[1] becomes 0.
    expect(draws(Rng.fromState(1, 2, 3, 4), 2)).toEqual([11520, 0]);
    expect(draws(Rng.fromState(1, 2, 3, 4), 1000)).toEqual(referenceOutputs([1, 2, 3, 4], 1000));
    const state: [number, number, number, number] = [0x9e3779b9, 0xdeadbeef, 0x7f4a7c15, 0xffffffff];
    expect(draws(Rng.fromState(...state), 1000)).toEqual(referenceOutputs(state, 1000));
  });
});

describe('WeightedSampler', () => {
  it('draws indices in proportion to their weights, never a zero or negative one', () => {
    const sampler = new WeightedSampler([2, 0, -1, 6, 2]);
    const rng = Rng.stream(4);
    const n = 100_000;
    const counts = [0, 0, 0, 0, 0];
    for (let i = 0; i < n; i++) counts[sampler.draw(rng)]++;
    [0.2, 0, 0, 0.6, 0.2].forEach((p, index) => expect(Math.abs(counts[index] - n * p)).toBeLessThanOrEqual(5 * Math.sqrt(n * p * (1 - p)) + 1));
    expect(() => new WeightedSampler([0, -2])).toThrow(RangeError);
  });
});
