import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { config } from '../config';
import { OperationLabels } from './operation-labels';

/**
 * The one metrics module (prom-client): a registry per process holding Node's default metrics and
 * every `funnelcast_*` metric. Services count what they do through `metrics()`; values that live
 * elsewhere (queue depths in Redis, the funnel mirror's size) are read when Prometheus scrapes,
 * from the sources an app registers (`addQueueSource`, `addMirrorSource`). docs/operations.md lists
 * every metric with its labels.
 *
 * Labels take few values: operation names are capped (OperationLabels), error codes are the public
 * set, and nothing carries a user, item, key or variable.
 */

/** Seconds; from a health-check-fast GraphQL answer to a funnel over millions of events. */
const REQUEST_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
/** Seconds; a model trains in seconds on a small shop and in hours on a large one. */
const TRAINING_BUCKETS = [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 14400];

/** A BullMQ queue whose job counts are read at scrape time. */
export interface QueueDepthSource {
  queue: string;
  /** Jobs per state (waiting, active, delayed, failed); rejects when Redis does not answer. */
  jobCounts(): Promise<Record<string, number>>;
}

/** A funnel event mirror, read at scrape time. */
export interface MirrorSource {
  /** Events the mirror holds now. */
  readonly eventCount: number;
  /** Committed events it has not read yet, counted up to `cap`; null before its first load. */
  pendingEvents(cap: number): Promise<number | null>;
}

/** A ClickHouse sync (analytics/clickhouse-sync.ts), read at scrape time. */
export interface ClickHouseSyncSource {
  /** `syncedAt`: when the last complete catch-up took its PostgreSQL snapshot; null before the first. */
  readonly status: { syncedAt: Date | null };
}

/** A scrape waits this long for Redis or PostgreSQL before leaving that value out. */
const SOURCE_TIMEOUT_MS = 2000;
/** Pending events are counted up to this many (an index scan of what arrived since the last catch-up). */
export const MIRROR_LAG_CAP = 1_000_000;

function withinTimeout<T>(work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    work,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('metrics source timed out')), SOURCE_TIMEOUT_MS);
    }),
  ]).finally(() => clearTimeout(timer));
}

export class FunnelcastMetrics {
  readonly registry = new Registry();
  readonly operations: OperationLabels;
  private readonly queueSources = new Set<QueueDepthSource>();
  private readonly mirrorSources = new Set<MirrorSource>();
  private readonly clickhouseSyncSources = new Set<ClickHouseSyncSource>();

  /** GraphQL requests over HTTP, by operation and outcome (`ok` or the first error's code). */
  readonly graphqlRequests: Counter<'operation' | 'outcome'>;
  /** Their time from arrival to the last byte of the answer, seconds; outcome `ok` or `error` only. */
  readonly graphqlRequestDuration: Histogram<'operation' | 'outcome'>;
  /** Every error in a GraphQL answer (and every refusal before GraphQL), by code. */
  readonly graphqlErrors: Counter<'code'>;
  /** Events sent to ingestEvents, by what became of them. */
  readonly ingestEvents: Counter<'outcome'>;
  /** Rejected events by reason code (INVALID_EVENT_TYPE, FUTURE_TIMESTAMP, …). */
  readonly ingestRejections: Counter<'code'>;
  /** One funnel field's work, catch-up and computation, seconds, by the engine that answered (inprocess or clickhouse). */
  readonly funnelQueryDuration: Histogram<'query' | 'outcome' | 'engine'>;
  /** One catch-up of the funnel mirror with PostgreSQL, seconds. */
  readonly mirrorCatchUpDuration: Histogram;
  /** Events read into the funnel mirror by catch-ups (the first load included). */
  readonly mirrorCaughtUpEvents: Counter;
  /** Served-list cache lookups, `hit` or `miss`. */
  readonly servedListCache: Counter<'result'>;
  /** Times this process dropped its in-memory copies after user erasures (privacy/erasure-watch.ts). */
  readonly erasureDrops: Counter;
  /** A training job's attempt, from a worker taking it to its end, seconds (worker process). */
  readonly trainingDuration: Histogram<'kind' | 'outcome'>;
  /** Rows the ClickHouse sync inserted: `event` (a copied event; one read twice counts twice) or `deletion` (a tombstone). */
  readonly clickhouseSyncEvents: Counter<'kind'>;
  /** ClickHouse sync catch-ups that failed (the next one retries from the same position). */
  readonly clickhouseSyncFailures: Counter;

  constructor(maxOperations: number) {
    const registers = [this.registry];
    this.operations = new OperationLabels(maxOperations);
    collectDefaultMetrics({ register: this.registry });
    this.graphqlRequests = new Counter({
      name: 'funnelcast_graphql_requests_total',
      help: 'GraphQL requests by operation name and outcome (ok, or the code of the first error).',
      labelNames: ['operation', 'outcome'],
      registers,
    });
    this.graphqlRequestDuration = new Histogram({
      name: 'funnelcast_graphql_request_duration_seconds',
      help: 'GraphQL request latency from arrival to the end of the answer, by operation name and outcome (ok or error).',
      labelNames: ['operation', 'outcome'],
      buckets: REQUEST_BUCKETS,
      registers,
    });
    this.graphqlErrors = new Counter({
      name: 'funnelcast_graphql_errors_total',
      help: 'Errors answered to GraphQL requests (refusals before GraphQL included), by code.',
      labelNames: ['code'],
      registers,
    });
    this.ingestEvents = new Counter({
      name: 'funnelcast_ingest_events_total',
      help: 'Events sent to ingestEvents: accepted (stored), duplicate (eventId already stored) or rejected.',
      labelNames: ['outcome'],
      registers,
    });
    this.ingestRejections = new Counter({
      name: 'funnelcast_ingest_rejected_events_total',
      help: 'Events rejected by ingestEvents, by reason code.',
      labelNames: ['code'],
      registers,
    });
    this.funnelQueryDuration = new Histogram({
      name: 'funnelcast_funnel_query_duration_seconds',
      help: 'Funnel computations (report, trend, timeToConvert, droppedOff, drivers), catch-up included, by outcome (ok or error) and the engine that answered (inprocess or clickhouse).',
      labelNames: ['query', 'outcome', 'engine'],
      buckets: REQUEST_BUCKETS,
      registers,
    });
    this.mirrorCatchUpDuration = new Histogram({
      name: 'funnelcast_funnel_mirror_catch_up_duration_seconds',
      help: 'Catch-ups of the in-process funnel mirror with PostgreSQL (one runs before each funnel query; the first one loads everything).',
      buckets: REQUEST_BUCKETS,
      registers,
    });
    this.mirrorCaughtUpEvents = new Counter({
      name: 'funnelcast_funnel_mirror_caught_up_events_total',
      help: 'Events read into the funnel mirror by its catch-ups.',
      registers,
    });
    this.servedListCache = new Counter({
      name: 'funnelcast_served_list_cache_requests_total',
      help: 'Lookups in the served recommendation list cache: hit (the list was reused) or miss.',
      labelNames: ['result'],
      registers,
    });
    this.erasureDrops = new Counter({
      name: 'funnelcast_erasure_memory_drops_total',
      help: 'Times this API process dropped its in-memory copies (funnel mirror, recommendation caches and factors) after one or more user erasures.',
      registers,
    });
    this.trainingDuration = new Histogram({
      name: 'funnelcast_training_duration_seconds',
      help: 'Training job attempts by model kind and outcome (completed or failed), from a worker taking the job to its end. Served by the worker process.',
      labelNames: ['kind', 'outcome'],
      buckets: TRAINING_BUCKETS,
      registers,
    });
    this.clickhouseSyncEvents = new Counter({
      name: 'funnelcast_clickhouse_sync_events_total',
      help: 'Rows the ClickHouse sync inserted into ClickHouse: event (a copied event; one read again after a failed catch-up counts again) or deletion (a tombstone).',
      labelNames: ['kind'],
      registers,
    });
    this.clickhouseSyncFailures = new Counter({
      name: 'funnelcast_clickhouse_sync_failures_total',
      help: 'ClickHouse sync catch-ups that failed; the next one retries from the same position.',
      registers,
    });
    const clickhouseSyncSources = this.clickhouseSyncSources;
    new Gauge({
      name: 'funnelcast_clickhouse_sync_lag_seconds',
      help: 'Seconds since the PostgreSQL snapshot of the ClickHouse sync\'s last complete catch-up (FUNNELCAST_ANALYTICS=clickhouse), the oldest over this process\'s syncs; absent before the first.',
      registers,
      collect() {
        let oldest: number | null = null;
        for (const source of clickhouseSyncSources) {
          const syncedAt = source.status.syncedAt;
          if (syncedAt !== null) oldest = Math.min(oldest ?? Infinity, syncedAt.getTime());
        }
        if (oldest === null) this.remove();
        else this.set(Math.max(0, (Date.now() - oldest) / 1000));
      },
    });
    const queueSources = this.queueSources;
    new Gauge({
      name: 'funnelcast_queue_jobs',
      help: 'BullMQ jobs per queue and state (waiting, active, delayed, failed), read from Redis at scrape time; absent while Redis does not answer.',
      labelNames: ['queue', 'state'],
      registers,
      async collect() {
        this.reset();
        await Promise.all(
          [...queueSources].map(async (source) => {
            try {
              const counts = await withinTimeout(source.jobCounts());
              for (const [state, count] of Object.entries(counts)) this.set({ queue: source.queue, state }, count);
            } catch {
              // Redis is away: leave this queue out rather than fail the whole scrape.
            }
          }),
        );
      },
    });
    const mirrorSources = this.mirrorSources;
    new Gauge({
      name: 'funnelcast_funnel_mirror_events',
      help: 'Events held by the in-process funnel mirror (0 until the first funnel query or warm-up loads it).',
      registers,
      collect() {
        let total = 0;
        for (const source of mirrorSources) total += source.eventCount;
        this.set(total);
      },
    });
    new Gauge({
      name: 'funnelcast_funnel_mirror_lag_events',
      help: `Events committed to PostgreSQL that the funnel mirror has not read yet (the next catch-up reads them), counted up to ${MIRROR_LAG_CAP}; absent before the first load or while PostgreSQL does not answer.`,
      registers,
      async collect() {
        let total: number | null = null;
        for (const source of mirrorSources) {
          try {
            const pending = await withinTimeout(source.pendingEvents(MIRROR_LAG_CAP));
            if (pending !== null) total = (total ?? 0) + pending;
          } catch {
            // PostgreSQL is away: no value this scrape.
          }
        }
        // Unknown is no sample rather than 0 (remove() drops an unlabelled gauge's only sample).
        if (total === null) this.remove();
        else this.set(total);
      },
    });
  }

  /** Reads `source` at every scrape until the returned function is called. */
  addQueueSource(source: QueueDepthSource): () => void {
    this.queueSources.add(source);
    return () => this.queueSources.delete(source);
  }

  /** Reads `source` at every scrape until the returned function is called. */
  addMirrorSource(source: MirrorSource): () => void {
    this.mirrorSources.add(source);
    return () => this.mirrorSources.delete(source);
  }

  /** Reads `source`'s lag at every scrape (funnelcast_clickhouse_sync_lag_seconds) until the returned function is called. */
  addClickHouseSyncSource(source: ClickHouseSyncSource): () => void {
    this.clickhouseSyncSources.add(source);
    return () => this.clickhouseSyncSources.delete(source);
  }
}

let processMetrics: FunnelcastMetrics | undefined;

/** This process's metrics, created on first use (FUNNELCAST_METRICS_MAX_OPERATIONS caps operation labels). */
export function metrics(): FunnelcastMetrics {
  processMetrics ??= new FunnelcastMetrics(config().metricsMaxOperations);
  return processMetrics;
}

/** Seconds since `startedMs` (a `performance.now()` reading). */
export function secondsSince(startedMs: number): number {
  return (performance.now() - startedMs) / 1000;
}
