import { GraphQLSchema, lexicographicSortSchema, printSchema } from 'graphql';
import { buildSchema } from 'type-graphql';
import { AnomalyResolver, EventStatsAnomalyResolver } from './anomaly/anomaly.resolver';
import { ApiKeyResolver } from './auth/api-key.resolver';
import { authChecker } from './auth/auth-checker';
import { CatalogResolver } from './catalog/catalog.resolver';
import { EventResolver } from './events/event.resolver';
import { FunnelResolver } from './funnel/funnel.resolver';
import { HealthResolver } from './health/health.resolver';
import { PredictionResolver } from './predict/prediction.resolver';
import { ErasureResolver } from './privacy/erasure.resolver';
import { PrivacyBudgetResolver } from './privacy/privacy-budget.resolver';
import { RecommendationFeedbackResolver } from './recommend/feedback.resolver';
import { ModelServingResolver } from './recommend/model-serving.resolver';
import { RecommendationResolver, RecommendedItemResolver } from './recommend/recommendation.resolver';
import { TrainingResolver } from './training/training.resolver';

/** Every resolver of the API. A new domain adds its resolver here. */
const RESOLVERS = [HealthResolver, ApiKeyResolver, EventResolver, CatalogResolver, TrainingResolver, RecommendationResolver, AnomalyResolver, EventStatsAnomalyResolver, FunnelResolver, PredictionResolver, RecommendedItemResolver, RecommendationFeedbackResolver, ModelServingResolver, ErasureResolver, PrivacyBudgetResolver] as const;

let built: Promise<GraphQLSchema> | undefined;

export function buildFunnelcastSchema(): Promise<GraphQLSchema> {
  built ??= buildSchema({
    resolvers: RESOLVERS,
    authChecker,
    validate: { forbidUnknownValues: false },
  });
  return built;
}

/** The SDL committed as schema.graphql (sorted, so diffs show real changes only). */
export async function printFunnelcastSchema(): Promise<string> {
  return `${printSchema(lexicographicSortSchema(await buildFunnelcastSchema()))}\n`;
}
