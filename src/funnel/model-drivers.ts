/**
 * Model-based conversion drivers (docs/funnels.md, "Model drivers"): the ACTIVE PURCHASE_PROPENSITY
 * version's per-unit explanations, averaged over a deterministic sample of the units that dropped off
 * at the step and of those that went on, feature group by feature group, with the difference of the
 * two means and its bootstrap interval. The explanations themselves come from the prediction domain
 * through FunnelUnitExplainer (src/predict/prediction.service.ts `explainFunnelUnits`), so funnel/
 * imports nothing of predict/.
 */
import { twoSampleBootstrap } from '../ml/evaluation';
import type { DriverSample, SampledUnit } from './driver-factors';
import type { FunnelBudget } from './funnel-budget';
import type { ModelDriver, ModelDrivers } from './funnel-drivers.types';

/** Units on each side that funnelDrivers explains by default, and at most. */
export const MODEL_SAMPLE_DEFAULT = 200;
export const MODEL_SAMPLE_MAX = 500;
/** Bootstrap resamples of the intervals; the seed is fixed, so an answer can be reproduced. */
const RESAMPLES = 1000;
const SEED = 18;

/** One unit's explanation: the model's calibrated propensity and each feature group's contribution (in `features` order). */
export interface UnitExplanation {
  propensity: number;
  contributions: Float64Array;
}

export interface UnitExplanations {
  modelVersionId: number;
  /** What a contribution is, in words, with its source. */
  method: string;
  /** Feature groups, the order of every `contributions`. */
  features: string[];
  /** One per unit that could be explained, in the order asked (a unit without stored events is left out). */
  droppedOff: UnitExplanation[];
  converted: UnitExplanation[];
}

/**
 * Explains funnel units with the ACTIVE purchase-propensity model. Resolves to `{ reason }` when
 * there is no model to explain with (none ACTIVE, or one this server cannot read); calls `check`
 * between batches of units, which throws to stop (the funnel's deadline, the client gone).
 */
export interface FunnelUnitExplainer {
  explainFunnelUnits(
    units: { droppedOff: readonly SampledUnit[]; converted: readonly SampledUnit[] },
    check: () => void,
  ): Promise<UnitExplanations | { reason: string }>;
}

const WITHOUT_MODEL = {
  modelVersionId: null,
  method: null,
  droppedOffExplained: 0,
  convertedExplained: 0,
  meanPropensityDroppedOff: null,
  meanPropensityConverted: null,
  features: [],
};

/**
 * The model drivers of a drivers tally: `sample` is the tally's (null when none was taken), `reached`
 * and `converted` its totals. Never throws for a missing model (the answer says why in `reason`);
 * throws the budget's error past the funnel's deadline.
 */
export async function modelDriversOf(
  tally: { reached: number; converted: number; sample?: DriverSample },
  explainer: FunnelUnitExplainer | null,
  sampleLimit: number,
  budget: FunnelBudget,
): Promise<ModelDrivers> {
  const counts = { sampleLimit, droppedOffUnits: tally.reached - tally.converted, convertedUnits: tally.converted };
  if (sampleLimit === 0 || !tally.sample) return { ...counts, ...WITHOUT_MODEL, reason: 'options.modelSample is 0: no units were explained.' };
  if (!explainer) return { ...counts, ...WITHOUT_MODEL, reason: 'This server has no prediction service to explain units with.' };
  const explained = await budget.race(explainer.explainFunnelUnits(tally.sample, () => budget.check()));
  if ('reason' in explained) return { ...counts, ...WITHOUT_MODEL, reason: explained.reason };
  const { droppedOff, converted } = explained;
  const answer = {
    ...counts,
    modelVersionId: explained.modelVersionId,
    method: explained.method,
    droppedOffExplained: droppedOff.length,
    convertedExplained: converted.length,
    meanPropensityDroppedOff: droppedOff.length ? mean(droppedOff.map((unit) => unit.propensity)) : null,
    meanPropensityConverted: converted.length ? mean(converted.map((unit) => unit.propensity)) : null,
  };
  if (droppedOff.length === 0 || converted.length === 0) {
    const missing = droppedOff.length === 0 ? 'dropped off' : 'went on';
    return { ...answer, features: [], reason: `No unit that ${missing} at this step could be explained, so there is nothing to compare with.` };
  }
  const column = (units: UnitExplanation[], m: number) => Float64Array.from(units, (unit) => unit.contributions[m]);
  budget.check();
  // Every group in one bootstrap: each resample draws the units once and sums every group over the
  // same draw, so the random draws (the costly part) do not grow with the groups. At the largest
  // sample (2 × MODEL_SAMPLE_MAX units, ~36 groups) that is ~36 M additions: tens of milliseconds.
  const differences = twoSampleBootstrap(
    explained.features.map((_, m) => column(droppedOff, m)),
    explained.features.map((_, m) => column(converted, m)),
    { resamples: RESAMPLES, seed: SEED },
  );
  const features: ModelDriver[] = explained.features
    .map((feature, m) => ({
      feature,
      meanDroppedOff: differences.meanA[m],
      meanConverted: differences.meanB[m],
      difference: differences.difference[m],
      differenceLow: differences.low[m],
      differenceHigh: differences.high[m],
    }))
    .sort((x, y) => x.difference - y.difference || (x.feature < y.feature ? -1 : 1));
  return { ...answer, features, reason: null };
}

function mean(values: readonly number[]): number {
  return values.reduce((sum, value) => sum + value, 0) / values.length;
}
