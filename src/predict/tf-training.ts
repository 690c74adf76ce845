import type * as tfjs from '@tensorflow/tfjs';
import type { Tf } from '../ml/tf-backend';
import { Rng } from '../ml/random';

/**
 * What the two sequence models share: seeded initialisers, a fit loop that reshuffles with a seeded
 * generator every epoch (tfjs's own shuffle draws from Math.random), and weights as plain named
 * arrays for the model artifact.
 */

export interface EpochReport {
  epoch: number;
  epochs: number;
  loss: number;
}

export interface NamedWeights {
  name: string;
  shape: number[];
  data: Float32Array;
}

export function seededInitializers(tf: Tf, seed: number) {
  return {
    kernelInitializer: tf.initializers.glorotUniform({ seed }),
    recurrentInitializer: tf.initializers.glorotUniform({ seed: seed + 1 }),
  };
}

/** Permutation of 0…n−1 (Fisher–Yates with a seeded generator). */
export function seededPermutation(n: number, rng: Rng): Int32Array {
  const order = Int32Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rng.next() * (i + 1));
    const t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
  return order;
}

/** Fits `model` for `epochs`, each on a fresh seeded permutation of the rows; reports after each epoch. */
export async function fitShuffled(
  tf: Tf,
  model: tfjs.LayersModel,
  inputs: tfjs.Tensor[],
  target: tfjs.Tensor,
  options: { epochs: number; batchSize: number; seed: number },
  onEpoch?: (report: EpochReport) => Promise<void> | void,
): Promise<number> {
  const rng = new Rng(options.seed);
  const rows = target.shape[0];
  let loss = NaN;
  for (let epoch = 1; epoch <= options.epochs; epoch++) {
    const order = tf.tensor1d(seededPermutation(rows, rng), 'int32');
    const shuffledInputs = inputs.map((input) => tf.gather(input, order));
    const shuffledTarget = tf.gather(target, order);
    const history = await model.fit(shuffledInputs.length === 1 ? shuffledInputs[0] : shuffledInputs, shuffledTarget, {
      epochs: 1,
      batchSize: options.batchSize,
      shuffle: false,
      verbose: 0,
    });
    tf.dispose([order, ...shuffledInputs, shuffledTarget]);
    loss = Number(history.history.loss[0]);
    await onEpoch?.({ epoch, epochs: options.epochs, loss });
  }
  return loss;
}

export function exportWeights(model: tfjs.LayersModel, prefix: string): NamedWeights[] {
  return model.weights.map((variable, i) => ({ name: `${prefix}/${i}`, shape: variable.shape as number[], data: variable.read().dataSync() as Float32Array }));
}

export function importWeights(tf: Tf, model: tfjs.LayersModel, weights: readonly NamedWeights[]): void {
  if (weights.length !== model.weights.length) throw new Error(`the artifact has ${weights.length} weight arrays, the model ${model.weights.length}`);
  const tensors = weights.map((w) => tf.tensor(w.data, w.shape));
  model.setWeights(tensors);
  tf.dispose(tensors);
}
