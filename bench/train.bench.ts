import { intFlag, parseArgs } from '../src/cli/args';
import { decodeArtifact, tensorNamed } from '../src/ml/artifact';
import { BprOptions, PairSet, stepsPerEpoch, trainBpr } from '../src/ml/matrix-factorization';
import { pairwiseConcordance } from '../src/ml/metrics';
import { Rng } from '../src/ml/random';
import { loadTf, TfBackendName } from '../src/ml/tf-backend';
import { createDemoShop } from '../src/sim';
import { TRAINING_DOMAINS } from '../src/model-kinds';
import { TrainingJobs } from '../src/training/training-jobs';
import { TrainingRunner } from '../src/training/training-runner';
import { matrixFactorization } from '../src/recommend/matrix-factorization.kind';
import { benchDatabase, loadBenchShop } from './support';

const PAIR_WEIGHTS: Record<string, number> = { view: 1, fav: 2, cart: 3, checkout: 3, purchase: 5 };

/** The demo shop's (user, item) pairs in memory, strongest event type per pair, for the speed runs. */
function demoShopPairs(users: number, items: number, days: number, seed: number): PairSet & { events: number } {
  const shop = createDemoShop({ users, items, days, seed });
  const strongest = new Map<number, number>();
  let events = 0;
  for (const event of shop.events()) {
    const weight = PAIR_WEIGHTS[event.type];
    if (!weight || event.itemId === null) continue;
    events++;
    const key = Number(event.userId.slice(1)) * items + Number(event.itemId.slice(1));
    strongest.set(key, Math.max(strongest.get(key) ?? 0, weight));
  }
  const pairUsers = new Int32Array(strongest.size);
  const pairItems = new Int32Array(strongest.size);
  const weights = new Float32Array(strongest.size);
  let n = 0;
  for (const [key, weight] of strongest) {
    pairUsers[n] = Math.floor(key / items);
    pairItems[n] = key % items;
    weights[n++] = weight;
  }
  return { userCount: users, itemCount: items, users: pairUsers, items: pairItems, weights, events };
}

interface SpeedRun {
  backend: TfBackendName;
  detail: string;
  epochSeconds: number;
  stepsPerSecond: number;
}

async function measureBackend(name: TfBackendName, pairs: PairSet, options: BprOptions, maxSteps: number): Promise<SpeedRun> {
  const { tf, backend } = await loadTf(name);
  // A full epoch on the plain CPU backend takes minutes: time `maxSteps` steps and scale to an epoch.
  const perEpoch = stepsPerEpoch(pairs, options.batchSize);
  const sampled = perEpoch > maxSteps ? { ...pairs, users: pairs.users.subarray(0, maxSteps * options.batchSize) } : pairs;
  // One warm-up step (kernel set-up, first allocations) outside the timing.
  await trainBpr(tf, { ...pairs, users: pairs.users.subarray(0, options.batchSize) }, { ...options, epochs: 1 });
  const result = await trainBpr(tf, sampled, { ...options, epochs: 1 });
  const stepsPerSecond = result.steps / result.seconds;
  return { backend: backend.name, detail: backend.detail, epochSeconds: perEpoch / stepsPerSecond, stepsPerSecond };
}

/**
 * `npm run bench train [--users 10000] [--items 5000] [--dimensions 32] [--cpu-steps 30]
 *  [--quality-users 3000] [--quality-days 14]`
 *
 * 1. Speed: one epoch of the BPR factorisation on the wasm and the plain CPU backend, same pairs
 *    and settings, epoch time and minibatch steps/s, and the ratio.
 * 2. Quality: the whole training path (PostgreSQL → worker code → model version) on a demo shop,
 *    the model against the popularity baseline on the held-out period, and how well its scores
 *    order items the way the generator's true affinities do (0.5 is chance).
 */
export async function run(argv: string[]): Promise<void> {
  const args = parseArgs(argv, { flags: { users: 'string', items: 'string', dimensions: 'string', 'cpu-steps': 'string', 'quality-users': 'string', 'quality-days': 'string' } });
  const users = intFlag(args, 'users', 10_000, 2);
  const items = intFlag(args, 'items', 5_000, 2);
  const dimensions = intFlag(args, 'dimensions', 32, 2);
  const cpuSteps = intFlag(args, 'cpu-steps', 30, 2);
  const qualityUsers = intFlag(args, 'quality-users', 3_000, 50);
  const qualityDays = intFlag(args, 'quality-days', 14, 2);
  process.env.LOG_LEVEL ??= 'warn';

  const pairs = demoShopPairs(users, items, 14, 1);
  const options: BprOptions = { dimensions, epochs: 1, learningRate: 0.05, regularization: 0.05, negatives: 1, negativeSampling: 'uniform', batchSize: 1024, seed: 1 };
  console.log(
    `train benchmark: BPR matrix factorisation, ${users.toLocaleString('en-US')} users × ${items.toLocaleString('en-US')} items, ` +
      `${pairs.users.length.toLocaleString('en-US')} pairs from ${pairs.events.toLocaleString('en-US')} demo-shop events, ${dimensions} dimensions, batch 1024 ` +
      `(${stepsPerEpoch(pairs, 1024)} steps per epoch)`,
  );
  const wasm = await measureBackend('wasm', pairs, options, Number.MAX_SAFE_INTEGER);
  const cpu = await measureBackend('cpu', pairs, options, cpuSteps);
  for (const runResult of [wasm, cpu]) {
    console.log(`${runResult.backend.padEnd(5)} (${runResult.detail}): epoch ${runResult.epochSeconds.toFixed(2)} s, ${runResult.stepsPerSecond.toFixed(1)} steps/s`);
  }
  console.log(`ratio: wasm runs ${(wasm.stepsPerSecond / cpu.stepsPerSecond).toFixed(1)}× as many steps/s as cpu (cpu timed over ${cpuSteps} steps)`);

  // Quality on the demo shop, through the same code the worker runs.
  await loadTf('wasm');
  const db = await benchDatabase('bench_train');
  try {
    const shop = createDemoShop({ users: qualityUsers, days: qualityDays, seed: 7 });
    await loadBenchShop(db.dataSource, shop);
    const jobs = new TrainingJobs(db.dataSource);
    const params = matrixFactorization.parseParams({});
    const { job } = await jobs.insertOrFind({ requestKey: 'bench', kind: 'MATRIX_FACTORIZATION', params, from: null, to: new Date(), activate: true, scheduleId: null });
    const outcome = await new TrainingRunner(db.dataSource, TRAINING_DOMAINS).run(job.id);
    const [version] = await db.dataSource.query(`SELECT metrics, training_seconds, artifact FROM model_versions WHERE id = $1`, [outcome.modelVersionId]);
    const evaluation = version.metrics.evaluation;
    const line = (name: string, m: Record<string, number>) =>
      `${name.padEnd(20)} recall@20 ${m.recall.toFixed(4)}  NDCG@20 ${m.ndcg.toFixed(4)}  MRR ${m.mrr.toFixed(4)}  hit rate ${m.hitRate.toFixed(4)}  coverage ${m.coverage.toFixed(4)}`;
    console.log(`\ndemo shop: ${qualityUsers} users, ${qualityDays} days, default params ${JSON.stringify(params)}`);
    console.log(`held-out users: ${evaluation.heldOutUsers} (split at ${evaluation.splitAt}); training ${Number(version.training_seconds).toFixed(1)} s`);
    console.log(line('matrix factorisation', evaluation.model));
    console.log(line('popularity baseline', evaluation.popularityBaseline));
    console.log(`lift: recall ×${evaluation.recallLiftOverBaseline}, NDCG ×${evaluation.ndcgLiftOverBaseline}`);

    // Ground truth: for sampled genuine users, do the model's scores order random items as the true affinities do?
    const artifact = decodeArtifact(version.artifact);
    const d = Number(artifact.header.dimensions);
    const userIds = tensorNamed(artifact, 'userIds').data;
    const itemIds = tensorNamed(artifact, 'itemIds').data;
    const userFactors = tensorNamed(artifact, 'userFactors').data;
    const itemFactors = tensorNamed(artifact, 'itemFactors').data;
    const itemBias = tensorNamed(artifact, 'itemBias').data;
    const externalUser = new Map<number, string>((await db.dataSource.query(`SELECT id, external_id FROM users`)).map((r: { id: number; external_id: string }) => [r.id, r.external_id]));
    const externalItem = new Map<number, string>((await db.dataSource.query(`SELECT id, external_id FROM items`)).map((r: { id: number; external_id: string }) => [r.id, r.external_id]));
    const itemIndex = Array.from(itemIds, (id) => Number(externalItem.get(id)!.slice(1)));
    const random = Rng.stream(5);
    const modelConcordance: number[] = [];
    const popularityConcordance: number[] = [];
    let sampledUsers = 0;
    const popularity = new Float64Array(itemIds.length);
    const pairsByItem: { item_id: number; n: number }[] = await db.dataSource.query(`SELECT item_id, count(DISTINCT user_id)::int AS n FROM events WHERE item_id IS NOT NULL GROUP BY 1`);
    const position = new Map(Array.from(itemIds, (id, n) => [id, n]));
    for (const row of pairsByItem) if (position.has(row.item_id)) popularity[position.get(row.item_id)!] = row.n;
    for (let user = 0; user < userIds.length && sampledUsers < 500; user += 3) {
      const shopUser = shop.groundTruth.userIndexOf(externalUser.get(userIds[user])!);
      if (shop.groundTruth.label(shopUser) !== 'genuine') continue;
      const chosen = Array.from({ length: 40 }, () => random.below(itemIds.length));
      const truth = chosen.map((item) => shop.groundTruth.trueAffinity(shopUser, itemIndex[item]));
      const predicted = chosen.map((item) => {
        let score = itemBias[item];
        for (let k = 0; k < d; k++) score += userFactors[user * d + k] * itemFactors[item * d + k];
        return score;
      });
      modelConcordance.push(pairwiseConcordance(predicted, truth));
      popularityConcordance.push(pairwiseConcordance(chosen.map((item) => popularity[item]), truth));
      sampledUsers++;
    }
    const meanAndError = (values: number[]) => {
      const mean = values.reduce((a, b) => a + b, 0) / values.length;
      const variance = values.reduce((sum, v) => sum + (v - mean) ** 2, 0) / (values.length - 1);
      return `${mean.toFixed(4)} ± ${Math.sqrt(variance / values.length).toFixed(4)} (standard error)`;
    };
    console.log(`true-affinity concordance, ${sampledUsers} genuine users × 40 random items (0.5 = chance):`);
    console.log(`  model ${meanAndError(modelConcordance)}; item popularity ${meanAndError(popularityConcordance)}`);
  } finally {
    await db.drop();
  }
}
