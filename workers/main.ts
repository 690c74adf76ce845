import 'reflect-metadata';
import type { Job, Worker } from 'bullmq';
import { join } from 'node:path';
import type { DataSource } from 'typeorm';
import { config } from '../src/config';
import { loadEnvFile } from '../src/env-file';
import { createDataSource } from '../src/db/data-source';
import { logger } from '../src/logger';
import { startMetricsListener } from '../src/metrics/metrics-endpoint';
import { metrics } from '../src/metrics/metrics';
import { logUnhandledFailures } from '../src/process-safety';
import { describeBackend, loadTf } from '../src/ml/tf-backend';
import { redactUrl } from '../src/redis';
import { MODEL_KINDS } from '../src/model-kinds';
import { checkModelKindHandlers, type TrainingJobName, type TrainingJobPayloads } from '../src/training/model-kind';
import { keepTrainingQueue, queueReleasedJobs } from '../src/training/queue-reconciler';
import { TrainingJobs } from '../src/training/training-jobs';
import type { RunOutcome } from '../src/training/training-runner';
import { createTrainingWorker, createWorkerQueue } from '../src/training/training.queue';
import { startRetentionSchedule } from '../src/privacy/retention-schedule';

/**
 * `npm run worker`: the background process. Training runs in sandboxed child processes (one per
 * concurrent job, FUNNELCAST_TRAINING_CONCURRENCY); this process keeps the job rows in step with
 * BullMQ's view of failures and closes cleanly on SIGINT/SIGTERM, letting running jobs finish.
 * It never migrates the database: the API does that.
 */
async function trainingJobIdOf(jobs: TrainingJobs, job: Job): Promise<string | null> {
  const name = job.name as TrainingJobName;
  if (name === 'train') return (job.data as TrainingJobPayloads['train']).trainingJobId;
  if (name === 'scheduled') return jobs.idForScheduledRun(String(job.id));
  return null;
}

/**
 * Each attempt's time, from this worker taking the job to its end, by kind and outcome
 * (funnelcast_training_duration_seconds, served on this process's metrics port): the worker is
 * where a job ends, so it is the one process that sees every attempt exactly once.
 */
function timeTraining(worker: Worker, jobs: TrainingJobs): void {
  const { trainingDuration } = metrics();
  const secondsOf = (job: Job) => (job.processedOn ? ((job.finishedOn ?? Date.now()) - job.processedOn) / 1000 : null);
  worker.on('completed', (job) => {
    const outcome = job.returnvalue as RunOutcome | undefined;
    const seconds = secondsOf(job);
    if (outcome?.outcome === 'completed' && outcome.kind && seconds !== null) trainingDuration.observe({ kind: outcome.kind, outcome: 'completed' }, seconds);
  });
  worker.on('failed', (job) => {
    const seconds = job ? secondsOf(job) : null;
    if (!job || seconds === null) return;
    void (async () => {
      const id = await trainingJobIdOf(jobs, job);
      const row = id ? await jobs.get(id) : null;
      if (row) trainingDuration.observe({ kind: row.kind, outcome: 'failed' }, seconds);
    })().catch(() => undefined);
  });
}

function watchTraining(worker: Worker, jobs: TrainingJobs, release: () => Promise<number>): void {
  const log = logger();
  // A job finished for good: the jobs that waited for it (trainAll's behaviour models) may go now.
  // A release lost here (a crash, Redis away) is made by the next reconciliation.
  const releaseWaiting = () => void release().catch((problem: unknown) => log.warn({ err: problem }, 'could not queue the jobs waiting for a finished one'));
  worker.on('completed', releaseWaiting);
  worker.on('failed', (job, error) => {
    if (!job) return;
    void (async () => {
      const id = await trainingJobIdOf(jobs, job);
      if (!id) return;
      // 'failed' means no attempt is left (or the error was unrecoverable); 'delayed' or 'waiting' means a retry comes.
      const final = (await job.getState()) === 'failed';
      await jobs.recordAttemptFailure(id, error.message, final);
      log.warn({ trainingJobId: id, err: error.message, final }, final ? 'training job failed' : 'training attempt failed; will retry');
      if (final) releaseWaiting();
    })().catch((problem: unknown) => log.error({ err: problem }, 'could not record a training failure'));
  });
  worker.on('stalled', (bullJobId) => {
    void (async () => {
      const id = /^[0-9a-f-]{36}$/i.test(bullJobId) ? bullJobId : await jobs.idForScheduledRun(bullJobId);
      if (id) await jobs.markStalled(id);
    })().catch(() => undefined);
  });
}

async function main(): Promise<void> {
  logUnhandledFailures();
  loadEnvFile();
  const settings = config();
  const log = logger();
  if (!settings.databaseUrl) throw new Error('DATABASE_URL is not set; the worker stores models and job states in PostgreSQL.');
  checkModelKindHandlers(MODEL_KINDS);
  // Fail now, not at the first job, when FUNNELCAST_TF_BACKEND asks for a backend that is not there.
  const { backend } = await loadTf();
  const dataSource: DataSource = await createDataSource(settings.databaseUrl, { poolSize: 2 }).initialize();
  const jobs = new TrainingJobs(dataSource);

  const trainingWorker = createTrainingWorker(settings, join(__dirname, 'training.processor.js'));
  const workers: Worker[] = [trainingWorker];
  for (const worker of workers) worker.on('error', (error) => log.error({ err: error, queue: worker.name }, 'worker error'));
  const queue = createWorkerQueue(settings);
  timeTraining(trainingWorker, jobs);
  watchTraining(trainingWorker, jobs, () => queueReleasedJobs(dataSource, (id) => queue.add('train', { trainingJobId: id }, { jobId: id })));
  // PostgreSQL is the source of truth: put back whatever Redis lost (jobs, schedulers), now and periodically.
  const queueKeeper = keepTrainingQueue({
    dataSource,
    queue,
    processingJobIds: () => trainingWorker.processingJobIds(),
    reconcileMs: settings.queueReconcileMs,
    lockMs: settings.trainingLockMs,
    log,
  });
  // Months of `events` ahead, and retention by whole months (FUNNELCAST_RETENTION_DAYS): at start, then hourly.
  const retention = startRetentionSchedule(dataSource, settings, log);
  const metricsListener =
    settings.workerMetricsPort === null
      ? null
      : await startMetricsListener({
          host: settings.metricsHost,
          port: settings.workerMetricsPort,
          token: settings.metricsToken,
          portIsDefault: settings.workerMetricsPortIsDefault,
          registry: metrics().registry,
          log,
          portVariable: 'FUNNELCAST_WORKER_METRICS_PORT',
        });
  log.info(
    { redis: redactUrl(settings.redisUrl), metrics: metricsListener?.url ?? null, queues: workers.map((w) => w.name), concurrency: settings.trainingConcurrency, tfBackend: backend.name },
    `worker started with ${workers.length} queue(s)`,
  );

  let stopping = false;
  const shutdown = async (signal: string): Promise<void> => {
    if (stopping) {
      // A second signal: stop now; running jobs are retried elsewhere once their locks expire.
      process.exit(1);
    }
    stopping = true;
    log.info({ signal }, 'worker shutting down; waiting for running jobs');
    await queueKeeper.stop();
    await retention.stop();
    await Promise.all(workers.map((worker) => worker.close()));
    await metricsListener?.close();
    await dataSource.destroy();
    console.log('funnelcast worker stopped');
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  // Only now: a signal that arrives after "ready" must find its handler.
  console.log(
    `funnelcast worker ready (${workers.length} queues, TensorFlow.js ${describeBackend(backend)}${metricsListener ? `, metrics at ${metricsListener.url}` : ''})`,
  );
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
