import type { DataSource } from 'typeorm';
import type { PoolClient } from 'pg';
import { withPgClient } from '../db/data-source';
import { eventPartitions, EventPartition, monthStart, retentionCutoff } from '../events/event-partitions';
import { logger } from '../logger';

export interface RetentionOptions {
  /** Days events are kept (FUNNELCAST_RETENTION_DAYS); undefined: kept for ever. */
  eventDays: number | undefined;
  /** Days recommendation feedback is kept (FUNNELCAST_FEEDBACK_RETENTION_DAYS); undefined: kept for ever. */
  feedbackDays: number | undefined;
  /** Rows per DELETE when pruning `event_ids` and `recommendation_feedback` (default 10,000). */
  batchSize?: number;
  /** Runs after a run that removed events, before `run` resolves (this process's mirror and caches). */
  afterRun?: () => Promise<void>;
}

/** One month of events removed (or, in a dry run, that would be). */
export interface RemovedMonth {
  partition: string;
  /** The month's span, [from, to), UTC. */
  from: Date;
  to: Date;
  /** Its events (counted after DETACH, before DROP; in a dry run counted in place). */
  events: number;
}

/** What a retention run did (or, with `dryRun`, would do). */
export interface RetentionResult {
  dryRun: boolean;
  /** Events before this instant (a UTC month boundary) are gone; null when event retention is off. */
  eventCutoff: Date | null;
  /** Feedback before this instant is gone; null when feedback retention is off. */
  feedbackCutoff: Date | null;
  months: RemovedMonth[];
  /** Idempotency keys (`event_ids`) of removed events pruned. */
  eventIds: number;
  /** `recommendation_feedback` rows deleted. */
  feedback: number;
  /** `retention_runs.id` of this run; null for a dry run or when no month boundary was passed. */
  runId: string | null;
  /** Wall-clock seconds of the whole run, and of the DETACH + DROP of the months alone. */
  seconds: number;
  dropSeconds: number;
  /** True when another run held the lock, so this one did nothing. */
  skipped: boolean;
}

const DAY_MS = 86_400_000;
const RETENTION_LOCK = `hashtext('funnelcast.retention')`;

/**
 * Retention (docs/privacy.md, "Retention"): events leave by whole UTC months, feedback by bounded
 * batches.
 *
 * Events: the cutoff is the start of the month holding `now - eventDays`, so an event is kept at
 * least `eventDays` and less than a month longer. A run (1) records the cutoff in `retention_runs`
 * (committed first: from then on ingest and import refuse older events, `BEYOND_RETENTION`), (2)
 * for every partition wholly before it runs `ALTER TABLE events DETACH PARTITION … CONCURRENTLY`
 * (no lock that stops inserts or reads of `events`; it waits for the queries that use the month)
 * and `DROP TABLE`, (3) prunes the removed events' idempotency keys from `event_ids` in batches,
 * and (4) marks the run finished, which every API process's watch (privacy/erasure-watch.ts,
 * `RETENTION_RUNS`) takes as the signal to reload its funnel mirror and empty its served-list cache,
 * and which the ClickHouse sync turns into `ALTER TABLE … DROP PARTITION` (a dropped partition fires
 * no row trigger, so the deletion log never sees these events).
 *
 * Feedback (`recommendation_feedback`): `DELETE … WHERE ts < now - feedbackDays`, `batchSize` rows
 * per statement through its `ts` index. It is not partitioned: it is written at a fraction of the
 * event rate, no in-memory copy follows it, and partitioning would cost its `(recommendation_id,
 * type)` uniqueness the same detour as `event_ids`.
 *
 * One run at a time (a session advisory lock; a second run returns `skipped`). A run that stopped
 * half-way is completed by the next: a partition left "detach pending" is finalized first.
 */
export class RetentionService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly options: RetentionOptions,
  ) {}

  /** Whether any retention is configured. */
  get enabled(): boolean {
    return this.options.eventDays !== undefined || this.options.feedbackDays !== undefined;
  }

  /**
   * Removes what is older than the retention periods; `dryRun` only reports it. `requestedBy` goes
   * to `retention_runs` (e.g. `worker`, `cli (alice)`). `now` is for tests.
   */
  async run(options: { dryRun?: boolean; requestedBy: string; now?: Date }): Promise<RetentionResult> {
    const started = performance.now();
    const now = (options.now ?? new Date()).getTime();
    const dryRun = options.dryRun ?? false;
    const { eventDays, feedbackDays } = this.options;
    const eventCutoff = eventDays === undefined ? null : new Date(monthStart(now - eventDays * DAY_MS));
    const feedbackCutoff = feedbackDays === undefined ? null : new Date(now - feedbackDays * DAY_MS);
    const result: RetentionResult = { dryRun, eventCutoff, feedbackCutoff, months: [], eventIds: 0, feedback: 0, runId: null, seconds: 0, dropSeconds: 0, skipped: false };

    await withPgClient(this.dataSource, async (client) => {
      const [{ locked }] = (await client.query<{ locked: boolean }>(`SELECT pg_try_advisory_lock(${RETENTION_LOCK}) AS locked`)).rows;
      if (!locked) {
        result.skipped = true;
        return;
      }
      try {
        if (eventCutoff) await this.events(client, eventCutoff, dryRun, options.requestedBy, result);
        if (feedbackCutoff) {
          result.feedback = dryRun
            ? Number((await client.query(`SELECT count(*) AS n FROM recommendation_feedback WHERE ts < $1`, [feedbackCutoff])).rows[0].n)
            : await this.deleteInBatches(client, 'recommendation_feedback', feedbackCutoff);
        }
      } finally {
        await client.query(`SELECT pg_advisory_unlock(${RETENTION_LOCK})`);
      }
    });
    if (result.runId !== null) await this.options.afterRun?.();
    result.seconds = (performance.now() - started) / 1000;
    if (!dryRun && !result.skipped) {
      logger().info(
        { eventCutoff, feedbackCutoff, months: result.months.map((m) => ({ partition: m.partition, events: m.events })), eventIds: result.eventIds, feedback: result.feedback, seconds: result.seconds, dropSeconds: result.dropSeconds },
        'retention run finished',
      );
    }
    return result;
  }

  private async events(client: PoolClient, cutoff: Date, dryRun: boolean, requestedBy: string, result: RetentionResult): Promise<void> {
    // A run interrupted after its DETACH committed its first half leaves the month "detach pending".
    const pending = (await client.query<{ name: string }>(
      `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'events'::regclass AND i.inhdetachpending`,
    )).rows;
    const rows = { query: async (sql: string) => (await client.query(sql)).rows };
    const old = (await eventPartitions(rows)).filter((p) => p.to.getTime() <= cutoff.getTime());
    const previous = await retentionCutoff(rows);
    if (dryRun) {
      for (const p of old) result.months.push({ ...monthOf(p), events: await countRows(client, p.name) });
      return;
    }
    const advances = previous === null || previous.getTime() < cutoff.getTime();
    if (!advances && old.length === 0 && pending.length === 0) {
      result.eventIds = await this.deleteInBatches(client, 'event_ids', cutoff);
      return;
    }
    // The watermark first: from its commit on, writers refuse events before it.
    const watermark = previous && previous.getTime() > cutoff.getTime() ? previous : cutoff;
    result.runId = (await client.query<{ id: string }>(`INSERT INTO retention_runs (requested_by, cutoff) VALUES ($1, $2) RETURNING id::text AS id`, [requestedBy, watermark])).rows[0].id;
    const dropStarted = performance.now();
    for (const { name } of pending) {
      await client.query(`ALTER TABLE events DETACH PARTITION ${quoteIdent(name)} FINALIZE`);
      await client.query(`DROP TABLE ${quoteIdent(name)}`);
    }
    for (const p of old) {
      await client.query(`ALTER TABLE events DETACH PARTITION ${quoteIdent(p.name)} CONCURRENTLY`);
      const events = await countRows(client, p.name);
      await client.query(`DROP TABLE ${quoteIdent(p.name)}`);
      result.months.push({ ...monthOf(p), events });
    }
    result.dropSeconds = (performance.now() - dropStarted) / 1000;
    result.eventIds = await this.deleteInBatches(client, 'event_ids', cutoff);
    await client.query(`UPDATE retention_runs SET finished_at = clock_timestamp(), removed = $2 WHERE id = $1`, [
      result.runId,
      JSON.stringify({ months: result.months.map((m) => ({ partition: m.partition, events: m.events })), eventIds: result.eventIds }),
    ]);
  }

  /** Deletes rows with `ts < before` from a narrow table, `batchSize` per statement (each its own transaction). */
  private async deleteInBatches(client: PoolClient, table: 'event_ids' | 'recommendation_feedback', before: Date): Promise<number> {
    const batch = this.options.batchSize ?? 10_000;
    let total = 0;
    for (;;) {
      const deleted = await client.query(`DELETE FROM ${table} WHERE ctid = ANY (ARRAY(SELECT ctid FROM ${table} WHERE ts < $1 LIMIT $2))`, [before, batch]);
      total += deleted.rowCount ?? 0;
      if ((deleted.rowCount ?? 0) < batch) return total;
    }
  }
}

function monthOf(p: EventPartition): Omit<RemovedMonth, 'events'> {
  return { partition: p.name, from: p.from, to: p.to };
}

async function countRows(client: PoolClient, table: string): Promise<number> {
  return Number((await client.query(`SELECT count(*) AS n FROM ${quoteIdent(table)}`)).rows[0].n);
}

function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
