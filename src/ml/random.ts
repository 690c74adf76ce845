/**
 * Funnelcast's one seeded random generator, for the demo shop, training (batches, negatives,
 * isolation trees, splits) and randomised tests alike: xoshiro128** 1.1 (David Blackman and
 * Sebastiano Vigna, "Scrambled linear pseudorandom number generators", ACM TOMS 47(4), 2021;
 * reference code, public domain: https://prng.di.unimi.it/xoshiro128starstar.c). 128 bits of state,
 * period 2^128 − 1, passes BigCrush; mulberry32, which training used before, has 32 bits of state
 * and so at most 2^32 different sequences.
 *
 * A stream is seeded by hashing a path of integers (seed, stream, user index …) with MurmurHash3's
 * 32-bit finalizer. Each demo-shop user draws from a stream of its own, so one user's story never
 * depends on how many numbers another user consumed, and a single user can be replayed on its own
 * (ground truth recomputes a shopper's traits instead of storing them).
 *
 * Only 32-bit integer arithmetic (Math.imul, shifts) feeds the state, so the integer sequence is the
 * same everywhere. Floating-point helpers use Math.log/exp/cos/sqrt, which V8 implements itself
 * (fdlibm port) rather than taking them from the platform's libm, so a given Node version gives
 * byte-identical output on every machine.
 */

const GOLDEN = 0x9e3779b9;
const TWO_POW_32 = 4294967296;

/** A 32-bit avalanche finalizer: every input bit flips each output bit with probability ~1/2. */
function avalanche(value: number): number {
  let h = value | 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Folds a seed (any non-negative safe integer) and a path of 32-bit integers into one word. */
function hashPath(seed: number, path: readonly number[]): number {
  const low = seed >>> 0;
  const high = Math.floor(seed / TWO_POW_32) >>> 0;
  let h = avalanche(low ^ GOLDEN);
  h = avalanche(h ^ Math.imul(high + 1, GOLDEN));
  for (const part of path) h = avalanche((h + Math.imul(part | 0, 0x27d4eb2f) + GOLDEN) | 0);
  return h;
}

export class Rng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;
  /** Box–Muller makes normals in pairs; the second waits here. */
  private spareNormal = 0;
  private hasSpareNormal = false;

  /** A stream for `seed` and a path such as `[STREAM_TRAITS, userIndex]`. */
  static stream(seed: number, ...path: number[]): Rng {
    return new Rng(hashPath(seed, path));
  }

  /** The generator at a raw state, as the reference code starts it (for checks against it). */
  static fromState(s0: number, s1: number, s2: number, s3: number): Rng {
    const rng = new Rng(0);
    [rng.s0, rng.s1, rng.s2, rng.s3] = [s0 | 0, s1 | 0, s2 | 0, s3 | 0];
    return rng;
  }

  constructor(word: number) {
    this.s0 = avalanche(word + GOLDEN);
    this.s1 = avalanche(word + Math.imul(2, GOLDEN));
    this.s2 = avalanche(word + Math.imul(3, GOLDEN));
    this.s3 = avalanche(word + Math.imul(4, GOLDEN));
    // xoshiro is stuck forever at the all-zero state.
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
  }

  nextUint32(): number {
    const s1 = this.s1;
    const times5 = Math.imul(s1, 5);
    const result = Math.imul((times5 << 7) | (times5 >>> 25), 9);
    const t = s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = (this.s3 << 11) | (this.s3 >>> 21);
    return result >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.nextUint32() / TWO_POW_32;
  }

  /** Uniform integer in [0, n). */
  below(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Uniform in [low, high). */
  between(low: number, high: number): number {
    return low + (high - low) * this.next();
  }

  chance(probability: number): boolean {
    return this.next() < probability;
  }

  normal(): number {
    if (this.hasSpareNormal) {
      this.hasSpareNormal = false;
      return this.spareNormal;
    }
    // 1 - next() lies in (0, 1], so the logarithm is finite.
    const radius = Math.sqrt(-2 * Math.log(1 - this.next()));
    const angle = 2 * Math.PI * this.next();
    this.spareNormal = radius * Math.sin(angle);
    this.hasSpareNormal = true;
    return radius * Math.cos(angle);
  }

  exponential(mean: number): number {
    return -Math.log(1 - this.next()) * mean;
  }

  /** exp(N(log median, sigma²)): positive, right-skewed, like prices and think times. */
  logNormal(median: number, sigma: number): number {
    return median * Math.exp(sigma * this.normal());
  }

  /** Poisson counts by multiplying uniforms; the simulator only asks for small means. */
  poisson(mean: number): number {
    if (mean <= 0) return 0;
    if (mean > 30) return Math.max(0, Math.round(mean + Math.sqrt(mean) * this.normal()));
    const limit = Math.exp(-mean);
    let product = this.next();
    let count = 0;
    while (product > limit) {
      product *= this.next();
      count++;
    }
    return count;
  }

  /** Index drawn from non-negative weights by a linear scan (for short lists such as devices). */
  pickWeighted(weights: ArrayLike<number>, total?: number): number {
    let sum = total;
    if (sum === undefined) {
      sum = 0;
      for (let i = 0; i < weights.length; i++) sum += weights[i];
    }
    let target = this.next() * sum;
    for (let i = 0; i < weights.length - 1; i++) {
      target -= weights[i];
      if (target < 0) return i;
    }
    return weights.length - 1;
  }
}

/**
 * Walker's alias method: O(n) to build, O(1) per draw. Used for item popularity, where a session
 * draws many items from one category of possibly thousands.
 */
export class AliasTable {
  private readonly keep: Float64Array;
  private readonly alias: Int32Array;
  readonly size: number;

  constructor(weights: ArrayLike<number>) {
    const n = weights.length;
    if (n === 0) throw new RangeError('an alias table needs at least one weight');
    this.size = n;
    this.keep = new Float64Array(n);
    this.alias = new Int32Array(n);
    let total = 0;
    for (let i = 0; i < n; i++) total += weights[i];
    const scaled = new Float64Array(n);
    const small: number[] = [];
    const large: number[] = [];
    for (let i = 0; i < n; i++) {
      scaled[i] = (weights[i] * n) / total;
      (scaled[i] < 1 ? small : large).push(i);
    }
    while (small.length > 0 && large.length > 0) {
      const lacking = small.pop()!;
      const donor = large[large.length - 1];
      this.keep[lacking] = scaled[lacking];
      this.alias[lacking] = donor;
      scaled[donor] -= 1 - scaled[lacking];
      if (scaled[donor] < 1) small.push(large.pop()!);
    }
    // Whatever is left is 1 up to rounding error.
    for (const i of large) this.keep[i] = 1;
    for (const i of small) this.keep[i] = 1;
  }

  sample(rng: Rng): number {
    const column = rng.below(this.size);
    return rng.next() < this.keep[column] ? column : this.alias[column];
  }
}

/** Draws indices with probability proportional to their weight, in O(log n) per draw and O(n) memory for cumulative sums. */
export class WeightedSampler {
  private readonly cumulative: Float64Array;

  constructor(weights: ArrayLike<number>) {
    this.cumulative = new Float64Array(weights.length);
    let total = 0;
    for (let i = 0; i < weights.length; i++) {
      total += Math.max(0, weights[i]);
      this.cumulative[i] = total;
    }
    if (!(total > 0)) throw new RangeError('WeightedSampler needs at least one positive weight');
  }

  draw(rng: Rng): number {
    const target = rng.next() * this.cumulative[this.cumulative.length - 1];
    let low = 0;
    let high = this.cumulative.length - 1;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (this.cumulative[middle] > target) high = middle;
      else low = middle + 1;
    }
    return low;
  }
}
