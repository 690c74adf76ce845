import type { DataSource } from 'typeorm';
import type Redis from 'ioredis';
import type { Config } from './config';
import { openDatabase } from './db/data-source';
import type pino from 'pino';
import { logger } from './logger';
import { metrics } from './metrics/metrics';
import { TRAINING_QUEUE } from './training/training.queue';
import { loadTf } from './ml/tf-backend';
import { connectRedis, redactUrl } from './redis';
import { startServer, RunningServer } from './server';
import { createServices, Services } from './services';
import { usePseudonymKey } from './privacy/pseudonym';
import { ensureMonthsAhead } from './events/event-partitions';

export interface App {
  server: RunningServer;
  services: Services;
  /** The background load of the funnel mirror begun at start (settles either way; null when FUNNELCAST_FUNNEL_WARMUP is off). */
  warmUp: Promise<void> | null;
  stop(): Promise<void>;
}

/** Open PostgreSQL (applying pending migrations) and Redis, then serve. Used by `npm start`, the demo and the tests. */
export async function startApp(config: Config & { databaseUrl: string }, options: { port?: number; requestLog?: pino.Logger } = {}): Promise<App> {
  const log = logger();
  const dataSource: DataSource = await openDatabase(config.databaseUrl);
  log.info({ database: redactUrl(config.databaseUrl) }, 'database ready, migrations applied');
  const redis: Redis = connectRedis(config.redisUrl);
  // User ids are stored under this process's key from the first request on (privacy/pseudonym.ts).
  usePseudonymKey(config.pseudonymizeKey);
  const services = createServices(dataSource, redis, config);
  if (config.bootstrapAdminKey && (await services.apiKeys.ensureBootstrapAdmin(config.bootstrapAdminKey)) === 'revoked') {
    log.warn('FUNNELCAST_BOOTSTRAP_ADMIN_KEY names a key that was revoked; it stays revoked. Remove the variable or set a new secret.');
  }
  // Set TensorFlow.js up before taking requests: choosing a backend blocks the event loop (native
  // and WebAssembly set-up), which, done by the first `health` or prediction, made that health
  // check time out on Redis. A process without a backend still serves (health names the problem).
  await loadTf(config.tfBackend).then(
    (runtime) => log.info({ backend: runtime.backend.name }, 'TensorFlow.js backend ready'),
    (error: unknown) => log.warn({ err: error }, 'no TensorFlow.js backend could be loaded; predictions will fail until one can'),
  );
  // Read at every scrape: the queue's depths from Redis, the funnel mirror's size and lag, the ClickHouse sync's lag.
  const processMetrics = metrics();
  const metricSources = [
    processMetrics.addQueueSource({ queue: TRAINING_QUEUE, jobCounts: () => services.training.queue.jobCounts() }),
    processMetrics.addMirrorSource(services.funnels.mirror),
    ...(services.analytics ? [processMetrics.addClickHouseSyncSource(services.analytics.sync)] : []),
  ];
  // Erasures by any process reach this one's memory within FUNNELCAST_ERASURE_POLL_MS.
  await services.erasureWatch.start(config.erasurePollMs);
  // Retention runs by the worker or `funnelcast retention` reach this one's mirror just as fast.
  await services.retentionWatch.start(config.erasurePollMs);
  // This month's partition of `events` and the next two (writers create any other month on demand).
  await ensureMonthsAhead(dataSource).catch((error: unknown) => log.warn({ err: error }, 'could not create the coming months of events; ingest creates them when needed'));
  const server = await startServer(services, config, options.port ?? config.port, { requestLog: options.requestLog });
  log.info({ url: server.url }, 'Funnelcast is serving');
  // FUNNELCAST_ANALYTICS=clickhouse: keep ClickHouse caught up with PostgreSQL between queries too.
  services.analytics?.start(config.clickhouseSyncIntervalMs);
  let warmUp: Promise<void> | null = null;
  if (config.warmFunnelMirror) {
    // At 10M events the mirror takes tens of seconds to load, and each property key a saved funnel
    // uses seconds more: do it now, in the background, not in an analyst's first query.
    const started = performance.now();
    warmUp = services.funnels.warmUp().then(
      (loaded) => log.info({ ...loaded, seconds: Math.round(performance.now() - started) / 1000 }, 'funnel event mirror loaded'),
      (error: unknown) => log.warn({ err: error }, 'funnel event mirror warm-up failed; the first funnel query loads it'),
    );
  }
  return {
    server,
    services,
    warmUp,
    async stop() {
      for (const remove of metricSources) remove();
      await server.close();
      services.erasureWatch.close();
      services.retentionWatch.close();
      await services.funnels.close();
      await services.training.close();
      services.apiKeys.close();
      redis.disconnect();
      await dataSource.destroy();
    },
  };
}
