import { loadTf } from '../ml/tf-backend';
import { buildModel, SESSION_GRU_PARAMS, weightsOf } from './session-gru.kind';
import { parseParams } from '../training/params';
import { gruLogits } from './session-gru';

describe('the session GRU forward pass', () => {
  it('gives the same next-item probabilities as tfjs’s own predict on the left-padded sequence', async () => {
    const { tf } = await loadTf('wasm');
    const params = parseParams('SESSION_GRU', SESSION_GRU_PARAMS, { embeddingSize: 3, units: 4, maxLength: 4, seed: 7 });
    const classes = 6;
    const model = buildModel(tf, classes, params);
    // Random biases too (they start at zero), so every term of the GRU step is exercised.
    const gruWeights = model.layers[1].getWeights();
    model.layers[1].setWeights([gruWeights[0], gruWeights[1], tf.randomUniform([12], -0.5, 0.5, 'float32', 3)]);
    const outputWeights = model.layers[2].getWeights();
    model.layers[2].setWeights([outputWeights[0], tf.randomUniform([classes], -0.5, 0.5, 'float32', 4)]);

    const predicted = (model.predict(tf.tensor2d([[0, 2, 5, 1]], [1, 4], 'int32')) as import('@tensorflow/tfjs').Tensor).dataSync();
    const logits = gruLogits(weightsOf(model, params, classes), [2, 5, 1]);
    const max = Math.max(...logits);
    const total = logits.reduce((sum, logit) => sum + Math.exp(logit - max), 0);
    const probabilities = Array.from(logits, (logit) => Math.exp(logit - max) / total);
    for (let c = 0; c < classes; c++) expect(probabilities[c]).toBeCloseTo(predicted[c], 5);
    // A different sequence gives a different answer (the comparison above is not vacuous).
    expect(Array.from(gruLogits(weightsOf(model, params, classes), [5, 2, 1]))).not.toEqual(Array.from(logits));
    model.dispose();
  });
});
