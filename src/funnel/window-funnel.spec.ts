import { FunnelDefinitionError, FunnelInputError, FunnelModes, FunnelRange, WindowFunnel } from './window-funnel';
import { Rng } from '../ml/random';
import { ALL_MODE_COMBINATIONS, ReferenceEvent, referenceWindowFunnel } from './window-funnel.reference';

/**
 * Hand-worked examples use a small log notation: `A@0 B+X@3 Z@4` is three events in ingestion
 * order; `B+X@3` is one event at t=3 that has both types B and X (as when two step filters match
 * the same row). A funnel lists one event type per step; a type may appear at several steps.
 */
interface TestFunnel {
  stepTypes: string[];
  conversionWindow: number;
  modes?: FunnelModes;
  exclusions?: { type: string; fromStep: number; toStep: number }[];
}

interface ParsedEvent {
  timestamp: number;
  types: string[];
}

function parseLog(log: string): ParsedEvent[] {
  return log
    .split(/\s+/)
    .filter((token) => token.length > 0)
    .map((token) => {
      const [types, at] = token.split('@');
      return { timestamp: Number(at), types: types.split('+') };
    });
}

function toReferenceEvents(funnel: TestFunnel, events: ParsedEvent[]): ReferenceEvent[] {
  return events.map(({ timestamp, types }) => ({
    timestamp,
    steps: funnel.stepTypes.flatMap((type, k) => (types.includes(type) ? [k + 1] : [])),
    exclusions: (funnel.exclusions ?? []).flatMap((rule, r) => (types.includes(rule.type) ? [r] : [])),
  }));
}

function engineFor(funnel: TestFunnel): WindowFunnel {
  return new WindowFunnel({
    stepCount: funnel.stepTypes.length,
    conversionWindow: funnel.conversionWindow,
    modes: funnel.modes,
    exclusions: funnel.exclusions?.map(({ fromStep, toStep }) => ({ fromStep, toStep })),
  });
}

/** Runs the engine on several units at once, so scratch state is reused between units as in production. */
function runEngine(engine: WindowFunnel, units: ReferenceEvent[][], range?: FunnelRange): { level: number; stepTimes: number[] }[] {
  const eventCount = units.reduce((sum, unit) => sum + unit.length, 0);
  const timestamps = new Float64Array(eventCount);
  const stepMasks = new Uint32Array(eventCount);
  const exclusionMasks = new Uint32Array(eventCount);
  const unitOffsets = new Uint32Array(units.length + 1);
  let i = 0;
  units.forEach((unit, u) => {
    unitOffsets[u] = i;
    for (const event of unit) {
      timestamps[i] = event.timestamp;
      stepMasks[i] = event.steps.reduce((mask, step) => (mask | (1 << (step - 1))) >>> 0, 0);
      exclusionMasks[i] = (event.exclusions ?? []).reduce((mask, r) => (mask | (1 << r)) >>> 0, 0);
      i++;
    }
  });
  unitOffsets[units.length] = i;
  const { levels, stepTimes } = engine.evaluateUnits({ timestamps, stepMasks, exclusionMasks, unitOffsets }, { range });
  return units.map((_, u) => {
    const level = levels[u];
    const times = Array.from(stepTimes.subarray(u * engine.stepCount, u * engine.stepCount + level));
    return { level, stepTimes: times };
  });
}

/** Engine result for one log (chains starting in `range` when given); also checks that the reference reads the rules the same way. */
function funnelOf(funnel: TestFunnel, log: string, range?: FunnelRange): { level: number; stepTimes: number[] } {
  const events = toReferenceEvents(funnel, parseLog(log));
  const [engine] = runEngine(engineFor(funnel), [events], range);
  const reference = referenceWindowFunnel(
    events,
    {
      stepCount: funnel.stepTypes.length,
      conversionWindow: funnel.conversionWindow,
      modes: funnel.modes,
      exclusions: funnel.exclusions,
    },
    range,
  );
  expect(reference).toEqual(engine);
  return engine;
}

const ABC = (conversionWindow: number, modes?: FunnelModes): TestFunnel => ({
  stepTypes: ['A', 'B', 'C'],
  conversionWindow,
  modes,
});
const ABCD = (conversionWindow: number, modes?: FunnelModes): TestFunnel => ({
  stepTypes: ['A', 'B', 'C', 'D'],
  conversionWindow,
  modes,
});

describe('windowFunnel, default mode', () => {
  it('gives 0 for a unit without events or without a step-1 event', () => {
    expect(funnelOf(ABC(10), '')).toEqual({ level: 0, stepTimes: [] });
    expect(funnelOf(ABC(10), 'B@0 C@1 Z@2')).toEqual({ level: 0, stepTimes: [] });
  });

  it('counts steps in order and ignores steps that come before their predecessor', () => {
    expect(funnelOf(ABC(10), 'A@0 B@1 C@2')).toEqual({ level: 3, stepTimes: [0, 1, 2] });
    expect(funnelOf(ABC(10), 'A@0 C@1 B@2')).toEqual({ level: 2, stepTimes: [0, 2] });
    expect(funnelOf(ABC(10), 'A@0 Z@1 B@2 Z@3 C@4')).toEqual({ level: 3, stepTimes: [0, 2, 4] });
  });

  it('includes an event exactly conversionWindow after the start and excludes one a unit later', () => {
    expect(funnelOf(ABC(10), 'A@0 B@5 C@10').level).toBe(3);
    expect(funnelOf(ABC(10), 'A@0 B@5 C@11')).toEqual({ level: 2, stepTimes: [0, 5] });
    expect(funnelOf(ABC(0), 'A@5 B@5 C@5').level).toBe(3);
    expect(funnelOf(ABC(0), 'A@5 B@6').level).toBe(1);
  });

  it('restarts the window at a later step-1 event', () => {
    expect(funnelOf(ABC(10), 'A@0 B@1 A@20 B@21 C@25')).toEqual({ level: 3, stepTimes: [20, 21, 25] });
    // From A@0 the C comes too late; from A@4 there is no B: the best is A@0 → B@3.
    expect(funnelOf(ABC(10), 'A@0 B@3 A@4 C@12')).toEqual({ level: 2, stepTimes: [0, 3] });
  });

  it('reports the first conversion, measured from the latest step-1 event that leads to it', () => {
    expect(funnelOf(ABC(10), 'A@0 A@5 B@6 C@7').stepTimes).toEqual([5, 6, 7]);
    // Between start and finish, the earliest qualifying events.
    expect(funnelOf(ABC(10), 'A@0 B@1 B@2 C@3').stepTimes).toEqual([0, 1, 3]);
    // C@8 is the first completion; A@3 cannot reach it (no B after it), so the start is A@0.
    expect(funnelOf(ABC(10), 'A@0 B@2 A@3 C@8 B@9 C@10').stepTimes).toEqual([0, 2, 8]);
  });

  it('orders events with equal timestamps by ingestion, not by step', () => {
    expect(funnelOf(ABC(10), 'A@5 B@5 C@5').level).toBe(3);
    // ClickHouse would sort B@5 after A@5 (by condition index) and say 3; we keep ingestion order.
    expect(funnelOf(ABC(10), 'B@5 A@5 C@5').level).toBe(1);
  });

  it('handles a step that appears twice in the funnel (begin_checkout → view → begin_checkout → pay)', () => {
    const checkout: TestFunnel = { stepTypes: ['checkout', 'view', 'checkout', 'pay'], conversionWindow: 100 };
    expect(funnelOf(checkout, 'checkout@0 view@1 pay@2').level).toBe(2);
    expect(funnelOf(checkout, 'checkout@0 view@1 checkout@2 pay@3')).toEqual({ level: 4, stepTimes: [0, 1, 2, 3] });
    expect(funnelOf(checkout, 'view@0 checkout@1 pay@2').level).toBe(1);
  });

  it('lets one event fill consecutive steps it matches (as ClickHouse does without strict_once)', () => {
    expect(funnelOf(ABC(10), 'A+B@0 C@1')).toEqual({ level: 3, stepTimes: [0, 0, 1] });
    // A step listed twice in a row: one A fills both.
    expect(funnelOf({ stepTypes: ['A', 'A', 'B'], conversionWindow: 10 }, 'A@0 B@1').level).toBe(3);
    // Non-consecutive steps cannot be filled by one event in one pass: C needs a B before it.
    expect(funnelOf(ABC(10), 'A+C@0 B@1').level).toBe(2);
  });

  it('treats a one-step funnel as "did a step-1 event happen"', () => {
    const single: TestFunnel = { stepTypes: ['A'], conversionWindow: 0 };
    expect(funnelOf(single, 'Z@0 A@1')).toEqual({ level: 1, stepTimes: [1] });
    expect(funnelOf(single, 'Z@0')).toEqual({ level: 0, stepTimes: [] });
  });
});

describe('windowFunnel, strictDeduplication', () => {
  const dedup = { strictDeduplication: true };

  it('stops at the first repeat of an already reached step (ClickHouse docs: A-B-C-B-D gives 3)', () => {
    expect(funnelOf(ABCD(100, dedup), 'A@0 B@1 C@2 B@3 D@4')).toEqual({ level: 3, stepTimes: [0, 1, 2] });
    expect(funnelOf(ABC(100, dedup), 'A@0 B@1 B@2 C@3').level).toBe(2);
    expect(funnelOf(ABC(100), 'A@0 B@1 B@2 C@3').level).toBe(3);
  });

  it('lets step-1 repeats restart the chain instead of stopping', () => {
    expect(funnelOf(ABC(100, dedup), 'A@0 A@1 B@2 C@3')).toEqual({ level: 3, stepTimes: [1, 2, 3] });
  });

  it('ignores repeats of a step that no chain has reached yet', () => {
    expect(funnelOf(ABC(100, dedup), 'A@0 C@1 C@2 B@3 C@4').level).toBe(3);
  });

  it('counts a step as reached even when the chain that reached it has expired', () => {
    // B@21 repeats step 2, first reached at B@1; the search stops before A@20 → B@21 → C@22.
    expect(funnelOf(ABC(10, dedup), 'A@0 B@1 A@20 B@21 C@22')).toEqual({ level: 2, stepTimes: [0, 1] });
    expect(funnelOf(ABC(10), 'A@0 B@1 A@20 B@21 C@22').level).toBe(3);
  });
});

describe('windowFunnel, strictOrder and allowReentry', () => {
  const order = { strictOrder: true };
  const reentry = { strictOrder: true, allowReentry: true };

  it('stops at an event outside the funnel once a step-1 event was seen (docs: A->B->D->C gives 2)', () => {
    expect(funnelOf(ABC(100, order), 'A@0 B@1 D@2 C@3')).toEqual({ level: 2, stepTimes: [0, 1] });
    expect(funnelOf(ABC(100, order), 'Z@0 A@1 B@2 C@3').level).toBe(3);
    expect(funnelOf(ABC(100, order), 'A@0 Z@1 A@2 B@3 C@4').level).toBe(1);
  });

  it('stops at a step whose previous step was never reached, unless allowReentry skips it', () => {
    expect(funnelOf(ABC(100, order), 'A@0 C@1 B@2 C@3').level).toBe(1);
    expect(funnelOf(ABC(100, reentry), 'A@0 C@1 B@2 C@3')).toEqual({ level: 3, stepTimes: [0, 2, 3] });
    // allowReentry does not forgive events outside the funnel.
    expect(funnelOf(ABC(100, reentry), 'A@0 Z@1 B@2 C@3').level).toBe(1);
  });

  it('allows repeats of reached steps', () => {
    expect(funnelOf(ABC(100, order), 'A@0 B@1 B@2 C@3')).toEqual({ level: 3, stepTimes: [0, 1, 3] });
    expect(funnelOf(ABC(100, order), 'A@0 B@1 A@2 C@3').level).toBe(3);
  });

  it('rejects allowReentry without strictOrder', () => {
    expect(() => new WindowFunnel({ stepCount: 2, conversionWindow: 1, modes: { allowReentry: true } })).toThrow(
      FunnelDefinitionError,
    );
  });
});

describe('windowFunnel, strictIncrease', () => {
  const increase = { strictIncrease: true };

  it('needs strictly increasing timestamps between consecutive steps', () => {
    expect(funnelOf(ABC(10, increase), 'A@0 B@0 C@1').level).toBe(1);
    expect(funnelOf(ABC(10), 'A@0 B@0 C@1').level).toBe(3);
    expect(funnelOf(ABC(10, increase), 'A@0 B@0 B@1 C@1 C@2')).toEqual({ level: 3, stepTimes: [0, 1, 2] });
    expect(funnelOf(ABC(10, increase), 'A+B@0 C@1').level).toBe(1);
  });

  it('finds the chain even when a later start takes over the same level (exact, unlike ClickHouse greedy state)', () => {
    // A@0 → B@1 → C@2 is valid. ClickHouse keeps one state per level, lets A@1 → B@2 overwrite
    // A@0 → B@1, and then rejects C@2 (not after B@2): it would say 2.
    expect(funnelOf(ABC(10, increase), 'A@0 B@1 A@1 B@2 C@2')).toEqual({ level: 3, stepTimes: [0, 1, 2] });
  });
});

describe('windowFunnel, strictOnce', () => {
  const once = { strictOnce: true };

  it('lets one event fill at most one step of a chain', () => {
    expect(funnelOf(ABC(10, once), 'A+B@0 C@1').level).toBe(1);
    expect(funnelOf(ABC(10, once), 'A@0 A+B@1 C@2')).toEqual({ level: 3, stepTimes: [0, 1, 2] });
    const doubled: TestFunnel = { stepTypes: ['A', 'A', 'B'], conversionWindow: 10, modes: once };
    expect(funnelOf(doubled, 'A@0 B@1').level).toBe(1);
    expect(funnelOf(doubled, 'A@0 A@1 B@2').level).toBe(3);
  });

  it('still allows a repeated funnel step when separate events fill it', () => {
    const checkout: TestFunnel = {
      stepTypes: ['checkout', 'view', 'checkout', 'pay'],
      conversionWindow: 100,
      modes: once,
    };
    expect(funnelOf(checkout, 'checkout@0 view@1 checkout@2 pay@3').level).toBe(4);
    expect(funnelOf(checkout, 'checkout@0 view@1 pay@3').level).toBe(2);
  });
});

describe('windowFunnel, exclusions', () => {
  const excluding = (fromStep: number, toStep: number): TestFunnel => ({
    stepTypes: ['A', 'B', 'C'],
    conversionWindow: 100,
    exclusions: [{ type: 'X', fromStep, toStep }],
  });

  it('stops progress past fromStep when the excluded event falls between fromStep and toStep', () => {
    expect(funnelOf(excluding(1, 2), 'A@0 X@1 B@2 C@3')).toEqual({ level: 1, stepTimes: [0] });
    expect(funnelOf(excluding(1, 3), 'A@0 B@1 X@2 C@3')).toEqual({ level: 2, stepTimes: [0, 1] });
  });

  it('ignores excluded events outside the guarded stretch', () => {
    expect(funnelOf(excluding(1, 2), 'X@0 A@1 B@2 X@3 C@4').level).toBe(3);
  });

  it('lets a later fromStep event start a clean stretch', () => {
    expect(funnelOf(excluding(1, 2), 'A@0 X@1 A@2 B@3 C@4')).toEqual({ level: 3, stepTimes: [2, 3, 4] });
    expect(funnelOf(excluding(2, 3), 'A@0 B@1 X@2 B@3 C@4')).toEqual({ level: 3, stepTimes: [0, 3, 4] });
  });

  it('counts the toStep event itself as excluded when it is also an excluded event, but not the fromStep event', () => {
    expect(funnelOf(excluding(1, 2), 'A@0 B+X@1 C@2').level).toBe(1);
    expect(funnelOf(excluding(1, 2), 'A+X@0 B@1 C@2').level).toBe(3);
  });

  it('rejects exclusions that do not guard a stretch of the funnel', () => {
    expect(() => engineFor({ ...excluding(2, 2) })).toThrow(FunnelDefinitionError);
    expect(() => engineFor({ ...excluding(1, 4) })).toThrow(FunnelDefinitionError);
  });
});

describe('windowFunnel, combined modes', () => {
  it('strictOrder + strictDeduplication', () => {
    expect(funnelOf(ABC(100, { strictOrder: true, strictDeduplication: true }), 'A@0 B@1 B@2 C@3').level).toBe(2);
  });

  it('strictOrder + allowReentry + strictDeduplication', () => {
    const modes = { strictOrder: true, allowReentry: true, strictDeduplication: true };
    expect(funnelOf(ABC(100, modes), 'A@0 C@1 B@2 B@3 C@4')).toEqual({ level: 2, stepTimes: [0, 2] });
  });

  it('strictIncrease + strictOnce', () => {
    const modes = { strictIncrease: true, strictOnce: true };
    expect(funnelOf(ABC(10, modes), 'A+B@0 B@1 C@1 C@2')).toEqual({ level: 3, stepTimes: [0, 1, 2] });
  });

  it('strictOrder with an exclusion: the excluded event is itself an event outside the funnel', () => {
    const funnel: TestFunnel = {
      stepTypes: ['A', 'B', 'C'],
      conversionWindow: 100,
      modes: { strictOrder: true },
      exclusions: [{ type: 'X', fromStep: 2, toStep: 3 }],
    };
    expect(funnelOf(funnel, 'A@0 B@1 X@2 B@3 C@4').level).toBe(2);
  });
});

describe('windowFunnel over a time range [from, to)', () => {
  // The case in miniature: `to` = 100, window 50; A at 99 is in range, A at 101 and B at 102 after it.
  const range = { from: 0, to: 100 };
  it('lets events after `to` complete a chain that started in range, in every mode', () => {
    for (const modes of ALL_MODE_COMBINATIONS) {
      expect({ modes, level: funnelOf(ABC(50, modes), 'A@99 A@101 B@102', range).level }).toEqual({ modes, level: 2 });
    }
  });

  it('starts no chain at a step-1 event at or after `to`, and none before `from`', () => {
    expect(funnelOf(ABC(50), 'A@100 B@101', range).level).toBe(0);
    expect(funnelOf(ABC(50), 'A@5 B@10', { from: 6, to: 100 }).level).toBe(0);
    expect(funnelOf(ABC(50), 'A@6 B@10', { from: 6, to: 100 })).toEqual({ level: 2, stepTimes: [6, 10] });
  });

  it('stops reading at to + window: nothing later can belong to a chain', () => {
    expect(funnelOf(ABC(50), 'A@99 B@149 C@150', range)).toEqual({ level: 2, stepTimes: [99, 149] });
  });

  it('lets events after `to` stop a strictOrder or strictDeduplication scan', () => {
    // Z after `to` is outside the funnel: under strictOrder it ends the scan before C.
    expect(funnelOf(ABC(50, { strictOrder: true }), 'A@99 B@101 Z@102 C@103', range).level).toBe(2);
    // B repeated after `to` once step 2 was reached ends a strictDeduplication scan before C.
    expect(funnelOf(ABC(50, { strictDeduplication: true }), 'A@98 B@99 A@101 B@102 C@103', range).level).toBe(2);
  });

  it('ignores events before `from`, so they never stop a scan', () => {
    expect(funnelOf(ABC(50, { strictOrder: true }), 'A@1 Z@2 A@10 B@11 C@12', { from: 10, to: 100 }).level).toBe(3);
    expect(funnelOf(ABC(50, { strictDeduplication: true }), 'A@1 B@2 A@10 B@11 C@12', { from: 10, to: 100 }).level).toBe(3);
  });
});

describe('windowFunnel agrees with the brute-force reference', () => {
  it.each([0, 1, 2, 3])('on random logs, batch %i', (batch) => {
    let cases = 0;
    for (let seed = 1 + batch * 150; seed <= (batch + 1) * 150; seed++) {
      const random = Rng.stream(seed * 7919);
      const pick = (n: number): number => random.below(n);
      const stepCount = 1 + pick(4);
      const alphabet = ['A', 'B', 'C', 'D'].slice(0, 2 + pick(3));
      // Repeated step types on purpose: they produce events that match several steps.
      const stepTypes = Array.from({ length: stepCount }, () => alphabet[pick(alphabet.length)]);
      const ruleCount = stepCount >= 2 ? pick(3) : 0;
      const exclusions = Array.from({ length: ruleCount }, () => {
        const fromStep = 1 + pick(stepCount - 1);
        return { fromStep, toStep: fromStep + 1 + pick(stepCount - fromStep) };
      });
      const conversionWindow = pick(7);
      const units: ReferenceEvent[][] = Array.from({ length: 8 }, () => {
        let clock = pick(3);
        return Array.from({ length: pick(11) }, () => {
          clock += pick(3);
          const types = [random.next() < 0.15 ? 'Z' : alphabet[pick(alphabet.length)]];
          if (random.next() < 0.15) types.push(alphabet[pick(alphabet.length)]);
          return {
            timestamp: clock,
            steps: stepTypes.flatMap((type, k) => (types.includes(type) ? [k + 1] : [])),
            exclusions: exclusions.flatMap((_, r) => (random.next() < 0.15 ? [r] : [])),
          };
        });
      });
      // Every log is judged over its whole history and over a random range [from, to), which may
      // cut chains at either end (the clocks run to about 22).
      const rangeFrom = pick(8);
      const ranges: (FunnelRange | undefined)[] = [undefined, { from: rangeFrom, to: rangeFrom + 1 + pick(10) }];
      for (const modes of ALL_MODE_COMBINATIONS) {
        const engine = new WindowFunnel({ stepCount, conversionWindow, modes, exclusions });
        for (const range of ranges) {
          const results = runEngine(engine, units, range);
          units.forEach((events, u) => {
            const expected = referenceWindowFunnel(events, { stepCount, conversionWindow, modes, exclusions }, range);
            if (results[u].level !== expected.level || results[u].stepTimes.join() !== expected.stepTimes.join()) {
              // Say which case, so it can be turned into a hand-worked example.
              throw new Error(
                `seed ${seed} unit ${u} modes ${JSON.stringify(modes)} window ${conversionWindow} steps ${stepTypes} ` +
                  `exclusions ${JSON.stringify(exclusions)} range ${JSON.stringify(range)} events ${JSON.stringify(events)}: ` +
                  `engine ${JSON.stringify(results[u])}, reference ${JSON.stringify(expected)}`,
              );
            }
            cases++;
          });
        }
      }
    }
    expect(cases).toBe(150 * 8 * ALL_MODE_COMBINATIONS.length * 2);
  });
});

describe('windowFunnel input contract', () => {
  it('refuses a unit whose events are not sorted by timestamp', () => {
    const engine = new WindowFunnel({ stepCount: 2, conversionWindow: 10 });
    expect(() =>
      engine.evaluateUnit(Float64Array.from([5, 3]), Uint32Array.from([1, 2]), undefined, 0, 2),
    ).toThrow(FunnelInputError);
  });

  it('accepts an unbounded conversion window', () => {
    expect(funnelOf(ABC(Infinity), 'A@0 B@1000000 C@2000000').level).toBe(3);
  });

  it('ignores mask bits beyond the funnel and its exclusions', () => {
    const engine = new WindowFunnel({ stepCount: 2, conversionWindow: 10, exclusions: [{ fromStep: 1, toStep: 2 }] });
    const level = engine.evaluateUnit(
      Float64Array.from([0, 1, 2]),
      Uint32Array.from([0b101, 0b100, 0b010]),
      Uint32Array.from([0, 0b10, 0]),
      0,
      3,
    );
    expect(level).toBe(2);
  });

  it('names the step-1 event of the reported chain (breakdowns read its properties)', () => {
    // A@0 A@5 B@6 with window 10: both starts reach 2; the reported chain starts as late as possible, at event 1.
    const engine = new WindowFunnel({ stepCount: 2, conversionWindow: 10 });
    expect(engine.evaluateUnit(Float64Array.from([0, 5, 6]), Uint32Array.from([1, 1, 2]), undefined, 0, 3)).toBe(2);
    expect(engine.reportedFirstEvent).toBe(1);
    expect(engine.evaluateUnit(Float64Array.from([0]), Uint32Array.from([2]), undefined, 0, 1)).toBe(0);
    expect(engine.reportedFirstEvent).toBe(-1);
  });
});
