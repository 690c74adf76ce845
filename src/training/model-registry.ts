import type { PoolClient } from 'pg';
import type { DataSource, Repository } from 'typeorm';
import { In } from 'typeorm';
import { withPgClient } from '../db/data-source';
import { toFloat4 } from '../db/float4';
import { badInput, notFound } from '../graphql/errors';
import { ModelKind, ModelKindDefinition, ModelKindDefinitions, ModelVersionStatus, TrainedModel, USER_ERASURE_LOCK } from './model-kind';
import { TrainingCancelled } from './training-errors';
import { ModelVersion, TrainingJob } from './training.entities';

async function inTransaction<T>(client: PoolClient, work: () => Promise<T>): Promise<T> {
  await client.query('BEGIN');
  try {
    const result = await work();
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK');
    throw error;
  }
}

/** Serialises activations of one kind, so "exactly one ACTIVE" holds under concurrent admins and workers. */
async function activateIn(client: PoolClient, kind: string, versionId: number): Promise<void> {
  await client.query(`SELECT pg_advisory_xact_lock(hashtext('model-activation:' || $1))`, [kind]);
  await client.query(`UPDATE model_versions SET status = 'READY' WHERE kind = $1 AND status = 'ACTIVE' AND id <> $2`, [kind, versionId]);
  await client.query(`UPDATE model_versions SET status = 'ACTIVE', activated_at = now() WHERE id = $1`, [versionId]);
}

/**
 * The version number of the kind's ACTIVE version when its training job started after `job` did
 * (under the activation lock, which it takes), else null. Two jobs of one kind can run at once (late
 * events make an identical request a new job while the first still runs): whichever finishes last
 * must not replace a model trained on newer data. A job's `started_at` is its latest attempt's
 * start, which precedes its read of the data. However the active version became active (its own
 * job or an admin), one trained from an older read does not replace it.
 */
async function newerActiveVersion(client: PoolClient, job: TrainingJob): Promise<number | null> {
  await client.query(`SELECT pg_advisory_xact_lock(hashtext('model-activation:' || $1))`, [job.kind]);
  const rows = await client.query<{ version: number }>(
    `SELECT v.version FROM model_versions v JOIN training_jobs j ON j.id = v.training_job_id
     WHERE v.kind = $1 AND v.status = 'ACTIVE' AND j.id <> $2 AND j.started_at > (SELECT started_at FROM training_jobs WHERE id = $2)`,
    [job.kind, job.id],
  );
  return rows.rows[0]?.version ?? null;
}

/**
 * The model registry: versions of every kind, their artifacts and which one is served. A
 * version's row exists from the start of its training (TRAINING), one per training job, so a
 * retried or resumed job keeps its version instead of adding another.
 */
export class ModelRegistry {
  private readonly versions: Repository<ModelVersion>;

  constructor(
    private readonly dataSource: DataSource,
    readonly kinds: ModelKindDefinitions,
  ) {
    this.versions = dataSource.getRepository(ModelVersion);
  }

  /** The job's version row, created (or reset, on a retry) in state TRAINING. */
  async beginVersion(job: TrainingJob, backend: string): Promise<number> {
    return withPgClient(this.dataSource, (client) =>
      inTransaction(client, async () => {
        const existing = await client.query<{ id: number }>(`SELECT id FROM model_versions WHERE training_job_id = $1`, [job.id]);
        if (existing.rows.length > 0) {
          const id = existing.rows[0].id;
          // A retry starts clean: whatever an earlier attempt of this job left in its kind's score table goes.
          const scoreTable = this.kinds[job.kind].scoreTable;
          if (scoreTable) await client.query(`DELETE FROM ${scoreTable} WHERE model_version_id = $1`, [id]);
          await client.query(`UPDATE model_versions SET status = 'TRAINING', backend = $2, metrics = NULL, artifact = NULL WHERE id = $1`, [id, backend]);
          return id;
        }
        await client.query(`SELECT pg_advisory_xact_lock(hashtext('model-version:' || $1))`, [job.kind]);
        const inserted = await client.query<{ id: number }>(
          `INSERT INTO model_versions (kind, version, status, params, backend, trained_from, trained_to, training_job_id)
           SELECT $1, COALESCE(max(version), 0) + 1, 'TRAINING', $2, $3, $4, $5, $6 FROM model_versions WHERE kind = $1
           RETURNING id`,
          [job.kind, JSON.stringify(job.params), backend, job.dataFrom, job.dataTo, job.id],
        );
        return inserted.rows[0].id;
      }),
    );
  }

  /**
   * Stores the trained model in one transaction: scores, artifact, metrics, READY (or ACTIVE), and
   * the job COMPLETED. If the job was cancelled meanwhile nothing is written.
   */
  async completeVersion(job: TrainingJob, versionId: number, trained: TrainedModel, trainingSeconds: number): Promise<void> {
    await withPgClient(this.dataSource, (client) =>
      inTransaction(client, async () => {
        const state = await client.query<{ state: string }>(`SELECT state FROM training_jobs WHERE id = $1 FOR UPDATE`, [job.id]);
        if (state.rows[0]?.state !== 'RUNNING') throw new TrainingCancelled();
        // Users erased since the run read its data must not come back with it (USER_ERASURE_LOCK).
        await client.query(`SELECT pg_advisory_xact_lock_shared($1)`, [USER_ERASURE_LOCK]);
        await trained.writeScores(client, versionId);
        const artifact = await withoutErasedUsers(client, this.kinds[job.kind], versionId, trained.artifact);
        await client.query(
          `UPDATE model_versions SET status = 'READY', artifact = $2, metrics = $3, event_count = $4, trained_from = $5, trained_to = $6, training_seconds = $7
           WHERE id = $1`,
          [versionId, artifact, JSON.stringify(trained.metrics), trained.eventCount, trained.trainedFrom, trained.trainedTo, toFloat4(trainingSeconds, 'model_versions.training_seconds')],
        );
        let message = job.activate ? 'trained and activated' : 'trained; activate it with activateModelVersion';
        if (job.activate && trained.verdict && !trained.verdict.activate) {
          message = `trained; not activated: ${trained.verdict.reason}. activateModelVersion serves it anyway`;
        } else if (job.activate) {
          const newer = await newerActiveVersion(client, job);
          if (newer === null) await activateIn(client, job.kind, versionId);
          else message = `trained; not activated: version ${newer}, whose training started later and so read newer data, is active`;
        }
        await client.query(
          `UPDATE training_jobs SET state = 'COMPLETED', progress = 1, message = $2, model_version_id = $3, finished_at = now(), updated_at = now()
           WHERE id = $1`,
          [job.id, message, versionId],
        );
      }),
    );
  }

  list(kind: ModelKind): Promise<ModelVersion[]> {
    return this.versions.find({ where: { kind }, order: { version: 'DESC' } });
  }

  /** The version each job trains or trained (one per job). */
  forJobs(jobIds: string[]): Promise<ModelVersion[]> {
    return jobIds.length ? this.versions.find({ where: { trainingJobId: In(jobIds) } }) : Promise.resolve([]);
  }

  active(kind: ModelKind): Promise<ModelVersion | null> {
    return this.versions.findOne({ where: { kind, status: ModelVersionStatus.ACTIVE } });
  }

  /** The artifact bytes of a version (not loaded with lists). */
  async artifact(id: number): Promise<Buffer | null> {
    const rows: { artifact: Buffer | null }[] = await this.dataSource.query(`SELECT artifact FROM model_versions WHERE id = $1`, [id]);
    return rows[0]?.artifact ?? null;
  }

  private async require(id: number): Promise<ModelVersion> {
    // model_versions.id is a 32-bit serial: a larger number names no version and must not reach SQL.
    if (!Number.isSafeInteger(id) || id < 1 || id > 2_147_483_647) throw badInput(`"${id}" is not a model version id (a whole number from 1 to 2147483647)`);
    const version = await this.versions.findOne({ where: { id } });
    if (!version) throw notFound(`No model version with id ${id}`);
    return version;
  }

  /** Makes a READY version the one served for its kind (the previous one goes back to READY): also the rollback path. */
  async activate(id: number): Promise<ModelVersion> {
    const version = await this.require(id);
    if (version.status === ModelVersionStatus.ACTIVE) return version;
    if (version.status !== ModelVersionStatus.READY) {
      throw badInput(`Model version ${id} is ${version.status}; only READY versions can be activated (a RETIRED version's scores are gone: train again).`);
    }
    await withPgClient(this.dataSource, (client) => inTransaction(client, () => activateIn(client, version.kind, id)));
    return this.require(id);
  }

  /** Retires a READY or FAILED version and drops its scores; the ACTIVE one must be replaced first. */
  async retire(id: number): Promise<ModelVersion> {
    const version = await this.require(id);
    if (version.status === ModelVersionStatus.RETIRED) return version;
    if (version.status === ModelVersionStatus.ACTIVE) {
      throw badInput(`Model version ${id} is ACTIVE and being served; activate another ${version.kind} version first, then retire this one.`);
    }
    if (version.status === ModelVersionStatus.TRAINING) throw badInput(`Model version ${id} is still TRAINING; cancel its training job instead.`);
    const scoreTable = this.kinds[version.kind].scoreTable;
    await this.dataSource.transaction(async (manager) => {
      if (scoreTable) await manager.query(`DELETE FROM ${scoreTable} WHERE model_version_id = $1`, [id]);
      await manager.query(`UPDATE model_versions SET status = 'RETIRED', artifact = NULL WHERE id = $1`, [id]);
    });
    return this.require(id);
  }
}

/**
 * A new version's score rows and artifact without users that no longer exist (erased while it
 * trained): the rows go, and the artifact that is returned has no row of theirs.
 */
async function withoutErasedUsers(client: PoolClient, kind: ModelKindDefinition<unknown>, versionId: number, artifact: Buffer): Promise<Buffer> {
  const userData = kind.userData;
  if (!userData) return artifact;
  if (userData.scoresByUser && kind.scoreTable) {
    await client.query(`DELETE FROM ${kind.scoreTable} s WHERE s.model_version_id = $1 AND NOT EXISTS (SELECT 1 FROM users u WHERE u.id = s.user_id)`, [versionId]);
  }
  if (!userData.artifactUsers || !userData.withoutUser) return artifact;
  const gone = await client.query<{ id: number }>(
    `SELECT a.id FROM unnest($1::int[]) AS a(id) WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.id = a.id)`,
    [Array.from(userData.artifactUsers(artifact))],
  );
  for (const { id } of gone.rows) artifact = userData.withoutUser(artifact, id) ?? artifact;
  return artifact;
}
