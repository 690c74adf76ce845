import type { DataSource } from 'typeorm';
import { extractUserFeatures, type FeatureWindow, type UserFeatureTable } from './anomaly/feature-extraction';
import type { UserHistory } from './predict/datasets';
import { loadHistories } from './predict/event-history';
import { loadInteractions, type InteractionQuery, type Interactions } from './recommend/interactions';
import { loadItemEvents, type ItemEventLog } from './recommend/item-events';

/**
 * The full scans of the event log that training makes, behind one interface (here, beside
 * model-kinds.ts, since it names the domains' types: training/ never imports a domain; the runner
 * gets the PostgreSQL reader from `TrainingDomains.events`) so they can read
 * PostgreSQL (the system of record, the default) or ClickHouse's copy of the events
 * (FUNNELCAST_ANALYTICS=clickhouse; docs/analytics-store.md, "Training from ClickHouse"). Both
 * implementations return the same rows in the same order, in the same units: times in epoch
 * milliseconds, ids as stored (users.id, items.id), item category and price from the catalog as
 * it is at the read. `test/training-events.clickhouse.e2e.ts` checks that row for row.
 */
export interface TrainingEventReader {
  /** `postgres` or `clickhouse`, for logs and training metrics. */
  readonly engine: 'postgres' | 'clickhouse';
  /** Item events (view…purchase with an item) with from ≤ ts < to, less `excludeUsers`, in (user, ts, id) order (`ItemEventLog`). */
  itemEvents(range: { from: Date | null; to: Date; excludeUsers?: ReadonlySet<number> }): Promise<ItemEventLog>;
  /** Every event with from ≤ ts < to (of `userIds` only, when given), grouped by user in (user, ts, id) order (`loadHistories`). */
  histories(from: Date | null, to: Date, userIds?: readonly number[]): Promise<UserHistory[]>;
  /** The behaviour features of every active (user, UTC day) in the window (`extractUserFeatures`). */
  userFeatures(window: FeatureWindow, onProgress?: (usersDone: number, eventsDone: number) => void): Promise<UserFeatureTable>;
  /** (user, item) pairs split at `splitAt` (`loadInteractions`); pair order is unspecified. */
  interactions(query: InteractionQuery, splitAt: Date): Promise<{ before: Interactions; after: Interactions }>;
}

/** The readers as they always were: SQL over PostgreSQL's `events` (and `items` for categories and prices). */
export class PostgresTrainingEvents implements TrainingEventReader {
  readonly engine = 'postgres' as const;

  constructor(private readonly dataSource: DataSource) {}

  itemEvents(range: { from: Date | null; to: Date; excludeUsers?: ReadonlySet<number> }): Promise<ItemEventLog> {
    return loadItemEvents(this.dataSource, range);
  }

  histories(from: Date | null, to: Date, userIds?: readonly number[]): Promise<UserHistory[]> {
    return loadHistories(this.dataSource, from, to, userIds);
  }

  userFeatures(window: FeatureWindow, onProgress?: (usersDone: number, eventsDone: number) => void): Promise<UserFeatureTable> {
    return extractUserFeatures(this.dataSource, window, onProgress);
  }

  interactions(query: InteractionQuery, splitAt: Date): Promise<{ before: Interactions; after: Interactions }> {
    return loadInteractions(this.dataSource, query, splitAt);
  }
}
