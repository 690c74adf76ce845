import { ModelKind, ModelKindDefinition } from './training/model-kind';
import { itemKnn } from './recommend/item-knn.kind';
import { matrixFactorization } from './recommend/matrix-factorization.kind';
import { popularity } from './recommend/popularity.kind';
import { sessionGru } from './recommend/session-gru.kind';
import { nextStep } from './predict/next-step.kind';
import { purchasePropensity } from './predict/purchase-propensity.kind';
import { anomalyIsolationForest, anomalyStatistical, anomalySupervised } from './anomaly/anomaly-kinds';

/**
 * Every model kind and the code that trains it. The mapped type makes a kind without a
 * definition a compile error; `checkModelKindHandlers` repeats the check at worker start for
 * anything that slips past the compiler (a kind added to the database but not to the code).
 */
export const MODEL_KINDS: { [K in ModelKind]: ModelKindDefinition<any> } = {
  [ModelKind.MATRIX_FACTORIZATION]: matrixFactorization,
  [ModelKind.POPULARITY]: popularity,
  [ModelKind.ITEM_KNN]: itemKnn,
  [ModelKind.SESSION_GRU]: sessionGru,
  [ModelKind.NEXT_STEP]: nextStep,
  [ModelKind.PURCHASE_PROPENSITY]: purchasePropensity,
  [ModelKind.ANOMALY_STATISTICAL]: anomalyStatistical,
  [ModelKind.ANOMALY_ISOLATION_FOREST]: anomalyIsolationForest,
  [ModelKind.ANOMALY_SUPERVISED]: anomalySupervised,
};

export function checkModelKindHandlers(kinds: readonly string[] = Object.values(ModelKind)): void {
  const missing = kinds.filter((kind) => !(MODEL_KINDS as Record<string, ModelKindDefinition<unknown> | undefined>)[kind]);
  if (missing.length > 0) throw new Error(`No training handler for model kind(s) ${missing.join(', ')}; add them to MODEL_KINDS in src/model-kinds.ts.`);
}

export function modelKindDefinition(kind: string): ModelKindDefinition<unknown> {
  const definition = (MODEL_KINDS as Record<string, ModelKindDefinition<unknown> | undefined>)[kind];
  if (!definition) throw new Error(`unknown model kind ${kind}`);
  return definition;
}
