/**
 * One GRU step in plain TypeScript, shared by the two networks served without tfjs (the session
 * recommender, src/recommend/session-gru.ts, and the prediction networks,
 * src/predict/serving-networks.ts). It mirrors tfjs's GRUCell as both are trained: reset gate
 * applied before the recurrent product (`resetAfter: false`), gates z, r, h in that order, one bias
 * of 3·units, tanh activation:
 *   z = a(x·Wz + bz + h·Uz), r = a(x·Wr + br + h·Ur), ĥ = tanh(x·Wh + bh + (r∘h)·Uh), h' = z∘h + (1 − z)∘ĥ
 * with a the recurrent activation: tfjs's default hard sigmoid (clip(0.2·v + 0.5, 0, 1)), or the
 * logistic sigmoid where a layer asked for it. Each network's spec checks its outputs against
 * tfjs's own predict.
 */
export type RecurrentActivation = 'sigmoid' | 'hardSigmoid';

export interface GruCellWeights {
  inputs: number;
  units: number;
  /** inputs × 3·units, row-major */
  kernel: Float32Array;
  /** units × 3·units, row-major */
  recurrent: Float32Array;
  /** 3·units */
  bias: Float32Array;
}

const sigmoid = (v: number): number => 1 / (1 + Math.exp(-v));
const hardSigmoid = (v: number): number => (v <= -2.5 ? 0 : v >= 2.5 ? 1 : 0.2 * v + 0.5);

/** Steps one GRU over input rows, reusing its scratch arrays (one stepper per thread of use). */
export class GruStepper {
  private readonly projected: Float64Array;
  private readonly update: Float64Array;
  private readonly reset: Float64Array;
  private readonly activation: (v: number) => number;

  constructor(
    private readonly cell: GruCellWeights,
    recurrentActivation: RecurrentActivation,
  ) {
    this.projected = new Float64Array(3 * cell.units);
    this.update = new Float64Array(cell.units);
    this.reset = new Float64Array(cell.units);
    this.activation = recurrentActivation === 'sigmoid' ? sigmoid : hardSigmoid;
  }

  /**
   * Updates `state` (units long) in place with the input row input[offset, offset + inputs).
   * With `skipZeroRow`, an all-zero row leaves the state as it was (a Masking layer's effect) and
   * the call returns false. Zero inputs and zero state entries are skipped (rows are mostly one-hot).
   */
  step(input: ArrayLike<number>, offset: number, state: Float64Array, skipZeroRow: boolean): boolean {
    const { inputs, units, kernel, recurrent, bias } = this.cell;
    const { projected, update, reset, activation } = this;
    const width = 3 * units;
    projected.set(bias);
    let any = false;
    for (let i = 0; i < inputs; i++) {
      const x = input[offset + i];
      if (x === 0) continue;
      any = true;
      const row = i * width;
      for (let k = 0; k < width; k++) projected[k] += x * kernel[row + k];
    }
    if (skipZeroRow && !any) return false;
    // Row-wise over the recurrent kernel (contiguous reads) for the z and r gates.
    for (let i = 0; i < units; i++) {
      const h = state[i];
      if (h === 0) continue;
      const row = i * width;
      for (let k = 0; k < 2 * units; k++) projected[k] += h * recurrent[row + k];
    }
    for (let j = 0; j < units; j++) {
      update[j] = activation(projected[j]);
      reset[j] = activation(projected[units + j]) * state[j];
    }
    for (let i = 0; i < units; i++) {
      const rh = reset[i];
      if (rh === 0) continue;
      const row = i * width + 2 * units;
      for (let j = 0; j < units; j++) projected[2 * units + j] += rh * recurrent[row + j];
    }
    for (let j = 0; j < units; j++) state[j] = update[j] * state[j] + (1 - update[j]) * Math.tanh(projected[2 * units + j]);
    return true;
  }
}
