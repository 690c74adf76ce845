/**
 * The users a funnel counts, read from PostgreSQL on the main thread before the funnel's
 * computation is handed to a worker: cohort members (by id or user property) minus anomalous
 * users when the funnel leaves them out.
 */
import type { DataSource } from 'typeorm';
import { loadFlaggedUserIds } from '../anomaly/flagged-users';
import { config } from '../config';
import type { FunnelPlan } from './funnel-definition';
import { compileFilter } from './step-filter';
import { pseudonymousIds } from '../privacy/pseudonym';

/** 1 per dense user id (0..size-1) the funnel counts; null for everyone. */
export async function includedUsers(dataSource: DataSource, plan: FunnelPlan, size: number): Promise<Uint8Array | null> {
  let members = plan.cohort ? await cohortUsers(dataSource, plan.cohort, size) : null;
  if (plan.excludeAnomalous) {
    const flagged = await loadFlaggedUserIds(dataSource, plan.excludeAnomalous.threshold ?? config().anomalyThreshold);
    members ??= new Uint8Array(size).fill(1);
    for (const user of flagged) if (user < size) members[user] = 0;
  }
  return members;
}

/**
 * 1 per dense user id (0..size-1) in the cohort (planCohort's output): listed by id (when ids are
 * given) and passing every user-property filter. Also the members of a drivers cohort factor.
 */
export async function cohortUsers(dataSource: DataSource, cohort: NonNullable<FunnelPlan['cohort']>, size: number): Promise<Uint8Array> {
  let members: Uint8Array | null = null;
  if (cohort.userIds !== null) {
    members = new Uint8Array(size);
    const rows: { id: number }[] = await dataSource.query('SELECT id FROM users WHERE external_id = ANY($1::text[])', [cohort.idsAsStored ? cohort.userIds : pseudonymousIds(cohort.userIds)]);
    for (const { id } of rows) if (id < size) members[id] = 1;
  }
  for (const filter of cohort.userFilters) {
    if (filter.on !== 'property') continue;
    const predicate = compileFilter(filter);
    const passes = new Uint8Array(size).fill(predicate({ type: '', props: null, itemId: null, category: null }) ? 1 : 0);
    // Only users that have the key can differ from the "missing" answer.
    const rows: { id: number; value: unknown }[] = await dataSource.query(
      'SELECT id, properties -> $1 AS value FROM users WHERE properties ? $1',
      [filter.key],
    );
    for (const { id, value } of rows) {
      if (id < size) passes[id] = predicate({ type: '', props: { [filter.key]: value }, itemId: null, category: null }) ? 1 : 0;
    }
    if (members === null) members = passes;
    else for (let u = 0; u < size; u++) members[u] &= passes[u];
  }
  return members ?? new Uint8Array(size).fill(1);
}
