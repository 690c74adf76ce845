import { ControlledFunnel, controlsAreEmpty, FunnelControls } from './controlled-funnel';
import { Rng } from '../ml/random';
import { FunnelDefinitionError, FunnelExclusion, FunnelModes, FunnelRange, WindowFunnel } from './window-funnel';
import { ALL_MODE_COMBINATIONS, ReferenceEvent, referenceWindowFunnel } from './window-funnel.reference';

/**
 * Hand-worked examples use the log notation of window-funnel.spec.ts, plus `:v` for the held
 * property's value: `A:1@0 B:2@3` is A at t=0 with value 1, then B at t=3 with value 2.
 */
interface TestFunnel {
  stepTypes: string[];
  conversionWindow: number;
  modes?: FunnelModes;
  controls: FunnelControls;
  exclusions?: { type: string; fromStep: number; toStep: number }[];
}

function parse(funnel: TestFunnel, log: string): ReferenceEvent[] {
  return log
    .split(/\s+/)
    .filter((token) => token.length > 0)
    .map((token) => {
      const [head, at] = token.split('@');
      const [typeList, value] = head.split(':');
      const types = typeList.split('+');
      return {
        timestamp: Number(at),
        steps: funnel.stepTypes.flatMap((type, k) => (types.includes(type) ? [k + 1] : [])),
        exclusions: (funnel.exclusions ?? []).flatMap((rule, r) => (types.includes(rule.type) ? [r] : [])),
        value: value === undefined ? undefined : Number(value),
      };
    });
}

type Result = { level: number; stepTimes: number[] };

/** Runs the evaluator over several units in one set of columns (scratch reused across units, as in production). */
function runControlled(engine: ControlledFunnel, units: ReferenceEvent[][], range?: FunnelRange): Result[] {
  const count = units.reduce((sum, unit) => sum + unit.length, 0);
  const timestamps = new Float64Array(count);
  const stepMasks = new Uint32Array(count);
  const exclusionMasks = new Uint32Array(count);
  const values = new Int32Array(count);
  const offsets: number[] = [0];
  let i = 0;
  for (const unit of units) {
    for (const event of unit) {
      timestamps[i] = event.timestamp;
      stepMasks[i] = event.steps.reduce((mask, step) => (mask | (1 << (step - 1))) >>> 0, 0);
      exclusionMasks[i] = (event.exclusions ?? []).reduce((mask, r) => (mask | (1 << r)) >>> 0, 0);
      values[i] = event.value === undefined ? 0 : event.value + 1;
      i++;
    }
    offsets.push(i);
  }
  engine.holdValues = values;
  const stepCount = engine.stepCount;
  const out = new Float64Array(units.length * stepCount);
  return units.map((_, u) => {
    const level =
      range === undefined
        ? engine.evaluateUnit(timestamps, stepMasks, exclusionMasks, offsets[u], offsets[u + 1], out, u * stepCount)
        : engine.evaluateUnitInRange(timestamps, stepMasks, exclusionMasks, offsets[u], offsets[u + 1], range, out, u * stepCount);
    return { level, stepTimes: Array.from(out.subarray(u * stepCount, u * stepCount + level)) };
  });
}

/** The evaluator's answer for one log, checked against the reference first. */
function funnelOf(funnel: TestFunnel, log: string, range?: FunnelRange): Result {
  const events = parse(funnel, log);
  const exclusions = funnel.exclusions?.map(({ fromStep, toStep }) => ({ fromStep, toStep }));
  const engine = new ControlledFunnel({ stepCount: funnel.stepTypes.length, conversionWindow: funnel.conversionWindow, modes: funnel.modes, exclusions, controls: funnel.controls });
  const [result] = runControlled(engine, [events], range);
  const reference = referenceWindowFunnel(events, { stepCount: funnel.stepTypes.length, conversionWindow: funnel.conversionWindow, modes: funnel.modes, exclusions, controls: funnel.controls }, range);
  expect(reference).toEqual(result);
  return result;
}

const ABC = (controls: FunnelControls, modes?: FunnelModes, conversionWindow = 100): TestFunnel => ({ stepTypes: ['A', 'B', 'C'], conversionWindow, modes, controls });

describe('funnel controls: per-step windows', () => {
  it('bounds the time from the previous step, not from step 1', () => {
    // Step 3 within 5 of step 2: B@10 → C@14 is fine even though C is 14 after A.
    expect(funnelOf(ABC({ stepWindows: [Infinity, Infinity, 5] }), 'A@0 B@10 C@14')).toEqual({ level: 3, stepTimes: [0, 10, 14] });
    expect(funnelOf(ABC({ stepWindows: [Infinity, Infinity, 5] }), 'A@0 B@10 C@16')).toEqual({ level: 2, stepTimes: [0, 10] });
    // Inclusive: exactly 5 counts.
    expect(funnelOf(ABC({ stepWindows: [Infinity, Infinity, 5] }), 'A@0 B@10 C@15').level).toBe(3);
  });

  it('takes a later step-2 event when the first one is too early for step 3 (no greedy choice)', () => {
    // B@1 is too far from C@9 (window 3), B@7 is not.
    expect(funnelOf(ABC({ stepWindows: [Infinity, Infinity, 3] }), 'A@0 B@1 B@7 C@9')).toEqual({ level: 3, stepTimes: [0, 7, 9] });
  });

  it('still applies the overall window', () => {
    expect(funnelOf(ABC({ stepWindows: [Infinity, 50, 50] }, {}, 60), 'A@0 B@40 C@80').level).toBe(2);
  });
});

describe('funnel controls: minimum time from the previous step', () => {
  it('skips step events that come too soon after the previous step', () => {
    expect(funnelOf(ABC({ minGaps: [0, 5, 0] }), 'A@0 B@3 B@5 C@6')).toEqual({ level: 3, stepTimes: [0, 5, 6] });
    expect(funnelOf(ABC({ minGaps: [0, 5, 0] }), 'A@0 B@3 C@6')).toEqual({ level: 1, stepTimes: [0] });
  });

  it('prefers the latest start that still leaves the gap', () => {
    // A@4 is too close to B@6; the chain starts at A@0.
    expect(funnelOf(ABC({ minGaps: [0, 5, 0] }), 'A@0 A@4 B@6 C@7')).toEqual({ level: 3, stepTimes: [0, 6, 7] });
  });
});

describe('funnel controls: optional steps', () => {
  it('lets a chain skip an optional step; its time is NaN and later steps still count', () => {
    expect(funnelOf(ABC({ optional: [false, true, false] }), 'A@0 C@5')).toEqual({ level: 3, stepTimes: [0, NaN, 5] });
    expect(funnelOf(ABC({ optional: [false, true, false] }), 'A@0 B@2 C@5')).toEqual({ level: 3, stepTimes: [0, 2, 5] });
  });

  it('reports the chain with the earliest picks, so it fills an optional step that comes before the next one', () => {
    // Both A→C and A→B→C end at C@5 and start at A@0: the one with B@2 has the earlier second pick.
    expect(funnelOf(ABC({ optional: [false, true, false] }), 'A@0 B@2 C@5').stepTimes).toEqual([0, 2, 5]);
  });

  it('measures step windows from the last step the chain filled', () => {
    expect(funnelOf(ABC({ optional: [false, true, false], stepWindows: [Infinity, Infinity, 4] }), 'A@0 C@5').level).toBe(1);
    expect(funnelOf(ABC({ optional: [false, true, false], stepWindows: [Infinity, Infinity, 4] }), 'A@0 B@2 C@5').level).toBe(3);
  });

  it('under strictOrder, a step after an optional one does not stop the scan when the step before the optional one was reached', () => {
    expect(funnelOf(ABC({ optional: [false, true, false] }, { strictOrder: true }), 'A@0 C@1').level).toBe(3);
  });

  it('refuses an optional first or last step, and exclusions on an optional step', () => {
    expect(() => new ControlledFunnel({ stepCount: 3, conversionWindow: 1, controls: { optional: [true, false, false] } })).toThrow(FunnelDefinitionError);
    expect(() => new ControlledFunnel({ stepCount: 3, conversionWindow: 1, controls: { optional: [false, false, true] } })).toThrow(FunnelDefinitionError);
    expect(() => new ControlledFunnel({ stepCount: 3, conversionWindow: 1, exclusions: [{ fromStep: 1, toStep: 2 }], controls: { optional: [false, true, false] } })).toThrow(
      FunnelDefinitionError,
    );
  });
});

describe('funnel controls: a property held constant', () => {
  it('joins only events with the same value; events without it join nothing', () => {
    expect(funnelOf(ABC({ holdConstant: true }), 'A:1@0 B:2@1 C:1@2')).toEqual({ level: 1, stepTimes: [0] });
    expect(funnelOf(ABC({ holdConstant: true }), 'A:1@0 A:2@1 B:2@2 B:1@3 C:1@4')).toEqual({ level: 3, stepTimes: [0, 3, 4] });
    expect(funnelOf(ABC({ holdConstant: true }), 'A@0 B@1 C@2')).toEqual({ level: 0, stepTimes: [] });
  });

  it('keeps the scan rules on every event: a value-less repeat still stops strictDeduplication', () => {
    expect(funnelOf(ABC({ holdConstant: true }, { strictDeduplication: true }), 'A:1@0 B:1@1 B@2 C:1@3').level).toBe(2);
  });
});

describe('controlsAreEmpty', () => {
  it('is true only when no control changes anything', () => {
    expect(controlsAreEmpty({})).toBe(true);
    expect(controlsAreEmpty({ stepWindows: [5, Infinity], minGaps: [3, 0], optional: [false, false] })).toBe(true);
    expect(controlsAreEmpty({ stepWindows: [Infinity, 5] })).toBe(false);
    expect(controlsAreEmpty({ minGaps: [0, 1] })).toBe(false);
    expect(controlsAreEmpty({ holdConstant: true })).toBe(false);
  });
});

/** A random funnel with random controls; steps may repeat types, so events can match several steps. */
function randomCase(seed: number): { stepCount: number; conversionWindow: number; exclusions: FunnelExclusion[]; controls: FunnelControls; units: ReferenceEvent[][]; range: FunnelRange } {
  const random = Rng.stream(seed * 104_729);
  const pick = (n: number): number => random.below(n);
  const stepCount = 2 + pick(3);
  const optional = Array.from({ length: stepCount }, (_, k) => k > 0 && k < stepCount - 1 && random.next() < 0.4);
  const controls: FunnelControls = {
    stepWindows: Array.from({ length: stepCount }, () => (random.next() < 0.4 ? pick(5) : Infinity)),
    minGaps: Array.from({ length: stepCount }, () => (random.next() < 0.3 ? pick(3) : 0)),
    optional,
    holdConstant: random.next() < 0.4,
  };
  const required = Array.from({ length: stepCount }, (_, k) => k + 1).filter((s) => !optional[s - 1]);
  const exclusions: FunnelExclusion[] = [];
  for (let r = pick(3); r > 0; r--) {
    const a = pick(required.length - 1);
    const b = a + 1 + pick(required.length - 1 - a);
    exclusions.push({ fromStep: required[a], toStep: required[b] });
  }
  const alphabet = ['A', 'B', 'C', 'D'].slice(0, 2 + pick(3));
  const stepTypes = Array.from({ length: stepCount }, () => alphabet[pick(alphabet.length)]);
  const units = Array.from({ length: 6 }, () => {
    let clock = pick(3);
    return Array.from({ length: pick(10) }, () => {
      clock += pick(3);
      const types = [random.next() < 0.15 ? 'Z' : alphabet[pick(alphabet.length)]];
      if (random.next() < 0.15) types.push(alphabet[pick(alphabet.length)]);
      const value = random.next() < 0.15 ? undefined : pick(2);
      return {
        timestamp: clock,
        steps: stepTypes.flatMap((type, k) => (types.includes(type) ? [k + 1] : [])),
        exclusions: exclusions.flatMap((_, r) => (random.next() < 0.15 ? [r] : [])),
        value,
      };
    });
  });
  const from = pick(8);
  return { stepCount, conversionWindow: pick(8), exclusions, controls, units, range: { from, to: from + 1 + pick(10) } };
}

describe('the controlled evaluator agrees with the brute-force reference', () => {
  it.each([0, 1, 2, 3])('on random logs with random controls, in every mode, whole history and a random range, batch %i', (batch) => {
    let cases = 0;
    for (let seed = 1 + batch * 100; seed <= (batch + 1) * 100; seed++) {
      const { stepCount, conversionWindow, exclusions, controls, units, range } = randomCase(seed);
      for (const modes of ALL_MODE_COMBINATIONS) {
        const engine = new ControlledFunnel({ stepCount, conversionWindow, modes, exclusions, controls });
        for (const r of [undefined, range]) {
          const results = runControlled(engine, units, r);
          units.forEach((events, u) => {
            const expected = referenceWindowFunnel(events, { stepCount, conversionWindow, modes, exclusions, controls }, r);
            if (results[u].level !== expected.level || results[u].stepTimes.join() !== expected.stepTimes.join()) {
              throw new Error(
                `seed ${seed} unit ${u} modes ${JSON.stringify(modes)} window ${conversionWindow} controls ${JSON.stringify(controls)} exclusions ${JSON.stringify(exclusions)} ` +
                  `range ${JSON.stringify(r)} events ${JSON.stringify(events)}: engine ${JSON.stringify(results[u])}, reference ${JSON.stringify(expected)}`,
              );
            }
            cases++;
          });
        }
      }
    }
    expect(cases).toBe(100 * 6 * ALL_MODE_COMBINATIONS.length * 2);
  });

  it('gives what the linear engine gives when no control is set (larger logs, every mode)', () => {
    let cases = 0;
    for (let seed = 1; seed <= 30; seed++) {
      const { stepCount, conversionWindow, exclusions, units, range } = randomCase(seed + 10_000);
      const plainExclusions = exclusions;
      for (const modes of ALL_MODE_COMBINATIONS) {
        const controlled = new ControlledFunnel({ stepCount, conversionWindow, modes, exclusions: plainExclusions, controls: {} });
        const linear = new WindowFunnel({ stepCount, conversionWindow, modes, exclusions: plainExclusions });
        for (const r of [undefined, range]) {
          const results = runControlled(controlled, units, r);
          units.forEach((events, u) => {
            const timestamps = Float64Array.from(events.map((e) => e.timestamp));
            const masks = Uint32Array.from(events.map((e) => e.steps.reduce((m, s) => (m | (1 << (s - 1))) >>> 0, 0)));
            const excl = Uint32Array.from(events.map((e) => (e.exclusions ?? []).reduce((m, x) => (m | (1 << x)) >>> 0, 0)));
            const out = new Float64Array(stepCount);
            const level = r ? linear.evaluateUnitInRange(timestamps, masks, excl, 0, events.length, r, out) : linear.evaluateUnit(timestamps, masks, excl, 0, events.length, out);
            expect({ level, stepTimes: Array.from(out.subarray(0, level)) }).toEqual(results[u]);
            cases++;
          });
        }
      }
    }
    expect(cases).toBe(30 * 6 * ALL_MODE_COMBINATIONS.length * 2);
  });
});
