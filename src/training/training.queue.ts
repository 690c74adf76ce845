import { Job, JobsOptions, Queue, RedisConnection, Worker } from 'bullmq';
import type { RedisOptions } from 'ioredis';
import type Redis from 'ioredis';
import type { Config } from '../config';
import { UserFacingError } from '../graphql/errors';
import { redactUrl } from '../redis';
import type { TrainingJobName, TrainingJobPayloads } from './model-kind';

export const TRAINING_QUEUE = 'training';

/** Transient failures (a lost connection, an out-of-memory child) are retried with exponential backoff. */
export const TRAINING_JOB_OPTIONS: JobsOptions = {
  attempts: 3,
  backoff: { type: 'exponential', delay: 5000 },
  removeOnComplete: { age: 24 * 3600 },
  removeOnFail: { age: 7 * 24 * 3600 },
};

/** Connection options for BullMQ's own connections (workers block on Redis, so no retry limit). */
export function bullConnection(redisUrl: string): RedisOptions {
  const url = new URL(redisUrl);
  return {
    host: url.hostname,
    port: Number(url.port || 6379),
    username: url.username ? decodeURIComponent(url.username) : undefined,
    password: url.password ? decodeURIComponent(url.password) : undefined,
    db: url.pathname.length > 1 ? Number(url.pathname.slice(1)) : 0,
    tls: url.protocol === 'rediss:' ? {} : undefined,
    maxRetriesPerRequest: null,
  };
}

/**
 * BullMQ's wrapper for a connection it is handed (shared) rather than one it opens itself. Its
 * close() drops every listener, yet for a shared connection it leaves the first wait for Redis
 * pending; when the owner later disconnects Redis that wait rejects and BullMQ re-emits the error
 * with nobody listening: an unhandled rejection (`connect ECONNREFUSED …`) in a process that is
 * shutting down while Redis is away. This one keeps a listener after close.
 */
export class SharedRedisConnection extends RedisConnection {
  override async close(force?: boolean): Promise<void> {
    try {
      await super.close(force);
    } finally {
      this.on('error', () => undefined);
    }
  }
}

export function redisUnavailable(redisUrl: string): UserFacingError {
  return new UserFacingError(
    'SERVICE_UNAVAILABLE',
    `Training needs Redis (${redactUrl(redisUrl)}), which does not answer. Everything else keeps working; start Redis or fix REDIS_URL, then try again.`,
  );
}

const REDIS_TIMEOUT_MS = 3000;

/**
 * The API side of the training queue. It rides on the API's own Redis connection, which fails fast
 * (no offline queue), so a training mutation answers SERVICE_UNAVAILABLE at once when Redis is
 * away instead of hanging.
 */
export class TrainingQueue {
  private queue: Queue | undefined;

  constructor(
    private readonly redis: Redis,
    private readonly config: Pick<Config, 'redisUrl' | 'queuePrefix'>,
  ) {}

  private async ready(): Promise<Queue> {
    if (this.redis.status !== 'ready') throw redisUnavailable(this.config.redisUrl);
    return this.bullQueue();
  }

  /**
   * The BullMQ queue itself, on the API's connection, for the queue dashboard (which reports Redis
   * trouble on its own pages); everything else goes through the methods here.
   */
  bullQueue(): Queue {
    if (!this.queue) {
      this.queue = new Queue(TRAINING_QUEUE, { connection: this.redis, prefix: this.config.queuePrefix, defaultJobOptions: TRAINING_JOB_OPTIONS }, SharedRedisConnection);
      this.queue.on('error', () => undefined); // the shared connection already reports Redis trouble
    }
    return this.queue;
  }

  /** Jobs waiting, active, delayed and failed right now; SERVICE_UNAVAILABLE when Redis does not answer. */
  async jobCounts(): Promise<Record<'waiting' | 'active' | 'delayed' | 'failed', number>> {
    const counts = await this.call((queue) => queue.getJobCounts('waiting', 'active', 'delayed', 'failed'));
    return { waiting: counts.waiting ?? 0, active: counts.active ?? 0, delayed: counts.delayed ?? 0, failed: counts.failed ?? 0 };
  }

  private async call<T>(work: (queue: Queue) => Promise<T>): Promise<T> {
    const queue = await this.ready();
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        work(queue),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(redisUnavailable(this.config.redisUrl)), REDIS_TIMEOUT_MS);
        }),
      ]);
    } catch (error) {
      if (error instanceof UserFacingError) throw error;
      throw redisUnavailable(this.config.redisUrl);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Adds a job; the BullMQ id is the training job's id, so adding twice queues it once. */
  async add<N extends TrainingJobName>(name: N, payload: TrainingJobPayloads[N], jobId: string): Promise<void> {
    await this.call((queue) => queue.add(name, payload, { jobId }));
  }

  /** Workers connected to the queue now (BullMQ names its connections), 0 when none. */
  async workerCount(): Promise<number> {
    return this.call((queue) => queue.getWorkersCount());
  }

  /** Removes a waiting or finished BullMQ job; false when a worker holds it right now. */
  async removeUnlessActive(jobId: string): Promise<boolean> {
    return this.call(async (queue) => {
      const job = await Job.fromId(queue, jobId);
      if (!job) return true;
      if (await job.isActive()) return false;
      await job.remove();
      return true;
    });
  }

  async upsertSchedule(scheduleId: string, cron: string): Promise<void> {
    await this.call((queue) => queue.upsertJobScheduler(scheduleId, { pattern: cron }, { name: 'scheduled', data: { scheduleId } }));
  }

  async removeSchedule(scheduleId: string): Promise<void> {
    await this.call((queue) => queue.removeJobScheduler(scheduleId));
  }

  async close(): Promise<void> {
    await this.queue?.close();
  }
}

/** The training queue's BullMQ worker, which also says which jobs it has in hand. */
export class TrainingWorker extends Worker {
  /**
   * BullMQ ids of the jobs this worker processes right now: each from its start until processing
   * ends however it ends (even when Redis lost the job meanwhile), as BullMQ's lock manager tracks them.
   */
  processingJobIds(): string[] {
    return this.lockManager?.getTrackedJobIds() ?? [];
  }
}

/**
 * The worker process side: a sandboxed BullMQ worker, so training never blocks this event loop.
 * `processorFile` is the compiled sandboxed processor (BullMQ forks a process per concurrent job and
 * loads compiled JS): `workers/training.processor.ts`, which hands the platform the composed kinds.
 */
export function createTrainingWorker(config: Pick<Config, 'redisUrl' | 'queuePrefix' | 'trainingConcurrency' | 'trainingLockMs'>, processorFile: string): TrainingWorker {
  return new TrainingWorker(TRAINING_QUEUE, processorFile, {
    connection: bullConnection(config.redisUrl),
    prefix: config.queuePrefix,
    concurrency: config.trainingConcurrency,
    useWorkerThreads: false,
    // A worker that dies mid-job stops renewing its lock; after lockDuration the job counts as
    // stalled and goes back to the queue for another worker (once; a second stall fails it).
    lockDuration: config.trainingLockMs,
    stalledInterval: Math.max(1000, Math.round(config.trainingLockMs / 2)),
    maxStalledCount: 1,
  });
}

/** The worker process's own handle on the queue, for rebuilding it from PostgreSQL (see queue-reconciler.ts). */
export function createWorkerQueue(config: Pick<Config, 'redisUrl' | 'queuePrefix'>): Queue {
  return new Queue(TRAINING_QUEUE, { connection: bullConnection(config.redisUrl), prefix: config.queuePrefix, defaultJobOptions: TRAINING_JOB_OPTIONS });
}
