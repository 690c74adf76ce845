import type * as tfjs from '@tensorflow/tfjs';

type Tf = typeof tfjs;

/**
 * `UnsortedSegmentSum` is the gradient of `tf.gather`, hence of every embedding lookup. The wasm
 * backend (tfjs 4.22) has no such kernel, so embedding models cannot train there, and the CPU
 * backend's version builds a mask per segment, which made one minibatch step of a 10k-user
 * factorisation take about a minute. This scatter-add is linear in the input size on both.
 */
export function unsortedSegmentSum(
  values: ArrayLike<number>,
  rowWidth: number,
  segmentIds: ArrayLike<number>,
  numSegments: number,
  out: Float32Array | Int32Array,
): void {
  out.fill(0);
  for (let row = 0; row < segmentIds.length; row++) {
    const segment = segmentIds[row];
    // TensorFlow drops rows whose segment id is out of range; so do we.
    if (segment < 0 || segment >= numSegments) continue;
    const from = row * rowWidth;
    const to = segment * rowWidth;
    for (let k = 0; k < rowWidth; k++) out[to + k] += values[from + k];
  }
}

interface KernelTensor {
  dataId: object;
  shape: number[];
  dtype: tfjs.DataType;
}

interface ReadingBackend {
  readSync(dataId: object): ArrayLike<number>;
}
interface WasmBackend extends ReadingBackend {
  makeOutput(shape: number[], dtype: tfjs.DataType): KernelTensor;
  typedArrayFromHeap(info: KernelTensor): Float32Array | Int32Array;
}
interface CpuBackend extends ReadingBackend {
  makeTensorInfo(shape: number[], dtype: tfjs.DataType, values: Float32Array | Int32Array): KernelTensor;
}

/** Backends whose own UnsortedSegmentSum is missing or unusably slow. */
export const SEGMENT_SUM_BACKENDS = ['wasm', 'cpu'] as const;

/** Registers the scatter-add as UnsortedSegmentSum on `backendName` (replacing the stock kernel). */
export function registerSegmentSumKernel(tf: Tf, backendName: (typeof SEGMENT_SUM_BACKENDS)[number]): void {
  if (tf.getKernel('UnsortedSegmentSum', backendName)) tf.unregisterKernel('UnsortedSegmentSum', backendName);
  tf.registerKernel({
    kernelName: 'UnsortedSegmentSum',
    backendName,
    kernelFunc: ({ inputs, backend, attrs }) => {
      const x = inputs.x as unknown as KernelTensor;
      const segmentIds = inputs.segmentIds as unknown as KernelTensor;
      const numSegments = (attrs as unknown as { numSegments: number }).numSegments;
      const rowWidth = x.shape.slice(1).reduce((a, b) => a * b, 1);
      const shape = [numSegments, ...x.shape.slice(1)];
      const reader = backend as unknown as ReadingBackend;
      const values = reader.readSync(x.dataId);
      const ids = reader.readSync(segmentIds.dataId);
      if (backendName === 'wasm') {
        const wasm = backend as unknown as WasmBackend;
        const output = wasm.makeOutput(shape, x.dtype);
        unsortedSegmentSum(values, rowWidth, ids, numSegments, wasm.typedArrayFromHeap(output));
        return output as unknown as tfjs.TensorInfo;
      }
      const out = x.dtype === 'int32' ? new Int32Array(numSegments * rowWidth) : new Float32Array(numSegments * rowWidth);
      unsortedSegmentSum(values, rowWidth, ids, numSegments, out);
      return (backend as unknown as CpuBackend).makeTensorInfo(shape, x.dtype, out) as unknown as tfjs.TensorInfo;
    },
  });
}
