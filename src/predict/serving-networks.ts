import type * as tfjs from '@tensorflow/tfjs';
import { GruStepper, type GruCellWeights } from '../ml/gru-cell';
import type { PlattScaling } from './calibration';
import { STEP_WIDTH } from './features';
import type { PropensityModel } from './propensity-model';

/**
 * The two prediction networks' forward pass in plain TypeScript, for serving. A live request runs
 * a handful of rows over at most a few dozen events; through tfjs layers that is a few hundred tiny
 * ops (the GRU is unrolled step by step), and their dispatch, not the arithmetic, took most of a
 * request's time. Here the weights are copied out of the trained tfjs model once per model version
 * and the same arithmetic runs on Float32Arrays. Training and batch scoring stay on tfjs; the specs
 * check both paths give the same numbers.
 *
 * The layers mirrored are tfjs's defaults as the builders use them: the GRU step of
 * src/ml/gru-cell.ts with tfjs's default hard-sigmoid recurrent activation, where a masked
 * (all-zero) step keeps the state; dense layers with bias.
 */

type GruWeights = GruCellWeights;

interface DenseWeights {
  inputs: number;
  outputs: number;
  /** inputs × outputs */
  kernel: Float32Array;
  bias: Float32Array;
}

function copyOf(tensor: tfjs.Tensor): Float32Array {
  return Float32Array.from(tensor.dataSync() as Float32Array);
}

function gruWeightsOf(layer: tfjs.layers.Layer): GruWeights {
  const [kernel, recurrent, bias] = layer.getWeights();
  return { inputs: kernel.shape[0], units: recurrent.shape[0], kernel: copyOf(kernel), recurrent: copyOf(recurrent), bias: copyOf(bias) };
}

function denseWeightsOf(layer: tfjs.layers.Layer): DenseWeights {
  const [kernel, bias] = layer.getWeights();
  return { inputs: kernel.shape[0], outputs: kernel.shape[1]!, kernel: copyOf(kernel), bias: copyOf(bias) };
}

/**
 * Runs the GRU over `steps` event vectors of `sequence` starting at row `from`, updating `state`
 * (units long) in place. With `masked`, an all-zero event leaves the state as it was (the Masking layer's effect).
 */
function runGru(gru: GruWeights, sequence: Float32Array, from: number, steps: number, state: Float64Array, masked: boolean): void {
  const stepper = new GruStepper(gru, 'hardSigmoid');
  for (let t = 0; t < steps; t++) stepper.step(sequence, (from + t) * gru.inputs, state, masked);
}

/** out = activation(input · kernel + bias) for one row. */
function dense(layer: DenseWeights, input: ArrayLike<number>, out: Float64Array, activation: 'relu' | 'sigmoid' | 'softmax'): void {
  const { inputs, outputs, kernel, bias } = layer;
  for (let k = 0; k < outputs; k++) out[k] = bias[k];
  for (let i = 0; i < inputs; i++) {
    const x = input[i];
    if (x === 0) continue;
    const row = i * outputs;
    for (let k = 0; k < outputs; k++) out[k] += x * kernel[row + k];
  }
  if (activation === 'relu') for (let k = 0; k < outputs; k++) out[k] = Math.max(0, out[k]);
  else if (activation === 'sigmoid') for (let k = 0; k < outputs; k++) out[k] = 1 / (1 + Math.exp(-out[k]));
  else if (activation === 'softmax') {
    let max = -Infinity;
    for (let k = 0; k < outputs; k++) max = Math.max(max, out[k]);
    let sum = 0;
    for (let k = 0; k < outputs; k++) sum += out[k] = Math.exp(out[k] - max);
    for (let k = 0; k < outputs; k++) out[k] /= sum;
  }
}

/** PURCHASE_PROPENSITY's network (see buildPropensityNetwork): GRU summary and hand features → dense ReLU → sigmoid over [dense, hand]. */
export class PropensityNetworkForward {
  private constructor(
    readonly window: number,
    readonly featureCount: number,
    private readonly gru: GruWeights,
    private readonly hidden: DenseWeights,
    private readonly output: DenseWeights,
  ) {}

  static of(model: PropensityModel): PropensityNetworkForward {
    const gru = model.network.layers.find((l) => l.getClassName() === 'GRU');
    const output = model.network.getLayer('output');
    const hidden = model.network.layers.find((l) => l.getClassName() === 'Dense' && l !== output);
    if (!gru || !hidden) throw new Error('not a propensity network: it lacks its GRU or hidden layer');
    return new PropensityNetworkForward(model.config.window, model.config.featureCount, gruWeightsOf(gru), denseWeightsOf(hidden), denseWeightsOf(output));
  }

  /** The GRU's summary of one left-padded window (window × STEP_WIDTH). */
  summary(sequence: Float32Array): Float64Array {
    const state = new Float64Array(this.gru.units);
    runGru(this.gru, sequence, 0, this.window, state, true);
    return state;
  }

  /** The raw (uncalibrated) probability from a sequence summary and standardised hand features. */
  probability(summary: Float64Array, standardised: ArrayLike<number>): number {
    const units = this.gru.units;
    const joined = new Float64Array(units + this.featureCount);
    joined.set(summary);
    for (let j = 0; j < this.featureCount; j++) joined[units + j] = standardised[j];
    const hidden = new Float64Array(this.hidden.outputs);
    dense(this.hidden, joined, hidden, 'relu');
    const wide = new Float64Array(this.hidden.outputs + this.featureCount);
    wide.set(hidden);
    for (let j = 0; j < this.featureCount; j++) wide[this.hidden.outputs + j] = standardised[j];
    const out = new Float64Array(1);
    dense(this.output, wide, out, 'sigmoid');
    return out[0];
  }

  /** Raw probabilities of `rows` examples (sequences rows × window × STEP_WIDTH, standardised features rows × featureCount). */
  predict(sequences: Float32Array, standardised: Float32Array, rows: number): Float64Array {
    const out = new Float64Array(rows);
    const stride = this.window * STEP_WIDTH;
    for (let r = 0; r < rows; r++) {
      const summary = this.summary(sequences.subarray(r * stride, (r + 1) * stride));
      out[r] = this.probability(summary, standardised.subarray(r * this.featureCount, (r + 1) * this.featureCount));
    }
    return out;
  }
}

/** NEXT_STEP's network (see buildNextStepModel): GRU over the visit, softmax over the next actions after every event. */
export class NextStepNetworkForward {
  private constructor(
    private readonly gru: GruWeights,
    private readonly output: DenseWeights,
  ) {}

  static of(model: tfjs.LayersModel): NextStepNetworkForward {
    const [gru, output] = model.layers;
    if (!gru || gru.getClassName() !== 'GRU' || !output) throw new Error('not a next-step network: it lacks its GRU or output layer');
    return new NextStepNetworkForward(gruWeightsOf(gru), denseWeightsOf(output));
  }

  get actions(): number {
    return this.output.outputs;
  }

  /** The next-action distribution after the last of `steps` events, for each of `rows` sequences (rows × steps × STEP_WIDTH). */
  lastStep(inputs: Float32Array, rows: number, steps: number): Float64Array {
    const out = new Float64Array(rows * this.actions);
    const state = new Float64Array(this.gru.units);
    const probabilities = new Float64Array(this.actions);
    for (let r = 0; r < rows; r++) {
      state.fill(0);
      runGru(this.gru, inputs, r * steps, steps, state, false);
      dense(this.output, state, probabilities, 'softmax');
      out.set(probabilities, r * this.actions);
    }
    return out;
  }
}

/** A propensity model as the API serves it: the plain forward pass, the standardiser and the Platt scaling. */
export interface ServedPropensity {
  forward: PropensityNetworkForward;
  mean: number[];
  scale: number[];
  platt: PlattScaling;
}

export function servedPropensity(model: PropensityModel): ServedPropensity {
  return { forward: PropensityNetworkForward.of(model), mean: model.mean, scale: model.scale, platt: model.platt };
}
