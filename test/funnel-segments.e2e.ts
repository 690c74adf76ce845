/**
 * Funnels read the event mirror's two segments together: a user's events come from the delta once
 * it has any there, else from the base (src/funnel/mirror-segment.ts). Here a random log goes in as
 * one large batch (the base) and then many small late batches (the delta, not compacted), and every
 * funnel must equal (a) the brute-force reference (src/funnel/window-funnel.reference.ts) computed
 * from the generated log alone and (b) the same funnel after the delta is compacted into the base.
 * Split across two workers by unit ranges over both segments (src/funnel/funnel-split.ts), every
 * answer must also equal the unsplit one while the delta is non-empty.
 */
import { EventMirror } from '../src/funnel/event-mirror';
import type { FunnelSpec } from '../src/funnel/funnel-definition';
import { FunnelService } from '../src/funnel/funnel.service';
import type { FunnelModes } from '../src/funnel/window-funnel';
import { Rng } from '../src/ml/random';
import { startTestApp, TestApp } from './support/app';
import { expectedByReference, isType, LogEvent, Variant } from './support/funnel-log';

const START = Date.UTC(2026, 0, 5, 12);
const MINUTE = 60_000;
const FROM_MINUTE = 4;
const TO_MINUTE = 26;
const WINDOW_SECONDS = 360;
const USERS = 30;

function randomLog(seed: number): LogEvent[] {
  const random = Rng.stream(seed);
  const pick = (n: number) => Math.floor(random.next() * n);
  const types = ['a', 'a', 'b', 'b', 'c', 'x'];
  return Array.from({ length: USERS * 10 }, (_, index) => ({
    index,
    user: `u${pick(USERS + 5)}`, // some users appear only in late batches
    session: `s${pick(2)}`,
    type: types[pick(types.length)],
    minute: pick(32),
    p: pick(3),
  }));
}

const VARIANTS: Variant[] = [
  { name: 'a→b→c', steps: [{ type: 'a', matches: isType('a') }, { type: 'b', matches: isType('b') }, { type: 'c', matches: isType('c') }] },
  {
    name: 'a→b[p≥1]→c',
    steps: [
      { type: 'a', matches: isType('a') },
      { type: 'b', matches: (e: LogEvent) => e.type === 'b' && e.p >= 1, filters: [{ property: 'p', op: 'gte', value: 1 }] },
      { type: 'c', matches: isType('c') },
    ],
  },
  { name: 'a→a→b', steps: [{ type: 'a', matches: isType('a') }, { type: 'a', matches: isType('a') }, { type: 'b', matches: isType('b') }] },
];
const MODES: { names: string[]; modes: FunnelModes }[] = [
  { names: [], modes: {} },
  { names: ['strict_order'], modes: { strictOrder: true } },
  { names: ['strict_deduplication'], modes: { strictDeduplication: true } },
  { names: ['strict_increase', 'strict_once'], modes: { strictIncrease: true, strictOnce: true } },
];

/** Step counts and active units by the reference, units grouped from the log itself. */
function expected(log: LogEvent[], variant: Variant, modes: FunnelModes, countBy: 'user' | 'session') {
  const { counts, active } = expectedByReference(log, variant, modes, countBy, { fromMinute: FROM_MINUTE, toMinute: TO_MINUTE }, WINDOW_SECONDS);
  return { counts, totalUnits: active };
}

let t: TestApp;
let mirror: EventMirror;
let funnels: FunnelService;
/** The same mirror, every funnel split into two parts (threshold 0 events). */
let splitFunnels: FunnelService;
// A seed whose late batches leave some users in the base only (the first test checks that it does).
const log = randomLog(36);
const userIds = [...new Set(log.map((e) => e.user))];

beforeAll(async () => {
  t = await startTestApp('funnel_segments');
  mirror = new EventMirror(t.app.services.dataSource, { compactAt: false });
  funnels = new FunnelService(t.app.services.dataSource, mirror, { workers: 1 });
  splitFunnels = new FunnelService(t.app.services.dataSource, mirror, { workers: 2, splitEvents: 0 });
  const ingest = async (events: LogEvent[]) => {
    const result = await t.app.services.events.ingest(
      events.map((e) => ({ eventId: `e${e.index}`, type: e.type, userId: e.user, sessionId: e.session, timestamp: START + e.minute * MINUTE, properties: { p: e.p } })),
    );
    expect(result.accepted).toBe(events.length);
  };
  // Two thirds as the base, with the columns the funnels read loaded, then small late batches,
  // each caught up on its own, so they land in the delta.
  const baseCount = Math.floor((log.length * 2) / 3);
  await ingest(log.slice(0, baseCount));
  await mirror.snapshot({ propertyKeys: ['p'], sessions: true });
  for (let start = baseCount; start < log.length; start += 7) {
    await ingest(log.slice(start, start + 7));
    await mirror.sync();
  }
});
afterAll(async () => {
  await funnels.close();
  await splitFunnels.close();
  await t.stop();
});

function specOf(variant: Variant, names: string[], countBy: 'user' | 'session'): FunnelSpec {
  return {
    steps: variant.steps.map((step) => ({ type: step.type, filters: step.filters })),
    conversionWindowSeconds: WINDOW_SECONDS,
    from: new Date(START + FROM_MINUTE * MINUTE),
    to: new Date(START + TO_MINUTE * MINUTE),
    countBy,
    modes: names,
  };
}

/** Every query kind over every variant, mode and counting unit, as plain data. */
async function allAnswers(service: FunnelService = funnels) {
  const funnels = service;
  const answers: Record<string, unknown> = {};
  for (const variant of VARIANTS) {
    for (const { names } of MODES) {
      for (const countBy of ['user', 'session'] as const) {
        const spec = specOf(variant, names, countBy);
        const context = `${variant.name} [${names.join(',')}] by ${countBy}`;
        answers[context] = await funnels.funnel(spec);
        answers[`${context} by p`] = await funnels.funnel({ ...spec, breakdown: { property: 'p', limit: 2 } });
        answers[`${context} trend`] = await funnels.trend({ ...spec, to: new Date(START + 2 * 86_400_000) }, 'day');
        answers[`${context} dropped`] = await funnels.droppedOff(spec, 1, 1000);
        answers[`${context} time`] = await funnels.timeToConvert(spec, 1, 3, 4);
      }
    }
  }
  return answers;
}

it('answers from base and delta together as the reference does, and as after compaction', async () => {
  expect(mirror.stats.deltaRows).toBeGreaterThan(0);
  expect(mirror.stats.deltaUsers).toBeLessThan(userIds.length);
  let completed = 0;
  for (const variant of VARIANTS) {
    for (const { names, modes } of MODES) {
      for (const countBy of ['user', 'session'] as const) {
        const context = `${variant.name} [${names.join(',')}] by ${countBy}`;
        const result = await funnels.funnel(specOf(variant, names, countBy));
        const want = expected(log, variant, modes, countBy);
        completed += want.counts[want.counts.length - 1];
        expect({ context, counts: result.steps.map((s) => s.count), totalUnits: result.totalUnits }).toEqual({ context, ...want });
      }
    }
  }
  expect(completed).toBeGreaterThan(20);

  const withDelta = await allAnswers();
  await mirror.compact();
  expect(mirror.stats).toMatchObject({ deltaRows: 0, compactions: 1 });
  expect(await allAnswers()).toEqual(withDelta);
});

it('answers the same split across workers by unit ranges over base and delta as unsplit', async () => {
  // The test above compacted the delta away: late batches again, with new events for users the
  // base already has (so their base units are shadowed) and for users it does not, each batch
  // caught up on its own (compactAt: false keeps them in the delta).
  // A seed whose late batches stay smaller than the base, as compaction keeps the delta (with a larger
  // delta the session funnels have nothing to cut and run whole).
  const late = randomLog(49).map((e) => ({ ...e, index: log.length + e.index, user: `u${Number(e.user.slice(1)) + 3}` })).slice(0, 60);
  for (let start = 0; start < late.length; start += 6) {
    const batch = late.slice(start, start + 6);
    const result = await t.app.services.events.ingest(
      batch.map((e) => ({ eventId: `e${e.index}`, type: e.type, userId: e.user, sessionId: e.session, timestamp: START + e.minute * MINUTE, properties: { p: e.p } })),
    );
    expect(result.accepted).toBe(batch.length);
    await mirror.sync();
  }
  expect(mirror.stats.deltaRows).toBeGreaterThan(0);
  expect(mirror.stats.deltaUsers).toBeGreaterThan(1);
  const unsplit = await allAnswers();
  const split = await allAnswers(splitFunnels);
  expect(split).toEqual(unsplit);
  // Both user and session funnels did run split (a session funnel runs whole once, to build the base's session units).
  expect(splitFunnels.poolStats).toMatchObject({ failed: 0, timedOut: 0 });
  expect(splitFunnels.poolStats!.split).toBeGreaterThan(Object.keys(unsplit).length / 2);
  // And against the reference over everything ingested.
  const everything = [...log, ...late];
  for (const variant of VARIANTS) {
    for (const { names, modes } of MODES) {
      for (const countBy of ['user', 'session'] as const) {
        const context = `${variant.name} [${names.join(',')}] by ${countBy}`;
        const answer = split[context] as { steps: { count: number }[]; totalUnits: number };
        expect({ context, counts: answer.steps.map((step) => step.count), totalUnits: answer.totalUnits }).toEqual({ context, ...expected(everything, variant, modes, countBy) });
      }
    }
  }
});
