/**
 * Training readers from ClickHouse (embedded through chdb, in a temporary folder): on a small random
 * shop, every reader returns the same rows from ClickHouse's copy as from PostgreSQL, the system of
 * record and the peer here: item events, histories (catalog categories and prices, properties of
 * every JSON type), anomaly features, interactions; with a range or without, with excluded
 * (flagged) users, after user erasure and retention deletes that reach ClickHouse as tombstones.
 * Then training jobs run end to end through `TrainingRunner` on each store and store the same metrics.
 *
 * The reader scans 7 users per query here, so pages split the shop. chdb allows one data folder per
 * process, so everything here shares one client.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ChdbClient } from '../src/analytics/clickhouse-client';
import { ClickHouseTrainingEvents, sharedClickHouse } from '../src/analytics/clickhouse-training-events';
import { EventService } from '../src/events/event.service';
import { Rng } from '../src/ml/random';
import { MODEL_KINDS, TRAINING_DOMAINS } from '../src/model-kinds';
import { ErasureService } from '../src/privacy/erasure.service';
import type { Interactions } from '../src/recommend/interactions';
import type { ItemEventLog } from '../src/recommend/item-events';
import { ModelKind, modelKindDefinition } from '../src/training/model-kind';
import { PostgresTrainingEvents, type TrainingEventReader } from '../src/training-events';
import { TrainingJobs } from '../src/training/training-jobs';
import { TrainingRunner } from '../src/training/training-runner';
import { createTestDatabase, TestDatabase } from './support/database';

const START = Date.UTC(2026, 2, 2);
const MINUTE = 60_000;
const DAYS = 6;
const TYPES = ['view', 'view', 'view', 'fav', 'cart', 'checkout', 'purchase', 'page_view', 'search', 'signup'];

/** Random events on whole minutes (ties in time are common), 40 users, 25 items, interleaved and missing session ids. */
function randomEvents(seed: number, count: number) {
  const random = Rng.stream(seed);
  const pick = <T>(values: T[]): T => values[random.below(values.length)];
  return Array.from({ length: count }, (_, n) => ({
    eventId: `e${seed}-${n}`,
    type: pick(TYPES),
    userId: `u${random.below(40)}`,
    sessionId: random.next() < 0.25 ? null : `s${random.below(3)}`,
    itemId: random.next() < 0.25 ? null : `i${random.below(25)}`,
    timestamp: START + random.below(DAYS * 24 * 60) * MINUTE,
    properties: pick<Record<string, unknown> | undefined>([
      undefined,
      {},
      { category: pick(['shoes', 'hats', 'tea "green"', 'café']), device: pick(['mobile', 'desktop']), channel: 'email' },
      { categoryCode: 'appliances.kettle', price: 12.5, ip: `10.0.${random.below(3)}.${random.below(200)}` },
      { categoryId: '2053013555631882655', price: '7', device: null },
      { price: 3, ip: '2001:db8::1', channel: null },
    ]),
  }));
}

/** Typed arrays as plain arrays, so a difference shows as values. */
function plain(value: unknown): unknown {
  if (ArrayBuffer.isView(value)) return Array.from(value as unknown as ArrayLike<number>);
  if (Array.isArray(value)) return value.map(plain);
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
  return value;
}

/** Interaction pairs in a fixed order (neither store promises one). */
function pairs(part: Interactions): string[] {
  return Array.from(part.users, (user, n) => `${user}:${part.items[n]}:${part.weights[n]}:${part.purchased[n]}`).sort();
}

describe('training readers from ClickHouse', () => {
  let db: TestDatabase;
  let folder: string;
  let client: ChdbClient;
  let postgres: PostgresTrainingEvents;
  let clickhouse: ClickHouseTrainingEvents;
  const userIds = new Map<string, number>();

  beforeAll(async () => {
    db = await createTestDatabase('train_ch');
    folder = mkdtempSync(join(tmpdir(), 'funnelcast-train-chdb-'));
    client = new ChdbClient(folder);
    postgres = new PostgresTrainingEvents(db.dataSource);
    clickhouse = new ClickHouseTrainingEvents(db.dataSource, sharedClickHouse(client), { database: 'funnelcast_train_test', batchSize: 97, usersPerPage: 7 });
    const events = new EventService(db.dataSource, { maxBatch: 5000, maxPropertiesBytes: 16_384 });
    const batch = randomEvents(11, 1500);
    expect((await events.ingest(batch)).accepted).toBe(batch.length);
    // Catalog facts for some items (the readers join them), one price left empty.
    await db.dataSource.query(`UPDATE items SET category = 'cat-' || (id % 3), price = (id % 4) * 2.25 WHERE id % 5 <> 0`);
    await db.dataSource.query(`UPDATE items SET price = NULL WHERE id % 7 = 0`);
    // Properties the API cannot send as such: numbers with trailing zeros, objects, booleans, escapes.
    await db.dataSource.query(`UPDATE events SET props = '{"category": 1.50, "price": 19.990, "device": {"os": "ios", "v": [1, 2.0]}}'::jsonb WHERE id % 11 = 0`);
    await db.dataSource.query(`UPDATE events SET props = '{"category": true, "ip": "192.168.0.1", "channel": "a\\\\b\\"c\\u00e9", "price": 12345678901234567890}'::jsonb WHERE id % 13 = 0`);
    await db.dataSource.query(`UPDATE events SET props = '{"category": null, "categoryCode": 42, "price": null}'::jsonb WHERE id % 17 = 0`);
    // Sub-millisecond times: whole milliseconds must round the same way (half away from zero).
    await db.dataSource.query(`UPDATE events SET ts = ts + make_interval(secs => (id % 4) * 0.00025) WHERE id % 3 = 0`);
    for (const row of (await db.dataSource.query(`SELECT id, external_id FROM users`)) as { id: number; external_id: string }[]) userIds.set(row.external_id, row.id);
  });

  afterAll(async () => {
    await client?.close();
    if (folder) rmSync(folder, { recursive: true, force: true });
    await db?.drop();
  });

  const ranges = () => [
    { name: 'everything', from: null, to: new Date(START + DAYS * 24 * 60 * MINUTE) },
    { name: 'days 2–4', from: new Date(START + 2 * 24 * 60 * MINUTE + 30_000), to: new Date(START + 4 * 24 * 60 * MINUTE) },
  ];
  const flagged = () => new Set(['u3', 'u5', 'u21'].map((id) => userIds.get(id)!));

  async function expectSameRows(): Promise<void> {
    for (const range of ranges()) {
      for (const excludeUsers of [undefined, flagged()]) {
        const pg: ItemEventLog = await postgres.itemEvents({ ...range, excludeUsers });
        expect(pg.items.length).toBeGreaterThan(50);
        expect(plain(await clickhouse.itemEvents({ ...range, excludeUsers }))).toEqual(plain(pg));

        const query = { from: range.from, to: range.to, weights: { view: 1, cart: 3, purchase: 5.5, search: 0 }, excludeUsers };
        const split = new Date(START + 3 * 24 * 60 * MINUTE);
        const [pgPairs, chPairs] = [await postgres.interactions(query, split), await clickhouse.interactions(query, split)];
        expect(pgPairs.before.users.length + pgPairs.after.users.length).toBeGreaterThan(50);
        for (const half of ['before', 'after'] as const) {
          expect(pairs(chPairs[half])).toEqual(pairs(pgPairs[half]));
          expect(chPairs[half].eventCount).toBe(pgPairs[half].eventCount);
        }
      }
      const histories = await postgres.histories(range.from, range.to);
      expect(histories.length).toBeGreaterThan(20);
      expect(await clickhouse.histories(range.from, range.to)).toEqual(histories);
      const some = histories.slice(0, 5).map((h) => Number(h.userKey));
      expect(await clickhouse.histories(range.from, range.to, some)).toEqual(await postgres.histories(range.from, range.to, some));

      const features = await postgres.userFeatures(range);
      expect(features.rows).toBeGreaterThan(20);
      expect(plain(await clickhouse.userFeatures(range))).toEqual(plain(features));
    }
  }

  it('returns the same rows as PostgreSQL, property values of every JSON type included', async () => {
    const histories = await clickhouse.histories(null, ranges()[0].to);
    const events = histories.flatMap((h) => h.events);
    // PostgreSQL's text of the values set above, worked out by hand, reached through the catalog-less events.
    expect(events.some((e) => e.category === '1.50')).toBe(true);
    // jsonb orders an object's keys shorter first.
    expect(events.some((e) => e.device === '{"v": [1, 2.0], "os": "ios"}')).toBe(true);
    expect(events.some((e) => e.channel === 'a\\b"cé')).toBe(true);
    expect(events.some((e) => e.price === 19.99)).toBe(true);
    expect(events.some((e) => e.price === 12345678901234567890)).toBe(true);
    expect(events.some((e) => e.timestamp % 1 !== 0)).toBe(true);
    await expectSameRows();
  });

  it('still does after user erasure and retention deletes, which reach ClickHouse as tombstones', async () => {
    // A read first, so the copy holds the events before they are deleted (whatever ran before).
    expect((await clickhouse.histories(null, ranges()[0].to)).some((h) => h.userKey === String(userIds.get('u7')))).toBe(true);
    const erasure = new ErasureService(db.dataSource, { tombstoneDays: 30 });
    await erasure.forgetUser('u7', 'test');
    await erasure.forgetUser('u8', 'test');
    await db.dataSource.query(`DELETE FROM events WHERE ts < $1`, [new Date(START + 12 * 60 * MINUTE)]);
    const histories = await clickhouse.histories(null, ranges()[0].to);
    expect(histories.some((h) => h.userKey === String(userIds.get('u7')) || h.userKey === String(userIds.get('u8')))).toBe(false);
    expect(Math.min(...histories.map((h) => h.events[0].timestamp))).toBeGreaterThanOrEqual(START + 12 * 60 * MINUTE);
    await expectSameRows();
    // New events after the deletes (the erased ids come back only as new users: the tombstone drops u7's).
    const events = new EventService(db.dataSource, { maxBatch: 5000, maxPropertiesBytes: 16_384 });
    expect((await events.ingest(randomEvents(12, 300))).accepted).toBeGreaterThan(250);
    await expectSameRows();
  });

  async function train(kind: ModelKind, raw: Record<string, unknown>, events: TrainingEventReader, key: string) {
    const params = modelKindDefinition(MODEL_KINDS, kind).parseParams(raw) as Record<string, unknown>;
    const { job } = await new TrainingJobs(db.dataSource).insertOrFind({ requestKey: key, kind, params, from: null, to: ranges()[0].to, activate: false, scheduleId: null });
    // Flagged users left out as in production (the anomaly scores would name them).
    const domains = { ...TRAINING_DOMAINS, anomalousUsers: async () => flagged() };
    const outcome = await new TrainingRunner(db.dataSource, domains, events).run(job.id);
    expect(outcome.outcome).toBe('completed');
    const [version] = await db.dataSource.query(`SELECT status, metrics, event_count FROM model_versions WHERE id = $1`, [outcome.modelVersionId]);
    expect(version.status).toBe('READY');
    const { backend, eventsReadFrom, ...metrics } = version.metrics;
    expect(backend).toBeDefined();
    // The one figure that may differ: how long training took.
    expect(metrics.training.totalSeconds).toBeGreaterThan(0);
    delete metrics.training.totalSeconds;
    return { eventsReadFrom, metrics, eventCount: version.event_count };
  }

  it.each([
    [ModelKind.POPULARITY, {}],
    [ModelKind.ITEM_KNN, {}],
  ])('trains %s from ClickHouse to the same metrics as from PostgreSQL', async (kind, params) => {
    const fromPostgres = await train(kind, params, postgres, `${kind}-pg`);
    const fromClickHouse = await train(kind, params, clickhouse, `${kind}-ch`);
    expect(fromPostgres.eventsReadFrom).toBe('postgres');
    expect(fromClickHouse.eventsReadFrom).toBe('clickhouse');
    expect(fromPostgres.metrics.excludedAnomalousUsers).toBe(3);
    expect(fromClickHouse.eventCount).toBe(fromPostgres.eventCount);
    expect(fromClickHouse.metrics).toEqual(fromPostgres.metrics);
  });
});
