/**
 * Retention with FUNNELCAST_ANALYTICS=clickhouse (embedded chdb): PostgreSQL drops whole months,
 * which fires no row trigger, so the ClickHouse copy must drop the same months itself once the run
 * is finished. Expected: the events written here, minus the month before the cutoff (worked out
 * with Date.UTC, as in test/retention.e2e.ts).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestApp, TestApp } from './support/app';

const DATABASE = 'retention_ch';
const DAY = 86_400_000;
const now = Date.now();
const back = new Date(now - 60 * DAY);
const C = Date.UTC(back.getUTCFullYear(), back.getUTCMonth(), 1);
const before = Date.UTC(back.getUTCFullYear(), back.getUTCMonth() - 1, 10);

let folder: string;
let t: TestApp;

beforeAll(async () => {
  folder = mkdtempSync(join(tmpdir(), 'funnelcast-chdb-'));
  t = await startTestApp('retention_ch', {
    FUNNELCAST_ANALYTICS: 'clickhouse',
    FUNNELCAST_CLICKHOUSE_PATH: folder,
    FUNNELCAST_CLICKHOUSE_DATABASE: DATABASE,
    FUNNELCAST_CLICKHOUSE_SYNC_INTERVAL_MS: '3600000',
    FUNNELCAST_RETENTION_DAYS: '60',
  });
});
afterAll(async () => {
  await t?.stop();
  if (folder) rmSync(folder, { recursive: true, force: true });
});

it('drops the months before a finished run from ClickHouse, and nothing newer', async () => {
  const analytics = t.app.services.analytics!;
  const events = [
    { eventId: 'old-1', userId: 'u1', type: 'view', timestamp: before },
    { eventId: 'old-2', userId: 'u2', type: 'view', timestamp: C - 1 },
    { eventId: 'new-1', userId: 'u1', type: 'view', timestamp: C },
    { eventId: 'new-2', userId: 'u2', type: 'cart', timestamp: now - 60_000 },
  ];
  expect((await t.app.services.events.ingest(events)).accepted).toBe(4);
  await analytics.sync.catchUp();
  const ids = async () =>
    (await analytics.client.query<{ id: number | string }>(`SELECT id FROM ${DATABASE}.events FINAL ORDER BY id`)).map((row) => Number(row.id));
  expect(await ids()).toEqual([1, 2, 3, 4]);

  const result = await t.app.services.retention.run({ requestedBy: 'test' });
  expect(result.months.reduce((sum, m) => sum + m.events, 0)).toBe(2);
  await analytics.sync.catchUp();
  expect(await ids()).toEqual([3, 4]);
  const parts = await analytics.client.query<{ n: number | string }>(
    `SELECT count() AS n FROM system.parts WHERE database = '${DATABASE}' AND table = 'events' AND active AND toUInt32OrZero(partition_id) < ${new Date(C).getUTCFullYear() * 100 + new Date(C).getUTCMonth() + 1}`,
  );
  expect(Number(parts[0].n)).toBe(0);
});
