import type { DataSource } from 'typeorm';

/**
 * What a training run would read, summarised: the part of a training request's identity that says
 * which data it means. Two requests with the same kind, params and range but different fingerprints
 * train separately; with the same fingerprint the second gets the first one's job.
 *
 * - `events`: count, sum of ids and largest id of the events with from ≤ ts < to (to left out:
 *   every event from `from` on). Events are only ever added, so any added event changes the count,
 *   including one with a small id committed late by a long transaction (a watermark on the largest
 *   id alone misses those); the sum of ids also changes when one event is replaced by another,
 *   since ids are never reused. It is every event type of the range: which types a kind reads is
 *   the kind's business, and training again after an irrelevant late event costs only time.
 * - `catalogue`: count of items and sum of their `updated_at` (seconds): every upsert moves an
 *   item's `updated_at` forward, so any catalogue change (category, price, availability, a new
 *   item) changes it. Kinds read item categories and prices.
 * - `labels`: the admin's user labels (count and sum of `labelled_at`); ANOMALY_SUPERVISED learns
 *   from them.
 * - `flagged` (only for runs that leave anomalous users out): the ACTIVE anomaly versions whose
 *   scores flag users (the ingest guard's marks alone leave no one out of training).
 *
 * Everything is read in one statement, so one snapshot. The events part reads the range through
 * the BRIN index on `ts` and costs in proportion to the range's size (see docs/training.md for the
 * 10M-event figure); the rest reads small tables. It is taken when the request arrives, and a job
 * trains on what is committed when its worker reads, which can only be more: an identical request
 * whose fingerprint matches an existing job's therefore gets a job that read exactly this data
 * (see `TrainingService.trainModel`).
 */
export interface TrainingInputFingerprint {
  events: string;
  catalogue: string;
  labels: string;
  flagged: string | null;
}

export async function trainingInputFingerprint(
  dataSource: DataSource,
  range: { from: Date | null; to: Date | null },
  leavesOutAnomalous: boolean,
): Promise<TrainingInputFingerprint> {
  const bounds: string[] = [];
  const values: unknown[] = [];
  // Conditions only for the bounds there are: a "$1 IS NULL OR ts >= $1" would hide the range from the planner.
  if (range.from) bounds.push(`ts >= $${values.push(range.from)}`);
  if (range.to) bounds.push(`ts < $${values.push(range.to)}`);
  const [row]: TrainingInputFingerprint[] = await dataSource.query(
    `SELECT
       (SELECT count(*) || ':' || COALESCE(sum(id), 0) || ':' || COALESCE(max(id), 0)
        FROM events ${bounds.length ? `WHERE ${bounds.join(' AND ')}` : ''}) AS events,
       (SELECT count(*) || ':' || COALESCE(sum(extract(epoch FROM updated_at)), 0) FROM items) AS catalogue,
       (SELECT count(*) || ':' || COALESCE(sum(extract(epoch FROM labelled_at)), 0) FROM user_labels) AS labels,
       ${
         leavesOutAnomalous
           ? `(SELECT COALESCE(string_agg(id::text, ',' ORDER BY id), '') FROM model_versions WHERE status = 'ACTIVE' AND kind LIKE 'ANOMALY\\_%')`
           : 'NULL::text'
       } AS flagged`,
    values,
  );
  return row;
}
