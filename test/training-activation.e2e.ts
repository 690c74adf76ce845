import { MODEL_KINDS } from '../src/model-kinds';
import { ModelRegistry } from '../src/training/model-registry';
import type { TrainedModel } from '../src/training/model-kind';
import { TrainingJobs } from '../src/training/training-jobs';
import { createTestDatabase, TestDatabase } from './support/database';

/**
 * Two jobs of one kind can train at once: late events make an identical request a new job while
 * the first still runs. Whichever completes last must not replace a version whose training
 * started later (and so read newer data). Driven through the registry with the start times set
 * explicitly, so the order does not depend on how fast anything runs.
 */
describe('activation when jobs of one kind overlap', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase('train_activation');
  });
  afterAll(() => db?.drop());

  const trained: TrainedModel = {
    artifact: Buffer.from('model'),
    metrics: {},
    eventCount: 0,
    trainedFrom: null,
    trainedTo: new Date(),
    writeScores: async () => 0,
  };

  it('a job that started earlier but finishes later stays READY; a later one activates', async () => {
    const jobs = new TrainingJobs(db.dataSource);
    const registry = new ModelRegistry(db.dataSource, MODEL_KINDS);
    async function startedJob(key: string, minutesAgo: number) {
      const { job } = await jobs.insertOrFind({ requestKey: key, kind: 'POPULARITY', params: {}, from: null, to: new Date(), activate: true, scheduleId: null });
      const claimed = (await jobs.claim(job.id))!;
      await db.dataSource.query(`UPDATE training_jobs SET started_at = now() - make_interval(mins => $2) WHERE id = $1`, [job.id, minutesAgo]);
      return { job: claimed, versionId: await registry.beginVersion(claimed, 'cpu') };
    }
    const state = async (versionId: number) => {
      const [row] = await db.dataSource.query(
        `SELECT v.status, j.state, j.message FROM model_versions v JOIN training_jobs j ON j.id = v.training_job_id WHERE v.id = $1`,
        [versionId],
      );
      return row as { status: string; state: string; message: string };
    };

    const earlier = await startedJob('earlier', 10);
    const later = await startedJob('later', 5);
    await registry.completeVersion(later.job, later.versionId, trained, 1);
    await registry.completeVersion(earlier.job, earlier.versionId, trained, 1);
    expect(await state(later.versionId)).toMatchObject({ status: 'ACTIVE', state: 'COMPLETED', message: 'trained and activated' });
    const stale = await state(earlier.versionId);
    expect(stale).toMatchObject({ status: 'READY', state: 'COMPLETED' });
    expect(stale.message).toMatch(/^trained; not activated: version 2, whose training started later and so read newer data, is active$/);

    const latest = await startedJob('latest', 1);
    await registry.completeVersion(latest.job, latest.versionId, trained, 1);
    expect((await state(latest.versionId)).status).toBe('ACTIVE');
    expect((await state(later.versionId)).status).toBe('READY');
  });
});
