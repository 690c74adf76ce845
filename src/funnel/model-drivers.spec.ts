import { FunnelBudget } from './funnel-budget';
import type { SampledUnit } from './driver-factors';
import { FunnelUnitExplainer, modelDriversOf, UnitExplanations } from './model-drivers';

const unit = (user: number): SampledUnit => ({ user, session: null, stepAt: 0, key: user });
const sample = { limit: 3, droppedOff: [unit(1), unit(2), unit(3)], converted: [unit(4), unit(5)] };
const tally = { reached: 10, converted: 2, sample };
const budget = () => new FunnelBudget(60_000);

/** An explainer that answers from a table: contributions per user, features "a" and "b". */
function explainerOf(contributions: Record<number, [number, number]>): FunnelUnitExplainer & { asked: number[][] } {
  const asked: number[][] = [];
  return {
    asked,
    async explainFunnelUnits(units, check) {
      check();
      asked.push([...units.droppedOff, ...units.converted].map((u) => u.user));
      const explain = (side: readonly SampledUnit[]) =>
        side.filter((u) => contributions[u.user]).map((u) => ({ propensity: u.user / 10, contributions: Float64Array.from(contributions[u.user]) }));
      const answer: UnitExplanations = { modelVersionId: 7, method: 'test', features: ['a', 'b'], droppedOff: explain(units.droppedOff), converted: explain(units.converted) };
      return answer;
    },
  };
}

describe('modelDriversOf', () => {
  it('averages each side worked by hand, the most holding-back group first', async () => {
    // a: dropped off −0.1, −0.2, −0.3 (mean −0.2), converted 0.1, 0.3 (mean 0.2): difference −0.4.
    // b: 0.5 everywhere: difference 0, a zero-width interval.
    const explainer = explainerOf({ 1: [-0.1, 0.5], 2: [-0.2, 0.5], 3: [-0.3, 0.5], 4: [0.1, 0.5], 5: [0.3, 0.5] });
    const answer = await modelDriversOf(tally, explainer, 3, budget());
    expect(explainer.asked).toEqual([[1, 2, 3, 4, 5]]);
    expect(answer).toMatchObject({ modelVersionId: 7, reason: null, sampleLimit: 3, droppedOffUnits: 8, convertedUnits: 2, droppedOffExplained: 3, convertedExplained: 2 });
    expect(answer.meanPropensityDroppedOff).toBeCloseTo(0.2, 12);
    expect(answer.meanPropensityConverted).toBeCloseTo(0.45, 12);
    expect(answer.features.map((entry) => entry.feature)).toEqual(['a', 'b']);
    const [a, b] = answer.features;
    expect(a.meanDroppedOff).toBeCloseTo(-0.2, 12);
    expect(a.meanConverted).toBeCloseTo(0.2, 12);
    expect(a.difference).toBeCloseTo(-0.4, 12);
    // Resampled means lie within each side's range: dropped off in [−0.3, −0.1], converted in [0.1, 0.3].
    expect(a.differenceLow).toBeGreaterThanOrEqual(-0.6 - 1e-12);
    expect(a.differenceLow).toBeLessThanOrEqual(a.difference);
    expect(a.differenceHigh).toBeGreaterThanOrEqual(a.difference);
    expect(a.differenceHigh).toBeLessThanOrEqual(-0.2 + 1e-12);
    expect([b.difference, b.differenceLow, b.differenceHigh]).toEqual([0, 0, 0]);
  });

  it('answers with a reason, not an error, when there is no model, no explainer, no sample or no unit on a side', async () => {
    const noModel: FunnelUnitExplainer = { explainFunnelUnits: async () => ({ reason: 'No PURCHASE_PROPENSITY model is active yet.' }) };
    const empty = { modelVersionId: null, features: [], droppedOffExplained: 0, convertedExplained: 0, droppedOffUnits: 8, convertedUnits: 2 };
    expect(await modelDriversOf(tally, noModel, 3, budget())).toMatchObject({ ...empty, reason: 'No PURCHASE_PROPENSITY model is active yet.' });
    expect((await modelDriversOf(tally, null, 3, budget())).reason).toMatch(/no prediction service/);
    expect((await modelDriversOf({ reached: 10, converted: 2 }, noModel, 0, budget())).reason).toMatch(/modelSample is 0/);
    // Only dropped-off units could be explained (the converted users' events are gone).
    const oneSided = await modelDriversOf(tally, explainerOf({ 1: [0, 0] }), 3, budget());
    expect(oneSided).toMatchObject({ modelVersionId: 7, features: [], droppedOffExplained: 1, convertedExplained: 0 });
    expect(oneSided.reason).toMatch(/went on/);
  });

  it('stops with the budget: a deadline already past throws FUNNEL_TIMEOUT', async () => {
    const past = new FunnelBudget(1);
    await new Promise((done) => setTimeout(done, 5));
    await expect(modelDriversOf(tally, explainerOf({ 1: [0, 0], 4: [0, 0] }), 3, past)).rejects.toMatchObject({ extensions: { code: 'FUNNEL_TIMEOUT' } });
  });
});
