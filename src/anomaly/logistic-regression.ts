import type { Tf } from '../ml/tf-backend';

/**
 * Logistic regression trained with TensorFlow.js (full-batch Adam on the class-weighted log loss
 * plus an L2 penalty on the weights). Prediction is plain arithmetic, so scoring millions of users
 * needs no tensors. Starting from zero weights and using the whole batch every step makes a run
 * deterministic for the same data.
 */
export interface LogisticRegressionModel {
  weights: number[];
  bias: number;
}

export interface LogisticRegressionOptions {
  epochs: number;
  learningRate: number;
  l2: number;
  /** Weigh each class by n / (2·n_class), so a few positive labels are not drowned by many negatives. */
  balanceClasses: boolean;
}

export const LOGISTIC_REGRESSION_DEFAULTS: LogisticRegressionOptions = { epochs: 300, learningRate: 0.05, l2: 0.01, balanceClasses: true };

export async function trainLogisticRegression(
  tf: Tf,
  inputs: ArrayLike<number>,
  labels: ArrayLike<number>,
  dimensions: number,
  options: LogisticRegressionOptions = LOGISTIC_REGRESSION_DEFAULTS,
): Promise<LogisticRegressionModel> {
  const rows = labels.length;
  if (rows === 0) throw new RangeError('logistic regression needs at least one labelled row');
  if (inputs.length !== rows * dimensions) throw new RangeError(`inputs hold ${inputs.length} values, expected ${rows}×${dimensions}`);
  let positives = 0;
  for (let i = 0; i < rows; i++) positives += labels[i] === 1 ? 1 : 0;
  const negatives = rows - positives;
  const sampleWeights = Float32Array.from({ length: rows }, (_, i) => {
    if (!options.balanceClasses || positives === 0 || negatives === 0) return 1;
    return labels[i] === 1 ? rows / (2 * positives) : rows / (2 * negatives);
  });

  const x = tf.tensor2d(Float32Array.from(inputs), [rows, dimensions]);
  const y = tf.tensor2d(Float32Array.from(labels), [rows, 1]);
  const w = tf.tensor2d(sampleWeights, [rows, 1]);
  const weights = tf.variable(tf.zeros([dimensions, 1]));
  const bias = tf.variable(tf.zeros([1]));
  const optimizer = tf.train.adam(options.learningRate);
  try {
    for (let epoch = 0; epoch < options.epochs; epoch++) {
      const loss = optimizer.minimize(
        () =>
          tf.tidy(() => {
            const logits = x.matMul(weights).add(bias);
            const perRow = tf.losses.sigmoidCrossEntropy(y, logits, w, undefined, tf.Reduction.NONE);
            return perRow.sum().div(w.sum()).add(weights.square().sum().mul(options.l2));
          }) as import('@tensorflow/tfjs').Scalar,
        false,
        [weights, bias],
      );
      loss?.dispose();
    }
    return { weights: Array.from(await weights.data()), bias: (await bias.data())[0] };
  } finally {
    optimizer.dispose();
    tf.dispose([x, y, w, weights, bias]);
  }
}

/** P(anomalous) = σ(w·x + b) for the row at `offset`. */
export function predictProbability(model: LogisticRegressionModel, input: ArrayLike<number>, offset = 0): number {
  let logit = model.bias;
  for (let d = 0; d < model.weights.length; d++) logit += model.weights[d] * input[offset + d];
  return 1 / (1 + Math.exp(-logit));
}
