import { balancedClassWeights, fitLogistic, predictLogistic, predictLogisticRows, standardiser } from './logistic-regression';

const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));

/**
 * Reference: plain gradient descent, to convergence, on the same objective
 * Σ_r v_r·logloss_r + (λ/2)·Σ_{j≥1} w_j² over features standardised by hand (mean, population
 * standard deviation). Step 1/L with L = ¼·Σ_r v_r·‖x_r‖² + λ, a bound on the Hessian's largest
 * eigenvalue, so every step lowers the objective. Returns the predicted probability of each row.
 */
function gradientDescentReference(rows: number[], width: number, labels: number[], l2: number, rowWeights?: number[]): number[] {
  const count = labels.length;
  const v = rowWeights ?? labels.map(() => 1);
  const x = Array.from({ length: count }, (_, r) => {
    const row = [1];
    for (let j = 0; j < width; j++) {
      const column = Array.from({ length: count }, (_, i) => rows[i * width + j]);
      const mean = column.reduce((a, b) => a + b, 0) / count;
      const sd = Math.sqrt(column.reduce((a, b) => a + (b - mean) ** 2, 0) / count);
      row.push((rows[r * width + j] - mean) / sd);
    }
    return row;
  });
  const lipschitz = 0.25 * x.reduce((sum, row, r) => sum + v[r] * row.reduce((a, b) => a + b * b, 0), 0) + l2;
  const w = new Array<number>(width + 1).fill(0);
  for (let step = 0; step < 200_000; step++) {
    const gradient = w.map((wj, j) => (j > 0 ? l2 * wj : 0));
    for (let r = 0; r < count; r++) {
      const p = sigmoid(x[r].reduce((z, xj, j) => z + w[j] * xj, 0));
      for (let j = 0; j <= width; j++) gradient[j] += v[r] * (p - labels[r]) * x[r][j];
    }
    if (Math.max(...gradient.map(Math.abs)) < 1e-11) break;
    for (let j = 0; j <= width; j++) w[j] -= gradient[j] / lipschitz;
  }
  return x.map((row) => sigmoid(row.reduce((z, xj, j) => z + w[j] * xj, 0)));
}

// Two features, overlapping classes (no line separates them), so the unpenalised fit is finite.
const ROWS = [0.5, 1.2, 1.5, -0.3, 2.0, 0.8, -1.0, 0.4, 0.2, -1.1, 1.1, 0.0, -0.4, 0.9, 2.4, 1.6, -1.6, -0.2, 0.9, 2.2];
const LABELS = [1, 0, 1, 0, 0, 1, 1, 0, 1, 0];
const WEIGHTS = [0.5, 2, 1, 3, 0.25, 1, 1.5, 2, 0.75, 1];

describe('fitLogistic (Newton/IRLS)', () => {
  it('recovers the observed rate of each group for one binary feature (unpenalised)', () => {
    // x = 0: 1 of 4 bought; x = 1: 3 of 4 bought. The maximum-likelihood fit predicts exactly those rates.
    const rows = [0, 0, 0, 0, 1, 1, 1, 1];
    const labels = [1, 0, 0, 0, 1, 1, 1, 0];
    const model = fitLogistic(rows, 1, labels, { l2: 0 });
    expect(predictLogistic(model, [0])).toBeCloseTo(0.25, 6);
    expect(predictLogistic(model, [1])).toBeCloseTo(0.75, 6);
  });

  it('with row weights, recovers each group’s weighted rate (unpenalised)', () => {
    // x = 0: the one buyer weighs 3, the three others 1 each → 3/6; x = 1: the one non-buyer weighs 3 → 3/6.
    const rows = [0, 0, 0, 0, 1, 1, 1, 1];
    const labels = [1, 0, 0, 0, 1, 1, 1, 0];
    const model = fitLogistic(rows, 1, labels, { l2: 0, rowWeights: [3, 1, 1, 1, 1, 1, 1, 3] });
    expect(predictLogistic(model, [0])).toBeCloseTo(0.5, 6);
    expect(predictLogistic(model, [1])).toBeCloseTo(0.5, 6);
  });

  it('balanced class weights multiply each group’s odds by n_negative / n_positive', () => {
    // 15 rows, 4 positive: weights 15/8 and 15/22, so every odds ratio grows by 22/8 = 2.75.
    // x = 0: 1 of 10 → odds 1/9 → 2.75/9, p = 2.75/11.75; x = 1: 3 of 5 → odds 3/2 → 4.125, p = 4.125/5.125.
    const rows = [...new Array(10).fill(0), ...new Array(5).fill(1)];
    const labels = [1, ...new Array(9).fill(0), 1, 1, 1, 0, 0];
    const weights = balancedClassWeights(labels);
    expect(weights[0]).toBeCloseTo(15 / 8, 12);
    expect(weights[1]).toBeCloseTo(15 / 22, 12);
    const model = fitLogistic(rows, 1, labels, { l2: 0, rowWeights: weights });
    expect(predictLogistic(model, [0])).toBeCloseTo(2.75 / 11.75, 6);
    expect(predictLogistic(model, [1])).toBeCloseTo(4.125 / 5.125, 6);
  });

  it('matches gradient descent to convergence on overlapping classes, unweighted and weighted, with and without a penalty', () => {
    for (const l2 of [0, 0.5, 4]) {
      for (const rowWeights of [undefined, WEIGHTS]) {
        const model = fitLogistic(ROWS, 2, LABELS, { l2, rowWeights });
        const reference = gradientDescentReference(ROWS, 2, LABELS, l2, rowWeights);
        const fitted = predictLogisticRows(model, ROWS);
        reference.forEach((p, r) => expect(fitted[r]).toBeCloseTo(p, 7));
      }
    }
  });

  it('a row of weight 2 counts like two copies of it', () => {
    // Unpenalised, the fitted probabilities do not depend on how the features were standardised.
    const twice = WEIGHTS.map((w, r) => (r % 2 === 0 ? 2 : 1));
    const copies = LABELS.flatMap((_, r) => (r % 2 === 0 ? [r, r] : [r]));
    const weighted = fitLogistic(ROWS, 2, LABELS, { l2: 0, rowWeights: twice });
    const copied = fitLogistic(
      copies.flatMap((r) => [ROWS[2 * r], ROWS[2 * r + 1]]),
      2,
      copies.map((r) => LABELS[r]),
      { l2: 0 },
    );
    for (let r = 0; r < LABELS.length; r++) expect(predictLogistic(weighted, ROWS, 2 * r)).toBeCloseTo(predictLogistic(copied, ROWS, 2 * r), 9);
  });

  it('keeps weights finite on separable data under a penalty, at the penalised optimum', () => {
    // x ∈ {−2, −1} → 0, {1, 2} → 1: no finite unpenalised fit. Symmetric data → intercept 0, p(−x) = 1 − p(x).
    const rows = [-2, -1, 1, 2];
    const labels = [0, 0, 1, 1];
    const model = fitLogistic(rows, 1, labels, { l2: 1 });
    expect(model.weights[0]).toBeCloseTo(0, 9);
    expect(predictLogistic(model, [2])).toBeCloseTo(1 - predictLogistic(model, [-2]), 9);
    expect(predictLogistic(model, [1])).toBeGreaterThan(0.5);
    const reference = gradientDescentReference(rows, 1, labels, 1);
    reference.forEach((p, r) => expect(predictLogistic(model, rows, r)).toBeCloseTo(p, 7));
  });

  it('balanced weights let one positive among nineteen negatives pull the boundary past it', () => {
    const rows = [...Array.from({ length: 19 }, (_, i) => -1 + i / 100), 3];
    const labels = [...new Array(19).fill(0), 1];
    const unweighted = fitLogistic(rows, 1, labels, { l2: 1 });
    const balanced = fitLogistic(rows, 1, labels, { l2: 1, rowWeights: balancedClassWeights(labels) });
    expect(predictLogistic(balanced, [3])).toBeGreaterThan(0.5);
    expect(predictLogistic(balanced, [-1])).toBeLessThan(0.5);
    expect(predictLogistic(balanced, [3])).toBeGreaterThan(predictLogistic(unweighted, [3]));
  });

  it('pulls weights toward zero under a penalty and ignores a constant column', () => {
    const rows = [0, 5, 0, 5, 0, 5, 0, 5, 1, 5, 1, 5, 1, 5, 1, 5];
    const labels = [1, 0, 0, 0, 1, 1, 1, 0];
    const strong = fitLogistic(rows, 2, labels, { l2: 100 });
    expect(predictLogistic(strong, [1, 5]) - predictLogistic(strong, [0, 5])).toBeLessThan(0.1);
    expect(strong.weights[2]).toBe(0);
  });

  it('refuses rows, row weights or weights that do not fit', () => {
    expect(() => fitLogistic([1, 2, 3], 2, [0, 1])).toThrow(RangeError);
    expect(() => fitLogistic([1, 2], 1, [0, 1], { rowWeights: [1] })).toThrow(/expected 2 row weights/);
    expect(() => fitLogistic([1, 2], 1, [0, 1], { rowWeights: [1, -1] })).toThrow(/finite and ≥ 0/);
    expect(() => fitLogistic([1, 2], 1, [0, 1], { rowWeights: [1, NaN] })).toThrow(RangeError);
  });
});

describe('balancedClassWeights', () => {
  it('gives n / (2·n_class), so each class weighs n/2 in all', () => {
    expect(Array.from(balancedClassWeights([0, 0, 0, 1]))).toEqual([4 / 6, 4 / 6, 4 / 6, 2]);
  });

  it('leaves every row at 1 when a class is missing', () => {
    expect(Array.from(balancedClassWeights([0, 0, 0]))).toEqual([1, 1, 1]);
  });
});

describe('standardiser and predictLogistic', () => {
  it('uses the population mean and standard deviation, 1 for a constant column', () => {
    expect(standardiser([1, 7, 3, 7], 2)).toEqual({ mean: [2, 7], scale: [1, 1] });
    expect(standardiser([0, 4], 1)).toEqual({ mean: [2], scale: [2] });
  });

  it('predicts σ(w₀ + Σ w_j·(x_j − mean_j)/scale_j)', () => {
    // 0.5 + 2·(3 − 1)/2 − 1·(4 − 4)/1 = 2.5; −ln 3 + 0 = −ln 3 → 0.25
    const model = { mean: [1, 4], scale: [2, 1], weights: [0.5, 2, -1] };
    expect(predictLogistic(model, [3, 4])).toBeCloseTo(sigmoid(2.5), 12);
    expect(predictLogistic({ mean: [0], scale: [1], weights: [-Math.log(3), 1] }, [0])).toBeCloseTo(0.25, 12);
    expect(Array.from(predictLogisticRows(model, [3, 4, 1, 4]))).toEqual([predictLogistic(model, [3, 4]), sigmoid(0.5)]);
  });
});
