import { decodeArtifact, encodeArtifact, tensorNamed } from '../ml/artifact';
import { loadTrainingItemEvents, splitOf } from './item-events';
import { nextItemBaselines, nextItemCases, nextItemMetrics, nextItemSplit, nextItemSummary, nextItemVerdict, rankInScores, sessionSequences } from './next-item-evaluation';
import { SessionKnn, SessionKnnOptions, storeSessions, StoredSessions } from './session-knn';
import { ModelKind, ModelKindDefinition, TrainedModel, TrainingRun } from '../training/model-kind';
import { BEHAVIOUR_TRAINING_PARAMS, parseParams, ParamsOf } from '../training/params';
import { TrainingDataError } from '../training/training-errors';

export const SESSION_KNN_PARAMS = {
  ...BEHAVIOUR_TRAINING_PARAMS,
  neighbours: { type: 'int', min: 1, max: 2000, default: 100, description: 'k: the most similar past sessions whose items are scored' },
  sampleSize: { type: 'int', min: 1, max: 20000, default: 500, description: 'm: of the past sessions sharing an item with the current one, only the most recent m are compared' },
  weighting: {
    type: 'enum',
    values: ['linear', 'div', 'same'],
    default: 'linear',
    description: 'weight of the current session’s item at position p of n (newest n): linear p/n, div 1/(n−p+1), same 1 (V-SKNN’s sequence awareness)',
  },
  similarity: { type: 'enum', values: ['vector', 'cosine'], default: 'vector', description: 'vector: Σ position weight of the shared items / n (V-SKNN); cosine: binary cosine (SKNN)' },
  maxSessionLength: { type: 'int', min: 1, max: 200, default: 20, description: 'the most recent distinct items read of the current session, and kept of each stored one' },
  maxSessions: {
    type: 'int',
    min: 10,
    max: 5_000_000,
    default: 200_000,
    description: 'the most recent sessions (of two or more items) stored and held in serving memory: about 8 bytes per stored item click',
  },
  halfLifeHours: { type: 'number', min: 0, max: 100_000, default: 0, description: 'time-aware variant: a neighbour session’s similarity halves every this many hours of age; 0 turns it off' },
  evaluationK: { type: 'int', min: 1, max: 200, default: 20, description: 'K of next-item recall@K (HR@K) and MRR@K on held-out sessions' },
  holdoutFraction: { type: 'number', min: 0.05, max: 0.5, default: 0.2, description: 'sessions starting at or after the time that holds out this latest share of the item events are the test sessions' },
} as const;
export type SessionKnnParams = ParamsOf<typeof SESSION_KNN_PARAMS>;

/** The scoring options of a params object (what serving reads back from the artifact header). */
export function sessionKnnOptions(params: SessionKnnParams): SessionKnnOptions {
  const { neighbours, sampleSize, weighting, similarity, maxSessionLength, halfLifeHours } = params;
  return { neighbours, sampleSize, weighting, similarity, maxSessionLength, halfLifeHours };
}

const ARTIFACT_FORMAT = 'session-knn-v1';

/** The artifact: the stored sessions as three int32 tensors and the scoring options in the header. */
export function encodeSessionKnn(sessions: StoredSessions, options: SessionKnnOptions, newestEnd: Date | null): Buffer {
  return encodeArtifact({
    header: { format: ARTIFACT_FORMAT, ...options, newestSessionEnd: newestEnd?.toISOString() ?? null },
    tensors: [
      { name: 'items', dtype: 'int32', shape: [sessions.items.length], data: sessions.items },
      { name: 'offsets', dtype: 'int32', shape: [sessions.offsets.length], data: sessions.offsets },
      { name: 'ageSeconds', dtype: 'int32', shape: [sessions.ageSeconds.length], data: sessions.ageSeconds },
    ],
  });
}

/** The model serving holds, from a stored artifact (the inverted index is built here: one pass over the stored items). */
export function decodeSessionKnn(bytes: Buffer): SessionKnn {
  const artifact = decodeArtifact(bytes);
  const header = artifact.header;
  if (header.format !== ARTIFACT_FORMAT) throw new Error(`not a SESSION_KNN artifact (format ${String(header.format)})`);
  const sessions: StoredSessions = {
    items: tensorNamed(artifact, 'items').data as Int32Array,
    offsets: tensorNamed(artifact, 'offsets').data as Int32Array,
    ageSeconds: tensorNamed(artifact, 'ageSeconds').data as Int32Array,
  };
  const options: SessionKnnOptions = {
    neighbours: Number(header.neighbours),
    sampleSize: Number(header.sampleSize),
    weighting: header.weighting as SessionKnnOptions['weighting'],
    similarity: header.similarity as SessionKnnOptions['similarity'],
    maxSessionLength: Number(header.maxSessionLength),
    halfLifeHours: Number(header.halfLifeHours),
  };
  return new SessionKnn(sessions, options);
}

/**
 * Session-kNN (V-SKNN, see session-knn.ts): nothing is fitted; training stores the most recent
 * sessions, which serving compares the live session with. Evaluated with GRU4Rec's next-item
 * protocol (next-item-evaluation.ts) on the sessions that start after the split, with sessions
 * before it as neighbours, against popularity and item-kNN on the last item; the stored model then
 * holds every session of the range.
 */
async function train(run: TrainingRun<SessionKnnParams>): Promise<TrainedModel> {
  const { params } = run;
  const started = performance.now();
  await run.progress(0.05, 'loading sessions');
  const log = await loadTrainingItemEvents(run.events, run);
  const { from, splitAt } = splitOf(log, run.from, params.holdoutFraction);
  const split = nextItemSplit(log, splitAt);
  const options = sessionKnnOptions(params);
  const before = storeSessions(split.train.items, split.train.ends, params.maxSessionLength, params.maxSessions);
  if (before.offsets.length - 1 < 2) {
    throw new TrainingDataError(`Too few sessions with two or more items before ${splitAt.toISOString()} (${before.offsets.length - 1}); ingest more events or widen the range.`);
  }

  await run.progress(0.2, `evaluating on ${split.test.length} held-out sessions`);
  const k = params.evaluationK;
  const evaluated = new SessionKnn(before, options);
  const ranks: number[] = [];
  for (const { prefix, target } of nextItemCases(split.test)) ranks.push(rankInScores(evaluated.score(prefix), target));
  const model = nextItemMetrics(ranks, k);
  const baselines = nextItemBaselines(split, k);
  const verdict = nextItemVerdict(ranks, baselines, k);

  await run.progress(0.8, 'storing the sessions of the whole range');
  const all = sessionSequences(log);
  const stored = storeSessions(all.items, all.ends, params.maxSessionLength, params.maxSessions);
  let newestEnd = -Infinity;
  for (const end of all.ends) if (end > newestEnd) newestEnd = end;
  const storedSessions = stored.offsets.length - 1;
  const metrics = {
    evaluation: nextItemSummary(split, k, model, baselines, { neighbourSessions: before.offsets.length - 1, verdict }),
    training: {
      sessions: all.items.length,
      storedSessions,
      storedItemClicks: stored.items.length,
      // Serving holds the sessions and an index of about the same size (int32 each).
      servingBytes: (stored.items.length * 2 + storedSessions * 2) * 4,
      events: log.items.length,
      totalSeconds: Math.round(((performance.now() - started) / 1000) * 1e3) / 1e3,
    },
  };
  return {
    artifact: encodeSessionKnn(stored, options, Number.isFinite(newestEnd) ? new Date(newestEnd) : null),
    metrics,
    eventCount: log.items.length,
    verdict,
    trainedFrom: from,
    trainedTo: run.to,
    // Everything serving needs is in the artifact; no score rows.
    writeScores: async () => 0,
  };
}

export const sessionKnn: ModelKindDefinition<SessionKnnParams> = {
  kind: ModelKind.SESSION_KNN,
  // It writes no rows there; the platform empties the table by version on retirement, which finds none.
  scoreTable: 'item_neighbours',
  parseParams: (raw) => parseParams(ModelKind.SESSION_KNN, SESSION_KNN_PARAMS, raw),
  train,
};
