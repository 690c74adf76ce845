import { intFlag, parseArgs } from '../src/cli/args';
import { loadTf } from '../src/ml/tf-backend';
import { createDemoShop, startEndingToday } from '../src/sim';
import { TrainingJobs } from '../src/training/training-jobs';
import { TrainingRunner } from '../src/training/training-runner';
import { MODEL_KINDS, TRAINING_DOMAINS } from '../src/model-kinds';
import { modelKindDefinition } from '../src/training/model-kind';
import { benchDatabase, loadBenchShop } from './support';

/** Every kind, detectors first (behaviour models leave out the users they flag). */
const ORDER = [
  'ANOMALY_STATISTICAL',
  'ANOMALY_ISOLATION_FOREST',
  'POPULARITY',
  'ITEM_KNN',
  'MATRIX_FACTORIZATION',
  'SESSION_KNN',
  'SESSION_GRU',
  'NEXT_STEP',
  'PURCHASE_PROPENSITY',
  'RECOMMENDATION_BLEND',
];

/** The figures a kind's metrics give against its baseline, as one line. */
function versusBaseline(metrics: Record<string, any>): string {
  const e = metrics.evaluation ?? {};
  if (e.surfaces) {
    return Object.entries(e.surfaces as Record<string, any>)
      .map(([surface, r]) => (r.skipped ? `${surface}: skipped` : `${surface}: weights ${JSON.stringify(r.weights)}, test recall@${e.k} ${r.test.blend.recall} vs best member ${r.bestMember} ${r.rivals[r.bestMember].recall}`))
      .join('; ');
  }
  if (e.itemKnnLastItemBaseline) {
    const [m, knn, pop] = [e.model, e.itemKnnLastItemBaseline, e.popularityBaseline];
    return `next-item recall@${e.k} ${m.recall} vs item-KNN ${knn.recall}, popularity ${pop.recall}; MRR ${m.mrr} vs ${knn.mrr}, ${pop.mrr}`;
  }
  if (e.recallLiftOverBaseline !== undefined) return `recall lift ×${e.recallLiftOverBaseline}, NDCG lift ×${e.ndcgLiftOverBaseline}`;
  if (e.users && e.visits) return `users log loss ${e.users.model.logLoss} vs ${e.users.logisticBaseline.logLoss}; visits ${e.visits.model.logLoss} vs ${e.visits.logisticBaseline.logLoss}; beats: ${e.beatsBaseline}`;
  if (e.model && e.markovBaseline) return `log loss ${e.model.logLoss} vs Markov ${e.markovBaseline.logLoss}, accuracy ${e.model.accuracy} vs ${e.markovBaseline.accuracy}; beats: ${e.beatsBaseline}`;
  return JSON.stringify(e).slice(0, 160);
}

/**
 * `npm run bench train-defaults [--users 5000] [--days 14] [--seed 42] [--kinds A,B] [--params '{"KIND":{…}}']`
 *
 * The demo shop as `funnelcast demo` generates it (ending at the last UTC midnight), then every
 * model kind trained with its default params, detectors first, through the worker's code path on
 * the WebAssembly backend: seconds per kind and its figures against its baseline.
 */
export async function run(argv: string[]): Promise<void> {
  const args = parseArgs(argv, { flags: { users: 'string', days: 'string', seed: 'string', kinds: 'string', params: 'string' } });
  const users = intFlag(args, 'users', 5000, 50);
  const days = intFlag(args, 'days', 14, 2);
  const seed = intFlag(args, 'seed', 42, 0);
  const kinds = typeof args.flags.kinds === 'string' ? args.flags.kinds.split(',') : ORDER;
  // Params by kind instead of the defaults, to compare settings on the same shop.
  const paramsByKind: Record<string, unknown> = typeof args.flags.params === 'string' ? JSON.parse(args.flags.params) : {};
  process.env.LOG_LEVEL ??= 'warn';
  const { backend } = await loadTf('wasm');
  const db = await benchDatabase('bench_train_defaults');
  try {
    // The shop `funnelcast demo` loads: the realistic profile.
    const summary = await loadBenchShop(db.dataSource, createDemoShop({ users, days, seed, start: startEndingToday(days), profile: 'realistic' }));
    console.log(`demo shop (realistic profile): ${users} users, ${days} days, seed ${seed}: ${summary.imported.toLocaleString('en-US')} events; backend ${backend.name} (${backend.detail})`);
    const jobs = new TrainingJobs(db.dataSource);
    const runner = new TrainingRunner(db.dataSource, TRAINING_DOMAINS);
    for (const kind of kinds) {
      const params = modelKindDefinition(MODEL_KINDS, kind).parseParams(paramsByKind[kind] ?? {}) as Record<string, unknown>;
      const { job } = await jobs.insertOrFind({ requestKey: `bench-${kind}`, kind, params, from: null, to: new Date(), activate: true, scheduleId: null });
      const started = performance.now();
      const cpuBefore = process.cpuUsage();
      try {
        const outcome = await runner.run(job.id);
        const seconds = (performance.now() - started) / 1000;
        // CPU time of this process: what the wall time would be on an idle machine (wasm runs on one thread; PostgreSQL's share is not in it).
        const cpu = process.cpuUsage(cpuBefore);
        const cpuSeconds = (cpu.user + cpu.system) / 1e6;
        const [version] = await db.dataSource.query(`SELECT metrics FROM model_versions WHERE id = $1`, [outcome.modelVersionId]);
        console.log(`${kind.padEnd(26)} ${seconds.toFixed(1).padStart(6)} s wall, ${cpuSeconds.toFixed(1).padStart(6)} s CPU  ${versusBaseline(version.metrics)}`);
      } catch (error) {
        console.log(`${kind.padEnd(26)} FAILED after ${((performance.now() - started) / 1000).toFixed(1)} s: ${(error as Error).message}`);
      }
    }
  } finally {
    await db.drop();
  }
}
