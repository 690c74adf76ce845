import type { Tf } from './tf-backend';
import { Rng, WeightedSampler } from './random';

/**
 * Implicit-feedback matrix factorisation trained with BPR: for a (user, item) pair the user
 * interacted with and an item drawn as a negative, push u·vᵢ + bᵢ above u·vⱼ + bⱼ. Pairs are drawn
 * in proportion to their weight, so a purchase counts more than a view. The loss is written as
 * softplus(−(xᵢ − xⱼ)), which equals −log σ(xᵢ − xⱼ): tf.logSigmoid's gradient failed inside
 * optimizer.minimize on the wasm backend (tfjs 4.22).
 */
export interface BprOptions {
  dimensions: number;
  epochs: number;
  learningRate: number;
  /** L2 penalty on the factors and biases touched by a minibatch. */
  regularization: number;
  /** Negatives drawn per positive pair. */
  negatives: number;
  negativeSampling: 'uniform' | 'popularity';
  batchSize: number;
  seed: number;
}

/** Training pairs over dense indices 0…userCount−1 and 0…itemCount−1. */
export interface PairSet {
  userCount: number;
  itemCount: number;
  users: Int32Array;
  items: Int32Array;
  weights: Float32Array;
}

export interface Factors {
  dimensions: number;
  userFactors: Float32Array;
  itemFactors: Float32Array;
  itemBias: Float32Array;
}

export interface EpochReport {
  epoch: number;
  epochs: number;
  loss: number;
  seconds: number;
  steps: number;
}

export interface BprResult extends Factors {
  epochs: EpochReport[];
  steps: number;
  seconds: number;
}

/** Minibatch steps in one epoch: one positive per stored pair, on average. */
export function stepsPerEpoch(pairs: PairSet, batchSize: number): number {
  return Math.max(1, Math.ceil(pairs.users.length / batchSize));
}

export async function trainBpr(
  tf: Tf,
  pairs: PairSet,
  options: BprOptions,
  onEpoch: (report: EpochReport) => Promise<void> = async () => undefined,
): Promise<BprResult> {
  if (pairs.users.length === 0) throw new RangeError('no training pairs');
  const random = Rng.stream(options.seed);
  const positives = new WeightedSampler(pairs.weights);
  const itemPopularity = new Float32Array(pairs.itemCount);
  for (let i = 0; i < pairs.items.length; i++) itemPopularity[pairs.items[i]] += 1;
  const popularNegatives = new WeightedSampler(itemPopularity);
  const scale = 1 / Math.sqrt(options.dimensions);

  const userFactors = tf.variable(tf.randomNormal([pairs.userCount, options.dimensions], 0, scale, 'float32', options.seed));
  const itemFactors = tf.variable(tf.randomNormal([pairs.itemCount, options.dimensions], 0, scale, 'float32', options.seed + 1));
  const itemBias = tf.variable(tf.zeros([pairs.itemCount]));
  const optimizer = tf.train.adam(options.learningRate);
  const batch = options.batchSize * options.negatives;
  const userBatch = new Int32Array(batch);
  const positiveBatch = new Int32Array(batch);
  const negativeBatch = new Int32Array(batch);
  const perEpoch = stepsPerEpoch(pairs, options.batchSize);
  const reports: EpochReport[] = [];
  const started = performance.now();
  let steps = 0;

  try {
    for (let epoch = 1; epoch <= options.epochs; epoch++) {
      const epochStarted = performance.now();
      let lossSum = 0;
      for (let step = 0; step < perEpoch; step++) {
        for (let b = 0; b < options.batchSize; b++) {
          const pair = positives.draw(random);
          for (let n = 0; n < options.negatives; n++) {
            const slot = b * options.negatives + n;
            userBatch[slot] = pairs.users[pair];
            positiveBatch[slot] = pairs.items[pair];
            let negative = options.negativeSampling === 'popularity' ? popularNegatives.draw(random) : random.below(pairs.itemCount);
            if (negative === pairs.items[pair] && pairs.itemCount > 1) negative = (negative + 1) % pairs.itemCount;
            negativeBatch[slot] = negative;
          }
        }
        const u = tf.tensor1d(userBatch, 'int32');
        const i = tf.tensor1d(positiveBatch, 'int32');
        const j = tf.tensor1d(negativeBatch, 'int32');
        const loss = optimizer.minimize(
          () =>
            tf.tidy(() => {
              const eu = tf.gather(userFactors, u);
              const ei = tf.gather(itemFactors, i);
              const ej = tf.gather(itemFactors, j);
              const bi = tf.gather(itemBias, i);
              const bj = tf.gather(itemBias, j);
              const difference = tf.add(tf.sum(tf.mul(eu, tf.sub(ei, ej)), 1), tf.sub(bi, bj));
              const ranking = tf.mean(tf.softplus(tf.neg(difference)));
              const penalty = tf.div(
                tf.addN([tf.sum(tf.square(eu)), tf.sum(tf.square(ei)), tf.sum(tf.square(ej)), tf.sum(tf.square(bi)), tf.sum(tf.square(bj))]),
                batch,
              );
              return tf.add(ranking, tf.mul(penalty, options.regularization)) as ReturnType<typeof tf.scalar>;
            }),
          true,
          [userFactors, itemFactors, itemBias],
        );
        lossSum += (await loss!.data())[0];
        tf.dispose([u, i, j, loss!]);
        steps++;
      }
      const report = { epoch, epochs: options.epochs, loss: lossSum / perEpoch, seconds: (performance.now() - epochStarted) / 1000, steps: perEpoch };
      reports.push(report);
      await onEpoch(report);
    }
    return {
      dimensions: options.dimensions,
      userFactors: (await userFactors.data()) as Float32Array,
      itemFactors: (await itemFactors.data()) as Float32Array,
      itemBias: (await itemBias.data()) as Float32Array,
      epochs: reports,
      steps,
      seconds: (performance.now() - started) / 1000,
    };
  } finally {
    optimizer.dispose();
    tf.dispose([userFactors, itemFactors, itemBias]);
  }
}

/** u·vᵢ + bᵢ for one user and one item (dense indices). */
export function pairScore(factors: Factors, user: number, item: number): number {
  const d = factors.dimensions;
  let score = factors.itemBias[item];
  for (let k = 0; k < d; k++) score += factors.userFactors[user * d + k] * factors.itemFactors[item * d + k];
  return score;
}

/**
 * Each listed user's best `k` items, best first, leaving out `excluded(user)`. Scores are computed
 * in blocks of users as one matrix product and top-k on the backend.
 */
export async function topItemsForUsers(
  tf: Tf,
  factors: Factors,
  users: ArrayLike<number>,
  k: number,
  excluded: (user: number) => ReadonlySet<number> | undefined,
  blockSize = 512,
): Promise<{ items: Int32Array[]; scores: Float32Array[] }> {
  const d = factors.dimensions;
  const itemCount = factors.itemBias.length;
  const items: Int32Array[] = [];
  const scores: Float32Array[] = [];
  const itemMatrix = tf.tensor2d(factors.itemFactors, [itemCount, d]);
  const bias = tf.tensor1d(factors.itemBias);
  try {
    for (let start = 0; start < users.length; start += blockSize) {
      const block = Array.from({ length: Math.min(blockSize, users.length - start) }, (_, n) => users[start + n]);
      let widest = 0;
      for (const user of block) widest = Math.max(widest, excluded(user)?.size ?? 0);
      const take = Math.min(itemCount, k + widest);
      const userRows = new Float32Array(block.length * d);
      block.forEach((user, row) => userRows.set(factors.userFactors.subarray(user * d, (user + 1) * d), row * d));
      const { values, indices } = tf.tidy(() => {
        const blockScores = tf.add(tf.matMul(tf.tensor2d(userRows, [block.length, d]), itemMatrix, false, true), bias);
        return tf.topk(blockScores, take, true);
      });
      const [topScores, topItems] = await Promise.all([values.data() as Promise<Float32Array>, indices.data() as Promise<Int32Array>]);
      tf.dispose([values, indices]);
      block.forEach((user, row) => {
        const skip = excluded(user);
        const listItems: number[] = [];
        const listScores: number[] = [];
        for (let n = row * take; n < (row + 1) * take && listItems.length < k; n++) {
          if (skip?.has(topItems[n])) continue;
          listItems.push(topItems[n]);
          listScores.push(topScores[n]);
        }
        items.push(Int32Array.from(listItems));
        scores.push(Float32Array.from(listScores));
      });
    }
  } finally {
    tf.dispose([itemMatrix, bias]);
  }
  return { items, scores };
}
