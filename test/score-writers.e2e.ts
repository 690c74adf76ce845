import type { PoolClient } from 'pg';
import { copyAnomalyScores } from '../src/anomaly/anomaly-scores';
import { withPgClient } from '../src/db/data-source';
import { Float4RangeError } from '../src/db/float4';
import { copyRecommendationScores } from '../src/recommend/recommendation-scores';
import { copyItemNeighbours, copyPopularityScores } from '../src/recommend/score-tables';
import { TrainingJobs } from '../src/training/training-jobs';
import { createTestDatabase, TestDatabase } from './support/database';

/**
 * Every shared writer of a `real` column, against PostgreSQL: a magnitude below float4's range
 * (4.6e-70, the issue's long-stale popularity) is stored as 0 beside ordinary values, and NaN or a
 * value beyond float4 fails naming the column instead of being written as 0 or NaN.
 */
describe('writers of real columns', () => {
  let db: TestDatabase;
  let versionId: number;
  const TINY = 4.6e-70;

  beforeAll(async () => {
    db = await createTestDatabase('score_writers');
    [{ id: versionId }] = await db.dataSource.query(
      `INSERT INTO model_versions (kind, version, status, params, backend, trained_to) VALUES ('POPULARITY', 1, 'TRAINING', '{}', 'cpu', now()) RETURNING id`,
    );
  });
  afterAll(() => db?.drop());

  /** Runs the writer in a transaction that is rolled back, so each case starts from empty tables. */
  function inRolledBack<T>(work: (client: PoolClient) => Promise<T>): Promise<T> {
    return withPgClient(db.dataSource, async (client) => {
      await client.query('BEGIN');
      try {
        return await work(client);
      } finally {
        await client.query('ROLLBACK');
      }
    });
  }

  const writers: [string, (client: PoolClient, scores: number[]) => Promise<unknown>, string][] = [
    ['popularity_scores', (c, scores) => copyPopularityScores(c, versionId, [['', { itemIds: [1, 2, 3], scores }]]), `SELECT scores::float8[] AS s FROM popularity_scores`],
    ['item_neighbours', (c, scores) => copyItemNeighbours(c, versionId, [['similar', 9, { itemIds: [1, 2, 3], scores }]]), `SELECT scores::float8[] AS s FROM item_neighbours`],
    ['recommendation_scores', (c, scores) => copyRecommendationScores(c, versionId, [{ userId: 7, itemIds: [1, 2, 3], scores }]), `SELECT scores::float8[] AS s FROM recommendation_scores`],
    [
      'anomaly_scores',
      (c, scores) =>
        copyAnomalyScores(
          c,
          versionId,
          scores.map((score, user) => ({ userId: user + 1, day: 20_000, score, firstEventMs: 0, lastEventMs: 1, findings: [] })),
        ),
      `SELECT array_agg(score::float8 ORDER BY user_id) AS s FROM anomaly_scores`,
    ],
  ];

  it.each(writers)('%s stores an underflowing score as 0 beside ordinary ones', async (_table, write, read) => {
    const stored = await inRolledBack(async (client) => {
      await write(client, [2.5, TINY, -TINY]);
      return (await client.query<{ s: number[] }>(read)).rows[0].s;
    });
    expect(stored).toEqual([2.5, 0, 0]);
  });

  it.each(writers)('%s refuses NaN and values beyond float4, naming the column', async (table, write) => {
    for (const bad of [NaN, 1e39, Infinity]) {
      const attempt = inRolledBack((client) => write(client, [1, bad, 0.5]));
      await expect(attempt).rejects.toThrow(Float4RangeError);
      await expect(attempt).rejects.toThrow(new RegExp(`^${table}\\.score`));
    }
  });

  it('job progress below float4 is stored as 0', async () => {
    const jobs = new TrainingJobs(db.dataSource);
    const { job } = await jobs.insertOrFind({ requestKey: 'progress-test', kind: 'POPULARITY', params: {}, from: null, to: new Date(), activate: false, scheduleId: null });
    await jobs.claim(job.id);
    expect(await jobs.reportProgress(job.id, TINY, 'epoch 1')).toBe(true);
    const [{ progress }] = await db.dataSource.query(`SELECT progress::float8 AS progress FROM training_jobs WHERE id = $1`, [job.id]);
    expect(progress).toBe(0);
  });
});
