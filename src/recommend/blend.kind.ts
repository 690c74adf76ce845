import type { DataSource } from 'typeorm';
import { encodeArtifact } from '../ml/artifact';
import { pairScore } from '../ml/matrix-factorization';
import { evaluateRanking, eventQuantileSplit, pairedBootstrap, popularityRecommender, type HeldOutUser } from '../ml/evaluation';
import { ModelKind, ModelKindDefinition, TrainedModel, TrainingRun } from '../training/model-kind';
import { BEHAVIOUR_TRAINING_PARAMS, parseParams, ParamsOf } from '../training/params';
import { TrainingDataError } from '../training/training-errors';
import { blendWeight, DEFAULT_BLEND_WEIGHTS, fusedCandidates, Ranked, selectTop, SourceList } from './candidates';
import { rankFromNeighbours } from './fold-in';
import { DEFAULT_EVENT_WEIGHTS, loadTrainingItemEvents, splitOf, weightsByCode } from './item-events';
import { ITEM_KNN_PARAMS, ItemKnnParams, neighbourTables } from './item-knn.kind';
import { fit, MATRIX_FACTORIZATION_PARAMS, MatrixFactorizationParams, preparePairs } from './matrix-factorization.kind';
import { rankReengagement } from './reengagement';
import { RECENT_EVENTS } from './user-state';
import { Recommender } from './recommendation-id';
import { distinctPairItems, splitUsers, splitUsersAt, type UserSplit } from './user-split';

/**
 * The blend's members: the recommenders whose lists `recommendations` fuses. Re-engagement needs no
 * trained model (it reads the user's own events), so it is always a member.
 */
export const BLEND_MEMBERS = [Recommender.ITEM_KNN, Recommender.MATRIX_FACTORIZATION, Recommender.REENGAGEMENT] as const;
export type BlendMember = (typeof BLEND_MEMBERS)[number];
/** The surfaces a blend learns weights for: `recommendations` as served by default (purchases excluded) and with `exclude: SEEN` (discovery). */
export const BLEND_SURFACES = ['default', 'discovery'] as const;
export type BlendSurface = (typeof BLEND_SURFACES)[number];
export type BlendWeights = Record<BlendSurface, Partial<Record<BlendMember, number>>>;

/** Weights a member may take in the grid search; 0 leaves it out. Reciprocal-rank fusion depends on the weights' ratios only. */
const WEIGHT_GRID = [0, 0.25, 0.5, 1, 2, 4];
/** Validation and test users are each capped (a hash-chosen sample): the grid scores every validation user once per entry. */
const MAX_USERS_PER_SIDE = 4000;
/** Below this many test users on a surface the comparison says nothing, and the version is not activated. */
const MIN_TEST_USERS = 20;
/** How deep each member's list is read for fusion (serving reads limit + exclusions + 50). */
const MEMBER_DEPTH = 100;

export const BLEND_PARAMS = {
  ...BEHAVIOUR_TRAINING_PARAMS,
  evaluationK: { type: 'int', min: 1, max: 200, default: 20, description: 'K of recall@K: the weights maximise it on the validation users' },
  holdoutFraction: { type: 'number', min: 0.05, max: 0.5, default: 0.2, description: 'latest share of the item events held out (of each user’s, or of all, by `holdout`)' },
  holdout: {
    type: 'enum',
    values: ['time', 'user'],
    default: 'time',
    description: 'time: every event after the event quantile is held out (the weights are learned on predicting what comes next, as served); user: each user’s latest events (splitUsers)',
  },
  testShare: { type: 'number', min: 0.1, max: 0.9, default: 0.5, description: 'share of the held-out users kept for the final comparison (the rest choose the weights)' },
} as const;
export type BlendParams = ParamsOf<typeof BLEND_PARAMS>;

/** A member fitted on the split's kept events: its ranked list for a user (null when it has nothing). */
export type MemberRanker = (user: number, depth: number) => Ranked | null;

/** The ACTIVE and serving versions of the member kinds, with their params. */
async function servingMembers(dataSource: DataSource): Promise<Map<string, { id: number; params: Record<string, unknown> }>> {
  const rows: { id: number; kind: string; params: Record<string, unknown> }[] = await dataSource.query(
    `SELECT id, kind, params FROM model_versions v
     WHERE status = 'ACTIVE' AND kind = ANY($1::text[]) AND NOT EXISTS (SELECT 1 FROM model_serving s WHERE s.kind = v.kind AND NOT s.serving)`,
    [[ModelKind.ITEM_KNN, ModelKind.MATRIX_FACTORIZATION]],
  );
  return new Map(rows.map((row) => [row.kind, { id: row.id, params: row.params }]));
}

function knnMember(split: UserSplit, params: ItemKnnParams): MemberRanker {
  const tables = neighbourTables(split.before, split.trainedItemCount, params);
  return (user, depth) => {
    const history = split.historyBefore.get(user);
    if (!history || history.length === 0) return null;
    return rankFromNeighbours(history, params.historyLength, (item) => tables.similar[item], params.recencyDecay, params.historyItemWeight, depth);
  };
}

async function factorMember(run: TrainingRun<BlendParams>, split: UserSplit, params: MatrixFactorizationParams): Promise<MemberRanker> {
  const prepared = preparePairs(split.before, split.trainedItemCount);
  const factors = await fit(run.tf, prepared.pairs, params);
  const rowOf = new Map(prepared.userIds.map((id, row) => [id, row]));
  const itemCount = prepared.pairs.itemCount;
  const scores = new Float64Array(itemCount);
  return (user, depth) => {
    const row = rowOf.get(user);
    if (row === undefined) return null;
    for (let item = 0; item < itemCount; item++) scores[item] = pairScore(factors, row, item);
    return selectTop(scores, depth);
  };
}

/** A served list as `recommendations` builds it: the fused members, then popularity, minus `excluded`. */
function blendedList(rankers: ReadonlyMap<BlendMember, MemberRanker>, weights: Partial<Record<BlendMember, number>>, user: number, excluded: ReadonlySet<number>, k: number, popular: readonly number[], cache: Map<BlendMember, Ranked | null>): number[] {
  const lists: SourceList[] = [];
  for (const [member, ranker] of rankers) {
    const weight = weights[member] ?? 0;
    if (weight <= 0) continue;
    let ranked = cache.get(member);
    if (ranked === undefined) cache.set(member, (ranked = ranker(user, MEMBER_DEPTH + excluded.size)));
    if (ranked && ranked.length > 0) lists.push({ source: Recommender.ITEM_KNN, version: null, ranked, weight });
  }
  const list: number[] = [];
  const taken = new Set<number>();
  const push = (item: number) => {
    if (list.length < k && !taken.has(item) && !excluded.has(item)) list.push(item), taken.add(item);
  };
  if (lists.length > 0) {
    for (const candidate of fusedCandidates(lists)) {
      push(candidate.item);
      if (list.length >= k) return list;
    }
  }
  for (const item of popular) {
    push(item);
    if (list.length >= k) break;
  }
  return list;
}

/**
 * Every weight vector of the grid over the members, all zero left out, and one per ratio: fusion
 * ranks by Σ w / (K + rank), so (1, 1) and (2, 2) give the same lists.
 */
function weightGrid(members: readonly BlendMember[]): Partial<Record<BlendMember, number>>[] {
  let grid: Partial<Record<BlendMember, number>>[] = [{}];
  for (const member of members) grid = grid.flatMap((weights) => WEIGHT_GRID.map((w) => ({ ...weights, [member]: w })));
  const byRatio = new Map<string, Partial<Record<BlendMember, number>>>();
  for (const weights of grid) {
    const largest = Math.max(...members.map((m) => weights[m] ?? 0));
    if (largest === 0) continue;
    const key = members.map((m) => ((weights[m] ?? 0) / largest).toFixed(6)).join(',');
    if (!byRatio.has(key)) byRatio.set(key, weights);
  }
  return [...byRatio.values()];
}

/** At most MAX_USERS_PER_SIDE of `cases`: those with the smallest hash of the user id (a fixed pseudo-random sample). */
function capped(cases: HeldOutUser[]): HeldOutUser[] {
  if (cases.length <= MAX_USERS_PER_SIDE) return cases;
  const hash = (user: number) => Math.imul(user ^ 0x5bd1e995, 0x27d4eb2f) >>> 0;
  return [...cases].sort((a, b) => hash(a.user) - hash(b.user)).slice(0, MAX_USERS_PER_SIDE);
}

/** Users of `cases` in the test share, by a hash of the user id (stable across runs and kinds). */
function isTestUser(user: number, testShare: number): boolean {
  return (Math.imul(user, 0x9e3779b1) >>> 0) / 4294967296 < testShare;
}

const round = (value: number) => Math.round(value * 1e5) / 1e5;

/**
 * The fusion weights for a surface, chosen on `validation`: the grid entry with the highest
 * recall@K (ties: higher NDCG@K, then the earlier entry), but only when it beats the `incumbent`
 * weights (serving's defaults) with a 95 % paired bootstrap interval above zero; otherwise the
 * incumbent stays. So a shop whose validation users cannot tell the members apart (every list
 * scoring about 0, as for new items on a thin sample) keeps the defaults instead of whichever
 * entry came first. Also returns a scorer for other users under any weights; members' lists are
 * computed once per user and reused across the grid.
 */
export function chooseWeights(
  rankers: ReadonlyMap<BlendMember, MemberRanker>,
  validation: readonly HeldOutUser[],
  k: number,
  itemCount: number,
  popular: readonly number[],
  incumbent: Partial<Record<BlendMember, number>>,
) {
  const caches = new Map<number, Map<BlendMember, Ranked | null>>();
  const cacheOf = (user: number) => caches.get(user) ?? caches.set(user, new Map()).get(user)!;
  const score = (users: readonly HeldOutUser[], weights: Partial<Record<BlendMember, number>>) =>
    evaluateRanking(users, (user, excluded) => blendedList(rankers, weights, user, excluded, k, popular, cacheOf(user)), k, itemCount);
  let best: { weights: Partial<Record<BlendMember, number>>; metrics: ReturnType<typeof score> } | null = null;
  for (const candidate of weightGrid([...rankers.keys()])) {
    const metrics = score(validation, candidate);
    if (!best || metrics.recall > best.metrics.recall + 1e-12 || (Math.abs(metrics.recall - best.metrics.recall) <= 1e-12 && metrics.ndcg > best.metrics.ndcg + 1e-12)) {
      best = { weights: candidate, metrics };
    }
  }
  if (!best) throw new RangeError('the blend has no members');
  const incumbentMetrics = score(validation, incumbent);
  const gain = pairedBootstrap(best.metrics.perUser.recall, incumbentMetrics.perUser.recall);
  const chosen = gain.low > 0 ? best : { weights: incumbent, metrics: incumbentMetrics };
  // Every member is listed, 0 for those left out, so serving knows the blend weighed them.
  const weights = Object.fromEntries([...rankers.keys()].map((member) => [member, chosen.weights[member] ?? 0])) as Partial<Record<BlendMember, number>>;
  return { weights, validationRecall: chosen.metrics.recall, keptDefaults: chosen !== best, gainOverDefaults: gain, score };
}

/**
 * Learns how `recommendations` fuses its members, per surface, on held-out users: each member is
 * fitted on the kept events of the per-user holdout (`splitUsers`) with the params of its ACTIVE,
 * serving version (re-engagement needs none), the held-out users are divided into validation and
 * test users, the weights of the weighted reciprocal-rank fusion that maximise recall@K on the
 * validation users are chosen from a grid (every member alone is in the grid, so the choice is
 * never worse than the best member there), and the test users compare the chosen blend with
 * every member alone and with equal weights, with paired bootstrap intervals. Serving reads the
 * ACTIVE version's weights; a version is activated when, on the test users, it is not
 * significantly worse than its best member.
 */
async function train(run: TrainingRun<BlendParams>): Promise<TrainedModel> {
  const { params } = run;
  const started = performance.now();
  await run.progress(0.05, 'loading events');
  const log = await loadTrainingItemEvents(run.events, run);
  const { from } = splitOf(log, run.from, params.holdoutFraction);
  const weights = weightsByCode(DEFAULT_EVENT_WEIGHTS);
  let split =
    params.holdout === 'time'
      ? splitUsersAt(log, new Date(eventQuantileSplit(log.times, params.holdoutFraction)), weights, RECENT_EVENTS)
      : splitUsers(log, params.holdoutFraction, weights, RECENT_EVENTS);
  // A time split can leave almost nobody with events on both sides (a shop whose users come once):
  // then each user's latest events are held out instead, and the protocol says so.
  if (params.holdout === 'time' && split.cases.length < MIN_TEST_USERS * 2) {
    const perUser = splitUsers(log, params.holdoutFraction, weights, RECENT_EVENTS);
    if (perUser.cases.length > split.cases.length) split = { ...perUser, protocol: `${perUser.protocol} (the time split left ${split.cases.length} users with events on both sides)` };
  }
  if (split.cases.length < 2) throw new TrainingDataError(`Too few users with two or more item events (${split.cases.length}) to learn the blend on; ingest more events or widen the range.`);

  await run.progress(0.15, 'fitting the members on the kept events');
  const active = await servingMembers(run.dataSource);
  const rankers = new Map<BlendMember, MemberRanker>();
  const memberVersions: Partial<Record<BlendMember, number>> = {};
  const knn = active.get(ModelKind.ITEM_KNN);
  if (knn) {
    rankers.set(Recommender.ITEM_KNN, knnMember(split, parseParams(ModelKind.ITEM_KNN, ITEM_KNN_PARAMS, knn.params)));
    memberVersions[Recommender.ITEM_KNN] = knn.id;
  }
  const mf = active.get(ModelKind.MATRIX_FACTORIZATION);
  if (mf) {
    rankers.set(Recommender.MATRIX_FACTORIZATION, await factorMember(run, split, parseParams(ModelKind.MATRIX_FACTORIZATION, MATRIX_FACTORIZATION_PARAMS, mf.params)));
    memberVersions[Recommender.MATRIX_FACTORIZATION] = mf.id;
  }
  // The very function serving calls, on the user's kept events (purchases among them left out).
  rankers.set(Recommender.REENGAGEMENT, (user, depth) => {
    // Serving reads a user's last RECENT_EVENTS events: the member reads as many (newest first).
    const events = split.eventsBefore.get(user);
    if (!events) return null;
    const recent = { items: events.items.subarray(0, RECENT_EVENTS), types: events.types.subarray(0, RECENT_EVENTS), times: events.times.subarray(0, RECENT_EVENTS) };
    return rankReengagement(recent, { limit: depth });
  });
  const members = [...rankers.keys()];

  await run.progress(0.5, 'choosing the weights on the validation users');
  const popular = popularityRecommender(distinctPairItems(split.before))(-1, new Set());
  const k = params.evaluationK;
  const learned = {} as BlendWeights;
  const report: Record<string, unknown> = {};
  const verdicts: { activate: boolean; reason: string }[] = [];
  for (const surface of BLEND_SURFACES) {
    const cases = surface === 'default' ? split.cases : split.discoveryCases;
    const validation = capped(cases.filter((c) => !isTestUser(c.user, params.testShare)));
    const test = capped(cases.filter((c) => isTestUser(c.user, params.testShare)));
    // Discovery leaves out everything the user touched: re-engagement has nothing to offer there.
    const surfaceRankers = new Map([...rankers].filter(([member]) => surface === 'default' || member !== Recommender.REENGAGEMENT));
    if (surfaceRankers.size === 0) {
      // No trained member (no ITEM_KNN or MATRIX_FACTORIZATION version serves): nothing to weigh; serving keeps its defaults.
      learned[surface] = {};
      report[surface] = { skipped: 'no member to weigh: no ITEM_KNN or MATRIX_FACTORIZATION version is ACTIVE and serving' };
      continue;
    }
    const defaults = Object.fromEntries([...surfaceRankers.keys()].map((member) => [member, blendWeight(DEFAULT_BLEND_WEIGHTS, member)]));
    const { weights: chosenWeights, validationRecall, keptDefaults, gainOverDefaults, score } = chooseWeights(surfaceRankers, validation, k, split.trainedItemCount, popular, defaults);
    // Stored on serving's scale: fusion depends on the ratios only, but serving also weighs sources
    // the blend does not (the live session at 1.5), so the largest learned weight takes the largest
    // default of these members.
    const largest = Math.max(...Object.values(chosenWeights).map((w) => w ?? 0));
    const scale = largest > 0 ? Math.max(...Object.values(defaults)) / largest : 1;
    learned[surface] = Object.fromEntries(Object.entries(chosenWeights).map(([member, w]) => [member, (w ?? 0) * scale]));

    // The test users: the chosen blend against each member alone and the defaults.
    const chosen = score(test, chosenWeights);
    const rivals: Record<string, ReturnType<typeof score>> = {};
    for (const member of surfaceRankers.keys()) rivals[`${member} alone`] = score(test, { [member]: 1 });
    rivals['default weights'] = score(test, defaults);
    const alone = Object.entries(rivals).filter(([name]) => name.endsWith('alone'));
    const [bestMember, bestMetrics] = alone.sort((a, b) => b[1].recall - a[1].recall)[0];
    const versusBest = pairedBootstrap(chosen.perUser.recall, bestMetrics.perUser.recall);
    const figures = `${surface}: recall@${k} difference ${round(versusBest.difference)} against ${bestMember} (95 % CI ${round(versusBest.low)} to ${round(versusBest.high)}, ${test.length} test users)`;
    if (test.length < MIN_TEST_USERS) verdicts.push({ activate: false, reason: `too few test users to judge (${figures}; at least ${MIN_TEST_USERS} needed)` });
    else verdicts.push(versusBest.high >= 0 ? { activate: true, reason: `no worse than its best member on ${figures}` } : { activate: false, reason: `significantly worse than its best member on ${figures}` });
    report[surface] = {
      validationUsers: validation.length,
      testUsers: test.length,
      weights: learned[surface],
      validationRecall: round(validationRecall),
      // The grid's best against serving's defaults on the validation users: the defaults stay unless the interval is above 0.
      keptDefaults,
      bestGridMinusDefaults: { difference: round(gainOverDefaults.difference), low: round(gainOverDefaults.low), high: round(gainOverDefaults.high) },
      test: { blend: { recall: round(chosen.recall), ndcg: round(chosen.ndcg), mrr: round(chosen.mrr), coverage: round(chosen.coverage) } },
      rivals: Object.fromEntries(
        Object.entries(rivals).map(([name, metrics]) => {
          const d = pairedBootstrap(chosen.perUser.recall, metrics.perUser.recall);
          return [name, { recall: round(metrics.recall), ndcg: round(metrics.ndcg), blendMinusRecall: { difference: round(d.difference), low: round(d.low), high: round(d.high) } }];
        }),
      ),
      bestMember,
    };
  }
  await run.progress(0.95, 'storing the weights');
  // Activated when every surface it weighed is no worse than its best member there.
  const refused = verdicts.filter((v) => !v.activate);
  const verdict = refused.length === 0 ? { activate: true, reason: verdicts.map((v) => v.reason).join('; ') } : { activate: false, reason: refused.map((v) => v.reason).join('; ') };
  const metrics = {
    evaluation: {
      protocol: `${split.protocol}; weights chosen on validation users, compared on test users (${Math.round(params.testShare * 100)} % of the held-out users, by a hash of the user id); 95 % paired bootstrap intervals`,
      k,
      members,
      memberVersions,
      surfaces: report,
      verdict,
    },
    training: { events: log.items.length, heldOutUsers: split.cases.length, totalSeconds: round((performance.now() - started) / 1000) },
  };
  return {
    artifact: encodeArtifact({ header: { format: 'blend-v1', weights: learned, memberVersions, k }, tensors: [] }),
    metrics,
    eventCount: log.items.length,
    trainedFrom: from,
    trainedTo: run.to,
    verdict,
    writeScores: async () => 0,
  };
}

export const recommendationBlend: ModelKindDefinition<BlendParams> = {
  kind: ModelKind.RECOMMENDATION_BLEND,
  scoreTable: null,
  parseParams: (raw) => parseParams(ModelKind.RECOMMENDATION_BLEND, BLEND_PARAMS, raw),
  train,
  trainAfter: [ModelKind.ITEM_KNN, ModelKind.MATRIX_FACTORIZATION],
};
