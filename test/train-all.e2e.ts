import { Queue } from 'bullmq';
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { createDemoShop } from '../src/sim';
import { loadDemoShop } from '../src/sim/load';
import { reconcileTrainingQueue } from '../src/training/queue-reconciler';
import { bullConnection, TRAINING_QUEUE } from '../src/training/training.queue';
import { startTestApp, TestApp } from './support/app';
import { sleep, WorkerProcess } from './support/worker';

const run = promisify(execFile);
const CLI = resolve(__dirname, '../dist/src/cli/main.js');
const DETECTORS = ['ANOMALY_STATISTICAL', 'ANOMALY_ISOLATION_FOREST'];
const BEHAVIOUR = ['MATRIX_FACTORIZATION', 'POPULARITY', 'ITEM_KNN', 'SESSION_KNN', 'SESSION_GRU', 'NEXT_STEP', 'PURCHASE_PROPENSITY'];
/** Reads the recommenders' ACTIVE versions: last, after the detectors and the recommenders it blends. */
const BLEND = 'RECOMMENDATION_BLEND';
const BLENDED = ['ITEM_KNN', 'MATRIX_FACTORIZATION'];
const JOB = 'id kind state error waitsFor createdAt startedAt finishedAt modelVersion { metrics }';
// Written inline, as an admin would type it in a console: inline JSON objects must work as variables do.
const TRAIN_ALL = `mutation { trainAll(input: { params: {
  SESSION_GRU: { epochs: 1, units: 8, embeddingSize: 8 },
  NEXT_STEP: { epochs: 1, units: 4, refit: false },
  PURCHASE_PROPENSITY: { epochs: 1, units: 2, hiddenUnits: 2, refit: false },
  MATRIX_FACTORIZATION: { epochs: 2, dimensions: 4 } } }) {
  jobs { ${JOB} } skipped { kind reason } } }`;

interface Job {
  id: string;
  kind: string;
  state: string;
  error: string | null;
  waitsFor: string[];
  startedAt: string | null;
  finishedAt: string | null;
  modelVersion: { metrics: any } | null;
}

describe('trainAll', () => {
  let t: TestApp;
  let queue: Queue;
  const shop = createDemoShop({ users: 600, days: 7, seed: 3, clickFarmShare: 0.03 });
  const prefix = `train-all-${process.pid}-${Date.now().toString(36)}`;

  async function trainAll(): Promise<{ jobs: Job[]; skipped: { kind: string; reason: string }[] }> {
    const result = await t.gql<{ trainAll: { jobs: Job[]; skipped: { kind: string; reason: string }[] } }>(TRAIN_ALL);
    if (!result.data) throw new Error(JSON.stringify(result.errors));
    return result.data.trainAll;
  }

  beforeAll(async () => {
    t = await startTestApp('train_all', { FUNNELCAST_QUEUE_PREFIX: prefix });
    await loadDemoShop(t.app.services.dataSource, shop);
    // One stray event 300 days before the shop (a test event, an old import): every default split
    // must stay among the real events, or the kinds fail with "too little data before the split".
    const stray = await t.gql(`mutation($events: [EventInput!]!) { ingestEvents(events: $events) { accepted } }`, {
      events: [{ eventId: 'stray-1', type: 'view', userId: 'stray-user', itemId: 'i1', timestamp: new Date(shop.options.startMs - 300 * 86_400_000).toISOString() }],
    });
    expect(stray.data).toEqual({ ingestEvents: { accepted: 1 } });
    queue = new Queue(TRAINING_QUEUE, { connection: bullConnection(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'), prefix });
  });

  afterAll(async () => {
    await queue?.obliterate({ force: true }).catch(() => undefined);
    await queue?.close();
    await t?.stop();
  });

  it('queues the detectors and holds every behaviour model back until they have finished', async () => {
    const { jobs, skipped } = await trainAll();
    expect(jobs.map((job) => job.kind)).toEqual([...DETECTORS, ...BEHAVIOUR, BLEND]);
    // No labels are stored: the supervised detector is left out, with what to do.
    expect(skipped).toEqual([{ kind: 'ANOMALY_SUPERVISED', reason: expect.stringContaining('labelUser') }]);
    const detectorIds = jobs.slice(0, 2).map((job) => job.id);
    for (const job of jobs.slice(0, 2)) expect(job.waitsFor).toEqual([]);
    for (const job of jobs.slice(2, -1)) expect([...job.waitsFor].sort()).toEqual([...detectorIds].sort());
    const blendedIds = jobs.filter((job) => BLENDED.includes(job.kind)).map((job) => job.id);
    expect([...jobs[jobs.length - 1].waitsFor].sort()).toEqual([...detectorIds, ...blendedIds].sort());
    // In Redis: the detectors only. A reconciliation (as after a Redis restart) must not queue the held ones either.
    await reconcileTrainingQueue(t.app.services.dataSource, queue, { staleAfterMs: 60_000 });
    for (const job of jobs) expect(await queue.getJobState(job.id)).toBe(job.waitsFor.length ? 'unknown' : 'waiting');
    // The same request again: the same jobs, nothing new queued.
    const again = await trainAll();
    expect(again.jobs.map((job) => job.id)).toEqual(jobs.map((job) => job.id));
    // SESSION_GRU is opt-in: without params for it, it is skipped with how to include it, and every other job is the same.
    const withoutGru = await t.gql<{ trainAll: { jobs: Job[]; skipped: { kind: string; reason: string }[] } }>(TRAIN_ALL.replace('SESSION_GRU: { epochs: 1, units: 8, embeddingSize: 8 },', ''));
    expect(withoutGru.data!.trainAll.jobs.map((job) => job.id)).toEqual(jobs.filter((job) => job.kind !== 'SESSION_GRU').map((job) => job.id));
    expect(withoutGru.data!.trainAll.skipped).toEqual([
      { kind: 'SESSION_GRU', reason: expect.stringContaining('name it in params') },
      { kind: 'ANOMALY_SUPERVISED', reason: expect.stringContaining('labelUser') },
    ]);
  });

  it('releases the waiting jobs when the jobs they wait for are cancelled', async () => {
    const { jobs } = await trainAll();
    for (const id of jobs.slice(0, 1).map((job) => job.id)) {
      const cancelled = await t.gql(`mutation($id: ID!) { cancelTrainingJob(id: $id) { state } }`, { id });
      expect(cancelled.data).toEqual({ cancelTrainingJob: { state: 'CANCELLED' } });
    }
    // One detector is still QUEUED: everything else stays held.
    for (const job of jobs.slice(2)) expect(await queue.getJobState(job.id)).toBe('unknown');
    const last = await t.gql(`mutation($id: ID!) { cancelTrainingJob(id: $id) { state } }`, { id: jobs[1].id });
    expect(last.data).toEqual({ cancelTrainingJob: { state: 'CANCELLED' } });
    for (const job of jobs.slice(2, -1)) expect(await queue.getJobState(job.id)).toBe('waiting');
    // The blend still waits for the recommenders it reads.
    expect(await queue.getJobState(jobs[jobs.length - 1].id)).toBe('unknown');
    // Tidy up for the next test: cancel the released ones too.
    for (const job of jobs.slice(2)) await t.gql(`mutation($id: ID!) { cancelTrainingJob(id: $id) { state } }`, { id: job.id });
  });

  it('with a worker, trains every kind despite a stray early event, starting every behaviour model after the last detector finished, and they leave out the flagged users', async () => {
    const { jobs } = await trainAll();
    // Three jobs at a time: without the dependencies a behaviour model would start beside the two detectors.
    const worker = new WorkerProcess(t.db.url, prefix, { FUNNELCAST_TRAINING_CONCURRENCY: '3' });
    try {
      await worker.ready();
      let finished: Job[] = [];
      for (;;) {
        const read = await t.gql<Record<string, Job>>(`{ ${jobs.map((job, n) => `j${n}: trainingJob(id: "${job.id}") { ${JOB} }`).join(' ')} }`);
        finished = Object.values(read.data!);
        if (finished.every((job) => ['COMPLETED', 'FAILED', 'CANCELLED'].includes(job.state))) break;
        if (worker.child.exitCode !== null) throw new Error(`worker exited: ${worker.output}`);
        await sleep(200);
      }
      for (const job of finished) expect({ kind: job.kind, state: job.state, error: job.error }).toEqual({ kind: job.kind, state: 'COMPLETED', error: null });
      const detectorsDone = Math.max(...finished.slice(0, 2).map((job) => Date.parse(job.finishedAt!)));
      for (const job of finished.slice(2)) expect(Date.parse(job.startedAt!)).toBeGreaterThanOrEqual(detectorsDone);
      const blendedDone = Math.max(...finished.filter((job) => BLENDED.includes(job.kind)).map((job) => Date.parse(job.finishedAt!)));
      expect(Date.parse(finished[finished.length - 1].startedAt!)).toBeGreaterThanOrEqual(blendedDone);
      // The users the detectors flag, as the API lists them once they are active, are left out of every
      // behaviour model (an ingest-guard mark alone leaves no one out: docs/privacy.md).
      const flagged: any = await t.gql(`query($from: DateTime!, $to: DateTime!) { anomalies(from: $from, to: $to, first: 200) { totalCount edges { node { userId flagged score } } } }`, {
        from: new Date(shop.options.startMs).toISOString(),
        to: new Date(shop.options.endMs).toISOString(),
      });
      const page = flagged.data.anomalies;
      expect(page.totalCount).toBe(page.edges.length); // one page holds them all
      const flaggedUsers = page.edges.filter(({ node }: { node: { flagged: boolean; score: number } }) => node.flagged && node.score >= 0.5).length;
      expect(flaggedUsers).toBeGreaterThan(0);
      for (const job of finished.slice(2)) expect(job.modelVersion!.metrics.excludedAnomalousUsers).toBeGreaterThanOrEqual(flaggedUsers);

      // The command line does the same: over unchanged data `train --all` finds the jobs that trained.
      const env = { ...process.env, DATABASE_URL: t.db.url, FUNNELCAST_QUEUE_PREFIX: prefix, LOG_LEVEL: 'silent' };
      const params = JSON.stringify({ SESSION_GRU: { epochs: 1, units: 8, embeddingSize: 8 }, NEXT_STEP: { epochs: 1, units: 4, refit: false }, PURCHASE_PROPENSITY: { epochs: 1, units: 2, hiddenUnits: 2, refit: false }, MATRIX_FACTORIZATION: { epochs: 2, dimensions: 4 } });
      const all = await run(process.execPath, [CLI, 'train', '--all', '--params', params, '--wait'], { env });
      for (const job of jobs) expect(all.stdout).toContain(`${job.id}  COMPLETED`);
      expect(all.stdout).toMatch(/^skipped ANOMALY_SUPERVISED: .*labelUser/m);
      // One kind, new params: a new job, trained by the worker while the command waits.
      const one = await run(process.execPath, [CLI, 'train', '--kind', 'POPULARITY', '--params', '{"halfLifeHours":24}', '--wait'], { env });
      expect(one.stdout).toMatch(/^POPULARITY +COMPLETED in [\d.]+ s$/m);
      // Bad input: the service's message, and a failing exit code.
      await expect(run(process.execPath, [CLI, 'train', '--kind', 'POPULARITY', '--params', '{"halfLifeHours":-1}'], { env })).rejects.toMatchObject({
        code: 1,
        stderr: expect.stringContaining('params.halfLifeHours must be a number from 0 to 100000'),
      });
    } finally {
      await worker.stop();
    }
  });
});
