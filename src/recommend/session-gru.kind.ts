import type * as tfjs from '@tensorflow/tfjs';
import { encodeArtifact } from '../ml/artifact';
import { Rng } from '../ml/random';
import type { Tf } from '../ml/tf-backend';
import { loadTrainingItemEvents, splitOf } from './item-events';
import { nextItemBaselines, nextItemCases, nextItemMetrics, nextItemSplit, nextItemSummary, nextItemVerdict, sessionSequences, UNRANKED } from './next-item-evaluation';
import { copyItemNeighbours, NeighbourRelation, RankedItems } from './score-tables';
import { GruWeights, gruTensors } from './session-gru';
import { ModelKind, ModelKindDefinition, TrainedModel, TrainingRun } from '../training/model-kind';
import { BEHAVIOUR_TRAINING_PARAMS, parseParams, ParamsOf } from '../training/params';
import { TrainingDataError } from '../training/training-errors';

export const SESSION_GRU_PARAMS = {
  ...BEHAVIOUR_TRAINING_PARAMS,
  embeddingSize: { type: 'int', min: 2, max: 256, default: 16, description: 'length of the item embedding the GRU reads (32 for a catalogue of tens of thousands of items)' },
  units: { type: 'int', min: 2, max: 512, default: 32, description: 'GRU hidden state size (64 or more for long, varied sessions)' },
  maxLength: { type: 'int', min: 1, max: 50, default: 5, description: 'the most recent session items the model reads (sessions of most shops are a few clicks; 10 for long ones)' },
  epochs: { type: 'int', min: 1, max: 200, default: 3, description: 'passes over the training sessions (each over a sample of at most maxExamplesPerEpoch examples)' },
  maxExamplesPerEpoch: {
    type: 'int',
    min: 0,
    max: 100_000_000,
    default: 40_000,
    description: 'each epoch trains on a fresh random sample of at most this many (prefix → next item) examples, which bounds the time on a large shop; 0 takes every example every epoch',
  },
  batchSize: { type: 'int', min: 8, max: 4096, default: 512, description: 'next-item examples per step' },
  learningRate: { type: 'number', min: 1e-5, max: 1, default: 0.02, description: 'Adam step size (high for few epochs; 0.01 with 8 or more)' },
  maxItems: { type: 'int', min: 2, max: 20000, default: 1500, description: 'vocabulary: the most clicked items; others are skipped in inputs and count as misses (the softmax costs time in proportion: 1,500 keeps the realistic demo shop under a minute; raise it for a wide catalogue)' },
  storedNext: { type: 'int', min: 1, max: 200, default: 20, description: 'next items stored per item (the one-click session lists)' },
  evaluationK: { type: 'int', min: 1, max: 200, default: 20, description: 'K of next-item recall@K and MRR@K on held-out sessions' },
  holdoutFraction: { type: 'number', min: 0.05, max: 0.5, default: 0.2, description: 'sessions starting at or after the time that holds out this latest share of the item events are held out' },
  refit: { type: 'boolean', default: true, description: 'after evaluating, train again on every session for the stored model' },
  seed: { type: 'int', min: 0, max: 2 ** 31 - 1, default: 42, description: 'random seed of initialisation and shuffling' },
} as const;
export type SessionGruParams = ParamsOf<typeof SESSION_GRU_PARAMS>;

/** The vocabulary: the `maxItems` most frequent items, index 1… (0 pads). */
function vocabularyOf(sessions: number[][], maxItems: number): { itemIds: number[]; index: Map<number, number>; counts: number[] } {
  const counts = new Map<number, number>();
  for (const session of sessions) for (const item of session) counts.set(item, (counts.get(item) ?? 0) + 1);
  const ranked = [...counts].sort((a, b) => b[1] - a[1] || a[0] - b[0]).slice(0, maxItems);
  return { itemIds: ranked.map(([id]) => id), index: new Map(ranked.map(([id], n) => [id, n + 1])), counts: ranked.map(([, count]) => count) };
}

/** Every (prefix → next item) example of the sessions, prefixes left-padded to maxLength. */
function examples(sessions: number[][], maxLength: number): { inputs: Int32Array; targets: Int32Array; count: number } {
  let count = 0;
  for (const session of sessions) count += Math.max(0, session.length - 1);
  const inputs = new Int32Array(count * maxLength);
  const targets = new Int32Array(count);
  let row = 0;
  for (const session of sessions) {
    for (let t = 1; t < session.length; t++, row++) {
      const prefix = session.slice(Math.max(0, t - maxLength), t);
      inputs.set(prefix, row * maxLength + (maxLength - prefix.length));
      targets[row] = session[t];
    }
  }
  return { inputs, targets, count };
}

export function buildModel(tf: Tf, classes: number, params: SessionGruParams): tfjs.Sequential {
  const model = tf.sequential();
  model.add(tf.layers.embedding({ inputDim: classes, outputDim: params.embeddingSize, inputLength: params.maxLength, maskZero: true, embeddingsInitializer: tf.initializers.randomUniform({ minval: -0.05, maxval: 0.05, seed: params.seed }) }));
  model.add(
    tf.layers.gru({
      units: params.units,
      recurrentActivation: 'sigmoid',
      kernelInitializer: tf.initializers.glorotUniform({ seed: params.seed + 1 }),
      recurrentInitializer: tf.initializers.glorotUniform({ seed: params.seed + 2 }),
    }),
  );
  model.add(tf.layers.dense({ units: classes, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: params.seed + 3 }) }));
  model.compile({ optimizer: tf.train.adam(params.learningRate), loss: 'sparseCategoricalCrossentropy' });
  return model;
}

async function fit(
  tf: Tf,
  sessions: number[][],
  classes: number,
  params: SessionGruParams,
  report: (epoch: number, loss: number) => Promise<void>,
): Promise<{ model: tfjs.Sequential; examples: number; loss: number }> {
  const data = examples(sessions, params.maxLength);
  const model = buildModel(tf, classes, params);
  const random = Rng.stream(params.seed);
  const order = Array.from({ length: data.count }, (_, n) => n);
  // Sampling without replacement: a fresh shuffle each epoch, of which the first `size` are trained on.
  const size = params.maxExamplesPerEpoch > 0 ? Math.min(data.count, params.maxExamplesPerEpoch) : data.count;
  let loss = NaN;
  for (let epoch = 1; epoch <= params.epochs; epoch++) {
    for (let n = order.length - 1; n > 0; n--) {
      const m = random.below(n + 1);
      [order[n], order[m]] = [order[m], order[n]];
    }
    const inputs = new Int32Array(size * params.maxLength);
    const targets = new Float32Array(size);
    for (let to = 0; to < size; to++) {
      const from = order[to];
      inputs.set(data.inputs.subarray(from * params.maxLength, (from + 1) * params.maxLength), to * params.maxLength);
      targets[to] = data.targets[from];
    }
    const x = tf.tensor2d(inputs, [size, params.maxLength], 'int32');
    const y = tf.tensor2d(targets, [size, 1]);
    const history = await model.fit(x, y, { epochs: 1, batchSize: params.batchSize, shuffle: false, verbose: 0 });
    x.dispose();
    y.dispose();
    loss = Number(history.history.loss[0]);
    await report(epoch, loss);
  }
  return { model, examples: data.count, loss };
}

/** Scores every vocabulary index for a batch of padded prefixes; calls back with each row. */
function predictRows(tf: Tf, model: tfjs.Sequential, inputs: Int32Array, maxLength: number, each: (row: number, scores: Float32Array) => void): void {
  const rows = inputs.length / maxLength;
  const batch = 256;
  for (let start = 0; start < rows; start += batch) {
    const end = Math.min(rows, start + batch);
    const scores = tf.tidy(() => (model.predict(tf.tensor2d(inputs.subarray(start * maxLength, end * maxLength), [end - start, maxLength], 'int32')) as tfjs.Tensor).dataSync() as Float32Array);
    const classes = scores.length / (end - start);
    for (let row = start; row < end; row++) each(row, scores.subarray((row - start) * classes, (row - start + 1) * classes));
  }
}

export function weightsOf(model: tfjs.Sequential, params: SessionGruParams, classes: number): GruWeights {
  const data = (tensor: tfjs.Tensor) => Float32Array.from(tensor.dataSync());
  const [embedding] = model.layers[0].getWeights();
  const [kernel, recurrentKernel, bias] = model.layers[1].getWeights();
  const [outputKernel, outputBias] = model.layers[2].getWeights();
  return {
    classes,
    embeddingSize: params.embeddingSize,
    units: params.units,
    embedding: data(embedding),
    kernel: data(kernel),
    recurrentKernel: data(recurrentKernel),
    bias: data(bias),
    outputKernel: data(outputKernel),
    outputBias: data(outputBias),
  };
}

const round = (value: number) => Math.round(value * 1e5) / 1e5;

/**
 * A GRU over the session's item sequence predicting the next item (in the spirit of GRU4Rec, trained
 * here with a full softmax over the vocabulary on every prefix of up to `maxLength` items). Evaluated
 * with GRU4Rec's next-item protocol, the same function and baselines as SESSION_KNN
 * (next-item-evaluation.ts): every next click of a session starting after the split is a
 * prediction; items unknown to the training sessions are removed from them first.
 */
async function train(run: TrainingRun<SessionGruParams>): Promise<TrainedModel> {
  const { tf, params } = run;
  const started = performance.now();
  await run.progress(0.02, 'loading sessions');
  const log = await loadTrainingItemEvents(run.events, run);
  const { from, splitAt } = splitOf(log, run.from, params.holdoutFraction);
  const split = nextItemSplit(log, splitAt);
  const all = sessionSequences(log);
  const trainSessions = split.train.items.filter((session) => session.length >= 2);
  const vocabulary = vocabularyOf(trainSessions, params.maxItems);
  const classes = vocabulary.itemIds.length + 1;
  if (trainSessions.length < 2 || classes < 3) throw new TrainingDataError(`Too few sessions with two or more items before ${splitAt.toISOString()} (${trainSessions.length}); ingest more events or widen the range.`);
  const encode = (session: number[]) => session.map((item) => vocabulary.index.get(item) ?? 0).filter((token) => token > 0);
  const encodedTrain = trainSessions.map(encode).filter((session) => session.length >= 2);

  const share = params.refit ? 0.4 : 0.8;
  const evaluated = await fit(tf, encodedTrain, classes, params, (epoch, loss) =>
    run.progress(0.05 + (share * epoch) / params.epochs, `fitting before the split: epoch ${epoch}/${params.epochs}, loss ${loss.toFixed(4)}`),
  );

  // Evaluation (next-item-evaluation.ts, shared with SESSION_KNN): the rank of each true next item
  // among all vocabulary items; a target outside the vocabulary (not among the maxItems most
  // clicked) is a miss, and prefix items outside it are skipped as in serving.
  const k = params.evaluationK;
  const cases = [...nextItemCases(split.test)];
  const inputs = new Int32Array(cases.length * params.maxLength);
  cases.forEach(({ prefix }, row) => {
    const tokens = encode(prefix).slice(-params.maxLength);
    inputs.set(tokens, (row + 1) * params.maxLength - tokens.length);
  });
  const modelRanks: number[] = [];
  predictRows(tf, evaluated.model, inputs, params.maxLength, (row, scores) => {
    const token = vocabulary.index.get(cases[row].target);
    let rank = token === undefined ? UNRANKED : 1;
    if (token !== undefined) for (let c = 1; c < scores.length; c++) if (scores[c] > scores[token]) rank++;
    modelRanks.push(rank);
  });
  const model = nextItemMetrics(modelRanks, k);
  const baselines = nextItemBaselines(split, k);
  // Gated as SESSION_KNN is: activated only when it beats its better next-item baseline.
  const verdict = nextItemVerdict(modelRanks, baselines, k);

  let finalSessions = encodedTrain;
  let finalVocabulary = vocabulary;
  let final = evaluated;
  if (params.refit) {
    evaluated.model.dispose();
    const everySession = all.items.filter((session) => session.length >= 2);
    finalVocabulary = vocabularyOf(everySession, params.maxItems);
    finalSessions = everySession.map((session) => session.map((item) => finalVocabulary.index.get(item) ?? 0).filter((token) => token > 0)).filter((session) => session.length >= 2);
    final = await fit(tf, finalSessions, finalVocabulary.itemIds.length + 1, params, (epoch, loss) =>
      run.progress(0.45 + (0.45 * epoch) / params.epochs, `fitting on every session: epoch ${epoch}/${params.epochs}, loss ${loss.toFixed(4)}`),
    );
  }
  const finalClasses = finalVocabulary.itemIds.length + 1;
  await run.progress(0.92, 'next items after each single item');
  const singles = new Int32Array(finalVocabulary.itemIds.length * params.maxLength);
  finalVocabulary.itemIds.forEach((_, n) => (singles[(n + 1) * params.maxLength - 1] = n + 1));
  const nextLists: RankedItems[] = [];
  predictRows(tf, final.model, singles, params.maxLength, (row, scores) => {
    const ranked = Array.from(scores.subarray(1), (score, n) => [n, score] as const)
      .filter(([n]) => n !== row)
      .sort((a, b) => b[1] - a[1] || a[0] - b[0])
      .slice(0, params.storedNext);
    nextLists.push({ itemIds: ranked.map(([n]) => finalVocabulary.itemIds[n]), scores: ranked.map(([, score]) => score) });
  });
  const weights = weightsOf(final.model, params, finalClasses);
  final.model.dispose();

  const metrics = {
    evaluation: nextItemSummary(split, k, model, baselines, { verdict }),
    training: {
      sessions: finalSessions.length,
      examples: final.examples,
      examplesPerEpoch: Math.min(final.examples, params.maxExamplesPerEpoch > 0 ? params.maxExamplesPerEpoch : final.examples),
      vocabulary: finalVocabulary.itemIds.length,
      finalLoss: round(final.loss),
      totalSeconds: round((performance.now() - started) / 1000),
    },
  };
  function* rows(): Generator<[NeighbourRelation, number, RankedItems]> {
    for (let n = 0; n < nextLists.length; n++) yield ['session_next', finalVocabulary.itemIds[n], nextLists[n]];
  }
  return {
    artifact: encodeArtifact({
      header: { format: 'session-gru-v1', maxLength: params.maxLength, classes: finalClasses },
      tensors: [{ name: 'itemIds', dtype: 'int32', shape: [finalVocabulary.itemIds.length], data: Int32Array.from(finalVocabulary.itemIds) }, ...gruTensors(weights)],
    }),
    metrics,
    eventCount: log.items.length,
    verdict,
    trainedFrom: from,
    trainedTo: params.refit ? run.to : splitAt,
    writeScores: (client, modelVersionId) => copyItemNeighbours(client, modelVersionId, rows()),
  };
}

export const sessionGru: ModelKindDefinition<SessionGruParams> = {
  kind: ModelKind.SESSION_GRU,
  scoreTable: 'item_neighbours',
  parseParams: (raw) => parseParams(ModelKind.SESSION_GRU, SESSION_GRU_PARAMS, raw),
  train,
  // Minutes per epoch on a real shop, and SESSION_KNN predicts next clicks at least as well (docs/recommendations.md).
  trainAllOptIn: 'SESSION_GRU is optional (SESSION_KNN is the default session model); name it in params, e.g. { "SESSION_GRU": {} }, to train it too',
};
