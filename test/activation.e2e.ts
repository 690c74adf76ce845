import { TrainingJobs } from '../src/training/training-jobs';
import { TrainingRunner } from '../src/training/training-runner';
import { MODEL_KINDS, TRAINING_DOMAINS } from '../src/model-kinds';
import { modelKindDefinition } from '../src/training/model-kind';
import { startTestApp, TestApp } from './support/app';

/**
 * A ranking version is activated automatically only when it beats its baseline on held-out users
 * with a confidence interval above zero; otherwise it stays READY and its job says why.
 */
describe('activation on held-out evidence', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp('activation');
  });
  afterAll(async () => {
    await t?.stop();
  });

  async function train(kind: string, requestKey: string, raw: Record<string, unknown> = {}): Promise<{ status: string; message: string; verdict: { activate: boolean; reason: string }; evaluation: any }> {
    const jobs = new TrainingJobs(t.app.services.dataSource);
    const params = modelKindDefinition(MODEL_KINDS, kind).parseParams(raw) as Record<string, unknown>;
    const { job } = await jobs.insertOrFind({ requestKey, kind, params, from: null, to: new Date(), activate: true, scheduleId: null });
    const outcome = await new TrainingRunner(t.app.services.dataSource, TRAINING_DOMAINS).run(job.id);
    const [row] = await t.app.services.dataSource.query(
      `SELECT v.status, j.message, v.metrics -> 'evaluation' -> 'verdict' AS verdict, v.metrics -> 'evaluation' AS evaluation FROM model_versions v JOIN training_jobs j ON j.id = v.training_job_id WHERE v.id = $1`,
      [outcome.modelVersionId],
    );
    return row;
  }

  it('keeps a version that cannot beat popularity READY, with the interval in its job message', async () => {
    // Eight users each view item a, then item b. Each user's last event (b) is held out, and b
    // appears in no kept event, so no model can recommend it: item-kNN and popularity both score
    // recall 0 for these users.
    const start = Date.now() - 3_600_000;
    const events = Array.from({ length: 8 }, (_, u) => [
      { eventId: `a-${u}`, type: 'view', userId: `u${u}`, itemId: 'a', timestamp: new Date(start + u * 60_000).toISOString() },
      { eventId: `b-${u}`, type: 'view', userId: `u${u}`, itemId: 'b', timestamp: new Date(start + u * 60_000 + 30_000).toISOString() },
    ]).flat();
    // One more user (a, c, a) gives item a a kept neighbour (c), so item-kNN has something to train
    // on. Their held-out event is the second a, which both lists hold (a is the most popular kept
    // item; item-kNN keeps history items): recall 1 for both. So 9 users, recall 1/9 for each model,
    // and a difference of 0 for every user.
    events.push(
      { eventId: 'c-1', type: 'view', userId: 'w1', itemId: 'a', timestamp: new Date(start).toISOString() },
      { eventId: 'c-2', type: 'view', userId: 'w1', itemId: 'c', timestamp: new Date(start + 1000).toISOString() },
      { eventId: 'c-3', type: 'view', userId: 'w1', itemId: 'a', timestamp: new Date(start + 2000).toISOString() },
    );
    const result = await t.gql(`mutation($events: [EventInput!]!) { ingestEvents(events: $events) { accepted } }`, { events });
    expect(result.data).toEqual({ ingestEvents: { accepted: events.length } });

    const version = await train('ITEM_KNN', 'activation-knn');
    expect(version.status).toBe('READY');
    expect(version.verdict.activate).toBe(false);
    expect(version.verdict.reason).toMatch(/^not significantly better than popularity: recall@20 0.11111 vs 0.11111 for popularity, difference 0 \(95 % CI 0 to 0, 9 held-out users\)$/);
    expect(version.message).toBe(`trained; not activated: ${version.verdict.reason}. activateModelVersion serves it anyway`);
  });

  it('trains the blend with no trained member serving: re-engagement alone, discovery skipped, not activated on so few users', async () => {
    // The item-kNN above stayed READY, so no ITEM_KNN or MATRIX_FACTORIZATION version serves.
    // A time split of these 19 events holds out the last two users' every event, leaving no one with
    // events on both sides: the blend falls back to the per-user holdout and says so.
    const blend = await train('RECOMMENDATION_BLEND', 'activation-blend');
    expect(blend.evaluation.protocol).toMatch(/^per user: .*\(the time split left 0 users with events on both sides\)/);
    expect(blend.evaluation.members).toEqual(['REENGAGEMENT']);
    expect(blend.evaluation.surfaces.discovery).toEqual({ skipped: expect.stringContaining('no member to weigh') });
    expect(Object.keys(blend.evaluation.surfaces.default.weights)).toEqual(['REENGAGEMENT']);
    // Nine held-out users split into validation and test: under 20 test users says nothing.
    expect(blend.status).toBe('READY');
    expect(blend.verdict.reason).toMatch(/^too few test users to judge/);
  });
});
