import { unsortedSegmentSum } from './segment-sum.kernel';
import { loadTf } from './tf-backend';

describe('unsortedSegmentSum', () => {
  it('adds rows into their segments and drops out-of-range ids', () => {
    const out = new Float32Array(3 * 2);
    // Rows [1,2] and [5,6] go to segment 2, [3,4] to segment 0, [7,8] has id 9 and is dropped.
    unsortedSegmentSum([1, 2, 3, 4, 5, 6, 7, 8], 2, [2, 0, 2, 9], 3, out);
    expect(Array.from(out)).toEqual([3, 4, 0, 0, 6, 8]);
  });
});

describe.each(['wasm', 'cpu'] as const)('embedding gradients on the %s backend', (backendName) => {
  it('the gradient of gather sums the upstream rows per looked-up index', async () => {
    const { tf, backend } = await loadTf(backendName);
    expect(backend.name).toBe(backendName);
    const table = tf.zeros([4, 2]);
    const upstream = tf.tensor2d([
      [1, 2],
      [3, 4],
      [5, 6],
    ]);
    const indices = tf.tensor1d([1, 3, 1], 'int32');
    const gradient = tf.grad((t: typeof table) => tf.sum(tf.mul(tf.gather(t, indices), upstream)))(table);
    // Index 1 is looked up twice (rows 1 and 3 of upstream), index 3 once; 0 and 2 never.
    expect(Array.from(await gradient.data())).toEqual([0, 0, 6, 8, 0, 0, 3, 4]);
    tf.dispose([table, upstream, indices, gradient]);
  });
});
