/**
 * The statistics of conversion drivers (funnel-drivers.ts), on plain 2×2 tables:
 *
 *                      converted   dropped off
 *   with the factor        a            b
 *   without it             c            d
 *
 * Pure functions, no I/O; their spec checks them against published and hand-worked tables.
 */

/** Counts of units in a 2×2 table (see the file comment); whole numbers ≥ 0. */
export interface TwoByTwo {
  a: number;
  b: number;
  c: number;
  d: number;
}

export interface OddsRatioEstimate {
  /** (a·d)/(b·c), after the ½ correction when a cell is 0. */
  oddsRatio: number;
  /** The 95 % confidence interval of the odds ratio (Woolf's log method). */
  low: number;
  high: number;
  /** True when a cell was 0 and ½ was added to every cell (Haldane–Anscombe). */
  corrected: boolean;
}

/** The 97.5 % quantile of the standard normal distribution. */
const Z_975 = 1.959963984540054;

/**
 * Odds ratio of converting with the factor against without it, with Woolf's 95 % interval
 * exp(ln OR ± 1.96·√(1/a + 1/b + 1/c + 1/d)). When any cell is 0, ½ is added to every cell first
 * (Haldane–Anscombe), so the estimate and its interval stay finite. Throws RangeError for a cell that
 * is negative or not finite.
 */
export function oddsRatio(table: TwoByTwo): OddsRatioEstimate {
  checkTable(table);
  const corrected = table.a === 0 || table.b === 0 || table.c === 0 || table.d === 0;
  const shift = corrected ? 0.5 : 0;
  const a = table.a + shift;
  const b = table.b + shift;
  const c = table.c + shift;
  const d = table.d + shift;
  const logOddsRatio = Math.log(a) + Math.log(d) - Math.log(b) - Math.log(c);
  const standardError = Math.sqrt(1 / a + 1 / b + 1 / c + 1 / d);
  return {
    oddsRatio: Math.exp(logOddsRatio),
    low: Math.exp(logOddsRatio - Z_975 * standardError),
    high: Math.exp(logOddsRatio + Z_975 * standardError),
    corrected,
  };
}

/**
 * Two-sided p-value of Fisher's exact test: the probability, with the table's margins fixed, of a
 * table at most as likely as this one (R's `fisher.test` rule, with the same 1e-7 relative tolerance
 * for ties). Works in log space relative to the most likely table and walks out from it until the
 * terms are negligible, so it costs O(√n)-ish steps for ordinary tables and never overflows; a
 * p-value below ~1e-308 (an observed table e^-709 as likely as the likeliest) comes back as 0. Throws RangeError for a cell that is negative, not whole or
 * not finite.
 */
export function fisherExactTwoSided(table: TwoByTwo): number {
  checkTable(table);
  for (const cell of [table.a, table.b, table.c, table.d]) if (!Number.isInteger(cell)) throw new RangeError(`Fisher's test needs whole counts; got ${cell}.`);
  // x = a is hypergeometric: rows with = a + b, converters = a + c, n = all units.
  const withFactor = table.a + table.b;
  const converters = table.a + table.c;
  const n = withFactor + table.c + table.d;
  if (n === 0) return 1;
  const low = Math.max(0, withFactor + converters - n);
  const high = Math.min(withFactor, converters);
  // log P(x+1)/P(x) for the hypergeometric distribution.
  const logRatioUp = (x: number): number => Math.log(withFactor - x) + Math.log(converters - x) - Math.log(x + 1) - Math.log(n - withFactor - converters + x + 1);
  const mode = Math.min(high, Math.max(low, Math.floor(((withFactor + 1) * (converters + 1)) / (n + 2))));
  // Log-terms relative to the mode (≤ 0), out to where they stop mattering against the observed one.
  const observed = table.a;
  let logObserved = 0;
  if (observed > mode) for (let x = mode; x < observed; x++) logObserved += logRatioUp(x);
  else for (let x = mode; x > observed; x--) logObserved -= logRatioUp(x - 1);
  const threshold = logObserved + 1e-7 * Math.max(1, Math.abs(logObserved));
  const floor = Math.min(logObserved, 0) - 50;
  // Sums are kept relative to the largest term (the mode's, log 0): total and the "at most as likely" part.
  let total = 1;
  let extreme = 0 <= threshold ? 1 : 0;
  let logTerm = 0;
  for (let x = mode; x < high; x++) {
    logTerm += logRatioUp(x);
    if (logTerm < floor) break;
    const term = Math.exp(logTerm);
    total += term;
    if (logTerm <= threshold) extreme += term;
  }
  logTerm = 0;
  for (let x = mode; x > low; x--) {
    logTerm -= logRatioUp(x - 1);
    if (logTerm < floor) break;
    const term = Math.exp(logTerm);
    total += term;
    if (logTerm <= threshold) extreme += term;
  }
  return Math.min(1, extreme / total);
}

/**
 * Benjamini–Hochberg adjusted p-values (q-values), in the order given: q_(i) = min over j ≥ i of
 * m·p_(j)/j for the p-values sorted ascending, capped at 1 (R's `p.adjust(p, "BH")`). Controls the
 * false discovery rate over the m factors tested: call a factor significant when q ≤ α.
 */
export function benjaminiHochberg(pValues: readonly number[]): number[] {
  const m = pValues.length;
  const order = pValues.map((p, i) => ({ p, i })).sort((x, y) => x.p - y.p || x.i - y.i);
  const adjusted = new Array<number>(m);
  let running = 1;
  for (let rank = m; rank >= 1; rank--) {
    const { p, i } = order[rank - 1];
    running = Math.min(running, (m * p) / rank);
    adjusted[i] = Math.min(1, running);
  }
  return adjusted;
}

function checkTable(table: TwoByTwo): void {
  for (const [name, cell] of Object.entries(table)) {
    if (!Number.isFinite(cell) || cell < 0) throw new RangeError(`Cell ${name} of a 2×2 table must be a finite count ≥ 0; got ${cell}.`);
  }
}
