import { randomBytes } from 'node:crypto';
import type { DataSource, EntityManager } from 'typeorm';
import { badInput } from '../graphql/errors';
import { logger } from '../logger';
import { MODEL_KINDS } from '../model-kinds';
import { USER_ERASURE_LOCK } from '../training/model-kind';
import { pseudonymousId } from './pseudonym';

/** The `server_secrets` row that keys tombstones (see migration 1765500000000). */
export const TOMBSTONE_SECRET = 'erasure-tombstones';

/** Rows removed from one table (or artifacts rewritten, for `model_versions`). */
export interface RemovedRows {
  table: string;
  rows: number;
}

/** What one `forgetUser` did: the audit log's row, which holds no user id. */
export interface ErasureRecord {
  /** `user_erasures.id`, as text (bigint). */
  id: string;
  requestedBy: string;
  requestedAt: Date;
  finishedAt: Date;
  /** False when no user had this id (already erased, or never seen): nothing to remove, the tombstone is still renewed. */
  userFound: boolean;
  /** Every table looked at, in the order they were emptied, with 0 where the user had nothing. */
  removed: RemovedRows[];
}

/**
 * Tables keyed by the dense `users.id` (`user_id`), emptied of the user's rows: events, every score
 * table a kind writes per user (its `userData`), labels and the ingest guard's marks. Score tables
 * are written per model version and read through the ACTIVE one; without their rows the user is
 * served as a new one (fallbacks), without retraining anything.
 */
const BY_DENSE_ID = [
  'events',
  ...new Set(Object.values(MODEL_KINDS).flatMap((kind) => (kind.userData?.scoresByUser && kind.scoreTable ? [kind.scoreTable] : []))),
  'user_labels',
  'suspect_users',
];

/** Kinds whose artifact stores a row per user, and how to cut one out (their `userData`). */
const USER_ROW_ARTIFACTS = Object.values(MODEL_KINDS).flatMap((kind) =>
  kind.userData?.withoutUser ? [{ kind: kind.kind as string, without: kind.userData.withoutUser }] : [],
);

/**
 * Forgets a user: every row that holds their id, their row in stored model artifacts, and, through
 * the audit log that every API process polls (erasure-watch.ts), whatever the processes hold in
 * memory. One transaction: either all of it happens or none.
 *
 * Concurrent ingest: ingest and import lock the user's `users` row (FOR KEY SHARE) while they add
 * events for it, and this takes FOR UPDATE on the row first, so a batch in flight commits before
 * the deletes read (and its events are deleted), and a later batch finds the row gone and stores
 * nothing. A batch that is creating the user right now is waited for by inserting the id here
 * first (the unique index makes this wait). A tombstone keeps the id from being created again
 * for `tombstoneDays`, so events sent afterwards (a client's retry queue) are dropped too.
 */
export class ErasureService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly options: { tombstoneDays: number; afterErasure?: () => Promise<void> },
  ) {}

  /**
   * Removes every trace of `userId` (the shop's id, as sent at ingest) and records the request.
   * Idempotent: a second call finds no user, removes nothing and renews the tombstone.
   * `requestedBy`: who asked, as the audit log shows it (an API key's id and name, or "cli").
   * Resolves after `afterErasure` (the API drops this process's in-memory copies there).
   * BAD_USER_INPUT for an empty id.
   */
  async forgetUser(shopUserId: string, requestedBy: string): Promise<ErasureRecord> {
    if (shopUserId.length === 0 || shopUserId.length > 512) throw badInput('userId must be 1–512 characters');
    // As stored: the pseudonym when FUNNELCAST_PSEUDONYMIZE_KEY is set.
    const userId = pseudonymousId(shopUserId);
    const secret = await this.tombstoneSecret();
    const record = await this.dataSource.transaction(async (manager): Promise<ErasureRecord> => {
      const [{ requested_at: requestedAt }]: { requested_at: Date }[] = await manager.query(`SELECT now() AS requested_at`);
      // A version being stored now finishes first (and is cleaned below), or waits and cleans itself.
      await manager.query(`SELECT pg_advisory_xact_lock($1)`, [USER_ERASURE_LOCK]);
      // Waits for a transaction creating this user right now; the trigger skips it while a tombstone stands.
      const placeholder: unknown[] = await manager.query(`INSERT INTO users (external_id) VALUES ($1) ON CONFLICT (external_id) DO NOTHING RETURNING id`, [userId]);
      const found: { id: number }[] = await manager.query(`SELECT id FROM users WHERE external_id = $1 FOR UPDATE`, [userId]);
      // A row made just now by the wait above was never the user's: it goes, uncounted.
      const userFound = found.length > 0 && placeholder.length === 0;
      await manager.query(
        `INSERT INTO erased_users (user_key, until) VALUES (encode(sha256($1::bytea || convert_to($2, 'UTF8')), 'hex'), now() + make_interval(days => $3))
         ON CONFLICT (user_key) DO UPDATE SET erased_at = now(), until = excluded.until`,
        [secret, userId, this.options.tombstoneDays],
      );
      await manager.query(`DELETE FROM erased_users WHERE until <= now()`);
      const removed: RemovedRows[] = [];
      const denseId = found[0]?.id ?? null;
      for (const table of BY_DENSE_ID) removed.push({ table, rows: denseId === null ? 0 : await deleted(manager, `DELETE FROM ${table} WHERE user_id = $1`, [denseId]) });
      removed.push({ table: 'model_versions', rows: denseId === null ? 0 : await this.cleanArtifacts(manager, denseId) });
      removed.push({ table: 'recommendation_feedback', rows: await deleted(manager, `DELETE FROM recommendation_feedback WHERE user_external_id = $1`, [userId]) });
      removed.push({ table: 'saved_funnels', rows: await this.cleanCohorts(manager, userId) });
      const users = denseId === null ? 0 : await deleted(manager, `DELETE FROM users WHERE id = $1`, [denseId]);
      removed.push({ table: 'users', rows: userFound ? users : 0 });
      const [row]: { id: string; finished_at: Date }[] = await manager.query(
        `INSERT INTO user_erasures (requested_by, requested_at, user_found, removed) VALUES ($1, $2, $3, $4) RETURNING id, finished_at`,
        [requestedBy, requestedAt, userFound, JSON.stringify(removed)],
      );
      return { id: row.id, requestedBy, requestedAt, finishedAt: row.finished_at, userFound, removed };
    });
    // This process's memory (the API: erasure-watch.ts), before answering. The erasure is committed
    // whatever happens here; a failed drop is retried by the watch's next poll.
    await this.options.afterErasure?.().catch((error: unknown) => logger().warn({ err: error }, 'dropping in-memory copies after an erasure failed; the next poll retries'));
    return record;
  }

  /** The audit log, newest first (`limit` rows, 1–1000). */
  async history(limit = 100): Promise<ErasureRecord[]> {
    const rows: { id: string; requested_by: string; requested_at: Date; finished_at: Date; user_found: boolean; removed: RemovedRows[] }[] = await this.dataSource.query(
      `SELECT id, requested_by, requested_at, finished_at, user_found, removed FROM user_erasures ORDER BY id DESC LIMIT $1`,
      [Math.max(1, Math.min(1000, limit))],
    );
    return rows.map((row) => ({ id: row.id, requestedBy: row.requested_by, requestedAt: row.requested_at, finishedAt: row.finished_at, userFound: row.user_found, removed: row.removed }));
  }

  /** Rewrites every stored version (any status) whose artifact has a row for the user; the count of versions rewritten. */
  private async cleanArtifacts(manager: EntityManager, denseId: number): Promise<number> {
    let rewritten = 0;
    for (const { kind, without } of USER_ROW_ARTIFACTS) {
      // One version at a time: an artifact holds every user's vector (megabytes).
      const versions: { id: number }[] = await manager.query(`SELECT id FROM model_versions WHERE kind = $1 AND artifact IS NOT NULL ORDER BY id FOR UPDATE`, [kind]);
      for (const { id } of versions) {
        const [{ artifact }]: { artifact: Buffer }[] = await manager.query(`SELECT artifact FROM model_versions WHERE id = $1`, [id]);
        const cleaned = without(artifact, denseId);
        if (cleaned === null) continue;
        await manager.query(`UPDATE model_versions SET artifact = $2 WHERE id = $1`, [id, cleaned]);
        rewritten++;
      }
    }
    return rewritten;
  }

  /** Takes the id out of saved funnels' cohort lists; the count of funnels changed. */
  private cleanCohorts(manager: EntityManager, userId: string): Promise<number> {
    return deleted(
      manager,
      `UPDATE saved_funnels
       SET definition = jsonb_set(definition, '{cohort,userIds}',
             COALESCE((SELECT jsonb_agg(e.value) FROM jsonb_array_elements(definition #> '{cohort,userIds}') AS e(value) WHERE e.value <> to_jsonb($1::text)), '[]'::jsonb))
       WHERE jsonb_typeof(definition #> '{cohort,userIds}') = 'array' AND definition #> '{cohort,userIds}' @> jsonb_build_array($1::text)`,
      [userId],
    );
  }

  /** The tombstone key's secret, made by the first erasure of the shop and shared by every process. */
  private async tombstoneSecret(): Promise<Buffer> {
    await this.dataSource.query(`INSERT INTO server_secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING`, [TOMBSTONE_SECRET, randomBytes(32)]);
    const [row]: { value: Buffer }[] = await this.dataSource.query(`SELECT value FROM server_secrets WHERE name = $1`, [TOMBSTONE_SECRET]);
    return row.value;
  }
}

/** Rows a DELETE or UPDATE touched (TypeORM answers [rows, count] for them). */
async function deleted(manager: EntityManager, sql: string, parameters: unknown[]): Promise<number> {
  const result: [unknown, number] = await manager.query(sql, parameters);
  return result[1];
}
