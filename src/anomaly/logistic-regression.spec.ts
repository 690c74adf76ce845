import { loadTf } from '../ml/tf-backend';
import { predictProbability, trainLogisticRegression } from './logistic-regression';

describe('logistic regression on TensorFlow.js', () => {
  it('separates labels that follow the first input and ignores a constant second input', async () => {
    const { tf } = await loadTf('cpu');
    // x1 ∈ {−2, −1} → 0, {1, 2} → 1; x2 is always 1.
    const inputs = [-2, 1, -1, 1, 1, 1, 2, 1, -2, 1, 2, 1];
    const labels = [0, 0, 1, 1, 0, 1];
    const model = await trainLogisticRegression(tf, inputs, labels, 2);
    expect(model.weights[0]).toBeGreaterThan(1);
    expect(predictProbability(model, [2, 1])).toBeGreaterThan(0.9);
    expect(predictProbability(model, [-2, 1])).toBeLessThan(0.1);
    // The same data gives the same model.
    expect(await trainLogisticRegression(tf, inputs, labels, 2)).toEqual(model);
  });

  it('balances classes so one positive among many negatives still pulls the boundary', async () => {
    const { tf } = await loadTf('cpu');
    const inputs = [...Array.from({ length: 19 }, (_, i) => -1 + i / 100), 3];
    const labels = [...Array.from({ length: 19 }, () => 0), 1];
    const model = await trainLogisticRegression(tf, inputs, labels, 1);
    expect(predictProbability(model, [3])).toBeGreaterThan(0.5);
    expect(predictProbability(model, [-1])).toBeLessThan(0.5);
  });

  it('predicts σ(w·x + b)', () => {
    // w·x + b = 2·1 − 1·3 + 1 = 0 → 0.5; = ln 3 → 0.75
    expect(predictProbability({ weights: [2, -1], bias: 1 }, [1, 3])).toBe(0.5);
    expect(predictProbability({ weights: [1], bias: 0 }, [Math.log(3)])).toBeCloseTo(0.75, 12);
  });
});
