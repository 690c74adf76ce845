import type Redis from 'ioredis';
import type { DataSource } from 'typeorm';
import { describeBackend, loadTf } from '../ml/tf-backend';
import { VERSION } from '../version';

export interface ComponentHealth {
  ok: boolean;
  latencyMs: number | null;
  error: string | null;
}

async function probe(check: () => Promise<unknown>, timeoutMs: number): Promise<ComponentHealth> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      check(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
    return { ok: true, latencyMs: Math.round((performance.now() - started) * 100) / 100, error: null };
  } catch (error) {
    return { ok: false, latencyMs: null, error: error instanceof Error ? error.message : String(error) };
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
    return { name: null, detail: null, error: error instanceof Error ? error.message : String(error) };
  }
}

export class HealthService {
  private readonly startedAt = Date.now();

  constructor(
    private readonly dataSource: DataSource,
    private readonly redis: Redis,
  ) {}

  async check() {
    const [database, redis, tfBackend] = await Promise.all([
      probe(() => this.dataSource.query('SELECT 1'), 2000),
      probe(() => this.redis.ping(), 1000),
      tfBackendHealth(),
    ]);
    return {
      status: database.ok && redis.ok ? 'ok' : 'degraded',
      version: VERSION,
      uptimeSeconds: Math.round((Date.now() - this.startedAt) / 1000),
      database,
      redis,
      tfBackend,
    };
  }
}
