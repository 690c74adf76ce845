/**
 * Logistic regression on hand-made features: the propensity baseline. Features are standardised
 * with the training set's mean and spread; weights are fitted by Newton's method (IRLS) with an L2
 * penalty, which converges in a handful of exact steps with no learning rate or seed to tune.
 */
export interface LogisticModel {
  mean: number[];
  scale: number[];
  /** weights[0] is the intercept, then one per feature (on standardised features). */
  weights: number[];
}

export interface LogisticOptions {
  /** L2 penalty on the feature weights (not the intercept). */
  l2?: number;
  iterations?: number;
}

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

/** Fits on row-major `rows` (count × width) with 0/1 `labels`. */
export function fitLogistic(rows: ArrayLike<number>, width: number, labels: ArrayLike<number>, options: LogisticOptions = {}): LogisticModel {
  const count = labels.length;
  if (rows.length !== count * width) throw new RangeError(`expected ${count} rows of ${width} features, got ${rows.length} values`);
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
      const w = Math.max(p * (1 - p), 1e-9);
      const residual = labels[r] - p;
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

export function predictLogistic(model: LogisticModel, row: ArrayLike<number>, offset = 0): number {
  let z = model.weights[0];
  for (let j = 0; j < model.mean.length; j++) z += (model.weights[j + 1] * (row[offset + j] - model.mean[j])) / model.scale[j];
  return sigmoid(z);
}

export function predictLogisticRows(model: LogisticModel, rows: ArrayLike<number>): Float64Array {
  const width = model.mean.length;
  const out = new Float64Array(rows.length / width);
  for (let r = 0; r < out.length; r++) out[r] = predictLogistic(model, rows, r * width);
  return out;
}
