import type { Factors, PairSet } from './matrix-factorization';
import { Rng } from './random';

/**
 * Implicit-feedback matrix factorisation by alternating least squares (Hu, Koren & Volinsky,
 * "Collaborative Filtering for Implicit Feedback Datasets", ICDM 2008). Every (user, item) cell
 * counts: preference p = 1 where the user interacted, 0 elsewhere, with confidence
 * c = 1 + alpha · weight on the interacted cells and 1 on all others. The loss
 *
 *   L = Σ_{u,i} c_ui (p_ui − x_u·y_i)² + λ (Σ_u ‖x_u‖² + Σ_i ‖y_i‖²)
 *
 * is quadratic in the user factors X when the item factors Y are fixed (and the other way round),
 * so each half-step solves one d×d ridge system per row:
 *
 *   (YᵀY + Yᵀ(C_u − I)Y + λI) x_u = Yᵀ C_u p_u,
 *
 * where YᵀY is shared by every row (the "Gramian trick") and the correction runs over the row's
 * interacted items only. The systems are solved exactly (Cholesky) or, by default, with a few
 * conjugate-gradient steps started from the row's current vector (Takács, Pilászy & Tikk,
 * "Applications of the conjugate gradient method for implicit feedback collaborative filtering",
 * RecSys 2011), which costs O(steps · (d² + n_u·d)) per row instead of O(d³ + n_u·d²).
 * Plain TypeScript over Float64Array: the work is small dense linear algebra.
 */
export interface AlsOptions {
  dimensions: number;
  /** Alternations (a user half-step, then an item half-step). */
  iterations: number;
  /** Confidence per unit of weight: c = 1 + alpha · weight on interacted cells. */
  alpha: number;
  /** λ of the L2 penalty on every factor vector. */
  regularization: number;
  /** Conjugate-gradient steps per row and half-step; 0 solves each system exactly (Cholesky). */
  conjugateGradientSteps: number;
  /** Standard deviation of the initial item factors. */
  initScale: number;
  seed: number;
}

export interface AlsReport {
  iteration: number;
  iterations: number;
  /** L above, divided by the number of cells (users × items). */
  loss: number;
  seconds: number;
}

export interface AlsResult extends Factors {
  iterations: AlsReport[];
  seconds: number;
}

/** One side's interactions as compressed rows: row r's columns are columns[offsets[r] … offsets[r+1]). */
export interface SparseRows {
  offsets: Int32Array;
  columns: Int32Array;
  confidences: Float64Array;
}

/** Compressed rows of the pairs, grouped by user (`byUser`) or by item; confidences 1 + alpha · weight. */
export function sparseRows(pairs: PairSet, alpha: number, byUser: boolean): SparseRows {
  const rowsOf = byUser ? pairs.users : pairs.items;
  const colsOf = byUser ? pairs.items : pairs.users;
  const rowCount = byUser ? pairs.userCount : pairs.itemCount;
  const offsets = new Int32Array(rowCount + 1);
  for (let n = 0; n < rowsOf.length; n++) offsets[rowsOf[n] + 1]++;
  for (let r = 0; r < rowCount; r++) offsets[r + 1] += offsets[r];
  const fill = offsets.slice(0, rowCount);
  const columns = new Int32Array(rowsOf.length);
  const confidences = new Float64Array(rowsOf.length);
  for (let n = 0; n < rowsOf.length; n++) {
    const at = fill[rowsOf[n]]++;
    columns[at] = colsOf[n];
    confidences[at] = 1 + alpha * pairs.weights[n];
  }
  return { offsets, columns, confidences };
}

/** YᵀY (d×d, row-major) of a row-major factor matrix with `count` rows. */
export function gramian(factors: Float64Array, count: number, d: number): Float64Array {
  const g = new Float64Array(d * d);
  for (let r = 0; r < count; r++) {
    const at = r * d;
    for (let x = 0; x < d; x++) {
      const v = factors[at + x];
      if (v === 0) continue;
      for (let y = x; y < d; y++) g[x * d + y] += v * factors[at + y];
    }
  }
  for (let x = 0; x < d; x++) for (let y = 0; y < x; y++) g[x * d + y] = g[y * d + x];
  return g;
}

/** Solves A x = b for a symmetric positive definite A (row-major d×d) by Cholesky; A and b are left unchanged. */
export function choleskySolve(a: Float64Array, b: Float64Array, d: number): Float64Array {
  const l = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    for (let j = 0; j <= i; j++) {
      let sum = a[i * d + j];
      for (let k = 0; k < j; k++) sum -= l[i * d + k] * l[j * d + k];
      l[i * d + j] = i === j ? Math.sqrt(sum) : sum / l[j * d + j];
    }
  }
  const z = new Float64Array(d);
  for (let i = 0; i < d; i++) {
    let sum = b[i];
    for (let k = 0; k < i; k++) sum -= l[i * d + k] * z[k];
    z[i] = sum / l[i * d + i];
  }
  const x = new Float64Array(d);
  for (let i = d - 1; i >= 0; i--) {
    let sum = z[i];
    for (let k = i + 1; k < d; k++) sum -= l[k * d + i] * x[k];
    x[i] = sum / l[i * d + i];
  }
  return x;
}

/**
 * One half-step: every row of `solved` (`rows` gives each row's interacted columns in `fixed`)
 * becomes the minimiser of its ridge system with `fixed` held, in place.
 */
export function solveRows(solved: Float64Array, fixed: Float64Array, fixedCount: number, rows: SparseRows, d: number, options: Pick<AlsOptions, 'regularization' | 'conjugateGradientSteps'>): void {
  const g = gramian(fixed, fixedCount, d);
  const rowCount = rows.offsets.length - 1;
  const lambda = options.regularization;
  const b = new Float64Array(d);
  const a = new Float64Array(d * d);
  const r = new Float64Array(d);
  const p = new Float64Array(d);
  const ap = new Float64Array(d);
  for (let row = 0; row < rowCount; row++) {
    const start = rows.offsets[row];
    const end = rows.offsets[row + 1];
    const at = row * d;
    if (start === end) {
      // No interactions: the minimiser of Σ_i (0 − x·y_i)² + λ‖x‖² is 0.
      solved.fill(0, at, at + d);
      continue;
    }
    b.fill(0);
    for (let n = start; n < end; n++) {
      const c = rows.confidences[n];
      const yAt = rows.columns[n] * d;
      for (let k = 0; k < d; k++) b[k] += c * fixed[yAt + k];
    }
    if (options.conjugateGradientSteps === 0) {
      a.set(g);
      for (let n = start; n < end; n++) {
        const extra = rows.confidences[n] - 1;
        const yAt = rows.columns[n] * d;
        for (let x = 0; x < d; x++) {
          const v = extra * fixed[yAt + x];
          for (let y = 0; y < d; y++) a[x * d + y] += v * fixed[yAt + y];
        }
      }
      for (let k = 0; k < d; k++) a[k * d + k] += lambda;
      solved.set(choleskySolve(a, b, d), at);
      continue;
    }
    // A v = G v + Σ (c − 1)(y·v) y + λ v, never forming A.
    const multiply = (v: Float64Array, out: Float64Array) => {
      for (let x = 0; x < d; x++) {
        let sum = lambda * v[x];
        for (let y = 0; y < d; y++) sum += g[x * d + y] * v[y];
        out[x] = sum;
      }
      for (let n = start; n < end; n++) {
        const yAt = rows.columns[n] * d;
        let dot = 0;
        for (let k = 0; k < d; k++) dot += fixed[yAt + k] * v[k];
        const scaled = (rows.confidences[n] - 1) * dot;
        for (let k = 0; k < d; k++) out[k] += scaled * fixed[yAt + k];
      }
    };
    for (let k = 0; k < d; k++) p[k] = solved[at + k];
    multiply(p, ap);
    let residual = 0;
    for (let k = 0; k < d; k++) {
      r[k] = b[k] - ap[k];
      p[k] = r[k];
      residual += r[k] * r[k];
    }
    for (let step = 0; step < options.conjugateGradientSteps && residual > 1e-20; step++) {
      multiply(p, ap);
      let curvature = 0;
      for (let k = 0; k < d; k++) curvature += p[k] * ap[k];
      const length = residual / curvature;
      let next = 0;
      for (let k = 0; k < d; k++) {
        solved[at + k] += length * p[k];
        r[k] -= length * ap[k];
        next += r[k] * r[k];
      }
      const beta = next / residual;
      for (let k = 0; k < d; k++) p[k] = r[k] + beta * p[k];
      residual = next;
    }
  }
}

/**
 * L (see above) for the current factors, summed without visiting every cell:
 * Σ_all (x·y)² = Σ over the d×d entries of (XᵀX) ∘ (YᵀY), plus for interacted cells c(1 − s)² − s².
 */
export function alsLoss(users: Float64Array, items: Float64Array, userCount: number, itemCount: number, byUser: SparseRows, d: number, regularization: number): number {
  const gu = gramian(users, userCount, d);
  const gi = gramian(items, itemCount, d);
  let loss = 0;
  for (let k = 0; k < d * d; k++) loss += gu[k] * gi[k];
  for (let u = 0; u < userCount; u++) {
    for (let n = byUser.offsets[u]; n < byUser.offsets[u + 1]; n++) {
      const iAt = byUser.columns[n] * d;
      let s = 0;
      for (let k = 0; k < d; k++) s += users[u * d + k] * items[iAt + k];
      loss += byUser.confidences[n] * (1 - s) * (1 - s) - s * s;
    }
  }
  let norms = 0;
  for (const value of users) norms += value * value;
  for (const value of items) norms += value * value;
  return loss + regularization * norms;
}

/**
 * Fits user and item factors to the pairs (dense indices; a pair's weight scales its confidence).
 * Item factors start as N(0, initScale²) draws; each iteration solves the users, then the items.
 * Item biases are 0 (the model has none; serving adds them, so they must be there).
 */
export async function trainImplicitAls(pairs: PairSet, options: AlsOptions, onIteration: (report: AlsReport) => Promise<void> = async () => undefined): Promise<AlsResult> {
  if (pairs.users.length === 0) throw new RangeError('no training pairs');
  const d = options.dimensions;
  const random = Rng.stream(options.seed);
  const users = new Float64Array(pairs.userCount * d);
  const items = new Float64Array(pairs.itemCount * d);
  for (let n = 0; n < items.length; n++) items[n] = random.normal() * options.initScale;
  const byUser = sparseRows(pairs, options.alpha, true);
  const byItem = sparseRows(pairs, options.alpha, false);
  const cells = pairs.userCount * pairs.itemCount;
  const reports: AlsReport[] = [];
  const started = performance.now();
  for (let iteration = 1; iteration <= options.iterations; iteration++) {
    const iterationStarted = performance.now();
    solveRows(users, items, pairs.itemCount, byUser, d, options);
    solveRows(items, users, pairs.userCount, byItem, d, options);
    const loss = alsLoss(users, items, pairs.userCount, pairs.itemCount, byUser, d, options.regularization) / cells;
    const report = { iteration, iterations: options.iterations, loss, seconds: (performance.now() - iterationStarted) / 1000 };
    reports.push(report);
    await onIteration(report);
  }
  return {
    dimensions: d,
    userFactors: Float32Array.from(users),
    itemFactors: Float32Array.from(items),
    itemBias: new Float32Array(pairs.itemCount),
    iterations: reports,
    seconds: (performance.now() - started) / 1000,
  };
}
