import { isUuid } from '../uuid';
import type { Queue } from 'bullmq';
import type { DataSource } from 'typeorm';
import { TrainingJobs } from './training-jobs';

/** What one reconciliation pass found missing in Redis and put back (counts). */
export interface ReconcileSummary {
  /** QUEUED jobs whose BullMQ job was gone, added again under their own id. */
  requeued: number;
  /** RUNNING jobs with no BullMQ job and no live worker (stale heartbeat), queued again as a retry. */
  resumed: number;
  /** Live jobs whose BullMQ job had failed for good without the row hearing of it, now FAILED. */
  failed: number;
  /** Schedules whose job scheduler was missing or had another pattern, upserted. */
  schedulersRestored: number;
  /** Job schedulers in Redis whose schedule row is gone, removed. */
  schedulersRemoved: number;
}

/**
 * Adds to BullMQ every QUEUED job that waited for others which have all finished now (see
 * `TrainingJobs.released`). The worker calls it whenever a job finishes, the API when it cancels
 * one; a release missed by a crash in between is made by the next reconciliation, which queues any
 * QUEUED job that is not held and not in BullMQ. Returns how many were added (or were there already).
 */
export async function queueReleasedJobs(dataSource: DataSource, add: (trainingJobId: string) => Promise<unknown>): Promise<number> {
  const ids = await new TrainingJobs(dataSource).released();
  for (const id of ids) await add(id);
  return ids.length;
}

/**
 * Makes Redis agree with PostgreSQL, the source of truth for training: every QUEUED or RUNNING
 * `training_jobs` row has a BullMQ job, and every `training_schedules` row has a job scheduler with
 * its cron pattern. Redis may have restarted without its data, been flushed, or evicted keys.
 *
 * Idempotent and safe to run from several workers at once: a job is added under the training job's
 * own id (BullMQ adds an id once, so two passes never queue one training job twice), a RUNNING row is
 * taken back by one conditional UPDATE (only the pass that wins it adds the job), and schedulers
 * are upserted by the schedule's id.
 *
 * A RUNNING row is only taken back when its heartbeat (`updated_at`, touched by the worker that
 * processes it and by progress reports) is older than `staleAfterMs`: a worker still training it
 * after Redis lost the job keeps it fresh, so the job is never trained twice side by side.
 */
export async function reconcileTrainingQueue(
  dataSource: DataSource,
  queue: Queue,
  options: { staleAfterMs: number },
): Promise<ReconcileSummary> {
  const jobs = new TrainingJobs(dataSource);
  const summary: ReconcileSummary = { requeued: 0, resumed: 0, failed: 0, schedulersRestored: 0, schedulersRemoved: 0 };

  for (const row of await jobs.live()) {
    if (row.held) continue; // it waits for other jobs; the last of them to finish releases it
    // A schedule's firing runs under BullMQ's id for that firing; once it is lost, the row's own id takes over.
    const bullJobId = row.bullJobId ?? row.id;
    const state = await queue.getJobState(bullJobId);
    if (state === 'failed') {
      const bullJob = await queue.getJob(bullJobId);
      const reason = bullJob?.failedReason || 'the queue gave up on it';
      if (await jobs.failIfLive(row.id, reason)) summary.failed += 1;
      continue;
    }
    if (state !== 'unknown') continue; // waiting, delayed, active, prioritized, completed: BullMQ still has it
    if (row.bullJobId && (await queue.getJobState(row.id)) !== 'unknown') continue; // re-added by an earlier pass
    if (row.state === 'QUEUED') {
      await queue.add('train', { trainingJobId: row.id }, { jobId: row.id });
      summary.requeued += 1;
    } else if (await jobs.requeueLost(row.id, options.staleAfterMs)) {
      await queue.add('train', { trainingJobId: row.id }, { jobId: row.id });
      summary.resumed += 1;
    }
  }

  // Redis first: the API inserts a schedule's row before its scheduler, so a scheduler seen here
  // without a row (read after it) really lost its row, and is not one being created right now.
  const present = new Map((await queue.getJobSchedulers()).map((s) => [s.key, s.pattern]));
  const schedules: { id: string; cron: string }[] = await dataSource.query(`SELECT id, cron FROM training_schedules`);
  const wanted = new Map(schedules.map((s) => [s.id, s.cron]));
  for (const [id, cron] of wanted) {
    if (present.get(id) === cron) continue;
    await queue.upsertJobScheduler(id, { pattern: cron }, { name: 'scheduled', data: { scheduleId: id } });
    summary.schedulersRestored += 1;
  }
  for (const id of present.keys()) {
    // Only schedulers this platform made (named by a schedule's UUID) whose row was deleted.
    if (isUuid(id) && !wanted.has(id)) {
      await queue.removeJobScheduler(id);
      summary.schedulersRemoved += 1;
    }
  }
  return summary;
}

export interface TrainingQueueKeeper {
  /** One reconciliation now (also what the timer runs); concurrent calls share the pass in flight. */
  reconcile(): Promise<ReconcileSummary | null>;
  stop(): Promise<void>;
}

/**
 * The worker's side of keeping Redis in step with PostgreSQL: reconciles at start, every
 * `reconcileMs`, and whenever its Redis connection comes back (a restarted Redis may have lost
 * everything); and beats the heart of the jobs this worker has in hand every third of `lockMs`, so
 * `reconcileTrainingQueue` leaves them alone. A pass that fails (Redis or PostgreSQL away) is logged
 * and the next one tries again.
 */
export function keepTrainingQueue(options: {
  dataSource: DataSource;
  queue: Queue;
  processingJobIds: () => string[];
  reconcileMs: number;
  lockMs: number;
  log: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void };
}): TrainingQueueKeeper {
  const { dataSource, queue, log } = options;
  const jobs = new TrainingJobs(dataSource);
  let inFlight: Promise<ReconcileSummary | null> | null = null;
  let stopped = false;

  const reconcile = (): Promise<ReconcileSummary | null> => {
    if (stopped) return Promise.resolve(null);
    inFlight ??= reconcileTrainingQueue(dataSource, queue, { staleAfterMs: options.lockMs })
      .then((summary) => {
        if (Object.values(summary).some((n) => n > 0)) log.info({ ...summary }, 'training queue rebuilt from PostgreSQL');
        return summary;
      })
      .catch((error: unknown) => {
        if (!stopped) log.warn({ err: (error as Error).message }, 'training queue reconciliation failed; trying again later');
        return null;
      })
      .finally(() => {
        inFlight = null;
      });
    return inFlight;
  };

  const reconcileTimer = setInterval(() => void reconcile(), options.reconcileMs);
  const heartbeatTimer = setInterval(() => {
    jobs.touchRunning(options.processingJobIds()).catch(() => undefined);
  }, Math.max(200, Math.floor(options.lockMs / 3)));
  let connectedBefore = false;
  const onReady = () => {
    if (connectedBefore) void reconcile();
    connectedBefore = true;
  };
  void queue.client.then((client) => {
    if (client.status === 'ready') connectedBefore = true;
    client.on('ready', onReady);
  });
  void reconcile();

  return {
    reconcile,
    async stop() {
      stopped = true;
      clearInterval(reconcileTimer);
      clearInterval(heartbeatTimer);
      // A pass waiting on an absent Redis must not hold up shutdown.
      const settled = Promise.all([inFlight, queue.close()]).catch(() => undefined);
      await Promise.race([settled, new Promise((done) => setTimeout(done, 2000).unref())]);
    },
  };
}
