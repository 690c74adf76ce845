import type Redis from 'ioredis';
import { AnomalyService } from './anomaly/anomaly.service';
import type { DataSource } from 'typeorm';
import { ApiKeyService } from './auth/api-key.service';
import { KeyRevocations } from './auth/key-revocations';
import { CatalogService } from './catalog/catalog.service';
import type { Config } from './config';
import { EventService } from './events/event.service';
import { FunnelService } from './funnel/funnel.service';
import { ClickHouseAnalytics, IN_PROCESS_HEALTH } from './analytics/clickhouse-analytics';
import { HealthService } from './health/health.service';
import { RecommendationFeedbackService } from './recommend/feedback.service';
import { PredictionService } from './predict/prediction.service';
import { RecommendationService } from './recommend/recommendation.service';
import { RecommendationSigning } from './recommend/recommendation-secret';
import { MODEL_KINDS } from './model-kinds';
import { ErasureService } from './privacy/erasure.service';
import { ErasureWatch, RETENTION_RUNS } from './privacy/erasure-watch';
import { PrivacyBudgetService } from './privacy/privacy-budget.service';
import { PrivateAnalyticsService } from './privacy/private-analytics';
import { RetentionService } from './privacy/retention.service';
import { ModelRegistry } from './training/model-registry';
import { TrainingQueue } from './training/training.queue';
import { TrainingService } from './training/training.service';

/** The services that hold the logic; resolvers, the CLI, workers and benchmarks share them. */
export interface Services {
  dataSource: DataSource;
  redis: Redis;
  apiKeys: ApiKeyService;
  events: EventService;
  catalog: CatalogService;
  funnels: FunnelService;
  /** The ClickHouse store when FUNNELCAST_ANALYTICS=clickhouse (funnels answer from it); null in-process. */
  analytics: ClickHouseAnalytics | null;
  health: HealthService;
  training: TrainingService;
  models: ModelRegistry;
  recommendations: RecommendationService;
  recommendationFeedback: RecommendationFeedbackService;
  prediction: PredictionService;
  anomalies: AnomalyService;
  erasure: ErasureService;
  /** Drops this process's in-memory copies when any process erases a user (started by the app). */
  erasureWatch: ErasureWatch;
  /** Privacy budgets per key (differential privacy, docs/privacy.md). */
  privacyBudgets: PrivacyBudgetService;
  /** Noisy funnels and event stats for keys with a privacy budget. */
  privateAnalytics: PrivateAnalyticsService;
  /** Retention by whole months (docs/privacy.md, "Retention"). */
  retention: RetentionService;
  /** Drops this process's in-memory copies when a retention run removed old events (started by the app). */
  retentionWatch: ErasureWatch;
}

/** Training as the API (and `funnelcast train`) offers it: the queue on `redis`, the registry of every kind. */
export function createTrainingService(dataSource: DataSource, redis: Redis, config: Config, models = new ModelRegistry(dataSource, MODEL_KINDS)): TrainingService {
  return new TrainingService(dataSource, new TrainingQueue(redis, config), models, { minScheduleIntervalSeconds: config.trainingMinIntervalSeconds });
}

export function createServices(dataSource: DataSource, redis: Redis, config: Config): Services {
  const models = new ModelRegistry(dataSource, MODEL_KINDS);
  const signing = new RecommendationSigning(dataSource, config.recommendationSecret);
  const analytics = config.analytics === 'clickhouse' ? ClickHouseAnalytics.fromConfig(dataSource, config) : null;
  const prediction = new PredictionService(dataSource);
  const funnels = new FunnelService(dataSource, undefined, { workers: config.funnelWorkers, timeoutMs: config.funnelTimeoutMs, engine: analytics, explainer: prediction });
  const recommendations = new RecommendationService(dataSource, { cacheSize: config.recommendationCacheSize, signing });
  const dropMirror = async (): Promise<void> => {
    await funnels.dropInMemoryEvents();
    // A warm mirror stays warm: load it again now rather than in the next analyst's query.
    if (config.warmFunnelMirror && !analytics) void funnels.warmUp().catch(() => undefined);
  };
  const erasureWatch = new ErasureWatch(dataSource, [dropMirror, () => recommendations.dropUserData()]);
  // The mirror is a copy of `events`, append-only: retention's removed months leave it by a reload.
  const retentionWatch = new ErasureWatch(dataSource, [dropMirror, () => recommendations.dropCachedLists()], RETENTION_RUNS);
  const events = new EventService(dataSource, { maxBatch: config.maxIngestBatch, maxPropertiesBytes: config.maxEventPropertiesBytes, statsSource: analytics, maxPastDays: config.ingestMaxPastDays });
  const privacyBudgets = new PrivacyBudgetService(dataSource);
  return {
    dataSource,
    redis,
    apiKeys: new ApiKeyService(dataSource, { revocations: new KeyRevocations(redis, config.queuePrefix) }),
    events,
    catalog: new CatalogService(dataSource),
    funnels,
    analytics,
    health: new HealthService(dataSource, redis, config.healthTimeoutMs, () => analytics?.health() ?? IN_PROCESS_HEALTH),
    training: createTrainingService(dataSource, redis, config, models),
    models,
    recommendations,
    recommendationFeedback: new RecommendationFeedbackService(dataSource, signing),
    prediction,
    anomalies: new AnomalyService(dataSource, { threshold: config.anomalyThreshold, ingestGuardEventsPerMinute: config.ingestGuardEventsPerMinute }),
    erasure: new ErasureService(dataSource, { tombstoneDays: config.erasureTombstoneDays, afterErasure: () => erasureWatch.caughtUp() }),
    erasureWatch,
    privacyBudgets,
    privateAnalytics: new PrivateAnalyticsService(funnels, events, privacyBudgets),
    retention: new RetentionService(dataSource, { eventDays: config.retentionDays, feedbackDays: config.feedbackRetentionDays, afterRun: () => retentionWatch.caughtUp() }),
    retentionWatch,
  };
}
