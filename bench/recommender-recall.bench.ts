import { resolve } from 'node:path';
import type { DataSource } from 'typeorm';
import { intFlag, parseArgs, stringFlag } from '../src/cli/args';
import { MODEL_KINDS, TRAINING_DOMAINS } from '../src/model-kinds';
import { createDemoShop } from '../src/sim';
import { modelKindDefinition } from '../src/training/model-kind';
import { TrainingJobs } from '../src/training/training-jobs';
import { TrainingRunner } from '../src/training/training-runner';
import { benchDatabase, loadBenchShop, forEachRealSample } from './support';

const DATA = resolve(__dirname, '../../../shared/data');

interface Trained {
  label: string;
  metrics: any;
  seconds: number;
}

/**
 * 95 % interval half-width for a mean of per-user values in [0, 1]: such a variable's variance is at
 * most μ(1 − μ) (Bhatia–Davis), so 1.96·√(μ(1 − μ)/n) is conservative; the version metrics hold only means.
 */
const halfWidth = (mean: number, n: number) => 1.96 * Math.sqrt((mean * (1 - mean)) / Math.max(1, n));

async function trainOne(dataSource: DataSource, kind: string, raw: Record<string, unknown>, to: Date, n: number): Promise<Trained | null> {
  const params = modelKindDefinition(MODEL_KINDS, kind).parseParams(raw) as Record<string, unknown>;
  const { job } = await new TrainingJobs(dataSource).insertOrFind({ requestKey: `recall-${kind}-${n}`, kind, params, from: null, to, activate: false, scheduleId: null });
  try {
    const outcome = await new TrainingRunner(dataSource, TRAINING_DOMAINS).run(job.id);
    const [row] = await dataSource.query(`SELECT metrics, training_seconds FROM model_versions WHERE id = $1`, [outcome.modelVersionId]);
    return { label: Object.keys(raw).length ? `${kind} ${JSON.stringify(raw)}` : kind, metrics: row.metrics, seconds: Number(row.training_seconds) };
  } catch (error) {
    console.log(`  ${kind} ${JSON.stringify(raw)}: not trained (${(error as Error).message})`);
    return null;
  }
}

async function compare(name: string, dataSource: DataSource, to: Date, mfParams: Record<string, unknown>[]): Promise<void> {
  const rows: Trained[] = [];
  let n = 0;
  for (const [kind, raw] of [['POPULARITY', {}], ['ITEM_KNN', {}], ...mfParams.map((p) => ['MATRIX_FACTORIZATION', p] as const)] as [string, Record<string, unknown>][]) {
    const trained = await trainOne(dataSource, kind, raw, to, n++);
    if (trained) rows.push(trained);
  }
  console.log(`\n### ${name}\n`);
  console.log('| recommender | held-out users | recall@20 (95 % CI) | NDCG@20 | popularity baseline recall@20 | training s |');
  console.log('|---|---:|---:|---:|---:|---:|');
  for (const row of rows) {
    const e = row.metrics.evaluation;
    const users = e.heldOutUsers as number;
    const recall = e.model.recall as number;
    const extra = e.halfLifeHours !== undefined ? ` (count ${e.count}, half-life ${e.halfLifeHours ?? 'none'}, ${e.choice.chosenBy})` : '';
    console.log(
      `| ${row.label}${extra} | ${users} | ${recall.toFixed(4)} ± ${halfWidth(recall, users).toFixed(4)} | ${e.model.ndcg.toFixed(4)} | ${e.popularityBaseline.recall.toFixed(4)} | ${row.seconds.toFixed(1)} |`,
    );
  }
}

/**
 * `npm run bench recommender-recall [--users 3000] [--days 14] [--mf '[{…}, …]'] [--only demo,rees46,taobao] [--data DIR]`:
 * held-out recall@20 of POPULARITY, ITEM_KNN and MATRIX_FACTORIZATION (defaults, or each params
 * object of --mf) on the demo shop and on the real samples in ../shared/data, each kind with its
 * own evaluation (the same split of the same events), with a conservative 95 % interval.
 */
export async function run(argv: string[]): Promise<void> {
  const args = parseArgs(argv, { flags: { users: 'string', days: 'string', mf: 'string', only: 'string', data: 'string' } });
  const users = intFlag(args, 'users', 3000, 50);
  const days = intFlag(args, 'days', 14, 2);
  const mfParams = JSON.parse(stringFlag(args, 'mf') ?? '[{}]') as Record<string, unknown>[];
  const dataDir = stringFlag(args, 'data') ?? DATA;
  const only = new Set((stringFlag(args, 'only') ?? 'demo,rees46,taobao').split(','));
  process.env.LOG_LEVEL ??= 'warn';

  if (only.has('demo')) {
    const demo = await benchDatabase('bench_recall');
    try {
      const shop = createDemoShop({ users, days, seed: 7 });
      await loadBenchShop(demo.dataSource, shop);
      await compare(`Demo shop (${users} users, ${days} days, seed 7)`, demo.dataSource, new Date(shop.options.endMs), mfParams);
    } finally {
      await demo.drop();
    }
  }
  await forEachRealSample(
    dataDir,
    'bench_recall',
    async ({ file }, dataSource, summary, end) => compare(`${file} (${summary.imported.toLocaleString('en-US')} events)`, dataSource, end, mfParams),
    ({ format }) => only.has(format),
  );
}
