import { TrainingJobs } from '../src/training/training-jobs';
import { TrainingRunner } from '../src/training/training-runner';
import { MODEL_KINDS, TRAINING_DOMAINS } from '../src/model-kinds';
import { ModelKind, modelKindDefinition } from '../src/training/model-kind';
import { EventService } from '../src/events/event.service';
import { createTestDatabase, TestDatabase } from './support/database';

/**
 * Matrix factorisation without refit stores the model fitted before the split; items that first
 * appear after the split must count as misses in its evaluation without entering its item index.
 */
describe('MATRIX_FACTORIZATION with refit: false', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase('mf_holdout');
  });
  afterAll(() => db.drop());

  it('trains when the held-out period brings items the model never saw', async () => {
    const events = new EventService(db.dataSource, { maxBatch: 5000, maxPropertiesBytes: 16_384 });
    const day = 86_400_000;
    const start = Date.UTC(2026, 0, 5);
    const batch = [];
    // Ten days: eight users over five items for the first eight days ...
    for (let d = 0; d < 8; d++) {
      for (let u = 0; u < 8; u++) {
        batch.push({ eventId: `e-${d}-${u}`, type: 'view', userId: `u${u}`, itemId: `i${(u + d) % 5}`, timestamp: start + d * day + u * 60_000 });
      }
    }
    // ... then the held-out days, where two brand-new items appear beside known ones.
    for (let u = 0; u < 8; u++) {
      batch.push({ eventId: `late-${u}`, type: 'cart', userId: `u${u}`, itemId: u % 2 === 0 ? `new-${u % 4}` : `i${u % 5}`, timestamp: start + 9 * day + u * 60_000 });
    }
    expect((await events.ingest(batch)).accepted).toBe(batch.length);

    const params = modelKindDefinition(MODEL_KINDS, ModelKind.MATRIX_FACTORIZATION).parseParams({ refit: false, epochs: 2, dimensions: 4, seed: 3 });
    const { job } = await new TrainingJobs(db.dataSource).insertOrFind({
      requestKey: 'holdout-test',
      kind: ModelKind.MATRIX_FACTORIZATION,
      params: params as unknown as Record<string, unknown>,
      from: null,
      to: new Date(start + 10 * day),
      // Eight users cannot show a model beating popularity, so activation is not what this checks.
      activate: false,
      scheduleId: null,
    });
    const outcome = await new TrainingRunner(db.dataSource, TRAINING_DOMAINS).run(job.id);
    expect(outcome.outcome).toBe('completed');
    const [version] = await db.dataSource.query(`SELECT status, metrics FROM model_versions WHERE id = $1`, [outcome.modelVersionId]);
    expect(version.status).toBe('READY');
    // The new items were never trained on, so no list may hold them.
    const rows: { item_ids: number[] }[] = await db.dataSource.query(`SELECT item_ids FROM recommendation_scores WHERE model_version_id = $1`, [outcome.modelVersionId]);
    const newItemIds: { id: number }[] = await db.dataSource.query(`SELECT id FROM items WHERE external_id LIKE 'new-%'`);
    const listed = new Set(rows.flatMap((row) => row.item_ids));
    expect(newItemIds.filter(({ id }) => listed.has(id))).toEqual([]);
    expect(rows.length).toBeGreaterThan(0);
  });
});
