import { resolve } from 'node:path';
import type { DataSource } from 'typeorm';
import { intFlag, parseArgs } from '../src/cli/args';
import { decodeArtifact, tensorNamed } from '../src/ml/artifact';
import { pairwiseConcordance } from '../src/ml/metrics';
import { Rng } from '../src/ml/random';
import { historyFromEvents, scoreFromNeighbours } from '../src/recommend/fold-in';
import { DEFAULT_EVENT_WEIGHTS, ItemEventType } from '../src/recommend/item-events';
import { createDemoShop, DemoShop } from '../src/sim';
import { MODEL_KINDS, TRAINING_DOMAINS } from '../src/model-kinds';
import { modelKindDefinition } from '../src/training/model-kind';
import { TrainingJobs } from '../src/training/training-jobs';
import { TrainingRunner } from '../src/training/training-runner';
import { benchDatabase, loadBenchShop, forEachRealSample } from './support';

const DATA = resolve(__dirname, '../../../shared/data');
const SESSION_PARAMS = { epochs: 4, units: 32, embeddingSize: 16, maxLength: 5, refit: false };
const KINDS: [string, Record<string, unknown>][] = [
  ['POPULARITY', {}],
  ['ITEM_KNN', {}],
  ['MATRIX_FACTORIZATION', {}],
  ['SESSION_GRU', SESSION_PARAMS],
];

const f = (value: number | undefined) => (value === undefined ? '–' : value.toFixed(4));

async function trainAll(dataSource: DataSource, to: Date): Promise<Map<string, { id: number; metrics: any; seconds: number }>> {
  const jobs = new TrainingJobs(dataSource);
  const versions = new Map<string, { id: number; metrics: any; seconds: number }>();
  for (const [kind, raw] of KINDS) {
    const params = modelKindDefinition(MODEL_KINDS, kind).parseParams(raw) as Record<string, unknown>;
    const { job } = await jobs.insertOrFind({ requestKey: `quality-${kind}`, kind, params, from: null, to, activate: true, scheduleId: null });
    try {
      const outcome = await new TrainingRunner(dataSource, TRAINING_DOMAINS).run(job.id);
      const [row] = await dataSource.query(`SELECT metrics, training_seconds FROM model_versions WHERE id = $1`, [outcome.modelVersionId]);
      versions.set(kind, { id: outcome.modelVersionId!, metrics: row.metrics, seconds: Number(row.training_seconds) });
    } catch (error) {
      console.log(`  ${kind}: not trained (${(error as Error).message})`);
    }
  }
  return versions;
}

function printTable(name: string, versions: Map<string, { metrics: any; seconds: number }>): void {
  console.log(`\n### ${name}\n`);
  console.log('| recommender | held-out users | recall@20 | NDCG@20 | MRR@20 | coverage | popularity baseline recall / NDCG / MRR / coverage | training s |');
  console.log('|---|---:|---:|---:|---:|---:|---|---:|');
  for (const kind of ['POPULARITY', 'ITEM_KNN', 'MATRIX_FACTORIZATION']) {
    const version = versions.get(kind);
    if (!version) continue;
    const e = version.metrics.evaluation;
    const b = e.popularityBaseline;
    console.log(`| ${kind} | ${e.heldOutUsers} | ${f(e.model.recall)} | ${f(e.model.ndcg)} | ${f(e.model.mrr)} | ${f(e.model.coverage)} | ${f(b.recall)} / ${f(b.ndcg)} / ${f(b.mrr)} / ${f(b.coverage)} | ${version.seconds.toFixed(1)} |`);
  }
  const gru = versions.get('SESSION_GRU');
  if (gru) {
    const e = gru.metrics.evaluation;
    console.log(`\nnext-item prediction on ${e.heldOutSessions} held-out sessions (${e.predictions} predictions), recall@20 / MRR@20:`);
    console.log(`| SESSION_GRU ${f(e.model.recall)} / ${f(e.model.mrr)} | popularity ${f(e.popularityBaseline.recall)} / ${f(e.popularityBaseline.mrr)} | item-KNN on the last item ${f(e.itemKnnLastItemBaseline.recall)} / ${f(e.itemKnnLastItemBaseline.mrr)} | training ${gru.seconds.toFixed(1)} s |`);
  }
}

/** How well each recommender's scores order random items the way the generator's true affinities do (0.5 = chance). */
async function affinityAgreement(dataSource: DataSource, shop: DemoShop, versions: Map<string, { id: number }>): Promise<void> {
  const externalUser = new Map<number, string>((await dataSource.query(`SELECT id, external_id FROM users`)).map((r: { id: number; external_id: string }) => [r.id, r.external_id]));
  const itemIdOf = new Map<string, number>((await dataSource.query(`SELECT id, external_id FROM items`)).map((r: { id: number; external_id: string }) => [r.external_id, r.id]));
  const shopItems = shop.items.map((item) => itemIdOf.get(item.itemId)!);
  const popularity = new Map<number, number>();
  const popularityVersion = versions.get('POPULARITY');
  if (popularityVersion) {
    const [row] = await dataSource.query(`SELECT item_ids, scores FROM popularity_scores WHERE model_version_id = $1 AND category = ''`, [popularityVersion.id]);
    row.item_ids.forEach((id: number, n: number) => popularity.set(id, row.scores[n]));
  }
  const neighbours = new Map<number, { ids: number[]; scores: number[] }>();
  const knnVersion = versions.get('ITEM_KNN');
  if (knnVersion) {
    for (const row of await dataSource.query(`SELECT item_id, neighbour_ids, scores FROM item_neighbours WHERE model_version_id = $1 AND relation = 'similar'`, [knnVersion.id])) {
      neighbours.set(row.item_id, { ids: row.neighbour_ids, scores: row.scores });
    }
  }
  let factors: { d: number; userRow: Map<number, number>; itemRow: Map<number, number>; u: Float32Array; v: Float32Array; b: Float32Array } | null = null;
  const mfVersion = versions.get('MATRIX_FACTORIZATION');
  if (mfVersion) {
    const [{ artifact }] = await dataSource.query(`SELECT artifact FROM model_versions WHERE id = $1`, [mfVersion.id]);
    const a = decodeArtifact(artifact);
    factors = {
      d: Number(a.header.dimensions),
      userRow: new Map(Array.from(tensorNamed(a, 'userIds').data, (id, n) => [id, n])),
      itemRow: new Map(Array.from(tensorNamed(a, 'itemIds').data, (id, n) => [id, n])),
      u: tensorNamed(a, 'userFactors').data as Float32Array,
      v: tensorNamed(a, 'itemFactors').data as Float32Array,
      b: tensorNamed(a, 'itemBias').data as Float32Array,
    };
  }
  const histories = new Map<number, { items: number[]; types: string[] }>();
  for (const row of await dataSource.query(`SELECT user_id, array_agg(item_id ORDER BY ts DESC, id DESC) AS items, array_agg(type ORDER BY ts DESC, id DESC) AS types FROM events WHERE item_id IS NOT NULL GROUP BY user_id`)) {
    histories.set(row.user_id, { items: row.items, types: row.types });
  }
  const random = Rng.stream(5);
  const results: Record<string, number[]> = { POPULARITY: [], ITEM_KNN: [], MATRIX_FACTORIZATION: [] };
  let sampled = 0;
  for (const [userId, history] of histories) {
    if (sampled >= 500) break;
    const shopUser = shop.groundTruth.userIndexOf(externalUser.get(userId)!);
    if (shop.groundTruth.label(shopUser) !== 'genuine' || userId % 3 !== 0) continue;
    sampled++;
    const chosen = Array.from({ length: 40 }, () => random.below(shopItems.length));
    const truth = chosen.map((index) => shop.groundTruth.trueAffinity(shopUser, index));
    results.POPULARITY.push(pairwiseConcordance(chosen.map((index) => popularity.get(shopItems[index]) ?? 0), truth));
    const folded = scoreFromNeighbours(historyFromEvents(history.items, history.types.map((type) => DEFAULT_EVENT_WEIGHTS[type as ItemEventType] ?? 0), 20), (item) => neighbours.get(item), 0.9, 1);
    results.ITEM_KNN.push(pairwiseConcordance(chosen.map((index) => folded.get(shopItems[index]) ?? 0), truth));
    if (factors) {
      const row = factors.userRow.get(userId);
      if (row !== undefined) {
        const fm = factors;
        const score = (index: number) => {
          const item = fm.itemRow.get(shopItems[index]);
          if (item === undefined) return -Infinity;
          let s = fm.b[item];
          for (let k = 0; k < fm.d; k++) s += fm.u[row * fm.d + k] * fm.v[item * fm.d + k];
          return s;
        };
        results.MATRIX_FACTORIZATION.push(pairwiseConcordance(chosen.map(score), truth));
      }
    }
  }
  const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / (values.length || 1);
  const stderr = (values: number[]) => Math.sqrt(values.reduce((s, v) => s + (v - mean(values)) ** 2, 0) / Math.max(1, values.length - 1) / Math.max(1, values.length));
  console.log(`\nagreement with the generator's true affinities (${sampled} genuine users × 40 random items; 0.5 = chance):`);
  for (const [kind, values] of Object.entries(results)) console.log(`| ${kind} | ${mean(values).toFixed(4)} ± ${stderr(values).toFixed(4)} |`);
}

/**
 * `npm run bench recommend-quality [--users 3000] [--days 14]`: every recommender on the demo shop
 * and on the real samples in ../shared/data (time-based split: the last 20 % of each data set's span
 * held out), with the harness's metrics and the popularity baseline; on the demo shop also the
 * agreement with the true affinities. Prints markdown tables for docs/recommendations.md.
 */
export async function run(argv: string[]): Promise<void> {
  const args = parseArgs(argv, { flags: { users: 'string', days: 'string' } });
  const users = intFlag(args, 'users', 3000, 50);
  const days = intFlag(args, 'days', 14, 2);
  process.env.LOG_LEVEL ??= 'warn';
  console.log(`Session model params for every data set: ${JSON.stringify(SESSION_PARAMS)}; everything else at its defaults.`);

  const demo = await benchDatabase('bench_quality');
  try {
    const shop = createDemoShop({ users, days, seed: 7 });
    await loadBenchShop(demo.dataSource, shop);
    const versions = await trainAll(demo.dataSource, new Date(shop.options.endMs));
    printTable(`Demo shop (${users} users, ${days} days, seed 7)`, versions);
    await affinityAgreement(demo.dataSource, shop, versions);
  } finally {
    await demo.drop();
  }

  await forEachRealSample(DATA, 'bench_quality', async ({ file }, dataSource, summary, end) => {
    const versions = await trainAll(dataSource, end);
    printTable(`${file} (${summary.imported.toLocaleString('en-US')} events)`, versions);
  });
}
