import { randomBytes } from 'node:crypto';

/**
 * The noise of the differential privacy mechanism (docs/privacy.md, "Differential privacy"):
 * Laplace noise drawn from a cryptographic generator, and the post-processing that makes noisy
 * counts look like counts. Post-processing of a private answer costs no privacy (Dwork & Roth,
 * "The Algorithmic Foundations of Differential Privacy", 2014, Proposition 2.1).
 */

/** A uniform draw in [0, 1). Tests inject a seeded one (src/ml/random.ts `Rng.next`). */
export type UniformSource = () => number;

const TWO_POW_53 = 2 ** 53;

/**
 * Uniform in [0, 1) with 53 random bits from node:crypto, the operating system's CSPRNG: an
 * analyst who could predict the noise could subtract it. Bytes are taken 8 KiB at a time.
 */
export function cryptoUniform(): UniformSource {
  let pool = Buffer.alloc(0);
  let offset = 0;
  return () => {
    if (offset + 8 > pool.length) {
      pool = randomBytes(8192);
      offset = 0;
    }
    const high = pool.readUInt32BE(offset) >>> 11; // 21 bits
    const low = pool.readUInt32BE(offset + 4); // 32 bits
    offset += 8;
    return (high * 4294967296 + low) / TWO_POW_53;
  };
}

/**
 * One draw of Laplace(0, scale): density exp(−|x|/scale) / (2·scale), mean 0, variance
 * 2·scale². Inverse CDF of a uniform u in (−½, ½): −scale·sign(u)·ln(1 − 2|u|).
 */
export function laplace(scale: number, uniform: UniformSource): number {
  if (!(scale > 0) || !Number.isFinite(scale)) throw new RangeError(`Laplace scale must be a positive number; got ${scale}`);
  let u = uniform() - 0.5;
  // u = −0.5 would give ln(0); redraw (probability 2^−53).
  while (u === -0.5) u = uniform() - 0.5;
  return -scale * Math.sign(u) * Math.log(1 - 2 * Math.abs(u));
}

/** The Laplace mechanism's scale for a query of L1 sensitivity `sensitivity` at privacy loss `epsilon`: sensitivity / epsilon. */
export function laplaceScale(sensitivity: number, epsilon: number): number {
  return sensitivity / epsilon;
}

/** The standard deviation of Laplace(0, scale) noise on one count: √2 · scale. */
export function laplaceStandardError(scale: number): number {
  return Math.SQRT2 * scale;
}

/** A noisy count as a count: rounded to a whole number and clamped at 0. */
export function asCount(noisy: number): number {
  return Math.max(0, Math.round(noisy));
}

/**
 * The closest non-increasing sequence to `values` in least squares (isotonic regression by the
 * pool-adjacent-violators algorithm): a funnel's step counts never grow from one step to the next,
 * and noisy ones should not either. Adjacent values that break the order are replaced by their mean.
 */
export function nonIncreasing(values: readonly number[]): number[] {
  const blocks: { sum: number; size: number }[] = [];
  for (const value of values) {
    blocks.push({ sum: value, size: 1 });
    while (blocks.length > 1) {
      const last = blocks[blocks.length - 1];
      const before = blocks[blocks.length - 2];
      if (before.sum / before.size >= last.sum / last.size) break;
      before.sum += last.sum;
      before.size += last.size;
      blocks.pop();
    }
  }
  return blocks.flatMap((block) => Array<number>(block.size).fill(block.sum / block.size));
}
