import { Queue } from 'bullmq';
import { createDemoShop } from '../../src/sim';
import { loadDemoShop } from '../../src/sim/load';
import { reconcileTrainingQueue } from '../../src/training/queue-reconciler';
import { TrainingJobs } from '../../src/training/training-jobs';
import { TRAINING_QUEUE, TrainingWorker } from '../../src/training/training.queue';
import { startTestApp, TestApp } from '../support/app';
import { PrivateRedis } from '../support/private-redis';
import { sleep, WorkerProcess } from '../support/worker';

/**
 * Redis loses its data or goes away; PostgreSQL is the source of truth for training jobs and
 * schedules, and the worker rebuilds BullMQ's view from it. Everything runs on a private
 * redis-server the test starts, wipes, stops and restarts (never the shared one).
 */

const PREFIX = `redis-faults-${process.pid}`;
// Fast clocks for the test: a dead worker's lock expires after 2 s, reconciliation runs every second.
const WORKER_ENV = { FUNNELCAST_TRAINING_LOCK_MS: '2000', FUNNELCAST_QUEUE_RECONCILE_MS: '1000', LOG_LEVEL: 'info' };

const JOB_FIELDS = 'id kind state attempts message error createdAt modelVersion { id status }';

interface Job {
  id: string;
  kind: string;
  state: string;
  attempts: number;
  message: string | null;
  error: string | null;
  createdAt: string;
  modelVersion: { id: string; status: string } | null;
}

jest.setTimeout(180_000);

describe('Redis faults', () => {
  let redis: PrivateRedis;
  let t: TestApp;
  let queue: Queue;
  let worker: WorkerProcess | undefined;

  function startWorker(): Promise<void> {
    worker = new WorkerProcess(t.db.url, PREFIX, { ...WORKER_ENV, REDIS_URL: redis.url });
    return worker.ready();
  }

  async function train(input: Record<string, unknown>): Promise<{ job?: Job; code?: string; message?: string }> {
    const result = await t.gql<{ trainModel: Job }>(`mutation($input: TrainModelInput!) { trainModel(input: $input) { ${JOB_FIELDS} } }`, { input });
    if (result.data) return { job: result.data.trainModel };
    return { code: result.errors![0].extensions?.code, message: result.errors![0].message };
  }

  async function job(id: string): Promise<Job> {
    const result = await t.gql<{ trainingJob: Job }>(`query($id: ID!) { trainingJob(id: $id) { ${JOB_FIELDS} } }`, { id });
    if (!result.data) throw new Error(JSON.stringify(result.errors));
    return result.data.trainingJob;
  }

  async function waitFor<T>(what: string, probe: () => Promise<T | undefined | null | false>, timeoutMs = 90_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = await probe();
      if (value) return value;
      if (Date.now() > deadline) throw new Error(`${what} did not happen within ${timeoutMs} ms; worker said:\n${worker?.output ?? '(no worker)'}`);
      await sleep(200);
    }
  }

  const finished = (id: string) => waitFor(`job ${id} finishing`, async () => {
    const current = await job(id);
    return ['COMPLETED', 'FAILED', 'CANCELLED'].includes(current.state) ? current : null;
  });

  async function versionsOf(jobId: string): Promise<number> {
    const [{ n }] = await t.app.services.dataSource.query(`SELECT count(*)::int AS n FROM model_versions WHERE training_job_id = $1`, [jobId]);
    return n;
  }

  beforeAll(async () => {
    redis = await PrivateRedis.start();
    // A schedule firing every 4 s below: allowed by a minimum interval of 1 s.
    t = await startTestApp('redisfaults', { REDIS_URL: redis.url, FUNNELCAST_QUEUE_PREFIX: PREFIX, FUNNELCAST_FUNNEL_WARMUP: 'false', FUNNELCAST_TRAINING_MIN_INTERVAL_SECONDS: '1' });
    await loadDemoShop(t.app.services.dataSource, createDemoShop({ users: 300, days: 7, seed: 5 }));
    queue = new Queue(TRAINING_QUEUE, { connection: { host: '127.0.0.1', port: redis.port, maxRetriesPerRequest: 1 }, prefix: PREFIX });
    queue.on('error', () => undefined);
    // The API's connection to the fresh server may still be opening.
    await waitFor('API connected to Redis', async () => t.app.services.redis.status === 'ready', 20_000);
  });

  afterAll(async () => {
    await worker?.stop();
    await queue?.close().catch(() => undefined);
    await t?.stop();
    await redis?.destroy();
  });

  it('runs a job queued while the worker was down, after Redis lost everything', async () => {
    const queued = (await train({ kind: 'POPULARITY', params: { halfLifeHours: 24 } })).job!;
    expect(queued.state).toBe('QUEUED');
    expect(await queue.getJobState(queued.id)).toBe('waiting');

    await redis.flushAll();
    expect(await queue.getJobState(queued.id)).toBe('unknown');

    await startWorker();
    const done = await finished(queued.id);
    expect(done.state).toBe('COMPLETED');
    expect(done.attempts).toBe(1);
    expect(done.modelVersion!.status).toBe('ACTIVE');
    expect(await versionsOf(queued.id)).toBe(1);
    // The worker put it back itself, under the training job's own id.
    expect(worker!.output).toMatch(/"requeued":1[,}].*training queue rebuilt from PostgreSQL/);
    expect(await queue.getJobState(queued.id)).toBe('completed');
  });

  it('re-creates a schedule’s job scheduler after a wipe, and the schedule fires again', async () => {
    // Every 4 seconds, so the test sees it fire; removed at the end.
    if (!worker || worker.child.exitCode !== null || worker.child.signalCode !== null) await startWorker();
    const cron = '*/4 * * * * *';
    const created = await t.gql<{ scheduleTraining: { id: string } }>(
      `mutation($cron: String!) { scheduleTraining(kind: POPULARITY, cron: $cron) { id } }`,
      { cron },
    );
    if (!created.data) throw new Error(JSON.stringify(created.errors));
    const scheduleId = created.data.scheduleTraining.id;
    expect((await queue.getJobSchedulers()).map((s) => [s.key, s.pattern])).toEqual([[scheduleId, cron]]);

    await redis.flushAll();
    expect(await queue.getJobSchedulers()).toEqual([]);
    const wipedAt = Date.now();

    const restored = await waitFor('scheduler restored', async () => {
      const schedulers = await queue.getJobSchedulers();
      return schedulers.length > 0 ? schedulers : null;
    }, 30_000);
    const listed = (await t.gql<{ trainingSchedules: { id: string; cron: string }[] }>('{ trainingSchedules { id cron } }')).data!.trainingSchedules;
    expect(restored.map((s) => ({ id: s.key, cron: s.pattern }))).toEqual(listed);
    expect(listed).toEqual([{ id: scheduleId, cron }]);

    // It fires again: a job of this schedule created after the wipe trains to completion.
    const fired = await waitFor('a firing after the wipe', async () => {
      const rows: { id: string }[] = await t.app.services.dataSource.query(
        `SELECT id FROM training_jobs WHERE schedule_id = $1 AND created_at > $2 AND state = 'COMPLETED' LIMIT 1`,
        [scheduleId, new Date(wipedAt)],
      );
      return rows[0];
    });
    expect((await job(fired.id)).state).toBe('COMPLETED');

    const removed = await t.gql(`mutation($id: ID!) { unscheduleTraining(id: $id) { id } }`, { id: scheduleId });
    expect(removed.errors).toBeUndefined();
    expect(await queue.getJobSchedulers()).toEqual([]);
  });

  it.each([
    ['with its data', true, 72],
    ['without its data', false, 96],
  ] as const)('keeps serving while Redis restarts %s; training answers SERVICE_UNAVAILABLE meanwhile and works after', async (_, keepData, halfLifeHours) => {
    // A job queued before the outage, while the worker is away, must run afterwards either way.
    await worker!.stop();
    const before = (await train({ kind: 'POPULARITY', params: { halfLifeHours } })).job!;
    expect(before.state).toBe('QUEUED');

    await redis.stop({ keepData });
    await waitFor('API noticing Redis is gone', async () => t.app.services.redis.status !== 'ready', 20_000);
    const refused = await train({ kind: 'POPULARITY', params: { halfLifeHours: halfLifeHours + 1 } });
    expect(refused.code).toBe('SERVICE_UNAVAILABLE');
    expect(refused.message).toMatch(/Training needs Redis .* does not answer/);
    const schedule = await t.gql('mutation { scheduleTraining(kind: POPULARITY, cron: "0 3 * * *") { id } }');
    expect(schedule.errors![0].extensions!.code).toBe('SERVICE_UNAVAILABLE');
    // Everything that does not queue keeps working.
    expect((await t.gql('{ apiKeys { id } }')).data!.apiKeys.length).toBeGreaterThan(0);
    expect((await t.gql('{ trainingJob(id: "' + before.id + '") { state } }')).data!.trainingJob.state).toBe('QUEUED');
    expect((await t.gql('{ recommendations(userId: "u-1", limit: 3) { items { itemId } } }')).errors).toBeUndefined();
    expect((await t.gql('{ trainingSchedules { id } }')).data!.trainingSchedules).toEqual([]);

    await redis.start();
    expect(await queue.getJobState(before.id)).toBe(keepData ? 'waiting' : 'unknown');
    const after = await waitFor('trainModel accepted again', async () => (await train({ kind: 'POPULARITY', params: { halfLifeHours: halfLifeHours + 1 } })).job, 30_000);
    expect(after.state).toBe('QUEUED');

    await startWorker();
    for (const id of [before.id, after.id]) {
      const done = await finished(id);
      expect(done.state).toBe('COMPLETED');
      expect(done.attempts).toBe(1);
      expect(await versionsOf(id)).toBe(1);
    }
  });

  it('rebuilds idempotently: passes running side by side queue each lost job once, and leave a job in hand alone', async () => {
    await worker?.stop();
    const lost = (await train({ kind: 'POPULARITY', params: { halfLifeHours: 12 } })).job!;
    const stale = (await train({ kind: 'POPULARITY', params: { halfLifeHours: 13 } })).job!;
    const inHand = (await train({ kind: 'POPULARITY', params: { halfLifeHours: 14 } })).job!;
    // Two jobs a worker had started: one whose worker is long gone, one whose worker beat its heart just now.
    await t.app.services.dataSource.query(`UPDATE training_jobs SET state = 'RUNNING', attempts = 1, updated_at = now() - interval '1 minute' WHERE id = $1`, [stale.id]);
    await t.app.services.dataSource.query(`UPDATE training_jobs SET state = 'RUNNING', attempts = 1, updated_at = now() WHERE id = $1`, [inHand.id]);
    await redis.flushAll();

    const passes = await Promise.all([1, 2, 3].map(() => reconcileTrainingQueue(t.app.services.dataSource, queue, { staleAfterMs: 30_000 })));
    expect(passes.reduce((n, p) => n + p.resumed, 0)).toBe(1); // one conditional UPDATE wins the stale job
    const waiting = (await queue.getJobs(['waiting'])).map((j) => j.id).sort();
    expect(waiting).toEqual([lost.id, stale.id].sort());
    expect(await queue.getJobState(inHand.id)).toBe('unknown');
    expect((await job(stale.id)).state).toBe('QUEUED');
    expect((await job(inHand.id)).state).toBe('RUNNING');

    // Once its heartbeat is old, a later pass takes the job in hand back too, still once.
    await t.app.services.dataSource.query(`UPDATE training_jobs SET updated_at = now() - interval '1 minute' WHERE id = $1`, [inHand.id]);
    await Promise.all([1, 2].map(() => reconcileTrainingQueue(t.app.services.dataSource, queue, { staleAfterMs: 30_000 })));
    expect((await queue.getJobs(['waiting'])).map((j) => j.id).sort()).toEqual([lost.id, stale.id, inHand.id].sort());

    await startWorker();
    for (const id of [lost.id, stale.id, inHand.id]) {
      const done = await finished(id);
      expect(done.state).toBe('COMPLETED');
      expect(await versionsOf(id)).toBe(1);
    }
  });

  it('does not train a job twice when Redis is wiped while a live worker trains it', async () => {
    if (!worker || worker.child.exitCode !== null || worker.child.signalCode !== null) await startWorker();
    const queued = (await train({ kind: 'MATRIX_FACTORIZATION', params: { algorithm: 'bpr', epochs: 40, dimensions: 8, batchSize: 32, seed: 3 } })).job!;
    await waitFor('training under way', async () => {
      const [row] = await t.app.services.dataSource.query(`SELECT state, progress FROM training_jobs WHERE id = $1`, [queued.id]);
      return row.state === 'RUNNING' && row.progress > 0.05;
    });
    await redis.flushAll();
    const wipedAt = Date.now();
    const done = await finished(queued.id);
    // The wipe happened well before the end (several lock periods), so reconciliation had its chances to interfere.
    const [{ finished_at }] = await t.app.services.dataSource.query(`SELECT finished_at FROM training_jobs WHERE id = $1`, [queued.id]);
    expect(new Date(finished_at).getTime() - wipedAt).toBeGreaterThan(2000);
    expect(done.state).toBe('COMPLETED');
    expect(done.attempts).toBe(1);
    expect(await versionsOf(queued.id)).toBe(1);
    await sleep(3000);
    expect(await job(queued.id)).toMatchObject({ state: 'COMPLETED', attempts: 1 });
    expect(await queue.getJobState(queued.id)).toBe('unknown');
  });

  it('beats the heart of the jobs a worker has in hand, from start to end however Redis fares', async () => {
    // Progress reports also touch a running row, but a long step between them must not make it look
    // abandoned: the worker process itself keeps the rows of the jobs it processes fresh.
    const probeQueue = `${TRAINING_QUEUE}-probe`;
    let release!: () => void;
    const held = new Promise<void>((done) => (release = done));
    const probe = new TrainingWorker(probeQueue, () => held, { connection: { host: '127.0.0.1', port: redis.port, maxRetriesPerRequest: null }, prefix: PREFIX });
    probe.on('error', () => undefined);
    const producer = new Queue(probeQueue, { connection: { host: '127.0.0.1', port: redis.port }, prefix: PREFIX });
    const running = (await train({ kind: 'POPULARITY', params: { halfLifeHours: 15 } })).job!;
    await t.app.services.dataSource.query(`UPDATE training_jobs SET state = 'RUNNING', updated_at = now() - interval '1 hour' WHERE id = $1`, [running.id]);
    try {
      await producer.add('train', { trainingJobId: running.id }, { jobId: running.id });
      await waitFor('the probe worker taking the job', async () => probe.processingJobIds().includes(running.id), 20_000);
      await redis.flushAll(); // still in hand, although Redis forgot it
      expect(probe.processingJobIds()).toEqual([running.id]);
      await new TrainingJobs(t.app.services.dataSource).touchRunning(probe.processingJobIds());
      const [{ age }] = await t.app.services.dataSource.query(`SELECT extract(epoch FROM now() - updated_at) AS age FROM training_jobs WHERE id = $1`, [running.id]);
      expect(Number(age)).toBeLessThan(60);
      release();
      await waitFor('the probe worker letting go', async () => probe.processingJobIds().length === 0, 20_000);
    } finally {
      release();
      await probe.close(true);
      await producer.close();
      await t.app.services.dataSource.query(`UPDATE training_jobs SET state = 'CANCELLED' WHERE id = $1`, [running.id]);
    }
  });

  it.each([
    ['Redis keeps the job', false],
    ['Redis is wiped as well', true],
  ] as const)('retries a job whose worker was killed mid-training (%s) and completes it exactly once', async (_, wipe) => {
    const queued = (await train({ kind: 'MATRIX_FACTORIZATION', params: { algorithm: 'bpr', epochs: 20, dimensions: 8, batchSize: 32, seed: wipe ? 2 : 1 } })).job!;
    await waitFor('training under way', async () => {
      const [row] = await t.app.services.dataSource.query(`SELECT state, progress FROM training_jobs WHERE id = $1`, [queued.id]);
      return row.state === 'RUNNING' && row.progress > 0.1;
    });
    await worker!.stop('SIGKILL');
    const stranded = await job(queued.id);
    expect(stranded.state).toBe('RUNNING');
    if (wipe) await redis.flushAll();

    await startWorker();
    const done = await finished(queued.id);
    expect(done.state).toBe('COMPLETED');
    expect(done.attempts).toBe(2);
    expect(done.modelVersion!.id).toBe(stranded.modelVersion!.id);
    expect(await versionsOf(queued.id)).toBe(1);
    if (wipe) expect(worker!.output).toMatch(/"resumed":1[,}].*training queue rebuilt from PostgreSQL/);

    // Exactly once: several reconciliation passes later nothing has queued or trained it again.
    await sleep(3000);
    const later = await job(queued.id);
    expect(later).toMatchObject({ state: 'COMPLETED', attempts: 2 });
    expect(await queue.getJobState(queued.id)).toBe('completed');
    expect(await versionsOf(queued.id)).toBe(1);
  });
});
