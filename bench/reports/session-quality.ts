import { resolve } from 'node:path';
import type { DataSource } from 'typeorm';
import { intFlag, parseArgs, stringFlag } from '../../src/cli/args';
import { MODEL_KINDS, TRAINING_DOMAINS } from '../../src/model-kinds';
import { decodeSessionKnn } from '../../src/recommend/session-knn.kind';
import { createDemoShop } from '../../src/sim';
import { modelKindDefinition } from '../../src/training/model-kind';
import { TrainingJobs } from '../../src/training/training-jobs';
import { TrainingRunner } from '../../src/training/training-runner';
import { benchDatabase, loadBenchShop, forEachRealSample } from '../support';

/** The shared samples beside the main checkout (dist/bench/reports → ../../../../shared/data); --data names another folder. */
const DATA = resolve(__dirname, '../../../../shared/data');
const f = (value: number) => value.toFixed(4);

interface Variant {
  label: string;
  kind: 'SESSION_KNN' | 'SESSION_GRU';
  params: Record<string, unknown>;
}

/** SESSION_KNN at its defaults and a few variants, and the GRU at its defaults without the refit (the evaluation comes before it). */
const VARIANTS: Variant[] = [
  { label: 'SESSION_KNN (defaults: V-SKNN, linear, k 100, m 500)', kind: 'SESSION_KNN', params: {} },
  { label: 'SESSION_KNN, weighting same (plain SKNN order-blind)', kind: 'SESSION_KNN', params: { weighting: 'same' } },
  { label: 'SESSION_KNN, similarity cosine', kind: 'SESSION_KNN', params: { similarity: 'cosine', weighting: 'same' } },
  { label: 'SESSION_KNN, halfLifeHours 24', kind: 'SESSION_KNN', params: { halfLifeHours: 24 } },
  { label: 'SESSION_GRU (defaults, refit off)', kind: 'SESSION_GRU', params: { refit: false } },
];

async function evaluate(dataSource: DataSource, to: Date, withGru: boolean): Promise<void> {
  const jobs = new TrainingJobs(dataSource);
  let baselinesPrinted = false;
  console.log('| recommender | recall@20 | MRR@20 | training s |');
  console.log('|---|---:|---:|---:|');
  for (const [n, variant] of VARIANTS.entries()) {
    if (variant.kind === 'SESSION_GRU' && !withGru) continue;
    const params = modelKindDefinition(MODEL_KINDS, variant.kind).parseParams(variant.params) as Record<string, unknown>;
    const { job } = await jobs.insertOrFind({ requestKey: `session-quality-${n}`, kind: variant.kind, params, from: null, to, activate: false, scheduleId: null });
    try {
      const outcome = await new TrainingRunner(dataSource, TRAINING_DOMAINS).run(job.id);
      const [row] = await dataSource.query(`SELECT metrics, training_seconds, artifact FROM model_versions WHERE id = $1`, [outcome.modelVersionId]);
      const e = row.metrics.evaluation;
      console.log(`| ${variant.label} | ${f(e.model.recall)} | ${f(e.model.mrr)} | ${Number(row.training_seconds).toFixed(1)} |`);
      if (!baselinesPrinted) {
        baselinesPrinted = true;
        console.log(`| item-kNN on the last item | ${f(e.itemKnnLastItemBaseline.recall)} | ${f(e.itemKnnLastItemBaseline.mrr)} | |`);
        console.log(`| popularity | ${f(e.popularityBaseline.recall)} | ${f(e.popularityBaseline.mrr)} | |`);
        console.log(`(${e.heldOutSessions} held-out sessions, ${e.predictions} predictions, split at ${e.splitAt})`);
      }
      if (n === 0) servingCost(row.artifact, row.metrics.training);
    } catch (error) {
      console.log(`| ${variant.label} | not trained: ${(error as Error).message} | | |`);
    }
  }
}

/** Load (decode + index) and per-session scoring time of the stored model, as serving pays them. */
function servingCost(artifact: Buffer, training: { storedSessions: number; storedItemClicks: number; servingBytes: number }): void {
  let started = performance.now();
  const knn = decodeSessionKnn(artifact);
  const loadMs = performance.now() - started;
  const { items, offsets } = knn.sessions;
  const sessions = Math.min(2000, knn.sessionCount);
  started = performance.now();
  for (let s = 0; s < sessions; s++) knn.score(Array.from(items.subarray(offsets[s], Math.min(offsets[s + 1], offsets[s] + 3))));
  const perSession = ((performance.now() - started) * 1000) / Math.max(1, sessions);
  console.log(
    `stored: ${training.storedSessions} sessions, ${training.storedItemClicks} item clicks, ~${(training.servingBytes / 1e6).toFixed(1)} MB in serving; ` +
      `load ${loadMs.toFixed(1)} ms; scoring a session of up to 3 items ${perSession.toFixed(0)} µs\n`,
  );
}

/**
 * `npm run bench session-quality [--users 3000] [--days 14] [--skip-demo] [--data DIR] [--gru-on-taobao]`: next-item recall@20
 * and MRR@20 under GRU4Rec's protocol (src/recommend/next-item-evaluation.ts) of SESSION_KNN and
 * SESSION_GRU, with item-kNN on the last item and popularity on the same predictions, on the demo
 * shop and the real samples in ../shared/data. Prints markdown for docs/recommendations.md.
 */
export async function run(argv: string[]): Promise<void> {
  const args = parseArgs(argv, { flags: { users: 'string', days: 'string', 'skip-demo': 'boolean', data: 'string', 'gru-on-taobao': 'boolean' } });
  const data = stringFlag(args, 'data') ?? DATA;
  const users = intFlag(args, 'users', 3000, 50);
  const days = intFlag(args, 'days', 14, 2);
  process.env.LOG_LEVEL ??= 'warn';

  if (args.flags['skip-demo'] !== true) {
    const demo = await benchDatabase('bench_session_quality');
    try {
      const shop = createDemoShop({ users, days, seed: 7 });
      await loadBenchShop(demo.dataSource, shop);
      console.log(`\n### Demo shop (${users} users, ${days} days, seed 7)\n`);
      await evaluate(demo.dataSource, new Date(shop.options.endMs), true);
    } finally {
      await demo.drop();
    }
  }

  await forEachRealSample(data, 'bench_session_quality', async ({ format, file }, dataSource, summary, end) => {
    console.log(`\n### ${file} (${summary.imported.toLocaleString('en-US')} events)\n`);
    await evaluate(dataSource, end, format !== 'taobao' || args.flags['gru-on-taobao'] === true);
  });
}
