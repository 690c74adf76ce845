import type { DataSource } from 'typeorm';
import type pino from 'pino';
import type { Config } from '../config';
import { ensureMonthsAhead } from '../events/event-partitions';
import { RetentionService } from './retention.service';

/** How often the worker looks: at start, then hourly. */
export const RETENTION_EVERY_MS = 3_600_000;

/**
 * The worker's retention timer: at start and then every `everyMs`, creates the coming months of
 * `events` and, when FUNNELCAST_RETENTION_DAYS or FUNNELCAST_FEEDBACK_RETENTION_DAYS is set, runs
 * retention (`requestedBy` "worker"). A timer rather than a BullMQ repeatable job: the work is a few
 * SQL statements on the worker's own PostgreSQL connection, several workers are kept to one run at
 * a time by the run's advisory lock, and a worker that was down catches up at its next start
 * (nothing is scheduled that Redis could lose). Failures are logged and retried at the next tick.
 */
export function startRetentionSchedule(dataSource: DataSource, settings: Pick<Config, 'retentionDays' | 'feedbackRetentionDays'>, log: pino.Logger, everyMs = RETENTION_EVERY_MS): { stop(): Promise<void> } {
  const service = new RetentionService(dataSource, { eventDays: settings.retentionDays, feedbackDays: settings.feedbackRetentionDays });
  let running: Promise<void> = Promise.resolve();
  const tick = (): void => {
    running = running.then(async () => {
      try {
        await ensureMonthsAhead(dataSource);
        if (service.enabled) await service.run({ requestedBy: 'worker' });
      } catch (error) {
        log.warn({ err: error }, 'retention run failed; trying again at the next tick');
      }
    });
  };
  tick();
  const timer = setInterval(tick, everyMs);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
