import { NEXT_ACTIONS } from './funnel-actions';

/**
 * The calibration and multi-class metrics the prediction models report, next to AUC, log loss and
 * accuracy/F1 from src/ml/metrics.ts.
 */

function checkPairs(a: ArrayLike<number>, b: ArrayLike<number>): void {
  if (a.length !== b.length) throw new RangeError(`predictions and labels differ in length (${a.length} vs ${b.length})`);
}

/** Mean squared difference between the predicted probability and the 0/1 outcome; NaN when empty. */
export function brierScore(probabilities: ArrayLike<number>, labels: ArrayLike<number>): number {
  checkPairs(probabilities, labels);
  if (probabilities.length === 0) return NaN;
  let total = 0;
  for (let i = 0; i < probabilities.length; i++) total += (probabilities[i] - labels[i]) ** 2;
  return total / probabilities.length;
}

export interface ReliabilityBin {
  /** 1…bins, lowest predictions first. */
  bin: number;
  count: number;
  meanPredicted: number;
  observedRate: number;
  minPredicted: number;
  maxPredicted: number;
}

/**
 * Reliability table by quantile: predictions sorted ascending and cut into `bins` groups of equal
 * size (deciles by default; the first `count % bins` groups take one extra), each with its mean
 * prediction and the share that actually happened. A calibrated model has the two close in every row.
 */
export function reliabilityTable(probabilities: ArrayLike<number>, labels: ArrayLike<number>, bins = 10): ReliabilityBin[] {
  checkPairs(probabilities, labels);
  if (!Number.isInteger(bins) || bins < 1) throw new RangeError(`bins must be a whole number ≥ 1 (got ${bins})`);
  const order = Array.from({ length: probabilities.length }, (_, i) => i).sort((a, b) => probabilities[a] - probabilities[b] || a - b);
  const table: ReliabilityBin[] = [];
  const base = Math.floor(order.length / bins);
  const extra = order.length % bins;
  let start = 0;
  for (let b = 0; b < bins; b++) {
    const size = base + (b < extra ? 1 : 0);
    if (size === 0) continue;
    let predicted = 0;
    let observed = 0;
    for (let i = start; i < start + size; i++) {
      predicted += probabilities[order[i]];
      observed += labels[order[i]];
    }
    table.push({
      bin: b + 1,
      count: size,
      meanPredicted: predicted / size,
      observedRate: observed / size,
      minPredicted: probabilities[order[start]],
      maxPredicted: probabilities[order[start + size - 1]],
    });
    start += size;
  }
  return table;
}

/** Count-weighted mean |predicted − observed| over the reliability table (expected calibration error). */
export function calibrationError(table: readonly ReliabilityBin[]): number {
  const total = table.reduce((sum, row) => sum + row.count, 0);
  return total === 0 ? NaN : table.reduce((sum, row) => sum + row.count * Math.abs(row.meanPredicted - row.observedRate), 0) / total;
}

export interface MultiClassMetrics {
  count: number;
  accuracy: number;
  top2Accuracy: number;
  /** Mean −ln p(true class), probabilities clipped at 1e-15. */
  logLoss: number;
  /** Per class: the share of its cases predicted as it (argmax); null when the class never occurs. */
  recall: Record<string, number | null>;
  /** How often each class occurs. */
  support: Record<string, number>;
}

/**
 * Accuracy (argmax, ties to the lower class index), top-2 accuracy, log loss and per-class recall
 * for row-major `probabilities` (count × classes) against class indices.
 */
export function multiClassMetrics(probabilities: ArrayLike<number>, labels: ArrayLike<number>, classes: readonly string[] = NEXT_ACTIONS): MultiClassMetrics {
  const width = classes.length;
  const count = labels.length;
  if (probabilities.length !== count * width) throw new RangeError(`expected ${count} rows of ${width} probabilities, got ${probabilities.length} values`);
  let correct = 0;
  let top2 = 0;
  let loss = 0;
  const hits = new Array<number>(width).fill(0);
  const support = new Array<number>(width).fill(0);
  for (let r = 0; r < count; r++) {
    const label = labels[r];
    let best = 0;
    let second = -1;
    for (let c = 1; c < width; c++) {
      const p = probabilities[r * width + c];
      if (p > probabilities[r * width + best]) {
        second = best;
        best = c;
      } else if (second < 0 || p > probabilities[r * width + second]) second = c;
    }
    if (second < 0 && width > 1) second = best === 0 ? 1 : 0;
    support[label]++;
    if (best === label) {
      correct++;
      hits[label]++;
    }
    if (best === label || second === label) top2++;
    loss -= Math.log(Math.min(1, Math.max(1e-15, probabilities[r * width + label])));
  }
  return {
    count,
    accuracy: count ? correct / count : NaN,
    top2Accuracy: count ? top2 / count : NaN,
    logLoss: count ? loss / count : NaN,
    recall: Object.fromEntries(classes.map((name, c) => [name, support[c] ? hits[c] / support[c] : null])),
    support: Object.fromEntries(classes.map((name, c) => [name, support[c]])),
  };
}

/**
 * Platt scaling: fits p' = σ(a·logit(p) + b) on held-out predictions by Newton steps, so a model
 * trained with early stopping or on re-weighted data still says "20 %" only when one in five buy.
 */
export interface PlattScaling {
  a: number;
  b: number;
}

const logit = (p: number) => {
  const q = Math.min(1 - 1e-7, Math.max(1e-7, p));
  return Math.log(q / (1 - q));
};

export function fitPlatt(probabilities: ArrayLike<number>, labels: ArrayLike<number>, iterations = 50): PlattScaling {
  checkPairs(probabilities, labels);
  let a = 1;
  let b = 0;
  // A tiny ridge keeps the 2×2 system solvable when every label is the same.
  const ridge = 1e-3;
  for (let it = 0; it < iterations; it++) {
    let gA = -ridge * (a - 1);
    let gB = -ridge * b;
    let hAA = ridge;
    let hAB = 0;
    let hBB = ridge;
    for (let i = 0; i < probabilities.length; i++) {
      const x = logit(probabilities[i]);
      const p = 1 / (1 + Math.exp(-(a * x + b)));
      const r = labels[i] - p;
      const w = Math.max(p * (1 - p), 1e-9);
      gA += r * x;
      gB += r;
      hAA += w * x * x;
      hAB += w * x;
      hBB += w;
    }
    const det = hAA * hBB - hAB * hAB;
    if (Math.abs(det) < 1e-12) break;
    const dA = (hBB * gA - hAB * gB) / det;
    const dB = (hAA * gB - hAB * gA) / det;
    a += dA;
    b += dB;
    if (Math.abs(dA) + Math.abs(dB) < 1e-9) break;
  }
  return { a, b };
}

export function applyPlatt(scaling: PlattScaling, probability: number): number {
  return 1 / (1 + Math.exp(-(scaling.a * logit(probability) + scaling.b)));
}
