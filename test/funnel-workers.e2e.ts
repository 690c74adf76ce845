/**
 * Funnels computed on worker threads give exactly the answers computed on the main thread
 * (FUNNELCAST_FUNNEL_WORKERS=0, the engine as it ran before workers), for every kind of funnel
 * query, on random stored logs. test/funnel-random.e2e.ts checks the served answers against the
 * brute-force reference; this file checks the two execution paths against each other, including
 * what only workers have: several threads at once, dictionaries sent to each worker as deltas
 * after new events, session layouts built in one worker and reused by another; and funnels split
 * across workers by unit ranges (funnel-split.ts, forced here by a split threshold of 0 events).
 */
import type { FunnelSpec } from '../src/funnel/funnel-definition';
import { FunnelService } from '../src/funnel/funnel.service';
import { Rng } from '../src/ml/random';
import { everyFunnelAnswer } from './support/funnel-answers';
import { startTestApp, TestApp } from './support/app';

/** Uniform numbers in [0, 1) from the project's seeded generator, so a failing seed can be re-run. */
function seeded(seed: number): () => number {
  const random = Rng.stream(seed);
  return () => random.next();
}

const START = Date.UTC(2026, 2, 2, 20);
const MINUTE = 60_000;
const FROM = new Date(START);
const TO = new Date(START + 3 * 24 * 60 * MINUTE);

/** Random events over three days: few users and sessions so chains, ties and repeats are common. */
function randomEvents(seed: number, count: number, round: number) {
  const random = seeded(seed);
  const pick = <T>(values: T[]): T => values[Math.floor(random() * values.length)];
  return Array.from({ length: count }, (_, n) => ({
    eventId: `w${seed}-${round}-${n}`,
    type: pick(['a', 'a', 'b', 'b', 'c', 'x']),
    userId: `u${Math.floor(random() * 120)}`,
    sessionId: random() < 0.1 ? null : `s${Math.floor(random() * 3)}-r${round}`,
    itemId: random() < 0.2 ? null : `i${Math.floor(random() * 12)}`,
    timestamp: START + Math.floor(random() * 3 * 24 * 60) * MINUTE,
    // Each round brings property values not seen before, so dictionaries grow between queries.
    properties: { p: Math.floor(random() * 4), device: pick(['mobile', 'desktop', `new-${round}`]) },
  }));
}

const MODES: string[][] = [[], ['strict_order'], ['strict_deduplication'], ['strict_increase'], ['strict_once'], ['strict_order', 'allow_reentry']];

function specs(): { name: string; spec: FunnelSpec }[] {
  const base = { conversionWindowSeconds: 3 * 3600, from: FROM, to: TO };
  const list: { name: string; spec: FunnelSpec }[] = [];
  for (const countBy of ['user', 'session'] as const) {
    for (const modes of MODES) {
      list.push({ name: `plain ${countBy} ${modes}`, spec: { ...base, countBy, modes, steps: [{ type: 'a' }, { type: 'b' }, { type: 'c' }] } });
    }
    list.push({
      name: `filters, exclusion, breakdown by device ${countBy}`,
      spec: {
        ...base,
        countBy,
        steps: [{ type: 'a', filters: [{ property: 'p', op: 'lt', value: 3 }] }, { type: 'b' }, { type: 'c', filters: [{ property: 'device', op: 'neq', value: 'desktop' }] }],
        exclusions: [{ type: 'x', fromStep: 1, toStep: 2 }],
        breakdown: { property: 'device', limit: 2 },
      },
    });
    list.push({
      name: `item filters, breakdown by category ${countBy}`,
      spec: {
        ...base,
        countBy,
        steps: [{ type: 'a', filters: [{ property: 'itemId', op: 'in', value: ['i1', 'i2', 'i3', 'i4', 'i5'] }] }, { type: 'b' }],
        breakdown: { property: 'item.category' },
      },
    });
    list.push({
      name: `cohort, narrow range ${countBy}`,
      spec: { ...base, countBy, from: new Date(START + 600 * MINUTE), to: new Date(START + 2000 * MINUTE), steps: [{ type: 'b' }, { type: 'a' }], cohort: { userIds: ['u1', 'u2', 'u3', 'u5', 'u8', 'u13', 'u21', 'u34', 'u55', 'u89'] } },
    });
  }
  return list;
}

/** Every funnel query on one service (test/support/funnel-answers.ts). */
const everything = (service: FunnelService): Promise<Record<string, unknown>> => everyFunnelAnswer(service, specs(), { pageSize: 7, maxPages: 4, concurrent: true });

let t: TestApp;
let onMainThread: FunnelService;
let onWorkers: FunnelService;
let onSplitWorkers: FunnelService;

beforeAll(async () => {
  t = await startTestApp('funnel_workers');
  const { dataSource } = t.app.services;
  onMainThread = new FunnelService(dataSource, undefined, { workers: 0 });
  onWorkers = new FunnelService(dataSource, undefined, { workers: 3, splitEvents: Infinity });
  onSplitWorkers = new FunnelService(dataSource, undefined, { workers: 3, splitEvents: 0 });
  await t.app.services.catalog.upsert(Array.from({ length: 12 }, (_, n) => ({ id: `i${n}`, category: n % 3 === 0 ? null : `cat-${n % 3}` })));
});

afterAll(async () => {
  await onWorkers?.close();
  await onSplitWorkers?.close();
  await t?.stop();
});

it('gives the same answers on worker threads as on the main thread, before and after new events', async () => {
  let compared = 0;
  for (let round = 0; round < 3; round++) {
    const result = await t.app.services.events.ingest(randomEvents(round + 1, 1500, round));
    expect(result.accepted).toBe(1500);
    if (round === 2) await t.app.services.catalog.upsert([{ id: 'i4', category: 'cat-moved' }]); // the item dictionary changes too
    const expected = await everything(onMainThread);
    for (const service of [onWorkers, onSplitWorkers]) {
      const actual = await everything(service);
      expect(Object.keys(actual).sort()).toEqual(Object.keys(expected).sort());
      for (const key of Object.keys(expected)) {
        expect({ key, split: service === onSplitWorkers, value: actual[key] }).toEqual({ key, split: service === onSplitWorkers, value: expected[key] });
        compared++;
      }
    }
  }
  expect(compared).toBe(2 * 3 * specs().length * 4);
  // The answers are not empty: some funnel converts, and the workers did the work.
  const sample = (await onWorkers.funnel(specs()[0].spec)).steps;
  expect(sample[sample.length - 1].count).toBeGreaterThan(0);
  expect(onWorkers.poolStats).toMatchObject({ workers: 3, failed: 0, timedOut: 0 });
  expect(onWorkers.poolStats!.completed).toBeGreaterThan(3 * specs().length * 4);
  expect(onWorkers.poolStats!.split).toBe(0);
  // Every user funnel ran split; a session funnel runs whole until its mirror version's session layout exists.
  expect(onSplitWorkers.poolStats).toMatchObject({ workers: 3, failed: 0, timedOut: 0 });
  expect(onSplitWorkers.poolStats!.split).toBeGreaterThan((3 * specs().length * 4) / 2);
});
