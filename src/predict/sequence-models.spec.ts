import { Rng } from '../ml/random';
import { loadTf } from '../ml/tf-backend';
import { fitLogistic, predictLogisticRows } from '../ml/logistic-regression';
import { fitMarkov, markovProbabilities, markovStateOf } from './markov';
import { fittedWindow, nextStepWindows, predictNextSteps, trainNextStepModel } from './next-step-model';
import { autoBatchSize, clearlyLower, heldOutRows, PropensityExampleBuilder, predictPropensity, trainPropensityModel } from './propensity-model';
import { nextActionsOf, type PredictionEvent } from './session-events';

const visit = (...types: string[]): PredictionEvent[] =>
  types.map((type, i) => ({ type, timestamp: 1_000_000 + i * 20_000, sessionId: 'v', category: 'c', price: 10, device: 'mobile', channel: 'ads' }));

describe('next-step GRU (small deterministic run on wasm)', () => {
  it('learns what the Markov chain cannot: the second view is always followed by a cart, the first never', async () => {
    const { tf } = await loadTf('wasm');
    const sessions = Array.from({ length: 60 }, () => visit('view', 'view', 'cart', 'checkout'));
    const windows = nextStepWindows(sessions, 6);
    const { model } = await trainNextStepModel(tf, windows, { units: 8, window: 6, seed: 1, epochs: 60, batchSize: 32, learningRate: 0.05 });
    const [afterFirst, afterSecond] = [visit('view'), visit('view', 'view')].map((events) => Array.from(predictNextSteps(tf, model, [events], 6)));
    // Markov from "view": half the time view, half cart.
    const states = sessions.flatMap((s) => s.map((e) => markovStateOf(e.type)));
    const next = sessions.flatMap((s) => Array.from(nextActionsOf(s)));
    expect(markovProbabilities(fitMarkov(states, next, 0), 0).slice(0, 2)).toEqual([0.5, 0.5]);
    expect(afterFirst[0]).toBeGreaterThan(0.8); // view next
    expect(afterSecond[1]).toBeGreaterThan(0.8); // cart next
    model.dispose();
  });
});

describe('propensity network (small deterministic run on wasm)', () => {
  it('reads the sequence: buyers are the ones who favourited, which the hand feature does not show', async () => {
    const { tf } = await loadTf('wasm');
    const builder = new PropensityExampleBuilder(4, 1);
    for (let n = 0; n < 200; n++) {
      const buys = n % 2;
      builder.add(buys ? visit('view', 'fav', 'view') : visit('view', 'search', 'view'), [n % 3], buys);
    }
    const examples = builder.build();
    const logistic = fitLogistic(examples.features, 1, examples.labels);
    const baseline = predictLogisticRows(logistic, examples.features);
    const { model } = await trainPropensityModel(tf, examples, { units: 4, hiddenUnits: 4, window: 4, featureCount: 1, seed: 2, epochs: 40, batchSize: 32, learningRate: 0.02, calibrationShare: 0.2 }, undefined, logistic);
    const predicted = predictPropensity(tf, model, examples);
    // The baseline can only say about one half; the network separates the two kinds of visit.
    expect(Math.max(...baseline)).toBeLessThan(0.7);
    const buyers = predicted.filter((_, i) => examples.labels[i] === 1);
    const others = predicted.filter((_, i) => examples.labels[i] === 0);
    expect(Math.min(...buyers)).toBeGreaterThan(Math.max(...others));
    model.network.dispose();
  });
});

describe('fittedWindow', () => {
  it('takes a requested window as it is', () => {
    expect(fittedWindow([3, 3, 3], 17)).toBe(17);
  });

  it('sizes the default to the 90th percentile visit length, clamped to 4…24', () => {
    // Ten visits of 1…10 events: the 90th percentile (9th of 10 in order) is 9.
    expect(fittedWindow([10, 1, 9, 2, 8, 3, 7, 4, 6, 5], 0)).toBe(9);
    // Mostly short visits: 4 at least, so a visit's few first events still form a sequence.
    expect(fittedWindow([1, 2, 2, 3, 1], 0)).toBe(4);
    // Long visits: at most 24; longer ones are cut into overlapping windows.
    expect(fittedWindow([50, 60, 70], 0)).toBe(24);
    expect(fittedWindow([], 0)).toBe(4);
  });
});

describe('autoBatchSize', () => {
  it('aims at about 40 steps an epoch, as a power of two within 32…512', () => {
    expect(autoBatchSize(10_240)).toBe(256); // 10,240 / 40 = 256
    expect(autoBatchSize(16_000)).toBe(512); // 400 → log2 8.64 rounds to 9
    expect(autoBatchSize(7_000)).toBe(128); // 175 → log2 7.45 rounds to 7
    expect(autoBatchSize(1_000)).toBe(32); // 25 is below the floor
    expect(autoBatchSize(1_000_000)).toBe(512); // 25,000 is above the ceiling
    expect(autoBatchSize(0)).toBe(32);
  });
});

describe('heldOutRows', () => {
  it('holds out whole groups, about the share of them, fits every other row, and deals them into two disjoint halves', () => {
    // 40 users with 1 to 4 rows each.
    const groups = Array.from({ length: 100 }, (_, row) => `u${row % 40}`);
    const { fitRows, calibrationRows, selectionRows } = heldOutRows(groups.length, 0.2, new Rng(7), groups);
    expect([...fitRows, ...calibrationRows, ...selectionRows].sort((a, b) => a - b)).toEqual(Array.from({ length: 100 }, (_, row) => row));
    const usersOf = (rows: Int32Array) => new Set([...rows].map((row) => groups[row]));
    const calibrationUsers = usersOf(calibrationRows);
    const selectionUsers = usersOf(selectionRows);
    const fittedUsers = usersOf(fitRows);
    // 20 % of 40 users = 8, dealt alternately: 4 tune the network, 4 judge it.
    expect(calibrationUsers.size).toBe(4);
    expect(selectionUsers.size).toBe(4);
    for (const user of [...calibrationUsers, ...selectionUsers]) expect(fittedUsers.has(user)).toBe(false);
    for (const user of calibrationUsers) expect(selectionUsers.has(user)).toBe(false);
  });

  it('draws single rows without groups, or when one group is all there is', () => {
    const plain = heldOutRows(10, 0.2, new Rng(7));
    expect(plain.calibrationRows).toHaveLength(1);
    expect(plain.selectionRows).toHaveLength(1);
    expect(plain.selectionRows[0]).not.toBe(plain.calibrationRows[0]);
    expect(plain.fitRows).toHaveLength(8);
    const oneGroup = heldOutRows(10, 0.2, new Rng(7), Array(10).fill('u1'));
    expect(oneGroup.calibrationRows.length + oneGroup.selectionRows.length).toBe(2);
  });

  it('shares the one held-out row between tuning and selection when it cannot be divided', () => {
    const tiny = heldOutRows(4, 0.2, new Rng(7));
    expect(tiny.calibrationRows).toHaveLength(1);
    expect(tiny.selectionRows).toBe(tiny.calibrationRows);
  });
});

describe('clearlyLower', () => {
  it('counts a paired improvement beyond two standard errors, not one within noise', () => {
    // Every row 0.1 lower: the difference has no spread at all.
    expect(clearlyLower([0.4, 0.5, 0.6, 0.7], [0.5, 0.6, 0.7, 0.8])).toBe(true);
    // Differences 0.1, −0.1, 0.1, −0.1, 0.1: mean 0.02, standard error √(0.012 / 5) ≈ 0.049: within noise.
    expect(clearlyLower([0.4, 0.6, 0.4, 0.6, 0.4], [0.5, 0.5, 0.5, 0.5, 0.5])).toBe(false);
    // Worse is never lower.
    expect(clearlyLower([0.6, 0.7], [0.5, 0.6])).toBe(false);
    expect(clearlyLower([0.1], [0.9])).toBe(false); // one row says nothing about noise
  });
});
