import type * as tfjs from '@tensorflow/tfjs';
import type { Tf } from '../ml/tf-backend';
import { rowLogLosses } from '../ml/metrics';
import { Rng } from '../ml/random';
import { applyPlatt, fitPlatt, type PlattScaling } from './calibration';

const IDENTITY: PlattScaling = { a: 1, b: 0 };
import { encodeSteps, STEP_WIDTH } from './features';
import { standardiser, type LogisticModel } from '../ml/logistic-regression';
import type { PredictionEvent } from './session-events';
import { exportWeights, fitShuffled, importWeights, seededInitializers, seededPermutation, type EpochReport, type NamedWeights } from './tf-training';

/**
 * PURCHASE_PROPENSITY's network: a GRU reads the last events (left-padded, padding masked out)
 * and its summary joins the standardised hand features (recency, frequency, money, the visit so
 * far) in a small dense layer with a sigmoid output. The same shape serves users (history before a
 * cutoff → purchase within the horizon) and live visits (visit so far → purchase before it ends).
 * Its probabilities are then Platt-scaled on examples held out of fitting.
 */

export interface PropensityConfig {
  units: number;
  hiddenUnits: number;
  /** Events of the sequence input (the most recent ones). */
  window: number;
  featureCount: number;
  seed: number;
}

export interface PropensityTraining extends PropensityConfig {
  epochs: number;
  /** Examples per minibatch; 0 picks `autoBatchSize` of the examples fitted. */
  batchSize: number;
  learningRate: number;
  /** Share of the examples held out of fitting to fit the Platt scaling on. */
  calibrationShare: number;
}

export interface PropensityExamples {
  count: number;
  /** count × window × STEP_WIDTH, left-padded with zeros. */
  sequences: Float32Array;
  /** count × featureCount, raw (unstandardised) hand features. */
  features: Float32Array;
  labels: Uint8Array;
}

export interface PropensityModel {
  config: PropensityConfig;
  network: tfjs.LayersModel;
  mean: number[];
  scale: number[];
  platt: PlattScaling;
}

/** Gathers examples: for each, its events (the last `window` are used), its hand features and its label. */
export class PropensityExampleBuilder {
  private readonly sequences: Float32Array[] = [];
  private readonly features: number[] = [];
  private readonly labels: number[] = [];

  constructor(
    readonly window: number,
    readonly featureCount: number,
  ) {}

  add(events: readonly PredictionEvent[], features: ArrayLike<number>, label: number): void {
    if (features.length !== this.featureCount) throw new RangeError(`expected ${this.featureCount} features, got ${features.length}`);
    this.sequences.push(encodeWindow(events, this.window));
    for (let i = 0; i < features.length; i++) this.features.push(features[i]);
    this.labels.push(label);
  }

  build(): PropensityExamples {
    const sequences = new Float32Array(this.sequences.length * this.window * STEP_WIDTH);
    this.sequences.forEach((sequence, n) => sequences.set(sequence, n * this.window * STEP_WIDTH));
    return { count: this.labels.length, sequences, features: Float32Array.from(this.features), labels: Uint8Array.from(this.labels) };
  }
}

/** The last `window` events, left-padded (the GRU's mask skips the all-zero rows). */
export function encodeWindow(events: readonly PredictionEvent[], window: number): Float32Array {
  const out = new Float32Array(window * STEP_WIDTH);
  const recent = events.slice(Math.max(0, events.length - window));
  encodeSteps(recent, out, window - recent.length);
  return out;
}

export function buildPropensityNetwork(tf: Tf, config: PropensityConfig): tfjs.LayersModel {
  const init = seededInitializers(tf, config.seed);
  const sequence = tf.input({ shape: [config.window, STEP_WIDTH], name: 'events' });
  const hand = tf.input({ shape: [config.featureCount], name: 'features' });
  const masked = tf.layers.masking({ maskValue: 0 }).apply(sequence) as tfjs.SymbolicTensor;
  const summary = tf.layers.gru({ units: config.units, ...init }).apply(masked) as tfjs.SymbolicTensor;
  const joined = tf.layers.concatenate().apply([summary, hand]) as tfjs.SymbolicTensor;
  const hidden = tf.layers.dense({ units: config.hiddenUnits, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: config.seed + 2 }) }).apply(joined) as tfjs.SymbolicTensor;
  // The hand features also reach the output directly (a logistic regression inside the network),
  // so training can start from the fitted baseline and the sequence only has to add to it.
  const wide = tf.layers.concatenate().apply([hidden, hand]) as tfjs.SymbolicTensor;
  const output = tf.layers.dense({ units: 1, activation: 'sigmoid', kernelInitializer: tf.initializers.glorotUniform({ seed: config.seed + 3 }), name: 'output' }).apply(wide) as tfjs.SymbolicTensor;
  return tf.model({ inputs: [sequence, hand], outputs: output });
}

function standardise(features: Float32Array, mean: number[], scale: number[]): Float32Array {
  const width = mean.length;
  const out = new Float32Array(features.length);
  for (let i = 0; i < features.length; i++) out[i] = (features[i] - mean[i % width]) / scale[i % width];
  return out;
}

/** The examples at `rows`, in that order. */
export function pickExamples(examples: PropensityExamples, rows: ArrayLike<number>, window: number, featureCount: number): PropensityExamples {
  const stride = window * STEP_WIDTH;
  const sequences = new Float32Array(rows.length * stride);
  const features = new Float32Array(rows.length * featureCount);
  const labels = new Uint8Array(rows.length);
  for (let n = 0; n < rows.length; n++) {
    const r = rows[n];
    sequences.set(examples.sequences.subarray(r * stride, (r + 1) * stride), n * stride);
    features.set(examples.features.subarray(r * featureCount, (r + 1) * featureCount), n * featureCount);
    labels[n] = examples.labels[r];
  }
  return { count: rows.length, sequences, features, labels };
}

/** Raw network outputs (before Platt scaling). */
function networkOutputs(tf: Tf, network: tfjs.LayersModel, examples: PropensityExamples, config: PropensityConfig, mean: number[], scale: number[]): Float32Array {
  const out = new Float32Array(examples.count);
  const batch = 1024;
  for (let start = 0; start < examples.count; start += batch) {
    const count = Math.min(batch, examples.count - start);
    const stride = config.window * STEP_WIDTH;
    const sequences = examples.sequences.subarray(start * stride, (start + count) * stride);
    const features = standardise(examples.features.subarray(start * config.featureCount, (start + count) * config.featureCount), mean, scale);
    const values = tf.tidy(() =>
      (network.predict([tf.tensor3d(sequences, [count, config.window, STEP_WIDTH]), tf.tensor2d(features, [count, config.featureCount])]) as tfjs.Tensor).dataSync(),
    );
    out.set(values, start);
  }
  return out;
}

/** Output weights: zero for the deep part, the logistic regression's for the hand features. */
function startFromLogistic(tf: Tf, network: tfjs.LayersModel, config: PropensityConfig, logistic: LogisticModel): void {
  const output = network.getLayer('output');
  const kernel = new Float32Array(config.hiddenUnits + config.featureCount);
  for (let j = 0; j < config.featureCount; j++) kernel[config.hiddenUnits + j] = logistic.weights[j + 1];
  const tensors = [tf.tensor2d(kernel, [kernel.length, 1]), tf.tensor1d([logistic.weights[0]])];
  output.setWeights(tensors);
  tf.dispose(tensors);
}

/**
 * The minibatch size for `batchSize: 0`: a power of two near examples / 40, so an epoch is about 40
 * steps, within 32…512. A fixed large batch leaves a small shop with a handful of steps (the network
 * stays at its logistic start); a fixed small one makes a large shop's epoch thousands of steps,
 * each costing about as much on WebAssembly as a larger one.
 */
export function autoBatchSize(examples: number): number {
  const target = Math.max(1, examples / 40);
  return Math.min(512, Math.max(32, 2 ** Math.round(Math.log2(target))));
}

function meanOf(values: ArrayLike<number>): number {
  let total = 0;
  for (let i = 0; i < values.length; i++) total += values[i];
  return values.length ? total / values.length : NaN;
}

/**
 * Whether `candidate`'s row losses are lower than `reference`'s on the same rows by more than two
 * standard errors of the paired difference (a one-sided test at about 2.3 %), so that a lower mean
 * that noise alone would give does not count.
 */
export function clearlyLower(candidate: ArrayLike<number>, reference: ArrayLike<number>): boolean {
  const n = candidate.length;
  if (n < 2 || reference.length !== n) return false;
  const differences = Float64Array.from(candidate, (value, i) => reference[i] - value);
  const average = meanOf(differences);
  let squares = 0;
  for (const d of differences) squares += (d - average) ** 2;
  const standardError = Math.sqrt(squares / (n - 1) / n);
  return average > 2 * standardError;
}

/** Row indices of one training set, divided three ways (see `heldOutRows`). */
export interface PropensityRows {
  /** Rows the models are fitted on. */
  fitRows: Int32Array;
  /** Held-out rows the network's early stopping and Platt scaling read. */
  calibrationRows: Int32Array;
  /**
   * Held-out rows nothing was tuned on, where the network is compared with its rivals. The same
   * array as `calibrationRows` only when a single group (or row) is held out and cannot be divided.
   */
  selectionRows: Int32Array;
}

/**
 * The rows held out of fitting and the rows fitted. With `groups` (one key per row: the user, or
 * the visit) whole groups are held out, a `share` of them drawn at random: a user's examples at
 * neighbouring cutoffs, or a visit's successive prefixes, are near copies of each other, and with
 * one copy on each side the held-out loss would reward memorising them. Without groups, or when the
 * groups cannot be split, single rows are drawn. The held-out groups (or rows) are then dealt
 * alternately into `calibrationRows` (early stopping, Platt scaling) and `selectionRows` (the
 * comparison with the rivals): a network whose best epoch and scaling were chosen on the rows it is
 * then judged on would be judged too kindly.
 */
export function heldOutRows(count: number, share: number, rng: Rng, groups?: readonly string[]): PropensityRows {
  const dealt = (heldInOrder: readonly number[][], fitted: number[]): PropensityRows => {
    const calibration: number[] = [];
    const selection: number[] = [];
    heldInOrder.forEach((rows, n) => (n % 2 === 0 ? calibration : selection).push(...rows));
    const calibrationRows = Int32Array.from(calibration).sort();
    return { fitRows: Int32Array.from(fitted), calibrationRows, selectionRows: selection.length > 0 ? Int32Array.from(selection).sort() : calibrationRows };
  };
  if (groups && groups.length === count) {
    const distinct = [...new Set(groups)];
    const order = seededPermutation(distinct.length, rng);
    const heldAt = new Map<string, number>();
    for (let n = 0; n < Math.round(distinct.length * share); n++) heldAt.set(distinct[order[n]], n);
    const held: number[][] = Array.from({ length: heldAt.size }, () => []);
    const fitted: number[] = [];
    groups.forEach((group, row) => {
      const at = heldAt.get(group);
      if (at === undefined) fitted.push(row);
      else held[at].push(row);
    });
    if (held.length > 0 && fitted.length > 0) return dealt(held, fitted);
  }
  const order = seededPermutation(count, rng);
  const held = Math.max(1, Math.round(count * share));
  return dealt(Array.from(order.subarray(0, held), (row) => [row]), Array.from(order.subarray(held)));
}

/**
 * The rows `trainPropensityModel` fits and the rows it holds out (`heldOutRows` with the training's
 * `calibrationShare` and a generator seeded from its `seed`), so that the model selection can score
 * the network and its rivals on the held-out rows the network was not tuned on.
 */
export function propensitySplit(count: number, options: Pick<PropensityTraining, 'calibrationShare' | 'seed'>, groups?: readonly string[]): PropensityRows {
  return heldOutRows(count, options.calibrationShare, new Rng(options.seed ^ 0x5bd1e995), groups);
}

/**
 * A propensity model that is exactly `logistic` (the full logistic regression, or a single-feature
 * rule embedded in the full feature width): the network with its deep part's output weights at
 * zero, so the artifact, the batch scores and live serving stay one path whichever model serves.
 */
export function propensityModelFromLogistic(tf: Tf, config: PropensityConfig, logistic: LogisticModel): PropensityModel {
  if (logistic.mean.length !== config.featureCount) throw new RangeError(`the logistic model reads ${logistic.mean.length} features, the network ${config.featureCount}`);
  const network = buildPropensityNetwork(tf, config);
  startFromLogistic(tf, network, config, logistic);
  return { config, network, mean: logistic.mean, scale: logistic.scale, platt: IDENTITY };
}

/**
 * Trains the propensity network on `examples` (sequence, hand features, label), holding out
 * `calibrationShare` of them (of their `groups` when given: see `heldOutRows`); early stopping and
 * Platt scaling read `calibrationRows`, half of those, and `selectionRows`, the other half, are
 * neither fitted nor tuned on (the model selection compares there). Warm-started from
 * `warmStart` (a logistic regression on the hand features) the network begins as exactly that
 * regression. After every epoch the held-out log loss
 * is measured and the best epoch's weights are kept (`bestEpoch`, 0 = the start; only clearly
 * better epochs count); Platt scaling is then fitted on the same held-out rows and kept only when
 * the network left its start and the scaling clearly lowers their log loss.
 * Throws RangeError for fewer than 10 examples.
 */
export async function trainPropensityModel(
  tf: Tf,
  examples: PropensityExamples,
  options: PropensityTraining,
  onEpoch?: (report: EpochReport) => Promise<void> | void,
  warmStart?: LogisticModel,
  groups?: readonly string[],
): Promise<{ model: PropensityModel; finalLoss: number; bestEpoch: number }> {
  if (examples.count < 10) throw new RangeError(`too few examples to train a propensity model (${examples.count})`);
  const config: PropensityConfig = { units: options.units, hiddenUnits: options.hiddenUnits, window: options.window, featureCount: options.featureCount, seed: options.seed };
  const { fitRows, calibrationRows } = propensitySplit(examples.count, options, groups);
  const fitSet = pickExamples(examples, fitRows, config.window, config.featureCount);
  const { mean, scale } = warmStart ?? standardiser(fitSet.features, config.featureCount);
  const network = buildPropensityNetwork(tf, config);
  if (warmStart) startFromLogistic(tf, network, config, warmStart);
  network.compile({ optimizer: tf.train.adam(options.learningRate), loss: 'binaryCrossentropy' });
  const calibrationSet = pickExamples(examples, calibrationRows, config.window, config.featureCount);
  // Early stopping on the held-out rows, conservatively: an epoch's weights replace the start only
  // when their held-out log loss is lower by more than twice the standard error of the per-row
  // difference (paired), and among those the lowest wins. Warm-started, the start ("epoch 0") is
  // the logistic regression itself (the deep part's output weights are zero), so where the
  // sequence adds nothing that stands out from noise the network stays the baseline; on small
  // shops, and wherever the held-out users differ from the next period's, chasing a lower loss
  // that is within noise made the network worse than the baseline it started from.
  const rowLosses = () => rowLogLosses(networkOutputs(tf, network, calibrationSet, config, mean, scale), calibrationSet.labels);
  const startLosses = rowLosses();
  let best = { epoch: 0, loss: meanOf(startLosses), weights: network.getWeights().map((w) => w.clone()) };
  const x = tf.tensor3d(fitSet.sequences, [fitSet.count, config.window, STEP_WIDTH]);
  const f = tf.tensor2d(standardise(fitSet.features, mean, scale), [fitSet.count, config.featureCount]);
  const y = tf.tensor2d(Float32Array.from(fitSet.labels), [fitSet.count, 1]);
  let finalLoss: number;
  try {
    const batchSize = options.batchSize > 0 ? options.batchSize : autoBatchSize(fitSet.count);
    finalLoss = await fitShuffled(tf, network, [x, f], y, { epochs: options.epochs, batchSize, seed: options.seed }, async (report) => {
      const losses = rowLosses();
      const loss = meanOf(losses);
      if (loss < best.loss && clearlyLower(losses, startLosses)) {
        tf.dispose(best.weights);
        best = { epoch: report.epoch, loss, weights: network.getWeights().map((w) => w.clone()) };
      }
      await onEpoch?.(report);
    });
  } finally {
    tf.dispose([x, f, y]);
  }
  network.setWeights(best.weights);
  tf.dispose(best.weights);
  const raw = networkOutputs(tf, network, calibrationSet, config, mean, scale);
  // Platt scaling is fitted on the held-out rows and kept only when the network left its start and
  // the scaling lowers those rows' log loss clearly (as for epochs). Its fit and its check use the
  // same rows, so a plain "lower" is nearly always true; and a network still at its logistic start
  // is the logistic regression, calibrated by its own fit: rescaling it to a fifth of the training
  // users only moved it away from the next period's base rate.
  const fitted = fitPlatt(raw, calibrationSet.labels);
  const scaled = Float64Array.from(raw, (p) => applyPlatt(fitted, p));
  const platt =
    best.epoch > 0 && clearlyLower(rowLogLosses(scaled, calibrationSet.labels), rowLogLosses(raw, calibrationSet.labels)) ? fitted : IDENTITY;
  return { model: { config, network, mean, scale, platt }, finalLoss, bestEpoch: best.epoch };
}

/** Calibrated purchase probabilities for every example. */
export function predictPropensity(tf: Tf, model: PropensityModel, examples: PropensityExamples): Float64Array {
  const raw = networkOutputs(tf, model.network, examples, model.config, model.mean, model.scale);
  return Float64Array.from(raw, (p) => applyPlatt(model.platt, p));
}

export interface PropensityState {
  config: PropensityConfig;
  mean: number[];
  scale: number[];
  platt: PlattScaling;
}

export function propensityState(model: PropensityModel, prefix: string): { state: PropensityState; weights: NamedWeights[] } {
  return { state: { config: model.config, mean: model.mean, scale: model.scale, platt: model.platt }, weights: exportWeights(model.network, prefix) };
}

export function restorePropensityModel(tf: Tf, state: PropensityState, weights: readonly NamedWeights[]): PropensityModel {
  const network = buildPropensityNetwork(tf, state.config);
  importWeights(tf, network, weights);
  return { ...state, network };
}
