import type { ComplexityEstimator } from 'graphql-query-complexity';

/**
 * What each field costs, in the units FUNNELCAST_MAX_QUERY_COMPLEXITY (default 2000) is counted in.
 *
 * Every field costs 1 plus what is selected below it (introspection included). The fields below
 * do real work before they return (SQL aggregates, a funnel run, a model forward pass, a batch
 * written), so they add a fixed cost for it; with the default budget one request holds about 19
 * funnels or event statistics, not 600. Paged fields multiply what is selected below them by
 * their page size over PAGE_ENTRIES_PER_SELECTION: ten entries of a page cost what resolving the
 * selection once does, since the entries are plain values already loaded by the field itself.
 * The documented maxima then fit with a full selection: `anomalies(first: 500)` costs
 * 50 + 50 × (its selection) and `droppedOff(first: 1000)` 100 + 100 × (its selection).
 */
export const PAGE_ENTRIES_PER_SELECTION = 10;

type Args = Record<string, unknown>;
type FieldCost = (args: Args, childComplexity: number) => number;

/** The work of the field itself plus what is selected below it, once. */
const work =
  (cost: number): FieldCost =>
  (_args, childComplexity) =>
    cost + childComplexity;

/** `cost` plus the selection below, once per PAGE_ENTRIES_PER_SELECTION entries of the page in `argument`. */
const paged =
  (cost: number, argument: string, fallback: number): FieldCost =>
  (args, childComplexity) =>
    cost + childComplexity * Math.max(1, Math.ceil(entries(args[argument], fallback) / PAGE_ENTRIES_PER_SELECTION));

/** `cost` plus one unit per PAGE_ENTRIES_PER_SELECTION entries of the list in `argument` (events, items). */
const batch =
  (cost: number, argument: string): FieldCost =>
  (args, childComplexity) =>
    cost + Math.ceil(entries(args[argument], 1) / PAGE_ENTRIES_PER_SELECTION) + childComplexity;

function entries(value: unknown, fallback: number): number {
  if (Array.isArray(value)) return value.length;
  if (typeof value === 'number' && Number.isFinite(value) && value > 0) return value;
  return fallback;
}

/** Cost by `Type.field`; fields not listed cost 1 plus their selection. */
export const FIELD_COSTS: Record<string, FieldCost> = {
  // Introspection walks the whole schema: about fifty ordinary fields' worth.
  'Query.__schema': work(50),
  'Query.__type': work(5),

  'Query.eventStats': work(100),
  'Query.funnel': work(100),
  'Query.runSavedFunnel': work(100),
  'Query.timeToConvert': work(100),
  // One funnel per day or week of the range.
  'Query.funnelTrend': work(200),
  'Query.droppedOff': paged(100, 'first', 100),
  // A funnel run plus a pass over every reached unit's events, and the user properties read.
  'Query.funnelDrivers': work(150),

  'Query.anomalies': paged(50, 'first', 50),
  'Query.userRisk': work(20),
  'Query.userLabels': paged(5, 'first', 50),
  'Query.atRiskUsers': paged(50, 'first', 20),

  'Query.recommendations': paged(10, 'limit', 10),
  'Query.similarItems': paged(10, 'limit', 10),
  'Query.sessionRecommendations': paged(10, 'limit', 10),
  'Query.cartComplements': paged(10, 'limit', 10),
  'Query.continueShopping': paged(10, 'limit', 10),
  'Query.recommendationPerformance': work(100),

  'Query.predictNextStep': work(20),
  'Query.purchasePropensity': work(20),
  'Query.sessionPurchasePropensity': work(20),

  'Query.trainingJobs': paged(5, 'first', 20),

  'Mutation.ingestEvents': batch(10, 'events'),
  'Mutation.upsertItems': batch(10, 'items'),
  'Mutation.recordRecommendationFeedback': batch(10, 'feedback'),
  'Mutation.saveFunnel': work(10),
  'Mutation.trainModel': work(50),
  'Mutation.retryTrainingJob': work(20),
  'Mutation.cancelTrainingJob': work(10),
  'Mutation.scheduleTraining': work(20),
  'Mutation.unscheduleTraining': work(10),
  'Mutation.activateModelVersion': work(20),
  'Mutation.retireModelVersion': work(20),
  'Mutation.labelUser': work(10),
  'Mutation.createApiKey': work(10),
  'Mutation.revokeApiKey': work(10),
};

/** graphql-query-complexity estimator for FIELD_COSTS; leaves other fields to the next estimator. */
export const fieldCostEstimator: ComplexityEstimator = ({ type, field, args, childComplexity }) => {
  const cost = FIELD_COSTS[`${type.name}.${field.name}`];
  return cost ? cost(args, childComplexity) : undefined;
};
