import type { DataSource } from 'typeorm';
import { logger } from '../logger';
import { metrics } from '../metrics/metrics';

/** Drops what a process holds in memory that may include an erased user (all of it: the message names no user). */
export type ForgetInMemory = () => Promise<void> | void;

/**
 * Tells every API process that a user was erased, by polling the audit log (`user_erasures`):
 * each process reads the highest id every `pollMs` (one index lookup), and when it moved, runs
 * its `forget` hooks (funnel mirror, recommendation caches and factors). Polling the table the
 * erasure commits to, rather than a message bus, means nothing is lost: a process that was
 * unreachable, or whose database connection dropped, sees the new id at its next successful look.
 * The audit row holds no user id, so the hooks drop everything that could hold one.
 *
 * The process that erased runs the hooks itself before answering (`caughtUp`), so on it the
 * erasure is complete when the mutation returns; elsewhere within `pollMs` plus the hooks' time.
 *
 * The same watch, given `RETENTION_RUNS`, tells processes that retention removed old months: the
 * finished run is the watermark, and the hooks drop the mirror (reloaded from what PostgreSQL
 * still holds, so without the removed months) and the served-list caches.
 */
/** What a watch polls and how it reports; the default is the erasure audit log. */
export interface WatchSource {
  /** A query returning one row `{ id: string | null }`: the newest entry; hooks run whenever it changes. */
  latestSql: string;
  /** Logged after the hooks ran. */
  message: string;
  /** Counts a handled entry (a metric). */
  counted?: () => void;
}

const ERASURES: WatchSource = {
  latestSql: `SELECT max(id)::text AS id FROM user_erasures`,
  message: 'a user was erased: in-memory copies dropped',
  counted: () => metrics().erasureDrops.inc(),
};

/**
 * Retention runs (src/privacy/retention.service.ts): only finished ones, so a process reloads its
 * mirror after the months are gone, not between the cutoff being set and the drop.
 */
export const RETENTION_RUNS: WatchSource = {
  latestSql: `SELECT max(id)::text AS id FROM retention_runs WHERE finished_at IS NOT NULL`,
  message: 'events before the retention cutoff were removed: in-memory copies dropped',
};

export class ErasureWatch {
  private seen: string | null = null;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> = Promise.resolve();
  /** Erasures whose hooks this process ran (local and from others); for operators and tests. */
  handled = 0;

  constructor(
    private readonly dataSource: DataSource,
    private readonly forget: ForgetInMemory[],
    private readonly source: WatchSource = ERASURES,
  ) {}

  /** Reads the current position (earlier erasures are not this process's concern: it started after them) and starts polling. */
  async start(pollMs: number): Promise<void> {
    this.seen = await this.latest();
    this.timer = setInterval(() => void this.check().catch((error: unknown) => logger().warn({ err: error }, 'looking for user erasures failed; trying again')), pollMs);
    this.timer.unref();
  }

  /** Runs the hooks now if an erasure newer than the last handled one exists; resolves when done. */
  check(): Promise<void> {
    this.running = this.running.catch(() => undefined).then(async () => {
      const latest = await this.latest();
      if (latest === null || latest === this.seen) return;
      await this.runHooks();
      this.seen = latest;
    });
    return this.running;
  }

  /** After this process erased a user: run the hooks now (the poll then finds nothing new). */
  caughtUp(): Promise<void> {
    return this.check();
  }

  /** Stops polling (the app's stop). */
  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private async latest(): Promise<string | null> {
    const [row]: { id: string | null }[] = await this.dataSource.query(this.source.latestSql);
    return row.id;
  }

  private async runHooks(): Promise<void> {
    const started = performance.now();
    for (const hook of this.forget) await hook();
    this.handled++;
    this.source.counted?.();
    logger().info({ seconds: Math.round(performance.now() - started) / 1000 }, this.source.message);
  }
}
