/**
 * Isolation forest (Liu, Ting and Zhou, 2008): random axis-parallel cuts isolate an unusual point
 * in fewer steps than a usual one. Each tree is grown on a small random subsample without
 * replacement, to a depth limit of ⌈log2 ψ⌉; a point's score is 2^(−E[h(x)] / c(ψ)), where h is the
 * path length (plus c(size) for the points a leaf still holds) and c(n) the average path length of
 * an unsuccessful search in a binary search tree of n points. Scores near 1 are anomalies, scores
 * well below 0.5 are ordinary.
 */

export interface RandomSource {
  /** Uniform in [0, 1). */
  next(): number;
}

const EULER_GAMMA = 0.5772156649015329;

/** c(n) = 2·H(n − 1) − 2(n − 1)/n with H(i) ≈ ln i + γ; c(2) = 1 and c(n ≤ 1) = 0. */
export function averagePathLength(n: number): number {
  if (n <= 1) return 0;
  if (n === 2) return 1;
  return 2 * (Math.log(n - 1) + EULER_GAMMA) - (2 * (n - 1)) / n;
}

export interface IsolationForestOptions {
  trees: number;
  /** ψ: points per tree (capped at the number of rows). */
  sampleSize: number;
}

export const ISOLATION_FOREST_DEFAULTS: IsolationForestOptions = { trees: 100, sampleSize: 256 };

/**
 * One tree as flat arrays. Node 0 is the root; an inner node has feature ≥ 0 and children at
 * `left`/`right`; a leaf has feature −1 and `size` points.
 */
export interface IsolationTree {
  feature: number[];
  threshold: number[];
  left: number[];
  right: number[];
  size: number[];
}

export interface IsolationForestModel {
  dimensions: number;
  sampleSize: number;
  trees: IsolationTree[];
}

/**
 * Grows the forest on `rows` points of `dimensions` values each (row-major). Values must be
 * finite: callers impute missing ones first.
 */
export function fitIsolationForest(
  data: ArrayLike<number>,
  rows: number,
  dimensions: number,
  random: RandomSource,
  options: IsolationForestOptions = ISOLATION_FOREST_DEFAULTS,
): IsolationForestModel {
  if (rows < 2) throw new RangeError('an isolation forest needs at least 2 rows');
  if (!Number.isInteger(options.trees) || options.trees < 1) throw new RangeError('trees must be a whole number ≥ 1');
  if (!Number.isInteger(options.sampleSize) || options.sampleSize < 2) throw new RangeError('sampleSize must be a whole number ≥ 2');
  const sampleSize = Math.min(options.sampleSize, rows);
  const heightLimit = Math.ceil(Math.log2(sampleSize));
  const trees: IsolationTree[] = [];
  const pool = Int32Array.from({ length: rows }, (_, i) => i);
  for (let t = 0; t < options.trees; t++) {
    // Partial Fisher–Yates: the first sampleSize entries become a sample without replacement.
    for (let i = 0; i < sampleSize; i++) {
      const j = i + Math.floor(random.next() * (rows - i));
      const swap = pool[i];
      pool[i] = pool[j];
      pool[j] = swap;
    }
    const sample = pool.slice(0, sampleSize);
    const tree: IsolationTree = { feature: [], threshold: [], left: [], right: [], size: [] };
    grow(tree, data, dimensions, sample, 0, sample.length, 0, heightLimit, random);
    trees.push(tree);
  }
  return { dimensions, sampleSize, trees };
}

function addNode(tree: IsolationTree): number {
  tree.feature.push(-1);
  tree.threshold.push(0);
  tree.left.push(-1);
  tree.right.push(-1);
  tree.size.push(0);
  return tree.feature.length - 1;
}

/** Grows the node for sample[from, to) and returns its index; partitions the sample in place. */
function grow(
  tree: IsolationTree,
  data: ArrayLike<number>,
  dimensions: number,
  sample: Int32Array,
  from: number,
  to: number,
  depth: number,
  heightLimit: number,
  random: RandomSource,
): number {
  const node = addNode(tree);
  const count = to - from;
  tree.size[node] = count;
  if (depth >= heightLimit || count <= 1) return node;
  // Pick a random feature among those that still vary here; none varies → the points are identical.
  const varying: number[] = [];
  const lows: number[] = [];
  const highs: number[] = [];
  for (let d = 0; d < dimensions; d++) {
    let low = Infinity;
    let high = -Infinity;
    for (let i = from; i < to; i++) {
      const value = data[sample[i] * dimensions + d];
      if (value < low) low = value;
      if (value > high) high = value;
    }
    if (high > low) {
      varying.push(d);
      lows.push(low);
      highs.push(high);
    }
  }
  if (varying.length === 0) return node;
  const pick = Math.floor(random.next() * varying.length);
  const feature = varying[pick];
  const threshold = lows[pick] + random.next() * (highs[pick] - lows[pick]);
  let split = from;
  for (let i = from; i < to; i++) {
    if (data[sample[i] * dimensions + feature] < threshold) {
      const swap = sample[i];
      sample[i] = sample[split];
      sample[split] = swap;
      split++;
    }
  }
  // A cut exactly at the minimum sends everything right; treat the node as a leaf then.
  if (split === from || split === to) return node;
  tree.feature[node] = feature;
  tree.threshold[node] = threshold;
  const left = grow(tree, data, dimensions, sample, from, split, depth + 1, heightLimit, random);
  tree.left[node] = left;
  const right = grow(tree, data, dimensions, sample, split, to, depth + 1, heightLimit, random);
  tree.right[node] = right;
  return node;
}

/** h(x) in one tree: edges walked to a leaf plus c(size of that leaf). */
export function pathLength(tree: IsolationTree, point: ArrayLike<number>, offset = 0): number {
  let node = 0;
  let depth = 0;
  while (tree.feature[node] >= 0) {
    node = point[offset + tree.feature[node]] < tree.threshold[node] ? tree.left[node] : tree.right[node];
    depth++;
  }
  return depth + averagePathLength(tree.size[node]);
}

/** s(x) = 2^(−mean h(x) / c(ψ)) in (0, 1]. */
export function isolationScore(model: IsolationForestModel, point: ArrayLike<number>, offset = 0): number {
  let total = 0;
  for (const tree of model.trees) total += pathLength(tree, point, offset);
  const meanPath = total / model.trees.length;
  return Math.pow(2, -meanPath / averagePathLength(model.sampleSize));
}
