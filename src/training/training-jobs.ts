import type { DataSource } from 'typeorm';
import { toFloat4 } from '../db/float4';
import { TrainingJobState } from './model-kind';
import { TrainingJob } from './training.entities';

/** The request key of the job a schedule's firing creates: one per firing, however often BullMQ retries it. */
export function scheduledRunRequestKey(bullJobId: string): string {
  return `schedule:${bullJobId}`;
}

const LIVE_STATES = `('QUEUED', 'RUNNING')`;

export interface NewTrainingJob {
  requestKey: string;
  kind: string;
  params: Record<string, unknown>;
  from: Date | null;
  to: Date;
  activate: boolean;
  scheduleId: string | null;
  /** Jobs to finish first (any final state); the job stays out of BullMQ until then. Default none. */
  waitsFor?: readonly string[];
}

/** SQL: the QUEUED or RUNNING jobs that the row `j` waits for exist. */
const HELD = `EXISTS (SELECT 1 FROM training_jobs p WHERE p.id = ANY(j.waits_for) AND p.state IN ${LIVE_STATES})`;

/** TypeORM answers UPDATE … RETURNING with [rows, affected] and INSERT … RETURNING with rows; this takes the rows. */
function returnedRows<T>(result: unknown): T[] {
  if (Array.isArray(result) && result.length === 2 && Array.isArray(result[0]) && typeof result[1] === 'number') return result[0] as T[];
  return result as T[];
}

function toJob(row: Record<string, any>): TrainingJob {
  return Object.assign(new TrainingJob(), {
    id: row.id,
    requestKey: row.request_key,
    kind: row.kind,
    params: row.params,
    dataFrom: row.data_from,
    dataTo: row.data_to,
    activate: row.activate,
    scheduleId: row.schedule_id,
    state: row.state,
    progress: row.progress,
    message: row.message,
    attempts: row.attempts,
    error: row.error,
    modelVersionId: row.model_version_id,
    waitsFor: row.waits_for ?? [],
    createdAt: row.created_at,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
  });
}

/**
 * Every state change of a training job row, for the API and the worker alike. Each change is one
 * conditional UPDATE, so an admin's cancel and a worker's progress report can never overwrite
 * each other: whoever moves the row out of RUNNING first wins, and the other sees no row.
 */
export class TrainingJobs {
  constructor(private readonly dataSource: DataSource) {}

  /** Inserts the job unless a live or completed job has the same request key; returns that one then. */
  async insertOrFind(job: NewTrainingJob): Promise<{ job: TrainingJob; created: boolean }> {
    for (;;) {
      const inserted: Record<string, any>[] = await this.dataSource.query(
        `INSERT INTO training_jobs (request_key, kind, params, data_from, data_to, activate, schedule_id, waits_for, message)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8::uuid[],
                 CASE WHEN cardinality($8::uuid[]) = 0 THEN 'waiting for a worker' ELSE 'waiting for the jobs it starts after, then for a worker' END)
         ON CONFLICT (request_key) WHERE state IN ('QUEUED', 'RUNNING', 'COMPLETED') DO NOTHING
         RETURNING *`,
        [job.requestKey, job.kind, JSON.stringify(job.params), job.from, job.to, job.activate, job.scheduleId, job.waitsFor ?? []],
      );
      if (inserted.length > 0) return { job: toJob(inserted[0]), created: true };
      const existing: Record<string, any>[] = await this.dataSource.query(
        `SELECT * FROM training_jobs WHERE request_key = $1 AND state IN ('QUEUED', 'RUNNING', 'COMPLETED')`,
        [job.requestKey],
      );
      // The conflicting job may have failed or been cancelled in between: then insert again.
      if (existing.length > 0) return { job: toJob(existing[0]), created: false };
    }
  }

  /** Whether a QUEUED job still waits for a QUEUED or RUNNING job (and so must stay out of BullMQ). */
  async isHeld(id: string): Promise<boolean> {
    const rows: { held: boolean }[] = await this.dataSource.query(`SELECT ${HELD} AS held FROM training_jobs j WHERE j.id = $1 AND j.state = 'QUEUED'`, [id]);
    return rows[0]?.held ?? false;
  }

  /**
   * The QUEUED jobs that waited for others and wait no more: every job in their `waits_for` has
   * finished. Their ids, oldest first, for adding to BullMQ (under their own id, so adding one twice
   * is harmless).
   */
  async released(): Promise<string[]> {
    const rows: { id: string }[] = await this.dataSource.query(
      `SELECT j.id FROM training_jobs j WHERE j.state = 'QUEUED' AND j.waits_for <> '{}' AND NOT ${HELD} ORDER BY j.created_at, j.id`,
    );
    return rows.map((row) => row.id);
  }

  async get(id: string): Promise<TrainingJob | null> {
    const rows: Record<string, any>[] = await this.dataSource.query(`SELECT * FROM training_jobs WHERE id = $1`, [id]);
    return rows.length ? toJob(rows[0]) : null;
  }

  async idForScheduledRun(bullJobId: string): Promise<string | null> {
    const rows: { id: string }[] = await this.dataSource.query(`SELECT id FROM training_jobs WHERE request_key = $1 ORDER BY created_at DESC LIMIT 1`, [
      scheduledRunRequestKey(bullJobId),
    ]);
    return rows[0]?.id ?? null;
  }

  /** The worker holding the job died; another will pick it up once its lock expires. */
  async markStalled(id: string): Promise<void> {
    await this.dataSource.query(
      `UPDATE training_jobs SET message = 'its worker stopped; waiting for another worker to resume it', updated_at = now() WHERE id = $1 AND state = 'RUNNING'`,
      [id],
    );
  }

  /**
   * Every QUEUED or RUNNING job, oldest first, with the BullMQ id of a schedule's firing
   * (`bullJobId`, null for jobs queued under their own id). For rebuilding the queue from PostgreSQL.
   */
  async live(): Promise<{ id: string; state: TrainingJobState; bullJobId: string | null; held: boolean }[]> {
    const rows: { id: string; state: TrainingJobState; request_key: string; held: boolean }[] = await this.dataSource.query(
      `SELECT j.id, j.state, j.request_key, (j.state = 'QUEUED' AND ${HELD}) AS held FROM training_jobs j WHERE j.state IN ${LIVE_STATES} ORDER BY j.created_at, j.id`,
    );
    const firing = scheduledRunRequestKey('');
    return rows.map((row) => ({
      id: row.id,
      state: row.state,
      held: row.held,
      bullJobId: row.request_key.startsWith(firing) ? row.request_key.slice(firing.length) : null,
    }));
  }

  /**
   * A RUNNING job whose BullMQ job vanished goes back to QUEUED, once no worker has touched it for
   * `staleAfterMs`; true when this call took it back (so the caller queues it, and nobody else does).
   */
  async requeueLost(id: string, staleAfterMs: number): Promise<boolean> {
    const rows = returnedRows<unknown>(await this.dataSource.query(
      `UPDATE training_jobs SET state = 'QUEUED', message = 'its queue entry was lost (Redis lost its data); queued again', updated_at = now()
       WHERE id = $1 AND state = 'RUNNING' AND updated_at < now() - make_interval(secs => $2::double precision / 1000)
       RETURNING 1`,
      [id, staleAfterMs],
    ));
    return rows.length > 0;
  }

  /** The queue gave up on a job without its row hearing of it: FAILED with that reason; true when it was live. */
  async failIfLive(id: string, error: string): Promise<boolean> {
    const rows = returnedRows<unknown>(await this.dataSource.query(
      `UPDATE training_jobs SET state = 'FAILED', error = $2, message = 'failed', finished_at = now(), updated_at = now()
       WHERE id = $1 AND state IN ${LIVE_STATES} RETURNING 1`,
      [id, error],
    ));
    await this.dataSource.query(`UPDATE model_versions SET status = 'FAILED' WHERE training_job_id = $1 AND status = 'TRAINING'`, [id]);
    return rows.length > 0;
  }

  /**
   * Heartbeat of the jobs a worker is processing right now (BullMQ ids: a training job's id, or a
   * schedule firing's id), so a RUNNING row with a fresh `updated_at` is known to be in hand.
   */
  async touchRunning(bullJobIds: string[]): Promise<void> {
    if (bullJobIds.length === 0) return;
    await this.dataSource.query(
      `UPDATE training_jobs SET updated_at = now() WHERE state = 'RUNNING' AND (id::text = ANY($1) OR request_key = ANY($2))`,
      [bullJobIds, bullJobIds.map(scheduledRunRequestKey)],
    );
  }

  async delete(id: string): Promise<void> {
    await this.dataSource.query(`DELETE FROM training_jobs WHERE id = $1 AND state = 'QUEUED' AND attempts = 0`, [id]);
  }

  /** A worker takes the job: null when it was cancelled (or finished) meanwhile. */
  async claim(id: string): Promise<TrainingJob | null> {
    const rows = returnedRows<Record<string, any>>(await this.dataSource.query(
      `UPDATE training_jobs
       SET state = 'RUNNING', attempts = attempts + 1, started_at = now(), progress = 0, message = 'starting', error = NULL, updated_at = now()
       WHERE id = $1 AND state IN ${LIVE_STATES}
       RETURNING *`,
      [id],
    ));
    return rows.length ? toJob(rows[0]) : null;
  }

  /** False when the job is no longer running (an admin cancelled it). */
  async reportProgress(id: string, progress: number, message: string): Promise<boolean> {
    const rows = returnedRows<unknown>(await this.dataSource.query(
      `UPDATE training_jobs SET progress = $2, message = $3, updated_at = now() WHERE id = $1 AND state = 'RUNNING' RETURNING 1`,
      [id, toFloat4(Math.min(1, Math.max(0, progress)), 'training_jobs.progress'), message],
    ));
    return rows.length > 0;
  }

  /** After a failed attempt: FAILED when no attempt is left, else back to QUEUED until the retry. */
  async recordAttemptFailure(id: string, error: string, final: boolean): Promise<void> {
    if (final) {
      await this.dataSource.query(
        `UPDATE training_jobs SET state = 'FAILED', error = $2, message = 'failed', finished_at = now(), updated_at = now()
         WHERE id = $1 AND state IN ${LIVE_STATES}`,
        [id, error],
      );
    } else {
      await this.dataSource.query(
        `UPDATE training_jobs SET state = 'QUEUED', error = $2, message = 'attempt failed; retrying after a pause', updated_at = now()
         WHERE id = $1 AND state IN ${LIVE_STATES}`,
        [id, error],
      );
    }
    await this.dataSource.query(`UPDATE model_versions SET status = 'FAILED' WHERE training_job_id = $1 AND status = 'TRAINING'`, [id]);
  }

  /** Marks a queued or running job CANCELLED; null when it was not live. */
  async cancel(id: string): Promise<TrainingJob | null> {
    const rows = returnedRows<Record<string, any>>(await this.dataSource.query(
      `UPDATE training_jobs SET state = 'CANCELLED', message = 'cancelled by an admin', finished_at = now(), updated_at = now()
       WHERE id = $1 AND state IN ${LIVE_STATES} RETURNING *`,
      [id],
    ));
    await this.dataSource.query(`UPDATE model_versions SET status = 'FAILED' WHERE training_job_id = $1 AND status = 'TRAINING'`, [id]);
    return rows.length ? toJob(rows[0]) : null;
  }

  /** A failed or cancelled job queued again; null when it was in another state. */
  async requeue(id: string): Promise<TrainingJob | null> {
    const rows = returnedRows<Record<string, any>>(await this.dataSource.query(
      `UPDATE training_jobs SET state = 'QUEUED', progress = 0, message = 'queued again by an admin', error = NULL,
              started_at = NULL, finished_at = NULL, updated_at = now()
       WHERE id = $1 AND state IN ('FAILED', 'CANCELLED') RETURNING *`,
      [id],
    ));
    return rows.length ? toJob(rows[0]) : null;
  }

  /** Newest first, keyset-paginated on (created_at, id). */
  async list(filter: { state?: TrainingJobState; kind?: string; first: number; after?: { createdAt: Date; id: string } }): Promise<TrainingJob[]> {
    const rows: Record<string, any>[] = await this.dataSource.query(
      `SELECT * FROM training_jobs
       WHERE ($1::text IS NULL OR state = $1) AND ($2::text IS NULL OR kind = $2)
         AND ($3::timestamptz IS NULL OR (created_at, id) < ($3, $4::uuid))
       ORDER BY created_at DESC, id DESC
       LIMIT $5`,
      [filter.state ?? null, filter.kind ?? null, filter.after?.createdAt ?? null, filter.after?.id ?? null, filter.first],
    );
    return rows.map(toJob);
  }
}
