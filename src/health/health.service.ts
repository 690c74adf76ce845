import type Redis from 'ioredis';
import type { DataSource } from 'typeorm';
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

export class HealthService {
  private readonly startedAt = Date.now();

  constructor(
    private readonly dataSource: DataSource,
    private readonly redis: Redis,
  ) {}

  async check() {
    const [database, redis] = await Promise.all([
      probe(() => this.dataSource.query('SELECT 1'), 2000),
      probe(() => this.redis.ping(), 1000),
    ]);
    return {
      status: database.ok && redis.ok ? 'ok' : 'degraded',
      version: VERSION,
      uptimeSeconds: Math.round((Date.now() - this.startedAt) / 1000),
      database,
      redis,
    };
  }
}
