import { loadFlaggedUserIds } from './anomaly/flagged-users';
import { anomalyIsolationForest, anomalyStatistical, anomalySupervised } from './anomaly/anomaly-kinds';
import { config } from './config';
import { nextStep } from './predict/next-step.kind';
import { purchasePropensity } from './predict/purchase-propensity.kind';
import { itemKnn } from './recommend/item-knn.kind';
import { matrixFactorization } from './recommend/matrix-factorization.kind';
import { popularity } from './recommend/popularity.kind';
import { recommendationBlend } from './recommend/blend.kind';
import { sessionGru } from './recommend/session-gru.kind';
import { sessionKnn } from './recommend/session-knn.kind';
import { ModelKind, type ModelKindDefinitions, type TrainingDomains } from './training/model-kind';
import { PostgresTrainingEvents } from './training-events';

/**
 * The one place where the domains meet the training platform: every model kind, from the domain
 * that defines it, and the anomaly domain's answer to "which users do runs leave out". It sits
 * above both, so imports run one way: domains → training/, never back (a spec in training/ checks).
 * The API (`services.ts`), the worker (`workers/`), benchmarks and tests hand these to the platform.
 */
export const MODEL_KINDS: ModelKindDefinitions = {
  [ModelKind.MATRIX_FACTORIZATION]: matrixFactorization,
  [ModelKind.POPULARITY]: popularity,
  [ModelKind.ITEM_KNN]: itemKnn,
  [ModelKind.SESSION_KNN]: sessionKnn,
  [ModelKind.SESSION_GRU]: sessionGru,
  [ModelKind.NEXT_STEP]: nextStep,
  [ModelKind.PURCHASE_PROPENSITY]: purchasePropensity,
  [ModelKind.ANOMALY_STATISTICAL]: anomalyStatistical,
  [ModelKind.ANOMALY_ISOLATION_FOREST]: anomalyIsolationForest,
  [ModelKind.ANOMALY_SUPERVISED]: anomalySupervised,
  [ModelKind.RECOMMENDATION_BLEND]: recommendationBlend,
};

export const TRAINING_DOMAINS: TrainingDomains = {
  kinds: MODEL_KINDS,
  // Detector scores only: an ingest-guard mark alone does not leave a user out of training (flagged-users.ts).
  anomalousUsers: (dataSource) => loadFlaggedUserIds(dataSource, config().anomalyThreshold, undefined, { guardMarks: false }),
  events: (dataSource) => new PostgresTrainingEvents(dataSource),
};
