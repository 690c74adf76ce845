/**
 * Logistic regression fitted by Newton's method (iteratively reweighted least squares) with an L2
 * penalty, on features standardised with the training rows' mean and spread. Each step solves the
 * penalised Newton system exactly, so a fit converges in a handful of steps with no learning rate
 * or seed, and the same rows always give the same model. Used by the propensity baseline (and as
 * the network's warm start) and by the supervised anomaly detector (with balanced class weights).
 *
 * Method: Newton–Raphson / IRLS as in Hastie, Tibshirani & Friedman, The Elements of Statistical
 * Learning (2nd ed.), §4.4.1; the ridge penalty as in le Cessie & van Houwelingen, "Ridge
 * estimators in logistic regression" (Applied Statistics 41, 1992); row weights scale each row's
 * log-likelihood term (weighted maximum likelihood).
 */
export interface LogisticModel {
  /** Per feature, the training rows' mean (subtracted before weighing). */
  mean: number[];
  /** Per feature, the training rows' standard deviation (1 for a constant feature). */
  scale: number[];
  /** weights[0] is the intercept, then one per feature (on standardised features). */
  weights: number[];
}

export interface LogisticOptions {
  /**
   * λ in the objective Σ_r v_r·logloss_r + (λ/2)·Σ_j w_j² over the standardised feature weights
   * (never the intercept); default 1. An absolute amount, not per row: with more rows the data
   * outweighs it more.
   */
  l2?: number;
  /** Most Newton steps; it stops earlier once no weight moves by 1e-8. Default 25. */
  iterations?: number;
  /**
   * v_r: how much each row counts in the log loss (default 1 each), e.g. `balancedClassWeights`.
   * A row with weight k counts like k copies of it.
   */
  rowWeights?: ArrayLike<number>;
}

/**
 * Per-feature mean and population standard deviation of row-major `rows` (count × width); a
 * feature with (numerically) no spread gets scale 1 so dividing by it is harmless.
 */
export function standardiser(rows: ArrayLike<number>, width: number): { mean: number[]; scale: number[] } {
  const count = rows.length / width;
  const mean = new Array<number>(width).fill(0);
  const square = new Array<number>(width).fill(0);
  for (let r = 0; r < count; r++) {
    for (let j = 0; j < width; j++) {
      const v = rows[r * width + j];
      mean[j] += v;
      square[j] += v * v;
    }
  }
  const scale = mean.map((sum, j) => {
    const m = sum / Math.max(1, count);
    const variance = square[j] / Math.max(1, count) - m * m;
    return variance > 1e-12 ? Math.sqrt(variance) : 1;
  });
  return { mean: mean.map((sum) => sum / Math.max(1, count)), scale };
}

/**
 * Row weights n / (2·n_class) for 0/1 `labels` (scikit-learn's `class_weight='balanced'`, after
 * King & Zeng, "Logistic regression in rare events data", 2001): both classes then carry half the
 * total weight, so a few positives are not drowned by many negatives. All 1 when one class is
 * absent.
 */
export function balancedClassWeights(labels: ArrayLike<number>): Float64Array {
  const count = labels.length;
  let positives = 0;
  for (let r = 0; r < count; r++) positives += labels[r] === 1 ? 1 : 0;
  const negatives = count - positives;
  if (positives === 0 || negatives === 0) return new Float64Array(count).fill(1);
  return Float64Array.from({ length: count }, (_, r) => (labels[r] === 1 ? count / (2 * positives) : count / (2 * negatives)));
}

/** Solves A x = b for a small symmetric positive-definite A (Gaussian elimination with partial pivoting). */
function solve(a: number[][], b: number[]): number[] {
  const n = b.length;
  const m = a.map((row, i) => [...row, b[i]]);
  for (let col = 0; col < n; col++) {
    let pivot = col;
    for (let r = col + 1; r < n; r++) if (Math.abs(m[r][col]) > Math.abs(m[pivot][col])) pivot = r;
    [m[col], m[pivot]] = [m[pivot], m[col]];
    const p = m[col][col] || 1e-12;
    for (let r = 0; r < n; r++) {
      if (r === col) continue;
      const f = m[r][col] / p;
      if (f === 0) continue;
      for (let c = col; c <= n; c++) m[r][c] -= f * m[col][c];
    }
  }
  return m.map((row, i) => row[n] / (row[i] || 1e-12));
}

const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));

/**
 * Fits P(label = 1 | row) = σ(w₀ + Σ_j w_j·(x_j − mean_j)/scale_j) on row-major `rows`
 * (`labels.length` × `width`) with 0/1 `labels`, minimising the (row-weighted) log loss plus the L2
 * penalty of `options.l2`. Separable data needs l2 > 0 for finite weights.
 *
 * Throws RangeError when `rows` does not hold `labels.length` × `width` values, or `rowWeights`
 * has the wrong length or a negative or non-finite weight.
 */
export function fitLogistic(rows: ArrayLike<number>, width: number, labels: ArrayLike<number>, options: LogisticOptions = {}): LogisticModel {
  const count = labels.length;
  if (rows.length !== count * width) throw new RangeError(`expected ${count} rows of ${width} features, got ${rows.length} values`);
  const rowWeights = options.rowWeights;
  if (rowWeights) {
    if (rowWeights.length !== count) throw new RangeError(`expected ${count} row weights, got ${rowWeights.length}`);
    for (let r = 0; r < count; r++) {
      if (!(rowWeights[r] >= 0) || !Number.isFinite(rowWeights[r])) throw new RangeError(`row weight ${r} is ${rowWeights[r]}; weights must be finite and ≥ 0`);
    }
  }
  const l2 = options.l2 ?? 1;
  const { mean, scale } = standardiser(rows, width);
  const n = width + 1;
  const weights = new Array<number>(n).fill(0);
  const x = new Float64Array(n);
  for (let iteration = 0; iteration < (options.iterations ?? 25); iteration++) {
    const hessian = Array.from({ length: n }, () => new Array<number>(n).fill(0));
    const gradient = new Array<number>(n).fill(0);
    for (let r = 0; r < count; r++) {
      x[0] = 1;
      for (let j = 0; j < width; j++) x[j + 1] = (rows[r * width + j] - mean[j]) / scale[j];
      let z = 0;
      for (let j = 0; j < n; j++) z += weights[j] * x[j];
      const p = sigmoid(z);
      const rowWeight = rowWeights ? rowWeights[r] : 1;
      const w = rowWeight * Math.max(p * (1 - p), 1e-9);
      const residual = rowWeight * (labels[r] - p);
      for (let j = 0; j < n; j++) {
        gradient[j] += residual * x[j];
        const hj = hessian[j];
        const wx = w * x[j];
        for (let k = j; k < n; k++) hj[k] += wx * x[k];
      }
    }
    for (let j = 0; j < n; j++) {
      for (let k = 0; k < j; k++) hessian[j][k] = hessian[k][j];
      if (j > 0) {
        hessian[j][j] += l2;
        gradient[j] -= l2 * weights[j];
      }
    }
    const step = solve(hessian, gradient);
    let largest = 0;
    for (let j = 0; j < n; j++) {
      weights[j] += step[j];
      largest = Math.max(largest, Math.abs(step[j]));
    }
    if (largest < 1e-8) break;
  }
  return { mean, scale, weights };
}

/** P(label = 1) in (0, 1) for the `model.mean.length` features of `row` starting at `offset`. */
export function predictLogistic(model: LogisticModel, row: ArrayLike<number>, offset = 0): number {
  let z = model.weights[0];
  for (let j = 0; j < model.mean.length; j++) z += (model.weights[j + 1] * (row[offset + j] - model.mean[j])) / model.scale[j];
  return sigmoid(z);
}

/** `predictLogistic` for every row of row-major `rows` (count × the model's feature count). */
export function predictLogisticRows(model: LogisticModel, rows: ArrayLike<number>): Float64Array {
  const width = model.mean.length;
  const out = new Float64Array(rows.length / width);
  for (let r = 0; r < out.length; r++) out[r] = predictLogistic(model, rows, r * width);
  return out;
}
