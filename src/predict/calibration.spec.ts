import { applyPlatt, brierScore, calibrationError, fitPlatt, multiClassMetrics, reliabilityTable } from './calibration';

describe('brierScore', () => {
  it('is the mean squared error of the probabilities', () => {
    expect(brierScore([0.1, 0.8, 0.6], [0, 1, 0])).toBeCloseTo((0.01 + 0.04 + 0.36) / 3, 12);
    expect(brierScore([], [])).toBeNaN();
  });
});

describe('reliabilityTable', () => {
  it('cuts sorted predictions into equal-count bins with mean prediction and observed rate', () => {
    const table = reliabilityTable([0.9, 0.1, 0.4, 0.3, 0.7], [1, 0, 1, 0, 0], 2);
    // Sorted: 0.1(0) 0.3(0) 0.4(1) | 0.7(0) 0.9(1); the first bin takes the odd one.
    expect(table).toHaveLength(2);
    expect(table[0]).toEqual({ bin: 1, count: 3, meanPredicted: expect.closeTo(0.8 / 3, 12), observedRate: 1 / 3, minPredicted: 0.1, maxPredicted: 0.4 });
    expect(table[1]).toEqual({ bin: 2, count: 2, meanPredicted: expect.closeTo(0.8, 12), observedRate: 0.5, minPredicted: 0.7, maxPredicted: 0.9 });
    // ECE: (3·|0.2667 − 0.3333| + 2·|0.8 − 0.5|) / 5 = (0.2 + 0.6) / 5.
    expect(calibrationError(table)).toBeCloseTo(0.16, 12);
  });

  it('makes deciles and skips empty bins when there are fewer predictions than bins', () => {
    expect(reliabilityTable(Array.from({ length: 20 }, (_, i) => i / 20), new Array(20).fill(0)).map((r) => r.count)).toEqual(new Array(10).fill(2));
    expect(reliabilityTable([0.2, 0.4], [0, 1]).map((r) => r.bin)).toEqual([1, 2]);
  });
});

describe('multiClassMetrics', () => {
  it('scores accuracy, top-2, log loss and recall per class on hand-worked rows', () => {
    const classes = ['view', 'cart', 'exit'];
    const probabilities = [
      0.6, 0.3, 0.1, // truth view: top-1 hit
      0.5, 0.2, 0.3, // truth cart: ranked third, miss in top-2
      0.2, 0.3, 0.5, // truth cart: ranked second, top-2 hit
      0.1, 0.1, 0.8, // truth exit: hit
    ];
    const m = multiClassMetrics(probabilities, [0, 1, 1, 2], classes);
    expect(m.accuracy).toBe(0.5);
    expect(m.top2Accuracy).toBe(0.75);
    expect(m.logLoss).toBeCloseTo(-(Math.log(0.6) + Math.log(0.2) + Math.log(0.3) + Math.log(0.8)) / 4, 12);
    expect(m.recall).toEqual({ view: 1, cart: 0, exit: 1 });
    expect(m.support).toEqual({ view: 1, cart: 2, exit: 1 });
  });
});

describe('Platt scaling', () => {
  it('maps a constant 0.5 onto the observed rate', () => {
    const scaling = fitPlatt([0.5, 0.5, 0.5, 0.5], [1, 0, 0, 0]);
    expect(applyPlatt(scaling, 0.5)).toBeCloseTo(0.25, 3);
  });

  it('leaves calibrated predictions roughly alone', () => {
    // In each group the observed rate equals the prediction.
    const p = [...new Array(10).fill(0.2), ...new Array(10).fill(0.7)];
    const y = [1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0];
    const scaling = fitPlatt(p, y);
    expect(applyPlatt(scaling, 0.2)).toBeCloseTo(0.2, 3);
    expect(applyPlatt(scaling, 0.7)).toBeCloseTo(0.7, 3);
  });
});
