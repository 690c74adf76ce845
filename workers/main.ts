import 'reflect-metadata';
import type { Worker } from 'bullmq';
import { config } from '../src/config';
import { logger } from '../src/logger';
import { redactUrl } from '../src/redis';

/**
 * `npm run worker`: the background process. It starts one BullMQ worker per registered queue and
 * closes them cleanly on SIGINT/SIGTERM, letting running jobs finish. Queues arrive with the
 * training platform; until then it starts none and just waits for a signal.
 */
const QUEUE_FACTORIES: (() => Worker)[] = [];

async function main(): Promise<void> {
  const settings = config();
  const log = logger();
  const workers = QUEUE_FACTORIES.map((create) => create());
  for (const worker of workers) worker.on('error', (error) => log.error({ err: error, queue: worker.name }, 'worker error'));
  const shutdown = async (signal: string): Promise<void> => {
    log.info({ signal }, 'worker shutting down');
    await Promise.all(workers.map((worker) => worker.close()));
    console.log('funnelcast worker stopped');
    process.exit(0);
  };
  process.once('SIGINT', () => void shutdown('SIGINT'));
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  // Keep the process alive while there is nothing else scheduled.
  setInterval(() => undefined, 1 << 30);
  // "ready" only once the signal handlers are in place, so a supervisor's stop is never lost.
  log.info({ redis: redactUrl(settings.redisUrl), queues: workers.map((w) => w.name) }, `worker started with ${workers.length} queue(s)`);
  console.log(`funnelcast worker ready (${workers.length} queues)`);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
