import { EventService } from '../src/events/event.service';
import { MODEL_KINDS, TRAINING_DOMAINS } from '../src/model-kinds';
import { ModelKind, modelKindDefinition } from '../src/training/model-kind';
import { TrainingJobs } from '../src/training/training-jobs';
import { TrainingRunner } from '../src/training/training-runner';
import { createTestDatabase, TestDatabase } from './support/database';

const DAY = 86_400_000;
const START = Date.UTC(2025, 0, 6);

/**
 * POPULARITY over more than a year of events (issue #14: the default 72 h half-life failed with
 * "2.74705e-48 is out of range for type real" and, in float64, dropped items older than about 1074
 * half-lives from the list).
 */
describe('POPULARITY over a long range', () => {
  let db: TestDatabase;
  let runs = 0;

  beforeAll(async () => {
    db = await createTestDatabase('popularity_range');
    const events = new EventService(db.dataSource, { maxBatch: 5000, maxPropertiesBytes: 16_384 });
    const batch = [];
    // 400 days: every day three of 40 shoppers view one of the everyday items e0–e7 and sometimes cart it.
    for (let d = 0; d < 400; d++) {
      for (let s = 0; s < 3; s++) {
        const user = (d * 3 + s) % 40;
        const item = (d + s * user) % 8;
        batch.push({ eventId: `v-${d}-${s}`, type: 'view', userId: `u${user}`, itemId: `e${item}`, timestamp: START + d * DAY + s * 3_600_000 });
        if ((d + s) % 5 === 0) batch.push({ eventId: `c-${d}-${s}`, type: 'cart', userId: `u${user}`, itemId: `e${item}`, timestamp: START + d * DAY + s * 3_600_000 + 60_000 });
      }
    }
    // Items only touched on the first day (400 days before the newest event): old-3 viewed three times
    // by one shopper, old-2 once each by two shoppers, old-1 once.
    for (const n of [1, 2, 3]) batch.push({ eventId: `old-3${n}`, type: 'view', userId: 'u4', itemId: 'old-3', timestamp: START + 1000 });
    batch.push({ eventId: 'old-2a', type: 'view', userId: 'u1', itemId: 'old-2', timestamp: START + 1000 });
    batch.push({ eventId: 'old-2b', type: 'view', userId: 'u2', itemId: 'old-2', timestamp: START + 1000 });
    batch.push({ eventId: 'old-1', type: 'view', userId: 'u3', itemId: 'old-1', timestamp: START + 1000 });
    expect((await events.ingest(batch)).accepted).toBe(batch.length);
  });
  afterAll(() => db?.drop());

  async function train(raw: Record<string, unknown>) {
    const params = modelKindDefinition(MODEL_KINDS, ModelKind.POPULARITY).parseParams(raw) as Record<string, unknown>;
    const { job } = await new TrainingJobs(db.dataSource).insertOrFind({ requestKey: `range-${runs++}`, kind: ModelKind.POPULARITY, params, from: null, to: new Date(START + 401 * DAY), activate: false, scheduleId: null });
    const outcome = await new TrainingRunner(db.dataSource, TRAINING_DOMAINS).run(job.id);
    expect(outcome.outcome).toBe('completed');
    const [version] = await db.dataSource.query(`SELECT status, metrics FROM model_versions WHERE id = $1`, [outcome.modelVersionId]);
    const [list]: { item_ids: number[]; scores: number[] }[] = await db.dataSource.query(
      `SELECT item_ids, scores::float8[] AS scores FROM popularity_scores WHERE model_version_id = $1 AND category = ''`,
      [outcome.modelVersionId],
    );
    const externalIds = new Map<number, string>((await db.dataSource.query(`SELECT id, external_id FROM items`)).map((row: { id: number; external_id: string }) => [row.id, row.external_id]));
    return { version, items: list.item_ids.map((id) => externalIds.get(id)!), scores: list.scores };
  }

  it('trains and stores with the default params, every item listed, scores relative to the top', async () => {
    const { version, items, scores } = await train({});
    expect(version.status).toBe('READY');
    const choice = version.metrics.evaluation.choice;
    expect(choice.chosenBy).toBe('validation');
    const halfLives = [null, 24, 72, 168, 720];
    expect(choice.validation.candidates.map((c: { count: string; halfLifeHours: number | null }) => [c.count, c.halfLifeHours])).toEqual([
      ...halfLives.map((h) => ['events', h]),
      ...halfLives.map((h) => ['users', h]),
    ]);
    expect(choice.heldOutCandidates).toHaveLength(10);
    expect(halfLives).toContain(version.metrics.evaluation.halfLifeHours);
    expect(['events', 'users']).toContain(version.metrics.evaluation.count);
    expect(new Set(items)).toEqual(new Set(['e0', 'e1', 'e2', 'e3', 'e4', 'e5', 'e6', 'e7', 'old-1', 'old-2', 'old-3']));
    expect(scores[0]).toBe(1);
    for (let n = 1; n < scores.length; n++) expect(scores[n]).toBeLessThanOrEqual(scores[n - 1]);
  });

  it('with a one-hour half-life (9,600 half-lives over the range) keeps the stale items, in order, below the rest', async () => {
    const { version, items, scores } = await train({ halfLifeHours: 1, count: 'events' });
    expect(version.metrics.evaluation.halfLifeHours).toBe(1);
    expect(version.metrics.evaluation.choice.chosenBy).toBe('params');
    // old-3 (three views), old-2 (two), old-1 (one), last; relative to the top, 2^-9600 is stored as 0.
    expect(items.slice(-3)).toEqual(['old-3', 'old-2', 'old-1']);
    expect(scores.slice(-3)).toEqual([0, 0, 0]);
    expect(scores[0]).toBe(1);
  });

  it('with no decay pinned near enough (100,000 h) counts weighted events, or each user once', async () => {
    // All at the same instant, so the decay cancels in the ratios. Every event: old-3 3, old-2 2, old-1 1.
    const byEvents = await train({ halfLifeHours: 100_000, count: 'events' });
    const ratio = (run: typeof byEvents, a: string, b: string) => run.scores[run.items.indexOf(a)] / run.scores[run.items.indexOf(b)];
    expect(ratio(byEvents, 'old-1', 'old-2')).toBeCloseTo(0.5, 5);
    expect(ratio(byEvents, 'old-3', 'old-2')).toBeCloseTo(1.5, 5);
    // Each shopper once: old-3 1 (one shopper), old-2 2, old-1 1.
    const byUsers = await train({ halfLifeHours: 100_000, count: 'users' });
    expect(byUsers.version.metrics.evaluation.count).toBe('users');
    expect(ratio(byUsers, 'old-1', 'old-2')).toBeCloseTo(0.5, 5);
    expect(ratio(byUsers, 'old-3', 'old-2')).toBeCloseTo(0.5, 5);
  });
});
