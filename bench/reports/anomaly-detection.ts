import type { DataSource } from 'typeorm';
import { createScratchDatabase } from '../../src/db/scratch-database';
import { auc, classificationMetrics, recallAtK } from '../../src/ml/metrics';
import { createDemoShop, type DemoShop } from '../../src/sim';
import { loadDemoShop } from '../../src/sim/load';
import { Rng } from '../../src/ml/random';
import { fitIsolation, fitStatistical, fitSupervised, scoreIsolation, scoreStatistical, scoreSupervised, supervisedInputs } from '../../src/anomaly/detectors';
import { DEFAULT_DETECTOR_WEIGHTS, ensembleScore, type Detector } from '../../src/anomaly/ensemble';
import { extractUserFeatures, type UserFeatureTable } from '../../src/anomaly/feature-extraction';
import { ISOLATION_FOREST_DEFAULTS } from '../../src/anomaly/isolation-forest';
import { dayLabels, worstDays } from '../../src/anomaly/user-days';
import { loadProgressBar, withProgress } from '../../src/cli/progress';

/**
 * How well the detectors find the demo shop's injected click farms and fake-order accounts,
 * judged against the generator's ground truth, and how much excluding what they flag moves a
 * funnel and a popularity recommender. Run after a build:
 *
 *   npm run bench anomaly-detection -- [--users 20000] [--days 14] [--seed 1] [--threshold 0.5] [--labels 300]
 *
 * Detectors score user-days; a user's score is their worst day's, and the figures are per user.
 * The supervised detector learns from simulated admin labels: the ground truth of the users an
 * admin would look at first (a sample of what the unsupervised detectors flag) plus a random sample; its
 * figures are measured on the users it was not shown.
 */

interface DetectorReport {
  detector: string;
  precision: number;
  recall: number;
  f1: number;
  auc: number;
  genuineFlaggedShare: number;
  clickFarmRecall: number;
  fakeOrderRecall: number;
  flagged: number;
}

function report(detector: string, scores: ArrayLike<number>, truth: Uint8Array, kinds: string[], threshold: number, rows: ArrayLike<number>): DetectorReport {
  const s = Array.from(rows, (r) => scores[r]);
  const y = Array.from(rows, (r) => truth[r]);
  const metrics = classificationMetrics(s, y, threshold);
  const recallOf = (kind: string) => {
    const members = Array.from(rows).filter((r) => kinds[r] === kind);
    return members.length === 0 ? NaN : members.filter((r) => scores[r] >= threshold).length / members.length;
  };
  return {
    detector,
    precision: metrics.precision,
    recall: metrics.recall,
    f1: metrics.f1,
    auc: auc(s, y),
    genuineFlaggedShare: metrics.falsePositives / (metrics.falsePositives + metrics.trueNegatives),
    clickFarmRecall: recallOf('click_farm'),
    fakeOrderRecall: recallOf('fake_order'),
    flagged: metrics.truePositives + metrics.falsePositives,
  };
}

export interface DemoShopEvaluation {
  shop: { users: number; userDays: number; events: number; clickFarm: number; fakeOrder: number };
  threshold: number;
  detectors: DetectorReport[];
  heldOut: DetectorReport[];
  funnel: { all: FunnelRates; excluded: FunnelRates; genuineOnly: FunnelRates };
  popularityRecallAt10: { all: number; excluded: number };
  seconds: { load: number; extract: number; fit: number };
}

interface FunnelRates {
  viewers: number;
  carted: number;
  purchased: number;
  viewToCart: number;
  viewToPurchase: number;
}

/** An ordered view → cart → purchase funnel per user (no time limit), leaving out `excluded` users. */
async function funnelRates(dataSource: DataSource, excluded: number[]): Promise<FunnelRates> {
  const [row]: { viewers: string; carted: string; purchased: string }[] = await dataSource.query(
    `WITH firsts AS (
       SELECT user_id, min(ts) FILTER (WHERE type = 'view') AS viewed FROM events
       WHERE NOT (user_id = ANY($1::int[])) GROUP BY user_id),
     carts AS (
       SELECT f.user_id, min(e.ts) AS carted FROM firsts f JOIN events e ON e.user_id = f.user_id AND e.type = 'cart' AND e.ts >= f.viewed
       GROUP BY f.user_id),
     buys AS (
       SELECT DISTINCT c.user_id FROM carts c JOIN events e ON e.user_id = c.user_id AND e.type = 'purchase' AND e.ts >= c.carted)
     SELECT (SELECT count(*) FROM firsts WHERE viewed IS NOT NULL) AS viewers, (SELECT count(*) FROM carts) AS carted, (SELECT count(*) FROM buys) AS purchased`,
    [excluded],
  );
  const viewers = Number(row.viewers);
  const carted = Number(row.carted);
  const purchased = Number(row.purchased);
  return { viewers, carted, purchased, viewToCart: carted / viewers, viewToPurchase: purchased / viewers };
}

/**
 * Recall@10 of "the 10 most purchased items" learnt before `split` (leaving out `excluded` users),
 * for genuine users' purchases after it: how much brushing bends a popularity recommender.
 */
async function popularityRecall(dataSource: DataSource, split: Date, excluded: number[], genuine: Set<number>): Promise<number> {
  const top: { item_id: number }[] = await dataSource.query(
    `SELECT item_id FROM events WHERE type = 'purchase' AND ts < $1 AND NOT (user_id = ANY($2::int[]))
     GROUP BY item_id ORDER BY count(*) DESC, item_id LIMIT 10`,
    [split, excluded],
  );
  const later: { user_id: number; items: number[] }[] = await dataSource.query(
    `SELECT user_id, array_agg(DISTINCT item_id) AS items FROM events WHERE type = 'purchase' AND ts >= $1 GROUP BY user_id`,
    [split],
  );
  const recommended = top.map((row) => row.item_id);
  let total = 0;
  let users = 0;
  for (const row of later) {
    if (!genuine.has(row.user_id)) continue;
    total += recallAtK(recommended, new Set(row.items), 10);
    users++;
  }
  return users === 0 ? NaN : total / users;
}

export async function evaluateDemoShop(
  dataSource: DataSource,
  shop: DemoShop,
  options: { threshold: number; labels: number; seed: number },
  table?: UserFeatureTable,
): Promise<Omit<DemoShopEvaluation, 'seconds' | 'shop'> & { userDays: number; seconds: { extract: number; fit: number } }> {
  let started = Date.now();
  const features = table ?? (await extractUserFeatures(dataSource, { from: null, to: new Date(shop.options.endMs) }));
  const extractSeconds = (Date.now() - started) / 1000;
  const idRows: { id: number; external_id: string }[] = await dataSource.query(`SELECT id, external_id FROM users`);
  const externalOf = new Map(idRows.map((row) => [row.id, row.external_id]));
  // Users in the table's order; `truth` and `kinds` are per user, scores per user-day until worstDays.
  const userIds = worstDays(features, new Float64Array(features.rows)).userIds;
  const users = userIds.length;
  const kinds = Array.from(userIds, (id) => shop.groundTruth.label(externalOf.get(id)!));
  const truth = Uint8Array.from(kinds, (kind) => (kind === 'genuine' ? 0 : 1));
  const perUser = (dayScores: Float64Array) => worstDays(features, dayScores).scores;

  started = Date.now();
  const statistical = fitStatistical(features);
  const statisticalScores = scoreStatistical(statistical, features);
  const isolation = fitIsolation(features, ISOLATION_FOREST_DEFAULTS, Rng.stream(options.seed));
  const isolationScores = scoreIsolation(isolation, features);
  const unsupervisedDays = Float64Array.from(statisticalScores, (s, r) =>
    ensembleScore([
      { detector: 'STATISTICAL', score: s },
      { detector: 'ISOLATION_FOREST', score: isolationScores[r] },
    ]).score,
  );

  const unsupervised = perUser(unsupervisedDays);

  // Simulated admin: reviews a random sample of the users the unsupervised ensemble flags, and a random sample of everyone.
  const labels = new Int8Array(users).fill(-1);
  const rng = Rng.stream(options.seed + 1);
  const flaggedRows = Array.from({ length: users }, (_, r) => r).filter((r) => unsupervised[r] >= options.threshold);
  const labelSome = (pool: number[], count: number) => {
    for (let given = 0, attempts = 0; given < count && attempts < pool.length * 4; attempts++) {
      const r = pool[rng.below(pool.length)];
      if (labels[r] === -1) {
        labels[r] = truth[r];
        given++;
      }
    }
  };
  labelSome(flaggedRows, options.labels >> 1);
  labelSome(Array.from({ length: users }, (_, r) => r), options.labels - (options.labels >> 1));
  const labelsByUser = new Map<number, number>();
  for (let u = 0; u < users; u++) if (labels[u] !== -1) labelsByUser.set(userIds[u], labels[u]);
  const inputs = supervisedInputs(statistical, features, statisticalScores, isolationScores);
  const unsupervisedMean = statisticalScores.map((score, r) => (score + isolationScores[r]) / 2);
  const supervised = fitSupervised(inputs, dayLabels(features, labelsByUser, unsupervisedMean));
  const supervisedScores = scoreSupervised(supervised, inputs, features.rows);
  const ensembleDays = Float64Array.from(statisticalScores, (s, r) =>
    ensembleScore(
      [
        { detector: 'STATISTICAL', score: s },
        { detector: 'ISOLATION_FOREST', score: isolationScores[r] },
        { detector: 'SUPERVISED', score: supervisedScores[r] },
      ],
      DEFAULT_DETECTOR_WEIGHTS,
    ).score,
  );
  const fitSeconds = (Date.now() - started) / 1000;

  const ensemble = perUser(ensembleDays);
  const all = Array.from({ length: users }, (_, r) => r);
  const unlabelled = all.filter((r) => labels[r] === -1);
  const by: [string, Float64Array][] = [
    ['STATISTICAL', perUser(statisticalScores)],
    ['ISOLATION_FOREST', perUser(isolationScores)],
    ['unsupervised ensemble', unsupervised],
    ['SUPERVISED' satisfies Detector, perUser(supervisedScores)],
    ['ensemble', ensemble],
  ];
  const flagged = all.filter((r) => ensemble[r] >= options.threshold).map((r) => userIds[r]);
  const genuineIds = all.filter((r) => truth[r] === 0).map((r) => userIds[r]);
  const anomalousIds = all.filter((r) => truth[r] === 1).map((r) => userIds[r]);
  const split = new Date(shop.options.endMs - 3 * 86_400_000);
  const genuine = new Set(genuineIds);
  return {
    userDays: features.rows,
    threshold: options.threshold,
    detectors: by.map(([name, scores]) => report(name, scores, truth, kinds, options.threshold, all)),
    heldOut: by.map(([name, scores]) => report(name, scores, truth, kinds, options.threshold, unlabelled)),
    funnel: {
      all: await funnelRates(dataSource, []),
      excluded: await funnelRates(dataSource, flagged),
      genuineOnly: await funnelRates(dataSource, anomalousIds),
    },
    popularityRecallAt10: {
      all: await popularityRecall(dataSource, split, [], genuine),
      excluded: await popularityRecall(dataSource, split, flagged, genuine),
    },
    seconds: { extract: extractSeconds, fit: fitSeconds },
  };
}

function argument(argv: string[], name: string, fallback: number): number {
  const index = argv.indexOf(`--${name}`);
  return index >= 0 ? Number(argv[index + 1]) : fallback;
}

export async function run(argv: string[]): Promise<void> {
  const users = argument(argv, 'users', 20_000);
  const days = argument(argv, 'days', 14);
  const seed = argument(argv, 'seed', 1);
  const threshold = argument(argv, 'threshold', 0.5);
  const labels = argument(argv, 'labels', 300);
  const db = await createScratchDatabase(process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test', 'anomaly_eval');
  try {
    const shop = createDemoShop({ users, days, seed });
    let started = Date.now();
    const loaded = await withProgress(loadProgressBar(shop), (onProgress) => loadDemoShop(db.dataSource, shop, onProgress));
    const loadSeconds = (Date.now() - started) / 1000;
    const summary = shop.groundTruth.summary();
    const result = await evaluateDemoShop(db.dataSource, shop, { threshold, labels, seed });
    const { userDays, ...rest } = result;
    const output: DemoShopEvaluation = {
      shop: { users, userDays, events: loaded.imported, clickFarm: summary.clickFarm, fakeOrder: summary.fakeOrder },
      ...rest,
      seconds: { load: loadSeconds, ...result.seconds },
    };
    console.log(JSON.stringify(output, null, 2));
    started = Date.now();
  } finally {
    await db.drop();
  }
}
