import 'reflect-metadata';
import type { DataSource } from 'typeorm';
import { intFlag, parseArgs } from '../../src/cli/args';
import { createScratchDatabase } from '../../src/db/scratch-database';
import { FunnelService } from '../../src/funnel/funnel.service';
import type { FunnelSpec } from '../../src/funnel/funnel-definition';
import { decodeArtifact, tensorNamed } from '../../src/ml/artifact';
import { evaluateRanking, type HeldOutUser, type RankingMetrics } from '../../src/ml/evaluation';
import { topItemsForUsers, type Factors } from '../../src/ml/matrix-factorization';
import { loadTf, type Tf } from '../../src/ml/tf-backend';
import { createDemoShop, type DemoShop } from '../../src/sim';
import { loadDemoShop } from '../../src/sim/load';
import { TRAINING_DOMAINS } from '../../src/model-kinds';
import { loadInteractions } from '../../src/recommend/interactions';
import { matrixFactorization } from '../../src/recommend/matrix-factorization.kind';
import { ModelKind } from '../../src/training/model-kind';
import { TrainingJobs } from '../../src/training/training-jobs';
import { TrainingRunner } from '../../src/training/training-runner';
import { loadFlaggedUserIds } from '../../src/anomaly/flagged-users';
import { config } from '../../src/config';
import { loadProgressBar, withProgress } from '../../src/cli/progress';

/**
 * How much the funnel's conversion rates and the recommender's recall move when anomalous users
 * are left out, on a generated demo shop judged against the generator's ground truth:
 *
 *   npm run bench exclusion-effect -- [--users 20000] [--days 14] [--seed 1]
 *
 * Everything goes through the production paths: the two unsupervised detectors and both
 * factorisations are trained by `TrainingRunner` (as the worker does), the funnels are
 * `FunnelService.funnel` calls. Both factorisations are evaluated on one held-out set fixed in
 * advance, so their figures compare: a model that never saw a user recommends them nothing,
 * exactly as `recommendations(userId)` serves.
 */

const FUNNEL_STEPS = ['view', 'cart', 'checkout', 'purchase'];
const CONVERSION_WINDOW_SECONDS = 86_400;
const K = 20;

interface ExclusionEffect {
  shop: { users: number; days: number; seed: number; events: number; clickFarm: number; fakeOrder: number };
  flagged: { users: number; anomalousCaught: number; anomalous: number; genuineFlagged: number; genuine: number; threshold: number };
  funnels: { name: string; entered: number; conversionFromFirst: number[] }[];
  recommenders: { name: string; heldOutGenuine: RankingMetrics; heldOutAll: RankingMetrics; unseenGenuine: number; trainedUsers: number }[];
  split: string;
  heldOutGenuineUsers: number;
  heldOutUsers: number;
  seconds: Record<string, number>;
}

async function train(dataSource: DataSource, kind: ModelKind, params: Record<string, unknown>, requestKey: string): Promise<number> {
  const { job } = await new TrainingJobs(dataSource).insertOrFind({ requestKey, kind, params, from: null, to: new Date(), activate: true, scheduleId: null });
  const outcome = await new TrainingRunner(dataSource, TRAINING_DOMAINS).run(job.id);
  if (outcome.modelVersionId === undefined) throw new Error(`${kind} training was skipped`);
  return outcome.modelVersionId;
}

/**
 * The held-out cases: users with interactions both before and after `splitAt` (relevant = items
 * after, not to recommend = items bought before), the same for every model. Ids as stored.
 */
async function heldOutCases(dataSource: DataSource, splitAt: Date): Promise<HeldOutUser[]> {
  const weights = matrixFactorization.parseParams({}).weights;
  const { before, after } = await loadInteractions(dataSource, { from: null, to: new Date(), weights }, splitAt);
  const boughtBefore = new Map<number, Set<number>>();
  for (let i = 0; i < before.users.length; i++) {
    let bought = boughtBefore.get(before.users[i]);
    if (!bought) boughtBefore.set(before.users[i], (bought = new Set()));
    if (before.purchased[i]) bought.add(before.items[i]);
  }
  const relevantAfter = new Map<number, Set<number>>();
  for (let i = 0; i < after.users.length; i++) {
    if (!boughtBefore.has(after.users[i])) continue;
    let relevant = relevantAfter.get(after.users[i]);
    if (!relevant) relevantAfter.set(after.users[i], (relevant = new Set()));
    relevant.add(after.items[i]);
  }
  return [...relevantAfter].map(([user, relevant]) => ({ user, relevant, excluded: boughtBefore.get(user)! }));
}

/** Top-K lists, by stored user and item ids, from a factorisation's artifact; users it never saw get none. */
async function listsFromArtifact(tf: Tf, artifactBytes: Buffer, cases: readonly HeldOutUser[], k: number): Promise<{ lists: Map<number, number[]>; itemCount: number; userCount: number }> {
  const artifact = decodeArtifact(artifactBytes);
  const userIds = tensorNamed(artifact, 'userIds').data;
  const itemIds = tensorNamed(artifact, 'itemIds').data;
  const factors: Factors = {
    dimensions: Number(artifact.header.dimensions),
    userFactors: tensorNamed(artifact, 'userFactors').data as Float32Array,
    itemFactors: tensorNamed(artifact, 'itemFactors').data as Float32Array,
    itemBias: tensorNamed(artifact, 'itemBias').data as Float32Array,
  };
  const userPosition = new Map(Array.from(userIds, (id, n) => [id, n]));
  const itemPosition = new Map(Array.from(itemIds, (id, n) => [id, n]));
  const known = cases.filter((c) => userPosition.has(c.user));
  const excludedPositions = new Map(
    known.map((c) => [userPosition.get(c.user)!, new Set([...c.excluded].flatMap((item) => (itemPosition.has(item) ? [itemPosition.get(item)!] : [])))]),
  );
  const positions = known.map((c) => userPosition.get(c.user)!);
  const top = await topItemsForUsers(tf, factors, positions, k, (user) => excludedPositions.get(user));
  const lists = new Map(known.map((c, n) => [c.user, Array.from(top.items[n], (item) => itemIds[item])]));
  return { lists, itemCount: itemIds.length, userCount: userIds.length };
}

export async function measureExclusionEffect(dataSource: DataSource, shop: DemoShop): Promise<Omit<ExclusionEffect, 'shop' | 'seconds'> & { seconds: Record<string, number> }> {
  const seconds: Record<string, number> = {};
  const timed = async <T>(name: string, work: () => Promise<T>): Promise<T> => {
    const started = performance.now();
    const value = await work();
    seconds[name] = (performance.now() - started) / 1000;
    return value;
  };

  // 1. The unsupervised detectors, ACTIVE, so the ensemble (and so every `excludeAnomalous`) uses them.
  await timed('anomaly detectors', async () => {
    await train(dataSource, ModelKind.ANOMALY_STATISTICAL, {}, 'exclusion-effect:statistical');
    await train(dataSource, ModelKind.ANOMALY_ISOLATION_FOREST, {}, 'exclusion-effect:isolation-forest');
  });
  const threshold = config().anomalyThreshold;
  const flaggedIds = await loadFlaggedUserIds(dataSource, threshold);
  const userRows: { id: number; external_id: string }[] = await dataSource.query(`SELECT id, external_id FROM users`);
  const genuine = new Set(userRows.filter((row) => shop.groundTruth.label(row.external_id) === 'genuine').map((row) => row.id));
  const anomalousCount = userRows.length - genuine.size;
  const flagged = {
    users: flaggedIds.size,
    anomalousCaught: [...flaggedIds].filter((id) => !genuine.has(id)).length,
    anomalous: anomalousCount,
    genuineFlagged: [...flaggedIds].filter((id) => genuine.has(id)).length,
    genuine: genuine.size,
    threshold,
  };

  // 2. The funnel three ways: everyone, flagged users left out, only the generator's genuine users.
  const [{ first, last }]: { first: Date; last: Date }[] = await dataSource.query(`SELECT min(ts) AS first, max(ts) AS last FROM events`);
  const spec: FunnelSpec = {
    steps: FUNNEL_STEPS.map((type) => ({ type })),
    conversionWindowSeconds: CONVERSION_WINDOW_SECONDS,
    from: first,
    to: new Date(last.getTime() + 1),
  };
  const funnelService = new FunnelService(dataSource);
  const genuineExternalIds = userRows.filter((row) => genuine.has(row.id)).map((row) => row.external_id);
  const funnels = await timed('funnels', async () => {
    const variants: [string, FunnelSpec][] = [
      ['all users', spec],
      ['flagged excluded (`excludeAnomalous`)', { ...spec, excludeAnomalous: true }],
      ['ground-truth genuine only (cohort)', { ...spec, cohort: { userIds: genuineExternalIds } }],
    ];
    const results = [];
    for (const [name, variant] of variants) {
      const { steps } = await funnelService.funnel(variant);
      results.push({ name, entered: steps[0].count, conversionFromFirst: steps.map((step) => step.conversionFromFirst) });
    }
    return results;
  });

  // 3. The factorisation with and without exclusion; `refit: false` keeps the stored model the one
  //    fitted before the split, so the held-out period stays unseen.
  const versions: [string, number][] = [];
  for (const excludeAnomalous of [false, true]) {
    const name = excludeAnomalous ? 'excludeAnomalous: true' : 'excludeAnomalous: false';
    const params = matrixFactorization.parseParams({ excludeAnomalous, refit: false });
    versions.push([name, await timed(`matrix factorisation, ${name}`, () => train(dataSource, ModelKind.MATRIX_FACTORIZATION, params, `exclusion-effect:mf:${excludeAnomalous}`))]);
  }
  const stored: { id: number; metrics: { evaluation: { splitAt: string } }; artifact: Buffer }[] = await dataSource.query(
    `SELECT id, metrics, artifact FROM model_versions WHERE id = ANY($1::int[])`,
    [versions.map(([, id]) => id)],
  );
  const splits = new Set(stored.map((row) => row.metrics.evaluation.splitAt));
  if (splits.size !== 1) throw new Error(`the two factorisations split at different instants: ${[...splits].join(', ')}`);
  const splitAt = new Date([...splits][0]);
  const cases = await heldOutCases(dataSource, splitAt);
  const genuineCases = cases.filter((c) => genuine.has(c.user));
  const { tf } = await loadTf();
  const recommenders = [];
  for (const [name, id] of versions) {
    const version = stored.find((row) => row.id === id)!;
    const { lists, itemCount, userCount } = await listsFromArtifact(tf, version.artifact, cases, K);
    const recommend = (user: number) => lists.get(user) ?? [];
    recommenders.push({
      name,
      heldOutGenuine: evaluateRanking(genuineCases, recommend, K, itemCount),
      heldOutAll: evaluateRanking(cases, recommend, K, itemCount),
      unseenGenuine: genuineCases.filter((c) => !lists.has(c.user)).length,
      trainedUsers: userCount,
    });
  }
  return { flagged, funnels, recommenders, split: splitAt.toISOString(), heldOutGenuineUsers: genuineCases.length, heldOutUsers: cases.length, seconds };
}

const percent = (share: number) => `${(share * 100).toFixed(2)}%`;
const count = (n: number) => n.toLocaleString('en-US');

function printTables(effect: ExclusionEffect): void {
  const { shop, flagged } = effect;
  console.log(
    `Demo shop: ${count(shop.users)} users, ${shop.days} days, seed ${shop.seed}: ${count(shop.events)} events, ${shop.clickFarm} click farms, ${shop.fakeOrder} fake-order accounts.`,
  );
  console.log(
    `Flagged (ANOMALY_STATISTICAL + ANOMALY_ISOLATION_FOREST ensemble ≥ ${flagged.threshold}, or ingest guard): ${count(flagged.users)} users; ` +
      `${flagged.anomalousCaught} of ${flagged.anomalous} anomalous, ${flagged.genuineFlagged} of ${count(flagged.genuine)} genuine (${percent(flagged.genuineFlagged / flagged.genuine)}).\n`,
  );
  console.log(`Funnel ${FUNNEL_STEPS.join(' → ')}, ${CONVERSION_WINDOW_SECONDS / 3600} h window, per user, FunnelService.funnel; conversion from the first step:\n`);
  console.log(`| | ${FUNNEL_STEPS[0]} (users) | ${FUNNEL_STEPS.slice(1).map((step) => `→ ${step}`).join(' | ')} |`);
  console.log(`|---|---:|${FUNNEL_STEPS.slice(1).map(() => '---:').join('|')}|`);
  for (const funnel of effect.funnels) {
    console.log(`| ${funnel.name} | ${count(funnel.entered)} | ${funnel.conversionFromFirst.slice(1).map(percent).join(' | ')} |`);
  }
  console.log(
    `\nMATRIX_FACTORIZATION (default params, refit: false), split at ${effect.split}; held-out = users with interactions before and after it: ` +
      `${count(effect.heldOutGenuineUsers)} genuine, ${count(effect.heldOutUsers)} in all. A user the model never saw gets an empty list.\n`,
  );
  console.log(`| model | users trained | recall@${K} genuine | NDCG@${K} genuine | hit rate genuine | recall@${K} all held-out | genuine held-out unseen |`);
  console.log('|---|---:|---:|---:|---:|---:|---:|');
  for (const r of effect.recommenders) {
    console.log(
      `| ${r.name} | ${count(r.trainedUsers)} | ${r.heldOutGenuine.recall.toFixed(4)} | ${r.heldOutGenuine.ndcg.toFixed(4)} | ${r.heldOutGenuine.hitRate.toFixed(4)} | ${r.heldOutAll.recall.toFixed(4)} | ${r.unseenGenuine} |`,
    );
  }
  console.log(`\nseconds: ${Object.entries(effect.seconds).map(([name, s]) => `${name} ${s.toFixed(1)}`).join('; ')}`);
}

export async function run(argv: string[]): Promise<void> {
  const args = parseArgs(argv, { flags: { users: 'string', days: 'string', seed: 'string' } });
  const users = intFlag(args, 'users', 20_000, 100);
  const days = intFlag(args, 'days', 14, 2);
  const seed = intFlag(args, 'seed', 1, 0);
  process.env.LOG_LEVEL ??= 'warn';
  const db = await createScratchDatabase(process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test', 'exclusion_effect');
  try {
    const shop = createDemoShop({ users, days, seed });
    const started = performance.now();
    const loaded = await withProgress(loadProgressBar(shop), (onProgress) => loadDemoShop(db.dataSource, shop, onProgress));
    const loadSeconds = (performance.now() - started) / 1000;
    const summary = shop.groundTruth.summary();
    const effect = await measureExclusionEffect(db.dataSource, shop);
    printTables({
      ...effect,
      shop: { users, days, seed, events: loaded.imported, clickFarm: summary.clickFarm, fakeOrder: summary.fakeOrder },
      seconds: { load: loadSeconds, ...effect.seconds },
    });
  } finally {
    await db.drop();
  }
}
