/**
 * Copies PostgreSQL's events into ClickHouse in commit order, in batches, at least once; the
 * ReplacingMergeTree (clickhouse-schema.ts) stores each event once however often it arrives.
 *
 * Commit order is the in-process mirror's (event-mirror.ts): a catch-up reads in one REPEATABLE
 * READ transaction the rows whose inserting transaction (`events.tx`) the previous catch-up's
 * snapshot did not count as committed (`notVisibleIn`), so late commits are never missed. Here the
 * rows are read in pages of `batchSize` by id inside that one transaction (memory stays one page),
 * each page is one INSERT, and the snapshot is written to ClickHouse's `sync_position` only after
 * the last page: a catch-up that fails half-way (or a process killed mid-way) is read again from
 * the old position by the next one, and the rows already inserted are merged away. A restart reads
 * the position back, so it resumes where the last complete catch-up stopped.
 *
 * Deletes: `event_deletions` (filled by a trigger on `events` that `ensureDeletionLog` installs
 * before the first copy; migration 1765400000016) is read the same way, and each deleted event gets
 * a tombstone row (higher version, deleted = 1). TRUNCATE fires no row trigger: after one, empty the
 * ClickHouse table too (docs/analytics-store.md).
 *
 * Metrics: funnelcast_clickhouse_sync_events_total and _failures_total are counted here; the
 * app reads `status.syncedAt` for funnelcast_clickhouse_sync_lag_seconds at scrape time. Rows older than `deletionLogDays` are pruned (by
 * the first catch-up of an instance, then at most hourly), so the log stays small; a copy whose last catch-up is older than that could have
 * missed deletions, and refuses to go on (`StaleCopyError`) until it is copied afresh.
 */
import type { DataSource } from 'typeorm';
import { withPgClient } from '../db/data-source';
import { notVisibleIn, parseSnapshot } from '../funnel/event-mirror';
import { logger } from '../logger';
import { metrics } from '../metrics/metrics';
import type { ClickHouseClient } from './clickhouse-client';
import { sqlString } from './clickhouse-client';
import { DELETION_VERSION, ensureClickHouseSchema, EVENT_VERSION, tableName } from './clickhouse-schema';

export interface ClickHouseSyncStatus {
  /** When the last complete catch-up took its PostgreSQL snapshot; null before the first. */
  syncedAt: Date | null;
  /** Events and deletions this process copied so far (an event read twice counts twice). */
  eventsCopied: number;
  deletionsCopied: number;
  /** The last catch-up's failure (cleared by the next success), with when it happened. */
  lastError: string | null;
  lastErrorAt: Date | null;
}

export interface CatchUpResult {
  events: number;
  deletions: number;
}

export interface ClickHouseSyncOptions {
  database: string;
  /** Rows per INSERT (and per page read from PostgreSQL). */
  batchSize: number;
  /** Called after each inserted page (the backfill command prints progress). */
  onBatch?: (copied: CatchUpResult) => void;
  /** Days `event_deletions` keeps a row (FUNNELCAST_CLICKHOUSE_DELETION_LOG_DAYS); default 7. */
  deletionLogDays?: number;
}

/** The copy's last catch-up is older than the deletion log reaches back: deletions may be missing. */
export class StaleCopyError extends Error {}

/** A copy rewrites its position at least this often, even when no transaction moved the snapshot, so an idle shop never looks stale. */
const POSITION_REFRESH_MS = 60 * 60 * 1000;

/**
 * Installs the trigger that records every deleted event in `event_deletions` (once: it is left
 * alone when present, so a start takes no lock on `events`). Creating it waits for the deletes in
 * flight and holds new ones back for that instant, so no delete commits half-recorded; it must
 * exist before the first copy's snapshot, which `ClickHouseSync.ready` guarantees.
 */
export async function ensureDeletionLog(dataSource: DataSource): Promise<void> {
  const [present] = await dataSource.query(`SELECT 1 FROM pg_trigger WHERE tgname = 'events_record_deletion' AND tgrelid = 'events'::regclass`);
  if (present) return;
  await dataSource.query(`CREATE OR REPLACE TRIGGER events_record_deletion AFTER DELETE ON events FOR EACH ROW EXECUTE FUNCTION record_event_deletion()`);
}

interface EventRow {
  id: string;
  user_id: number;
  session_id: string | null;
  type: string;
  item_id: number | null;
  ts_micros: string;
  props: string | null;
}

interface DeletionRow {
  event_pk: string;
  user_id: number;
  ts_micros: string;
}

/** Which row is the sync's position in `sync_position`. */
const POSITION = 'events';

export class ClickHouseSync {
  private schemaReady: Promise<void> | null = null;
  private queue: Promise<unknown> = Promise.resolve();
  private queued: Promise<CatchUpResult> | null = null;
  private loop: NodeJS.Timeout | null = null;
  private closed = false;
  /** PostgreSQL time of this instance's last prune of the deletion log; null before the first. */
  private prunedAtMs: number | null = null;
  /** The retention cutoff whose months this instance dropped from ClickHouse (ms); null before the first. */
  private retentionAppliedMs: number | null = null;
  private readonly state: ClickHouseSyncStatus = { syncedAt: null, eventsCopied: 0, deletionsCopied: 0, lastError: null, lastErrorAt: null };

  constructor(
    private readonly dataSource: DataSource,
    private readonly clickhouse: ClickHouseClient,
    private readonly options: ClickHouseSyncOptions,
  ) {}

  get status(): ClickHouseSyncStatus {
    return { ...this.state };
  }

  /** Tables created (once per instance). */
  ready(): Promise<void> {
    this.schemaReady ??= Promise.all([ensureDeletionLog(this.dataSource), ensureClickHouseSchema(this.clickhouse, this.options.database)]).then(() => undefined).catch((error) => {
      this.schemaReady = null;
      throw error;
    });
    return this.schemaReady;
  }

  /**
   * Copies every event committed so far (and every deletion) into ClickHouse. Callers arriving
   * while one waits for its turn share it, as the mirror's `sync` does; it starts after they
   * called, so it covers what each of them must see. Rejects with the database's error, after
   * recording it for health.
   */
  catchUp(): Promise<CatchUpResult> {
    if (this.queued === null) {
      const next = this.queue.then(async () => {
        this.queued = null;
        try {
          const result = await this.copyOnce();
          this.state.lastError = null;
          return result;
        } catch (error) {
          this.state.lastError = error instanceof Error ? error.message : String(error);
          this.state.lastErrorAt = new Date();
          metrics().clickhouseSyncFailures.inc();
          throw error;
        }
      });
      this.queue = next.catch(() => undefined);
      this.queued = next;
    }
    return this.queued;
  }

  /** Catches up every `intervalMs` in the background until close(); failures are logged and kept for health. */
  start(intervalMs: number): void {
    if (this.loop !== null || this.closed) return;
    const tick = (): void => {
      this.catchUp()
        .catch((error) => logger().warn({ err: error }, 'ClickHouse sync failed; the next catch-up retries from the same position'))
        .finally(() => {
          if (!this.closed) this.loop = setTimeout(tick, intervalMs).unref();
        });
    };
    this.loop = setTimeout(tick, 0).unref();
  }

  /** Stops the background loop and waits for a catch-up in progress. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.loop) clearTimeout(this.loop);
    await this.queue;
  }

  /** The snapshot the last complete catch-up stopped at (null: nothing copied yet). */
  async position(): Promise<string | null> {
    return (await this.storedPosition())?.snapshot ?? null;
  }

  /** The stored position and the instant its snapshot was taken (PostgreSQL's clock). */
  private async storedPosition(): Promise<{ snapshot: string; takenAtMs: number } | null> {
    await this.ready();
    const rows = await this.clickhouse.query<{ snapshot: string; taken_ms: string | number }>(
      `SELECT snapshot, toUnixTimestamp64Milli(written_at) AS taken_ms FROM ${tableName(this.options.database, 'sync_position')} FINAL WHERE name = ${sqlString(POSITION)}`,
    );
    return rows.length === 0 ? null : { snapshot: rows[0].snapshot, takenAtMs: Number(rows[0].taken_ms) };
  }

  private get deletionLogDays(): number {
    return this.options.deletionLogDays ?? 7;
  }

  private async copyOnce(): Promise<CatchUpResult> {
    const position = await this.storedPosition();
    const stored = position?.snapshot ?? null;
    const previous = stored === null ? null : parseSnapshot(stored);
    const { database, batchSize } = this.options;
    const events = tableName(database, 'events');
    const copied: CatchUpResult = { events: 0, deletions: 0 };
    const { snapshot, takenAt } = await withPgClient(this.dataSource, async (client) => {
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      try {
        await client.query("SET LOCAL timezone = 'UTC'");
        const { rows } = await client.query<{ snapshot: string; taken_at: Date }>('SELECT pg_current_snapshot()::text AS snapshot, now() AS taken_at');
        if (position !== null) this.refuseIfStale(rows[0].taken_at.getTime() - position.takenAtMs);
        const unseen = previous === null ? 'TRUE' : notVisibleIn(previous);
        let after = '0';
        for (;;) {
          const page = await client.query<EventRow>(
            `SELECT id::text, user_id, session_id, type, item_id, (extract(epoch FROM ts) * 1000000)::bigint::text AS ts_micros, props::text AS props
             FROM events WHERE ${unseen} AND events.id > $1::bigint ORDER BY events.id LIMIT $2`,
            [after, batchSize],
          );
          if (page.rows.length === 0) break;
          await this.clickhouse.insert(
            events,
            page.rows.map((row) => ({
              id: Number(row.id),
              user_id: row.user_id,
              session_id: row.session_id,
              type: row.type,
              item_id: row.item_id,
              ts: Number(row.ts_micros),
              props: row.props ?? '',
              version: EVENT_VERSION,
              deleted: 0,
            })),
          );
          copied.events += page.rows.length;
          this.state.eventsCopied += page.rows.length;
          metrics().clickhouseSyncEvents.inc({ kind: 'event' }, page.rows.length);
          this.options.onBatch?.({ ...copied });
          after = page.rows[page.rows.length - 1].id;
          if (page.rows.length < batchSize) break;
        }
        // Before the first copy, events deleted so far are simply not read; afterwards their tombstones follow.
        if (previous !== null) {
          let offset = 0;
          for (;;) {
            const page = await client.query<DeletionRow>(
              `SELECT event_pk::text, user_id, (extract(epoch FROM ts) * 1000000)::bigint::text AS ts_micros
               FROM event_deletions WHERE ${notVisibleIn(previous)} ORDER BY event_deletions.event_pk LIMIT $1 OFFSET $2`,
              [batchSize, offset],
            );
            if (page.rows.length === 0) break;
            await this.clickhouse.insert(
              events,
              page.rows.map((row) => ({
                id: Number(row.event_pk),
                user_id: row.user_id,
                session_id: null,
                type: '',
                item_id: null,
                ts: Number(row.ts_micros),
                props: '',
                version: DELETION_VERSION,
                deleted: 1,
              })),
            );
            copied.deletions += page.rows.length;
            this.state.deletionsCopied += page.rows.length;
            metrics().clickhouseSyncEvents.inc({ kind: 'deletion' }, page.rows.length);
            this.options.onBatch?.({ ...copied });
            offset += page.rows.length;
            if (page.rows.length < batchSize) break;
          }
        }
        const [{ cutoff }] = (await client.query<{ cutoff: Date | null }>(`SELECT max(cutoff) AS cutoff FROM retention_runs WHERE finished_at IS NOT NULL`)).rows;
        await client.query('COMMIT');
        if (cutoff !== null && (this.retentionAppliedMs === null || cutoff.getTime() > this.retentionAppliedMs)) await this.dropMonthsBefore(cutoff);
        return { snapshot: rows[0].snapshot, takenAt: rows[0].taken_at };
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw error;
      }
    });
    // The position moves only once every page is in. Its time is the snapshot's (PostgreSQL's
    // clock), which the staleness check and the pruning below both measure against.
    if (snapshot !== stored || position === null || takenAt.getTime() - position.takenAtMs > POSITION_REFRESH_MS) {
      await this.clickhouse.insert(tableName(database, 'sync_position'), [{ name: POSITION, snapshot, written_at: takenAt.toISOString().replace('T', ' ').replace('Z', '') }]);
    }
    this.state.syncedAt = takenAt;
    // Catch-ups run before every funnel query: the log is pruned at most once per refresh period
    // (a row lives a little past its days, never less).
    if (this.prunedAtMs === null || takenAt.getTime() - this.prunedAtMs > POSITION_REFRESH_MS) {
      await this.dataSource.query(`DELETE FROM event_deletions WHERE deleted_at < now() - make_interval(days => $1)`, [this.deletionLogDays]);
      this.prunedAtMs = takenAt.getTime();
    }
    return copied;
  }

  /**
   * Retention (docs/privacy.md): drops ClickHouse's monthly partitions before `cutoff` (a UTC month
   * boundary), as PostgreSQL dropped its own. A dropped PostgreSQL partition fires no row trigger,
   * so the deletion log never sees these events; the finished run in `retention_runs` is the signal
   * instead. Done after the catch-up's pages: a finished run means no transaction can still write
   * those months, so nothing copied later lands in them again.
   */
  private async dropMonthsBefore(cutoff: Date): Promise<void> {
    const month = cutoff.getUTCFullYear() * 100 + cutoff.getUTCMonth() + 1;
    const { database } = this.options;
    const parts = await this.clickhouse.query<{ partition_id: string }>(
      `SELECT DISTINCT partition_id FROM system.parts WHERE database = ${sqlString(database)} AND table = 'events' AND active AND toUInt32OrZero(partition_id) < ${month}`,
    );
    for (const { partition_id } of parts) await this.clickhouse.command(`ALTER TABLE ${tableName(database, 'events')} DROP PARTITION ID ${sqlString(partition_id)}`);
    this.retentionAppliedMs = cutoff.getTime();
    if (parts.length > 0) logger().info({ cutoff, partitions: parts.map((p) => p.partition_id) }, 'ClickHouse: months before the retention cutoff dropped');
  }

  /** Throws StaleCopyError when the copy's last catch-up is older than the deletion log reaches back. */
  private refuseIfStale(ageMs: number): void {
    const ageDays = ageMs / 86_400_000;
    if (ageDays <= this.deletionLogDays) return;
    throw new StaleCopyError(
      `The ClickHouse copy was last brought up to date ${ageDays.toFixed(1)} days ago, longer than the deletion log keeps deletions ` +
        `(FUNNELCAST_CLICKHOUSE_DELETION_LOG_DAYS = ${this.deletionLogDays}), so events deleted since may still be in it. ` +
        'Copy it afresh: funnelcast clickhouse-backfill --reset.',
    );
  }
}
