/**
 * Writing JavaScript numbers (float64) into PostgreSQL `real` (float4) columns.
 *
 * PostgreSQL refuses a value whose magnitude is too small for float4 instead of storing 0
 * (`"4.6e-70" is out of range for type real`), and refuses one too large for it. Both failed whole
 * training runs: a long-stale item's time-decayed popularity is 2^-(age / half-life), far below
 * float4's range. Every writer of a `real` column (score tables, propensities, probabilities,
 * anomaly scores, job progress, training seconds, event weights bound as `real[]`) passes its
 * numbers through `toFloat4` or `float4Text`, so one rule holds everywhere:
 *
 * - |x| below float4's smallest normal value (2^-126 ≈ 1.18e-38) is stored as 0. Subnormals are
 *   flushed too: they keep fewer than 24 significant bits, and a subnormal printed to a few digits
 *   can read back as below the smallest subnormal, which PostgreSQL refuses again. As scores they
 *   are indistinguishable from 0 anyway.
 * - |x| that float4 cannot hold (it rounds to ±Infinity in float4, i.e. beyond about 3.4028235e38),
 *   ±Infinity and NaN are errors (`Float4RangeError`). None of our scores can get there from sane
 *   data (popularity is at most 100 × events, probabilities lie in [0, 1]); a model that produced
 *   one is broken, and clamping it to float4's maximum or to 0 would serve the broken model
 *   silently. The error names the column so the failed training job says what went wrong.
 *
 * Why not `double precision` columns instead: the same underflow would only move to 1e-308 (and
 * JavaScript already flushes below 5e-324), the score arrays would double in size for precision
 * that ranking does not use, and a migration would rewrite the largest score tables.
 */

/** Largest finite float4 value, (2 − 2^-23) × 2^127. */
export const FLOAT4_MAX = 3.4028234663852886e38;
/** Smallest positive normal float4 value, 2^-126; anything smaller in magnitude is stored as 0. */
export const FLOAT4_MIN_NORMAL = 1.1754943508222875e-38;
/** Significant digits written for a float4 in COPY text and array literals (float4 holds about 7.2). */
const FLOAT4_DIGITS = 6;

/** A number that a `real` column cannot hold: NaN, infinite, or beyond float4's range. */
export class Float4RangeError extends RangeError {
  constructor(
    readonly what: string,
    readonly value: number,
  ) {
    super(
      Number.isNaN(value)
        ? `${what} is NaN (not a number); it cannot be stored in a real column`
        : `${what} is ${value}, beyond what a real (float4) column holds (±${FLOAT4_MAX.toPrecision(8)})`,
    );
    this.name = 'Float4RangeError';
  }
}

/**
 * `value` as it may be sent to a `real` column: 0 when its magnitude is below FLOAT4_MIN_NORMAL
 * (negative zero included), else `value` unchanged. `what` names the column or quantity for the
 * error. Throws Float4RangeError for NaN, ±Infinity and finite values float4 rounds to infinity.
 */
export function toFloat4(value: number, what: string): number {
  if (Number.isNaN(value)) throw new Float4RangeError(what, value);
  const magnitude = Math.abs(value);
  if (magnitude < FLOAT4_MIN_NORMAL) return 0;
  // Math.fround rounds as float4 does: values a hair above FLOAT4_MAX still round to it.
  if (!Number.isFinite(Math.fround(value))) throw new Float4RangeError(what, value);
  return value;
}

/** `toFloat4(value)` as text for COPY rows and array literals, with 6 significant digits ("0" for 0). */
export function float4Text(value: number, what: string): string {
  const stored = toFloat4(value, what);
  return stored === 0 ? '0' : stored.toPrecision(FLOAT4_DIGITS);
}

/** A PostgreSQL array literal (`{1.5,0,…}`) of `float4Text` values, for `real[]` columns. */
export function float4ArrayText(values: ArrayLike<number>, what: string): string {
  return `{${Array.from(values, (value) => float4Text(value, what)).join(',')}}`;
}
