import 'reflect-metadata';
import type { SandboxedJob } from 'bullmq';
import type { DataSource } from 'typeorm';
import { config } from '../src/config';
import { createDataSource } from '../src/db/data-source';
import { TRAINING_DOMAINS } from '../src/model-kinds';
import type { TrainingJobPayloads } from '../src/training/model-kind';
import { TrainingRunner } from '../src/training/training-runner';
import { trainingEventReaderOf } from '../src/analytics/clickhouse-training-events';

/**
 * BullMQ's sandboxed processor for the training queue: each concurrent job runs in a child process
 * of the worker, so heavy tfjs work never stalls the worker's event loop or its lock renewals.
 */

// When the worker dies the child would otherwise train on as an orphan; stop at once instead. An
// open transaction is rolled back with the connection, and the job is retried once its lock expires.
process.on('disconnect', () => process.exit(1));

let database: Promise<DataSource> | undefined;

function workerDatabase(): Promise<DataSource> {
  const url = config().databaseUrl;
  if (!url) throw new Error('DATABASE_URL is not set');
  if (!database) {
    const opening = createDataSource(url, { poolSize: 3 }).initialize();
    // A failed open (the database was down) must not be remembered: the next job tries again.
    opening.catch(() => {
      if (database === opening) database = undefined;
    });
    database = opening;
  }
  return database;
}

export default async function processTrainingJob(job: SandboxedJob): Promise<unknown> {
  const dataSource = await workerDatabase();
  // FUNNELCAST_ANALYTICS=clickhouse: kinds scan the events in ClickHouse (docs/analytics-store.md, "Training from ClickHouse").
  const runner = new TrainingRunner(dataSource, TRAINING_DOMAINS, trainingEventReaderOf(dataSource, config()));
  const onProgress = async (fraction: number) => {
    try {
      await job.updateProgress(Math.round(fraction * 1000) / 1000);
    } catch {
      // A progress message fails only when the IPC channel to the worker failed, i.e. the worker
      // died (its 'disconnect' may not have been delivered yet). Exit as an orphan does; letting the
      // error through would record this attempt as a training failure (version FAILED) in the database.
      process.exit(1);
    }
  };
  if (job.name === 'scheduled') {
    const { scheduleId } = job.data as TrainingJobPayloads['scheduled'];
    return runner.runScheduled(scheduleId, String(job.id), onProgress);
  }
  const { trainingJobId } = job.data as TrainingJobPayloads['train'];
  return runner.run(trainingJobId, onProgress);
}
