import { toFloat4 } from '../db/float4';
import { markovSteps, visitSplitMs, visitsBetween } from './datasets';
import { evaluateNextStep } from './evaluation';
import { loadTrainingHistories } from './event-history';
import { NEXT_ACTIONS } from './funnel-actions';
import { fitMarkov, markovProbabilities, MARKOV_STATES, type MarkovModel } from './markov';
import { fittedWindow, nextStepWeights, nextStepWindows, trainNextStepModel } from './next-step-model';
import { encodeNextStepArtifact } from './prediction-artifact';
import { ModelKind, ModelKindDefinition, TrainedModel, TrainingRun } from '../training/model-kind';
import { BEHAVIOUR_TRAINING_PARAMS, parseParams, ParamsOf } from '../training/params';
import { TrainingDataError } from '../training/training-errors';

export const NEXT_STEP_PARAMS = {
  ...BEHAVIOUR_TRAINING_PARAMS,
  units: { type: 'int', min: 4, max: 256, default: 32, description: 'GRU state size' },
  window: {
    type: 'int',
    min: 0,
    max: 200,
    default: 0,
    description: 'events per training window; a live visit is read by its last `window` events. 0 (the default) sizes it to the visits: their 90th percentile length, 4 to 24 (fittedWindow)',
  },
  epochs: { type: 'int', min: 1, max: 200, default: 6, description: 'passes over the training windows' },
  batchSize: { type: 'int', min: 8, max: 4096, default: 256, description: 'windows per minibatch (on WebAssembly a step costs about the same from 64 to 256 windows, so larger batches train faster)' },
  learningRate: { type: 'number', min: 1e-5, max: 1, default: 0.01, description: 'Adam step size' },
  holdoutFraction: { type: 'number', min: 0.05, max: 0.5, default: 0.2, description: 'latest share of the visits (by start time) held out for evaluation' },
  refit: { type: 'boolean', default: true, description: 'after evaluating, train again on every visit of the range for the stored model' },
  seed: { type: 'int', min: 0, max: 2 ** 31 - 1, default: 42, description: 'random seed of initialisation and shuffling' },
} as const;

export type NextStepParams = ParamsOf<typeof NEXT_STEP_PARAMS>;

/**
 * Evaluates the GRU and the Markov baseline on visits after the split, then (with `refit`) trains
 * both on all visits. Stores the GRU's weights with the Markov counts; the score table holds the
 * baseline's transition probabilities, which the API serves next to the model's.
 */
async function train(run: TrainingRun<NextStepParams>): Promise<TrainedModel> {
  const { tf, params } = run;
  const started = performance.now();
  await run.progress(0.02, 'loading events');
  const { histories, eventCount, fromMs, toMs } = await loadTrainingHistories(run.events, run);
  const from = run.from ?? new Date(fromMs);
  const to = new Date(toMs);
  const visits = visitsBetween(histories, from.getTime(), toMs).visits;
  const splitAt = new Date(visitSplitMs(visits, params.holdoutFraction, 'next-step model'));
  const window = fittedWindow(
    visits.map((visit) => visit.events.length),
    params.window,
  );
  const training = { units: params.units, window, seed: params.seed, epochs: params.epochs, batchSize: params.batchSize, learningRate: params.learningRate };
  const fitShare = params.refit ? 0.45 : 0.9;
  let evaluated;
  try {
    evaluated = await evaluateNextStep(tf, histories, { fromMs: from.getTime(), splitMs: splitAt.getTime(), toMs }, training, (r) =>
      run.progress(0.05 + (fitShare * r.epoch) / r.epochs, `fitting before the split: epoch ${r.epoch}/${r.epochs}, loss ${r.loss.toFixed(4)}`),
    );
  } catch (error) {
    if (error instanceof RangeError) throw new TrainingDataError(`${error.message} (split at ${splitAt.toISOString()}); ingest more events or widen the range.`);
    throw error;
  }
  let model = evaluated.model;
  let markov: MarkovModel = evaluated.markov;
  let finalLoss: number | null = null;
  if (params.refit) {
    const steps = markovSteps(visits);
    markov = fitMarkov(steps.states, steps.next);
    model.dispose();
    const refitted = await trainNextStepModel(tf, nextStepWindows(visits.map((v) => v.events), window), training, (r) =>
      run.progress(0.5 + (0.45 * r.epoch) / r.epochs, `fitting on the whole range: epoch ${r.epoch}/${r.epochs}, loss ${r.loss.toFixed(4)}`),
    );
    model = refitted.model;
    finalLoss = refitted.finalLoss;
  }
  const artifact = encodeNextStepArtifact({ config: { units: params.units, window, seed: params.seed }, markov, weights: nextStepWeights(model) });
  model.dispose();
  const transitions = MARKOV_STATES.flatMap((state, s) => markovProbabilities(markov, s).map((probability, a) => ({ state, action: NEXT_ACTIONS[a], probability })));
  return {
    artifact,
    metrics: {
      evaluation: evaluated.evaluation,
      training: { events: eventCount, window, finalLoss: finalLoss === null ? null : Math.round(finalLoss * 1e5) / 1e5, totalSeconds: Math.round((performance.now() - started) / 10) / 100 },
    },
    eventCount,
    trainedFrom: from,
    trainedTo: params.refit ? to : splitAt,
    async writeScores(client, modelVersionId) {
      await client.query(
        `INSERT INTO next_step_transitions (model_version_id, state, action, probability) SELECT $1, * FROM unnest($2::text[], $3::text[], $4::real[])`,
        [modelVersionId, transitions.map((t) => t.state), transitions.map((t) => t.action), transitions.map((t) => toFloat4(t.probability, `next_step_transitions.probability (${t.state} → ${t.action})`))],
      );
      return transitions.length;
    },
  };
}

export const nextStep: ModelKindDefinition<NextStepParams> = {
  kind: ModelKind.NEXT_STEP,
  scoreTable: 'next_step_transitions',
  parseParams: (raw) => parseParams(ModelKind.NEXT_STEP, NEXT_STEP_PARAMS, raw),
  train,
};
