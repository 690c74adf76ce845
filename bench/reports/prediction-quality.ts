import 'reflect-metadata';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createScratchDatabase } from '../../src/db/scratch-database';
import { importFile } from '../../src/events/import/import.service';
import { auc, logLoss, pairwiseConcordance } from '../../src/ml/metrics';
import { loadTf, type Tf } from '../../src/ml/tf-backend';
import { createDemoShop, type DemoShop } from '../../src/sim';
import { brierScore } from '../../src/predict/calibration';
import { historiesOf, type UserHistory } from '../../src/predict/datasets';
import { evaluateNextStep, evaluateUserPropensity, evaluateVisitPropensity, roundMetric } from '../../src/predict/evaluation';
import { loadHistories } from '../../src/predict/event-history';

/**
 * The quality report of docs/prediction.md: both model kinds against their baselines on a
 * generated demo shop (and against the generator's true purchase probabilities), on the REES46
 * sample (visit purchase) and the Taobao sample (user purchase), each with a time-based split.
 *
 *   npm run build && npm run bench prediction-quality -- [demo|rees46|taobao|all] [--users N] [--days D] [--epochs E]
 */

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

interface ReportOptions {
  users: number;
  days: number;
  epochs: number;
}

const nextStepTraining = (epochs: number) => ({ units: 32, window: 24, seed: 11, epochs, batchSize: 64, learningRate: 0.01 });
const propensityTraining = (epochs: number) => ({ units: 16, hiddenUnits: 16, window: 16, seed: 13, epochs, batchSize: 128, learningRate: 0.001, calibrationShare: 0.2 });

/** JSON with each reliability row and each flat object on one line, so the report stays readable. */
function print(title: string, value: unknown): void {
  const text = JSON.stringify(value, null, 1).replace(/\{\n\s*("[^{}\[\]]*?)\n\s*\}/g, (_, body: string) => `{ ${body.replace(/\n\s*/g, ' ')} }`);
  console.log(`\n## ${title}\n${text}`);
}

function pearson(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = a.length;
  let ma = 0;
  let mb = 0;
  for (let i = 0; i < n; i++) {
    ma += a[i] / n;
    mb += b[i] / n;
  }
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < n; i++) {
    sab += (a[i] - ma) * (b[i] - mb);
    saa += (a[i] - ma) ** 2;
    sbb += (b[i] - mb) ** 2;
  }
  return sab / Math.sqrt(saa * sbb);
}

/** How a set of predictions compares with the true probabilities on the same cases. */
function againstTruth(predicted: ArrayLike<number>, truth: ArrayLike<number>, labels: ArrayLike<number>) {
  // Pairwise concordance is quadratic; a fixed stride keeps it to about 2,000 cases.
  const stride = Math.max(1, Math.ceil(predicted.length / 2000));
  const sampleP: number[] = [];
  const sampleT: number[] = [];
  for (let i = 0; i < predicted.length; i += stride) {
    sampleP.push(predicted[i]);
    sampleT.push(truth[i]);
  }
  let meanTruth = 0;
  let meanPredicted = 0;
  for (let i = 0; i < truth.length; i++) {
    meanTruth += truth[i] / truth.length;
    meanPredicted += predicted[i] / truth.length;
  }
  return {
    cases: predicted.length,
    correlationWithTruth: roundMetric(pearson(predicted, truth)),
    concordanceWithTruth: roundMetric(pairwiseConcordance(sampleP, sampleT)),
    meanPredicted: roundMetric(meanPredicted),
    meanTrue: roundMetric(meanTruth),
    model: { auc: roundMetric(auc(predicted, labels)), logLoss: roundMetric(logLoss(predicted, labels)), brier: roundMetric(brierScore(predicted, labels)) },
    trueProbabilities: { auc: roundMetric(auc(truth, labels)), logLoss: roundMetric(logLoss(truth, labels)), brier: roundMetric(brierScore(truth, labels)) },
  };
}

/** True chance that a genuine demo user buys within `horizonMs`, from the generator's ground truth. */
function trueUserChance(shop: DemoShop, user: string, horizonMs: number): number {
  const truth = shop.groundTruth;
  const perSession = truth.purchaseProbability(user);
  const buyer = truth.buyerProbability(user);
  // buyerProbability = 1 − (1 − p)·e^(−μp) with μ visits over the period: solve for μ, scale to the horizon.
  const visitsInPeriod = -Math.log((1 - buyer) / (1 - perSession)) / perSession;
  const visitsInHorizon = (visitsInPeriod * horizonMs) / (shop.options.days * DAY);
  return 1 - Math.exp(-visitsInHorizon * perSession);
}

async function demoReport(tf: Tf, options: ReportOptions): Promise<void> {
  const shop = createDemoShop({ users: options.users, days: options.days, seed: 7 });
  const histories = historiesOf(shop.events());
  const fromMs = shop.options.startMs;
  const toMs = shop.options.endMs;
  const splitMs = toMs - 7 * DAY;
  console.log(`# Demo shop: ${options.users} users, ${options.days} days, seed 7; split at ${new Date(splitMs).toISOString()}`);

  let started = performance.now();
  const nextStep = await evaluateNextStep(tf, histories, { fromMs, splitMs, toMs }, nextStepTraining(options.epochs));
  print(`NEXT_STEP (${((performance.now() - started) / 1000).toFixed(1)} s)`, nextStep.evaluation);
  await demoPropensity(tf, shop, histories, { fromMs, splitMs, toMs }, options);
}

async function demoPropensity(tf: Tf, shop: DemoShop, histories: UserHistory[], { fromMs, splitMs, toMs }: { fromMs: number; splitMs: number; toMs: number }, options: ReportOptions): Promise<void> {
  let started = performance.now();
  const users = await evaluateUserPropensity(tf, histories, { fromMs, splitMs, horizonMs: 7 * DAY, activeMs: 30 * DAY, cutoffStepMs: DAY }, propensityTraining(options.epochs));
  print(`PURCHASE_PROPENSITY, users, 7-day horizon (${((performance.now() - started) / 1000).toFixed(1)} s)`, users.evaluation);
  const genuine = users.test.keys.map((key, i) => [key, i] as const).filter(([key]) => shop.groundTruth.label(key) === 'genuine');
  const truth = genuine.map(([key]) => trueUserChance(shop, key, 7 * DAY));
  const userLabels = genuine.map(([, i]) => users.test.examples.labels[i]);
  print('users against the true 7-day purchase chance (genuine users)', againstTruth(genuine.map(([, i]) => users.predictions[i]), truth, userLabels));

  started = performance.now();
  const visits = await evaluateVisitPropensity(tf, histories, { fromMs, splitMs, toMs }, propensityTraining(options.epochs));
  print(`PURCHASE_PROPENSITY, live visits, end of visit (${((performance.now() - started) / 1000).toFixed(1)} s)`, visits.evaluation);
  const trueVisit = new Map<string, number>();
  for (const session of shop.sessions()) if (session.kind === 'browse' && session.purchaseProbability !== null) trueVisit.set(session.sessionId, session.purchaseProbability);
  const firstEvents = visits.test.keys.map((key, i) => [key, i] as const).filter(([key, i]) => visits.test.prefixLengths[i] === 1 && trueVisit.has(key));
  print(
    'visits at their first event against the true chance that the visit leads to a purchase (browse visits; the truth also counts purchases finished on a return visit)',
    againstTruth(
      firstEvents.map(([, i]) => visits.predictions[i]),
      firstEvents.map(([key]) => trueVisit.get(key)!),
      firstEvents.map(([, i]) => visits.test.examples.labels[i]),
    ),
  );
}

function span(histories: readonly UserHistory[]): { fromMs: number; toMs: number } {
  let fromMs = Infinity;
  let toMs = -Infinity;
  for (const h of histories) {
    fromMs = Math.min(fromMs, h.events[0].timestamp);
    toMs = Math.max(toMs, h.events[h.events.length - 1].timestamp + 1);
  }
  return { fromMs, toMs };
}

async function withImported(format: 'rees46' | 'taobao', file: string, work: (histories: UserHistory[]) => Promise<void>): Promise<void> {
  const path = join(__dirname, '../../../../shared/data', file);
  const fallback = join(process.cwd(), '../shared/data', file);
  const found = existsSync(path) ? path : existsSync(fallback) ? fallback : null;
  if (!found) {
    console.log(`\n(${format}: ${file} not found under ../shared/data; skipped)`);
    return;
  }
  const db = await createScratchDatabase(process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test', `predict_${format}`);
  try {
    const summary = await importFile(db.dataSource, format, found);
    console.log(`\n# ${format}: imported ${summary.imported} events from ${found}`);
    await work(await loadHistories(db.dataSource, null, new Date('2100-01-01T00:00:00Z')));
  } finally {
    await db.drop();
  }
}

async function rees46Report(tf: Tf, options: ReportOptions): Promise<void> {
  await withImported('rees46', 'rees46_2019oct_head.csv', async (histories) => {
    const { fromMs, toMs } = span(histories);
    // The excerpt is far from uniform in time: split at the 70th percentile of events, not of the clock.
    const times = histories.flatMap((h) => h.events.map((e) => e.timestamp)).sort((a, b) => a - b);
    const splitMs = times[Math.floor(times.length * 0.7)];
    const started = performance.now();
    const visits = await evaluateVisitPropensity(tf, histories, { fromMs, splitMs, toMs }, propensityTraining(options.epochs));
    print(`REES46 visit purchase, time split at the 70th percentile of events (${((performance.now() - started) / 1000).toFixed(1)} s)`, visits.evaluation);
    const nextStep = await evaluateNextStep(tf, histories, { fromMs, splitMs, toMs }, nextStepTraining(options.epochs));
    print('REES46 next step, same split', nextStep.evaluation);
  });
}

async function taobaoReport(tf: Tf, options: ReportOptions): Promise<void> {
  await withImported('taobao', 'taobao_userbehavior_timeslice.csv', async (histories) => {
    const { fromMs, toMs } = span(histories);
    // About two hours of data: features up to 80 minutes in, a 40-minute horizon.
    const horizonMs = Math.round((toMs - fromMs) / 3);
    const splitMs = toMs - horizonMs;
    const started = performance.now();
    const users = await evaluateUserPropensity(tf, histories, { fromMs, splitMs, horizonMs, activeMs: 30 * DAY, cutoffStepMs: horizonMs / 2 }, propensityTraining(options.epochs));
    print(`Taobao user purchase within ${Math.round(horizonMs / 60000)} minutes (${((performance.now() - started) / 1000).toFixed(1)} s)`, users.evaluation);
  });
}

export async function run(args: string[]): Promise<void> {
  const which = args.find((a) => !a.startsWith('--')) ?? 'all';
  const number = (name: string, fallback: number) => {
    const at = args.indexOf(`--${name}`);
    return at >= 0 ? Number(args[at + 1]) : fallback;
  };
  const options: ReportOptions = { users: number('users', 4000), days: number('days', 28), epochs: number('epochs', 8) };
  const { tf, backend } = await loadTf();
  console.log(`TensorFlow.js backend: ${backend.name} (${backend.detail})`);
  if (which === 'demo' || which === 'all') await demoReport(tf, options);
  if (which === 'rees46' || which === 'all') await rees46Report(tf, options);
  if (which === 'taobao' || which === 'all') await taobaoReport(tf, options);
}
