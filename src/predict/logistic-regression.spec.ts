import { fitLogistic, predictLogistic } from './logistic-regression';

describe('fitLogistic', () => {
  it('recovers the observed rate of each group for one binary feature (unpenalised)', () => {
    // x = 0: 1 of 4 bought; x = 1: 3 of 4 bought. The maximum-likelihood fit predicts exactly those rates.
    const rows = [0, 0, 0, 0, 1, 1, 1, 1];
    const labels = [1, 0, 0, 0, 1, 1, 1, 0];
    const model = fitLogistic(rows, 1, labels, { l2: 0 });
    expect(predictLogistic(model, [0])).toBeCloseTo(0.25, 6);
    expect(predictLogistic(model, [1])).toBeCloseTo(0.75, 6);
  });

  it('pulls weights toward zero under a penalty and ignores a constant column', () => {
    const rows = [0, 5, 0, 5, 0, 5, 0, 5, 1, 5, 1, 5, 1, 5, 1, 5];
    const labels = [1, 0, 0, 0, 1, 1, 1, 0];
    const strong = fitLogistic(rows, 2, labels, { l2: 100 });
    expect(predictLogistic(strong, [1, 5]) - predictLogistic(strong, [0, 5])).toBeLessThan(0.1);
    expect(strong.weights[2]).toBe(0);
  });
});
