import type { Artifact, ArtifactTensor } from '../ml/artifact';
import { tensorNamed } from '../ml/artifact';
import { GruStepper } from '../ml/gru-cell';

/**
 * The session model's weights and its forward pass in plain TypeScript. Training uses tfjs layers
 * (embedding → GRU → dense over the item vocabulary); serving runs this loop instead, so the API
 * process needs no tfjs and one prediction costs a few hundred microseconds. The GRU step is
 * src/ml/gru-cell.ts's (tfjs's GRUCell), here with the logistic sigmoid as recurrent activation.
 * A spec checks it against tfjs's own predict.
 */
export interface GruWeights {
  /** Vocabulary size including the padding index 0. */
  classes: number;
  embeddingSize: number;
  units: number;
  embedding: Float32Array; // classes × embeddingSize
  kernel: Float32Array; // embeddingSize × 3·units
  recurrentKernel: Float32Array; // units × 3·units
  bias: Float32Array; // 3·units
  outputKernel: Float32Array; // units × classes
  outputBias: Float32Array; // classes
}

export const GRU_TENSORS = ['embedding', 'kernel', 'recurrentKernel', 'bias', 'outputKernel', 'outputBias'] as const;

export function gruTensors(weights: GruWeights): ArtifactTensor[] {
  const { classes, embeddingSize: e, units: h } = weights;
  const shapes: Record<(typeof GRU_TENSORS)[number], number[]> = {
    embedding: [classes, e],
    kernel: [e, 3 * h],
    recurrentKernel: [h, 3 * h],
    bias: [3 * h],
    outputKernel: [h, classes],
    outputBias: [classes],
  };
  return GRU_TENSORS.map((name) => ({ name, dtype: 'float32', shape: shapes[name], data: weights[name] }));
}

export function readGruWeights(artifact: Artifact): GruWeights {
  const [classes, embeddingSize] = tensorNamed(artifact, 'embedding').shape;
  const units = tensorNamed(artifact, 'recurrentKernel').shape[0];
  const data = (name: (typeof GRU_TENSORS)[number]) => tensorNamed(artifact, name).data as Float32Array;
  return {
    classes,
    embeddingSize,
    units,
    embedding: data('embedding'),
    kernel: data('kernel'),
    recurrentKernel: data('recurrentKernel'),
    bias: data('bias'),
    outputKernel: data('outputKernel'),
    outputBias: data('outputBias'),
  };
}

/** The hidden state after reading the sequence (vocabulary indices 1…classes−1; 0 entries are skipped as padding). */
export function gruState(weights: GruWeights, sequence: ArrayLike<number>): Float64Array {
  const { embeddingSize, units } = weights;
  // The layer is built with recurrentActivation 'sigmoid' (session-gru.kind.ts); its input row is the token's embedding.
  const stepper = new GruStepper({ inputs: embeddingSize, units, kernel: weights.kernel, recurrent: weights.recurrentKernel, bias: weights.bias }, 'sigmoid');
  const state = new Float64Array(units);
  for (let step = 0; step < sequence.length; step++) {
    const token = sequence[step];
    if (token > 0) stepper.step(weights.embedding, token * embeddingSize, state, false);
  }
  return state;
}

/** The output layer's logits for every vocabulary index (index 0, padding, included; callers skip it). */
export function gruLogits(weights: GruWeights, sequence: ArrayLike<number>): Float64Array {
  const state = gruState(weights, sequence);
  const { classes, units, outputKernel, outputBias } = weights;
  const logits = Float64Array.from(outputBias);
  for (let i = 0; i < units; i++) {
    const value = state[i];
    if (value === 0) continue;
    for (let c = 0; c < classes; c++) logits[c] += value * outputKernel[i * classes + c];
  }
  return logits;
}
