import { artifactIOHandler, decodeArtifact, encodeArtifact, tensorNamed } from './artifact';
import { loadTf } from './tf-backend';

describe('model artifacts', () => {
  it('round-trips named tensors and the header', () => {
    const bytes = encodeArtifact({
      header: { format: 'test', dimensions: 2 },
      tensors: [
        { name: 'ids', dtype: 'int32', shape: [3], data: Int32Array.from([7, 8, 9]) },
        { name: 'factors', dtype: 'float32', shape: [3, 2], data: Float32Array.from([0.5, -1, 2, 3, 4.25, 5]) },
      ],
    });
    // A Buffer at an odd offset of a larger one, as pg hands back bytea.
    const shifted = Buffer.concat([Buffer.from([1]), bytes]).subarray(1);
    const decoded = decodeArtifact(shifted);
    expect(decoded.header).toEqual({ format: 'test', dimensions: 2 });
    expect(Array.from(tensorNamed(decoded, 'ids').data)).toEqual([7, 8, 9]);
    expect(Array.from(tensorNamed(decoded, 'factors').data)).toEqual([0.5, -1, 2, 3, 4.25, 5]);
    expect(() => decodeArtifact(Buffer.from('nope'))).toThrow(/not a Funnelcast model artifact/);
  });

  it('saves and loads a tfjs layers model through the IO handler', async () => {
    const { tf } = await loadTf('cpu');
    const model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [3], units: 2 })] });
    const handler = artifactIOHandler();
    await model.save(handler);
    const loaded = await tf.loadLayersModel(artifactIOHandler(handler.bytes));
    const input = tf.tensor2d([[1, 2, 3]]);
    expect(Array.from(await (loaded.predict(input) as typeof input).data())).toEqual(Array.from(await (model.predict(input) as typeof input).data()));
  });
});
