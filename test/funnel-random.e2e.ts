/**
 * The service on random stored logs against the deliberately simple reference
 * (src/funnel/window-funnel.reference.ts): events go in through ingest, funnels come out of the
 * funnel service (mirror, masks, time range, sessions, filters), and each unit's level and step
 * times are recomputed here from the generated events alone.
 */
import type { FunnelSpec } from '../src/funnel/funnel-definition';
import type { FunnelModes } from '../src/funnel/window-funnel';
import { Rng } from '../src/ml/random';
import { startTestApp, TestApp } from './support/app';
import { expectedByReference, isType, LogEvent, Variant } from './support/funnel-log';

/** Uniform numbers in [0, 1) from the project's seeded generator, so a failing seed can be re-run. */
function seeded(seed: number): () => number {
  const random = Rng.stream(seed);
  return () => random.next();
}

// On the ClickHouse pass (jest project `clickhouse`), funnels read slices of about 100 events of
// users each (several per query here), so every answer compared with the reference below also
// checks that the slices' partial answers merge into the whole (clickhouse-funnels.ts). Jest gives
// each file its own process.env; the in-process engine ignores the setting.
process.env.FUNNELCAST_CLICKHOUSE_SLICE_EVENTS ??= '100';

const START = Date.UTC(2026, 0, 5, 12);
const MINUTE = 60_000;
const WINDOW_SECONDS = 300;

/** Each seed asks for its own range, which cuts chains at both ends (events span minutes 0–31). */
function rangeOf(seed: number): { fromMinute: number; toMinute: number } {
  const random = seeded(seed * 31);
  const fromMinute = 1 + Math.floor(random() * 8);
  return { fromMinute, toMinute: fromMinute + 8 + Math.floor(random() * 16) };
}

function randomLog(seed: number, users: number): LogEvent[] {
  const random = seeded(seed);
  const events: LogEvent[] = [];
  const types = ['a', 'a', 'b', 'b', 'c', 'x'];
  // Interleave users in ingestion order, like a live shop; minutes repeat often, so ties are common.
  for (let n = 0; n < users * 9; n++) {
    events.push({
      index: events.length,
      user: `u${Math.floor(random() * users)}`,
      session: `s${Math.floor(random() * 2)}`,
      type: types[Math.floor(random() * types.length)],
      minute: Math.floor(random() * 32),
      p: Math.floor(random() * 4),
    });
  }
  return events;
}

const VARIANTS: Variant[] = [
  { name: 'a→b→c', steps: [{ type: 'a', matches: isType('a') }, { type: 'b', matches: isType('b') }, { type: 'c', matches: isType('c') }] },
  {
    name: 'a→b[p≥2]→c',
    steps: [
      { type: 'a', matches: isType('a') },
      { type: 'b', matches: (e) => e.type === 'b' && e.p >= 2, filters: [{ property: 'p', op: 'gte', value: 2 }] },
      { type: 'c', matches: isType('c') },
    ],
  },
  { name: 'a→a→b (repeated step)', steps: [{ type: 'a', matches: isType('a') }, { type: 'a', matches: isType('a') }, { type: 'b', matches: isType('b') }] },
  { name: 'a→b→c, x excluded between 1 and 3', exclusion: true, steps: [{ type: 'a', matches: isType('a') }, { type: 'b', matches: isType('b') }, { type: 'c', matches: isType('c') }] },
];

const MODES: { names: string[]; modes: FunnelModes }[] = [
  { names: [], modes: {} },
  { names: ['strict_order'], modes: { strictOrder: true } },
  { names: ['strict_order', 'allow_reentry'], modes: { strictOrder: true, allowReentry: true } },
  { names: ['strict_deduplication'], modes: { strictDeduplication: true } },
  { names: ['strict_order', 'strict_deduplication'], modes: { strictOrder: true, strictDeduplication: true } },
  { names: ['strict_increase'], modes: { strictIncrease: true } },
  { names: ['strict_once'], modes: { strictOnce: true } },
  { names: ['strict_increase', 'strict_once', 'strict_deduplication'], modes: { strictIncrease: true, strictOnce: true, strictDeduplication: true } },
];

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp('funnel_random');
});
afterAll(() => t.stop());

describe.each([11, 23])('random stored log (seed %i)', (seed) => {
  const log = randomLog(seed, 40);
  const range = rangeOf(seed);

  beforeAll(async () => {
    // Each seed gets its own user names, so the two logs never mix.
    const result = await t.app.services.events.ingest(
      log.map((e) => ({
        eventId: `r${seed}-${e.index}`,
        type: e.type,
        userId: `${seed}-${e.user}`,
        sessionId: e.session,
        timestamp: START + e.minute * MINUTE,
        properties: { p: e.p },
      })),
    );
    expect(result.accepted).toBe(log.length);
  });

  it.each(['user', 'session'] as const)('agrees with the reference for every variant and mode, counting by %s', async (countBy) => {
    let completed = 0;
    for (const variant of VARIANTS) {
      for (const { names, modes } of MODES) {
        const spec: FunnelSpec = {
          steps: variant.steps.map((step) => ({ type: step.type, filters: step.filters })),
          conversionWindowSeconds: WINDOW_SECONDS,
          from: new Date(START + range.fromMinute * MINUTE),
          to: new Date(START + range.toMinute * MINUTE),
          countBy,
          modes: names,
          exclusions: variant.exclusion ? [{ type: 'x', fromStep: 1, toStep: 3 }] : null,
          // only this seed's users
          cohort: { userIds: [...new Set(log.map((e) => `${seed}-${e.user}`))] },
        };
        const result = await t.app.services.funnels.funnel(spec);
        const want = expectedByReference(log, variant, modes, countBy, range, WINDOW_SECONDS);
        completed += want.counts[want.counts.length - 1];
        const context = `${variant.name} [${names.join(',')}] by ${countBy}`;
        expect({ context, counts: result.steps.map((s) => s.count), totalUnits: result.totalUnits }).toEqual({ context, counts: want.counts, totalUnits: want.active });
        result.steps.forEach((step, k) => {
          const average = step.timeFromPrevious?.average ?? null;
          if (want.averages[k] === null) expect({ context, k, average }).toEqual({ context, k, average: null });
          else expect(average).toBeCloseTo(want.averages[k]!, 6);
        });
      }
    }
    // The logs are meant to exercise whole chains, not only empty funnels.
    expect(completed).toBeGreaterThan(20);
  });
});
