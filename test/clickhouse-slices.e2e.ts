/**
 * FUNNELCAST_ANALYTICS=clickhouse read in slices of users (clickhouse-funnels.ts `slicesOf`), with
 * and without the level pushdown: the merged answer equals the in-process engine's one-pass answer
 * for tiny slices (one event: about one user a slice, a unit alone in its slice), sparse user ids
 * (users whose every event was erased), several sessions per user, ties in time, breakdowns whose
 * top group differs per slice, drop-off pages whose cursor crosses slices, and ranges with no event
 * in them or events only after `to`. The expected answers come from the in-process FunnelService on
 * the same PostgreSQL, an independent engine (window-funnel.ts over the mirror, no ClickHouse).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FunnelSpec } from '../src/funnel/funnel-definition';
import { FunnelService } from '../src/funnel/funnel.service';
import { Rng } from '../src/ml/random';
import { startTestApp, TestApp } from './support/app';

const START = Date.UTC(2026, 4, 4, 8);
const MINUTE = 60_000;
const FROM = new Date(START + 60 * MINUTE);
const TO = new Date(START + 300 * MINUTE);

/** Events on whole minutes over six hours (ties in time are common), users u0..u19, three sessions each (some events with none). */
function randomEvents(seed: number, count: number) {
  const random = Rng.stream(seed * 104_729);
  const pick = <T>(values: T[]): T => values[random.below(values.length)];
  return Array.from({ length: count }, (_, n) => ({
    eventId: `s${seed}-${n}`,
    type: pick(['a', 'a', 'b', 'b', 'c', 'x']),
    userId: `u${random.below(20)}`,
    sessionId: random.next() < 0.1 ? null : `s${random.below(3)}`,
    itemId: `i${random.below(4)}`,
    timestamp: START + random.below(6 * 60) * MINUTE,
    properties: pick([{ device: 'mobile', p: random.below(4) }, { device: 'desktop', p: random.below(4) }, { device: 'tv' }, {}]),
  }));
}

function specs(): { name: string; spec: FunnelSpec }[] {
  const base = { conversionWindowSeconds: 3600, from: FROM, to: TO, steps: [{ type: 'a' }, { type: 'b' }, { type: 'c' }] };
  const list: { name: string; spec: FunnelSpec }[] = [];
  list.push({ name: 'strict order, compared with the previous period', spec: { ...base, modes: ['strict_order'], compareTo: { previousPeriod: true } } });
  for (const countBy of ['user', 'session'] as const) {
    list.push({ name: `plain ${countBy}`, spec: { ...base, countBy } });
    list.push({ name: `top-1 breakdown ${countBy}`, spec: { ...base, countBy, breakdown: { property: 'device', limit: 1 } } });
    list.push({
      name: `filters pushed down, item breakdown ${countBy}`,
      spec: { ...base, countBy, steps: [{ type: 'a', filters: [{ property: 'p', op: 'lt', value: 3 }] }, { type: 'b' }, { type: 'c' }], breakdown: { property: 'itemId', limit: 2 } },
    });
  }
  list.push({ name: 'cohort, excludeAnomalous', spec: { ...base, cohort: { userIds: ['u0', 'u3', 'u4', 'u16', 'u19', 'u-late'] }, excludeAnomalous: true } });
  list.push({ name: 'no event in range', spec: { ...base, from: new Date(START + 100 * 24 * 60 * MINUTE), to: new Date(START + 101 * 24 * 60 * MINUTE) } });
  list.push({ name: 'events only after to', spec: { ...base, from: new Date(START - 120 * MINUTE), to: new Date(START) } });
  return list;
}

/** Every query kind of one funnel, with drop-off pages of 2 after steps 1 and 2 and times to convert 1→2 and 1→3. */
async function answers(service: FunnelService, spec: FunnelSpec): Promise<Record<string, unknown>> {
  const funnel = await service.funnel(spec);
  // compareTo belongs to the funnel query alone; the other kinds ask for the first range.
  spec = { ...spec, compareTo: null };
  const out: Record<string, unknown> = {
    funnel,
    trend: await service.trend(spec, 'day'),
    timeToConvert12: await service.timeToConvert(spec, 1, 2, 5),
    timeToConvert13: await service.timeToConvert(spec, 1, 3, 5),
  };
  for (const afterStep of [1, 2]) {
    const pages: unknown[] = [];
    let after: string | null = null;
    for (let page = 0; page < 3; page++) {
      const connection = await service.droppedOff(spec, afterStep, 2, after);
      pages.push(connection);
      if (!connection.pageInfo.hasNextPage) break;
      after = connection.pageInfo.endCursor;
    }
    out[`droppedOff${afterStep}`] = pages;
  }
  return out;
}

let folder: string;
let t: TestApp;
let inProcess: FunnelService;

beforeAll(async () => {
  folder = mkdtempSync(join(tmpdir(), 'funnelcast-chdb-slices-'));
  t = await startTestApp('clickhouse_slices', {
    FUNNELCAST_ANALYTICS: 'clickhouse',
    FUNNELCAST_CLICKHOUSE_PATH: folder,
    FUNNELCAST_CLICKHOUSE_DATABASE: 'funnelcast_slices',
    FUNNELCAST_CLICKHOUSE_SYNC_INTERVAL_MS: '3600000',
  });
  inProcess = new FunnelService(t.app.services.dataSource, undefined, { workers: 0 });
  await t.app.services.catalog.upsert(Array.from({ length: 4 }, (_, n) => ({ id: `i${n}`, category: `cat-${n % 2}` })));
  await t.app.services.events.ingest(randomEvents(1, 200));
  // A user created last with events only after `to`, and users erased: dense ids with gaps inside and at the ends of slices.
  await t.app.services.events.ingest([{ eventId: 'late-a', userId: 'u-late', type: 'a', timestamp: TO.getTime() + 5 * MINUTE }]);
  await t.app.services.dataSource.query(`DELETE FROM events WHERE user_id IN (SELECT id FROM users WHERE external_id IN ('u1', 'u2', 'u13', 'u14', 'u15'))`);
  await inProcess.mirror.reset();
}, 60_000);

afterAll(async () => {
  await inProcess?.close();
  await t?.stop();
  if (folder) rmSync(folder, { recursive: true, force: true });
});

it('answers every query kind exactly as the in-process engine with slices of 1, 4 and 1,000,000 events, pushed down or not', async () => {
  const funnels = t.app.services.analytics!.funnels;
  for (const { name, spec } of specs()) {
    const expected = await answers(inProcess, spec);
    for (const [pushLevels, sliceEvents] of [[true, 1], [false, 4], [true, 1_000_000]] as const) {
      funnels.pushLevels = pushLevels;
      funnels.sliceEvents = sliceEvents;
      expect({ name, pushLevels, sliceEvents, value: await answers(t.app.services.funnels, spec) }).toEqual({ name, pushLevels, sliceEvents, value: expected });
    }
  }
  funnels.pushLevels = true;
  funnels.sliceEvents = 1_000_000;
  // Not vacuous: the plain funnel converts, and the top-1 breakdown has its group and "other".
  const plain = (await inProcess.funnel(specs().find((s) => s.name === 'plain user')!.spec)).steps;
  expect(plain[2].count).toBeGreaterThan(0);
  expect((await inProcess.funnel(specs().find((s) => s.name === 'top-1 breakdown user')!.spec)).breakdown!.length).toBe(2);
}, 120_000);
