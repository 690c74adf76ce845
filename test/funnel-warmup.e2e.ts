/**
 * Saved funnels warm the mirror at start (issue #12): the property keys they filter or break down
 * on, and sessions when one counts by session, are loaded in the background after the server
 * starts, so their first run does not pay the first-use load. A saved definition that no longer
 * plans is skipped; startup never waits for any of it.
 */
import { startApp } from '../src/app';
import { loadConfig } from '../src/config';
import { EventMirror } from '../src/funnel/event-mirror';
import { FunnelService } from '../src/funnel/funnel.service';
import { startTestApp, TestApp } from './support/app';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp('funnel_warmup', { FUNNELCAST_FUNNEL_WARMUP: 'false' });
  const stored = await t.app.services.events.ingest([
    { eventId: 'w-1', userId: 'ann', sessionId: 's1', type: 'view', timestamp: Date.UTC(2026, 1, 3, 10), properties: { device: 'mobile', plan: 'pro' } },
    { eventId: 'w-2', userId: 'ann', sessionId: 's1', type: 'cart', timestamp: Date.UTC(2026, 1, 3, 11), properties: { country: 'NL' } },
  ]);
  expect(stored.accepted).toBe(2);
  const range = { conversionWindowSeconds: 3600, from: new Date(Date.UTC(2026, 1, 1)), to: new Date(Date.UTC(2026, 1, 8)) };
  const funnels = t.app.services.funnels;
  await funnels.save('by device, per session', {
    ...range,
    steps: [{ type: 'view', filters: [{ property: 'device', op: 'eq', value: 'mobile' }] }, { type: 'cart' }],
    breakdown: { property: 'plan' },
    countBy: 'session',
  });
  await funnels.save('by country', { ...range, steps: [{ type: 'view' }, { type: 'cart', filters: [{ property: 'country', op: 'isSet' }] }] });
  // A definition saved by an older version that no longer plans (no steps): skipped, not fatal.
  await t.app.services.dataSource.query(`INSERT INTO saved_funnels (name, definition) VALUES ('broken', '{"steps": []}')`);
});
afterAll(() => t.stop());

it('loads the keys and sessions saved funnels use', async () => {
  const mirror = new EventMirror(t.app.services.dataSource);
  const service = new FunnelService(t.app.services.dataSource, mirror, { workers: 0 });
  try {
    const warmed = await service.warmUp();
    expect({ ...warmed, propertyKeys: [...warmed.propertyKeys].sort() }).toEqual({ events: 2, propertyKeys: ['country', 'device', 'plan'], sessions: true });
    const loaded = mirror.loadedColumns;
    expect({ ...loaded, propertyKeys: [...loaded.propertyKeys].sort() }).toEqual({ propertyKeys: ['country', 'device', 'plan'], propertiesColumn: true });
  } finally {
    await service.close();
  }
});

it('warms in the background when a server starts', async () => {
  const config = loadConfig({ ...process.env, LOG_LEVEL: process.env.LOG_LEVEL ?? 'silent', HOST: '127.0.0.1', FUNNELCAST_FUNNEL_WARMUP: 'true' });
  const app = await startApp({ ...config, databaseUrl: t.db.url }, { port: 0 });
  try {
    // startApp has returned (serving) with the load still to settle in the background.
    expect(app.warmUp).not.toBeNull();
    await app.warmUp;
    const mirror = app.services.funnels.mirror;
    expect([...mirror.loadedColumns.propertyKeys].sort()).toEqual(['country', 'device', 'plan']);
    expect(mirror.loadedColumns.propertiesColumn).toBe(true);
  } finally {
    await app.stop();
  }
});
