/**
 * ClickHouse as the analytics store (FUNNELCAST_ANALYTICS=clickhouse): one client (chdb or a
 * server), the sync that copies PostgreSQL's events into it, and the funnels answered from it,
 * behind the FunnelEngine interface that FunnelService uses. docs/analytics-store.md tells the story.
 */
import type { DataSource } from 'typeorm';
import type { Config } from '../config';
import type { FunnelBudget } from '../funnel/funnel-budget';
import type { FunnelJob, FunnelOutcome } from '../funnel/funnel-jobs';
import type { FunnelEngine } from '../funnel/funnel.service';
import type { EventCounts, EventCountsSource } from '../events/event.service';
import { ClickHouseClient, clickhouseClientOf } from './clickhouse-client';
import { ClickHouseFunnels } from './clickhouse-funnels';
import { ClickHouseSync } from './clickhouse-sync';
import { tableName } from './clickhouse-schema';

/** What health shows about the analytics store. */
export interface AnalyticsHealth {
  /** inprocess or clickhouse. */
  engine: string;
  /** Seconds since the snapshot of the last complete copy into ClickHouse (null: in-process, or nothing copied yet). */
  lagSeconds: number | null;
  syncedAt: Date | null;
  eventsCopied: number;
  /** Generic reason of the last failed copy ("sync failed"); the details are in the server log. Null after a success. */
  lastError: string | null;
  lastErrorAt: Date | null;
}

export interface ClickHouseAnalyticsOptions {
  database: string;
  batchSize: number;
  /** FUNNELCAST_CLICKHOUSE_DELETION_LOG_DAYS (default 7). */
  deletionLogDays?: number;
  /**
   * Compute levels in ClickHouse's `windowFunnel` for the units where it provably agrees with the
   * in-process engine (clickhouse-funnels.ts); default true. False evaluates every unit in the API
   * process (the differential test and the bench compare the two).
   */
  pushLevels?: boolean;
  /** FUNNELCAST_CLICKHOUSE_SLICE_EVENTS (default 1,000,000): events per slice of users a funnel query reads at a time. */
  sliceEvents?: number;
}

export class ClickHouseAnalytics implements FunnelEngine, EventCountsSource {
  readonly sync: ClickHouseSync;
  readonly funnels: ClickHouseFunnels;

  private readonly database: string;

  constructor(
    dataSource: DataSource,
    readonly client: ClickHouseClient,
    options: ClickHouseAnalyticsOptions,
  ) {
    this.database = options.database;
    this.sync = new ClickHouseSync(dataSource, client, { database: options.database, batchSize: options.batchSize, deletionLogDays: options.deletionLogDays });
    this.funnels = new ClickHouseFunnels(dataSource, client, this.sync, options.database);
    this.funnels.pushLevels = options.pushLevels ?? true;
    if (options.sliceEvents !== undefined) this.funnels.sliceEvents = options.sliceEvents;
  }

  /** The store the configuration describes (chdb on FUNNELCAST_CLICKHOUSE_PATH, or the server at FUNNELCAST_CLICKHOUSE_URL). */
  static fromConfig(dataSource: DataSource, config: Config): ClickHouseAnalytics {
    return new ClickHouseAnalytics(dataSource, clickhouseClientOf(config), {
      database: config.clickhouseDatabase,
      batchSize: config.clickhouseSyncBatch,
      deletionLogDays: config.clickhouseDeletionLogDays,
      sliceEvents: config.clickhouseSliceEvents,
    });
  }

  get description(): string {
    return `clickhouse (${this.client.description})`;
  }

  compute(job: FunnelJob, budget: FunnelBudget): Promise<FunnelOutcome> {
    return this.funnels.compute(job, budget);
  }

  /**
   * eventStats' counts from ClickHouse's copy of `events` (caught up first, as before a funnel, so
   * every event committed before the call counts): per UTC day and type, distinct users, and
   * distinct (user, session id) pairs. `FINAL` counts an event copied twice once and drops deleted
   * ones, so the numbers are PostgreSQL's.
   */
  async eventCounts(from: Date, to: Date): Promise<EventCounts> {
    await this.sync.catchUp();
    const events = tableName(this.database, 'events');
    // Whole microseconds, as `ts` is stored; the half-open range as in PostgreSQL.
    const range = `ts >= ${from.getTime() * 1000} AND ts < ${to.getTime() * 1000}`;
    const [byDayType, [distinct]] = await Promise.all([
      this.client.query<{ day: string; type: string; count: number }>(
        `SELECT formatDateTime(fromUnixTimestamp64Micro(ts, 'UTC'), '%Y-%m-%d') AS day, type, count() AS count
         FROM ${events} FINAL WHERE ${range} GROUP BY day, type`,
      ),
      this.client.query<{ users: number; sessions: number }>(
        `SELECT uniqExact(user_id) AS users, uniqExactIf((user_id, assumeNotNull(session_id)), session_id IS NOT NULL) AS sessions
         FROM ${events} FINAL WHERE ${range}`,
      ),
    ]);
    return {
      byDayType: byDayType.map((row) => ({ day: row.day, type: row.type, count: Number(row.count) })),
      distinctUsers: Number(distinct?.users ?? 0),
      distinctSessions: Number(distinct?.sessions ?? 0),
    };
  }

  async warmUp(): Promise<number> {
    return (await this.sync.catchUp()).events;
  }

  /** Keeps ClickHouse caught up in the background (besides the catch-up before every funnel), so lag stays small between queries. */
  start(intervalMs: number): void {
    this.sync.start(intervalMs);
  }

  health(): AnalyticsHealth {
    const status = this.sync.status;
    return {
      engine: 'clickhouse',
      lagSeconds: status.syncedAt === null ? null : Math.max(0, (Date.now() - status.syncedAt.getTime()) / 1000),
      syncedAt: status.syncedAt,
      eventsCopied: status.eventsCopied,
      lastError: status.lastError === null ? null : 'sync failed',
      lastErrorAt: status.lastErrorAt,
    };
  }

  async close(): Promise<void> {
    await this.sync.close();
    await this.client.close();
  }
}

/** Health of the in-process engine: nothing to copy, nothing to lag. */
export const IN_PROCESS_HEALTH: AnalyticsHealth = { engine: 'inprocess', lagSeconds: null, syncedAt: null, eventsCopied: 0, lastError: null, lastErrorAt: null };
