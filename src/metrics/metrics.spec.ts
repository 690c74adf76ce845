import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { FunnelcastMetrics } from './metrics';

describe('FunnelcastMetrics', () => {
  const registry = new FunnelcastMetrics(10).registry;

  it('names every metric funnelcast_<thing>_<unit> and documents each in docs/operations.md with its type and labels', async () => {
    const doc = readFileSync(resolve(__dirname, '../../docs/operations.md'), 'utf8');
    const ours = (await registry.getMetricsAsJSON()).filter((metric) => metric.name.startsWith('funnelcast_'));
    expect(ours.length).toBeGreaterThanOrEqual(13);
    for (const metric of ours) {
      expect(metric.name).toMatch(/^funnelcast_[a-z_]+_(total|seconds|events|jobs)$/);
      const row = doc.split('\n').find((line) => line.startsWith(`| \`${metric.name}\` |`));
      expect({ metric: metric.name, row }).toEqual({ metric: metric.name, row: expect.stringContaining(`| ${metric.type} |`) });
      const labels = (metric as { labelNames?: string[] }).labelNames ?? [];
      for (const label of labels) expect({ metric: metric.name, row }).toEqual({ metric: metric.name, row: expect.stringContaining(`\`${label}\``) });
    }
  });

  it('leaves a source out of a scrape when it fails, instead of failing the scrape', async () => {
    const metrics = new FunnelcastMetrics(10);
    metrics.addQueueSource({ queue: 'training', jobCounts: () => Promise.reject(new Error('Redis is away')) });
    const remove = metrics.addQueueSource({ queue: 'other', jobCounts: async () => ({ waiting: 3 }) });
    metrics.addMirrorSource({ eventCount: 7, pendingEvents: () => Promise.reject(new Error('PostgreSQL is away')) });
    const text = await metrics.registry.metrics();
    expect(text).toContain('funnelcast_queue_jobs{queue="other",state="waiting"} 3');
    expect(text).not.toContain('queue="training"');
    expect(text).toContain('funnelcast_funnel_mirror_events 7');
    expect(text).not.toMatch(/^funnelcast_funnel_mirror_lag_events /m);
    remove();
    expect(await metrics.registry.metrics()).not.toContain('queue="other"');
  });

  it('shows the ClickHouse sync\'s lag as the age of its last complete catch-up, the oldest of its syncs, and nothing before the first', async () => {
    const metrics = new FunnelcastMetrics(10);
    const lag = async () => /^funnelcast_clickhouse_sync_lag_seconds (\S+)$/m.exec(await metrics.registry.metrics())?.[1];
    expect(await lag()).toBeUndefined();
    const fresh = { status: { syncedAt: null as Date | null } };
    const remove = metrics.addClickHouseSyncSource(fresh);
    expect(await lag()).toBeUndefined();
    fresh.status.syncedAt = new Date(Date.now() - 30_000);
    const thirty = Number(await lag());
    expect(thirty).toBeGreaterThanOrEqual(30);
    expect(thirty).toBeLessThan(40);
    metrics.addClickHouseSyncSource({ status: { syncedAt: new Date(Date.now() - 90_000) } });
    expect(Number(await lag())).toBeGreaterThanOrEqual(90);
    remove();
    expect(Number(await lag())).toBeGreaterThanOrEqual(90);
  });
});
