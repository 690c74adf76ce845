import type Redis from 'ioredis';
import type { DataSource } from 'typeorm';
import { logger } from '../logger';
import { describeBackend, loadTf } from '../ml/tf-backend';
import { VERSION } from '../version';
import type { AnalyticsHealth } from '../analytics/clickhouse-analytics';

export interface ComponentHealth {
  ok: boolean;
  latencyMs: number | null;
  /** A generic reason when not ok ("unreachable", "no answer in time"); the details go to the log only. */
  error: string | null;
}

class NoAnswer extends Error {}

/**
 * Runs one dependency check. Health is public, so a failure is reported only as a generic reason:
 * driver messages carry host names, ports and versions. The first failure after a success is
 * logged with its details, so a health check polled every second does not flood the log.
 */
async function probe(component: string, check: () => Promise<unknown>, timeoutMs: number, lastOk: Map<string, boolean>): Promise<ComponentHealth> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      check(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new NoAnswer(`no answer within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
    lastOk.set(component, true);
    return { ok: true, latencyMs: Math.round((performance.now() - started) * 100) / 100, error: null };
  } catch (error) {
    if (lastOk.get(component) !== false) logger().warn({ err: error, component }, 'health check failed');
    lastOk.set(component, false);
    return { ok: false, latencyMs: null, error: error instanceof NoAnswer ? 'no answer in time' : 'unreachable' };
  } finally {
    clearTimeout(timer);
  }
}

export interface TfBackendHealth {
  name: string | null;
  detail: string | null;
  error: string | null;
}

/** The TensorFlow.js backend this process chose (loaded once, on the first health check). */
async function tfBackendHealth(): Promise<TfBackendHealth> {
  try {
    const { backend } = await loadTf();
    return { name: backend.name, detail: describeBackend(backend), error: null };
  } catch (error) {
    logger().warn({ err: error }, 'no TensorFlow.js backend could be loaded');
    return { name: null, detail: null, error: 'no backend could be loaded' };
  }
}

export class HealthService {
  private readonly startedAt = Date.now();
  private readonly lastOk = new Map<string, boolean>();

  constructor(
    private readonly dataSource: DataSource,
    private readonly redis: Redis,
    /** Per dependency (FUNNELCAST_HEALTH_TIMEOUT_MS). */
    private readonly timeoutMs = 2000,
    /** The analytics engine and, for ClickHouse, how far its copy of the events lags. */
    private readonly analytics: () => AnalyticsHealth | null = () => null,
  ) {}

  async check() {
    const [database, redis, tfBackend] = await Promise.all([
      probe('database', () => this.dataSource.query('SELECT 1'), this.timeoutMs, this.lastOk),
      probe('redis', () => this.redis.ping(), this.timeoutMs, this.lastOk),
      tfBackendHealth(),
    ]);
    const analytics = this.analytics();
    return {
      status: database.ok && redis.ok && (analytics?.lastError ?? null) === null ? 'ok' : 'degraded',
      version: VERSION,
      uptimeSeconds: Math.round((Date.now() - this.startedAt) / 1000),
      database,
      redis,
      tfBackend,
      analytics,
    };
  }
}
