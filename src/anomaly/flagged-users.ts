import type { DataSource } from 'typeorm';
import { DEFAULT_DETECTOR_WEIGHTS, DETECTORS, type Detector, type DetectorWeights } from './ensemble';

export const KIND_OF: Record<Detector, string> = {
  STATISTICAL: 'ANOMALY_STATISTICAL',
  ISOLATION_FOREST: 'ANOMALY_ISOLATION_FOREST',
  SUPERVISED: 'ANOMALY_SUPERVISED',
};

/**
 * Per-(user, day) ensemble of the ACTIVE anomaly versions: weighted mean of the scores they gave
 * that user-day. Parameters $1 (kinds) and $2 (weights) come from `ensembleParams`.
 */
export const DAY_ENSEMBLE_SQL = `
  SELECT s.user_id, s.day,
         sum(s.score * w.weight) / nullif(sum(w.weight), 0) AS score,
         min(s.first_event_at) AS first_event_at,
         max(s.last_event_at) AS last_event_at
  FROM anomaly_scores s
  JOIN model_versions v ON v.id = s.model_version_id AND v.status = 'ACTIVE'
  JOIN unnest($1::text[], $2::float8[]) AS w(kind, weight) ON w.kind = v.kind
  GROUP BY s.user_id, s.day`;

export function ensembleParams(weights: DetectorWeights = DEFAULT_DETECTOR_WEIGHTS): [string[], number[]] {
  return [DETECTORS.map((d) => KIND_OF[d]), DETECTORS.map((d) => weights[d])];
}

/**
 * SQL for the set of anomalous users (one `user_id` column): the ensemble score of any of their
 * days ≥ threshold, or (with `guardMarks`, the default) marked by the ingest guard. Its parameters
 * are `flaggedUsersParams(threshold)`, starting at `firstParameter`; other queries embed it as
 * `user_id NOT IN (…)`.
 */
export function flaggedUsersSql(firstParameter = 1, guardMarks = true): string {
  const [a, b, c] = [firstParameter, firstParameter + 1, firstParameter + 2];
  const scored = `SELECT user_id FROM (${DAY_ENSEMBLE_SQL.replace('$1', `$${a}`).replace('$2', `$${b}`)}) e WHERE e.score >= $${c}`;
  return guardMarks ? `${scored}
          UNION SELECT user_id FROM suspect_users` : scored;
}

export function flaggedUsersParams(threshold: number, weights?: DetectorWeights): [string[], number[], number] {
  return [...ensembleParams(weights), threshold];
}

/**
 * Dense ids of the anomalous users: what funnels with `excludeAnomalous` leave out (guard marks
 * included) and what training leaves out (`guardMarks: false`). Training does not take the ingest
 * guard's mark alone: anyone with a client key can send a burst of events as any user, and a mark
 * that left that user out of every model would let them switch a real customer's recommendations
 * off. The burst still reaches the detectors, whose scores (trained first by trainAll) decide.
 */
export async function loadFlaggedUserIds(dataSource: DataSource, threshold: number, weights?: DetectorWeights, options: { guardMarks?: boolean } = {}): Promise<Set<number>> {
  const rows: { user_id: number }[] = await dataSource.query(flaggedUsersSql(1, options.guardMarks ?? true), flaggedUsersParams(threshold, weights));
  return new Set(rows.map((row) => row.user_id));
}
