import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs, stringFlag } from '../../src/cli/args';
import { importFile } from '../../src/events/import/import.service';
import { evaluateRanking } from '../../src/ml/evaluation';
import { AlsOptions, trainImplicitAls } from '../../src/ml/implicit-als';
import { DEFAULT_EVENT_WEIGHTS, loadTrainingItemEvents, weightsByCode } from '../../src/recommend/item-events';
import { preparePairs } from '../../src/recommend/matrix-factorization.kind';
import { splitUsers } from '../../src/recommend/user-split';
import { createDemoShop } from '../../src/sim';
import { benchDatabase, loadBenchShop } from '../support';
import { PostgresTrainingEvents } from '../../src/training-events';

const DATA = resolve(__dirname, '../../../../shared/data');
const FILES: Record<string, string> = { rees46: 'rees46_2019oct_head.csv', taobao: 'taobao_userbehavior_timeslice.csv' };

/** The k best-scoring items not in `excluded`, best first (one pass, insertion into a short list). */
function topK(scores: Float64Array, k: number, excluded: ReadonlySet<number>): number[] {
  const top: number[] = [];
  for (let i = 0; i < scores.length; i++) {
    if (excluded.has(i) || (top.length === k && scores[i] <= scores[top[k - 1]])) continue;
    let at = top.length === k ? k - 1 : top.length;
    if (top.length < k) top.push(i);
    while (at > 0 && scores[top[at - 1]] < scores[i]) {
      top[at] = top[at - 1];
      at--;
    }
    top[at] = i;
  }
  return top;
}

/**
 * `npm run bench als-grid [--only demo,rees46,taobao] [--grid '[{"alpha":200,"regularization":100}, …]'] [--data DIR]`:
 * implicit ALS fitted before MATRIX_FACTORIZATION's split (the harness's, default weights) for each
 * options object of the grid (over dimensions 32, 10 iterations, 3 conjugate-gradient steps), and
 * its held-out recall@20 and NDCG@20, without the refit and the stored lists: how the kind's ALS
 * defaults were chosen (docs/recommendations.md).
 */
export async function run(argv: string[]): Promise<void> {
  const args = parseArgs(argv, { flags: { only: 'string', grid: 'string', data: 'string' } });
  const grid = JSON.parse(stringFlag(args, 'grid') ?? '[{"alpha":200,"regularization":100}]') as Partial<AlsOptions>[];
  const dataDir = stringFlag(args, 'data') ?? DATA;
  process.env.LOG_LEVEL ??= 'warn';
  for (const name of (stringFlag(args, 'only') ?? 'demo,rees46,taobao').split(',')) {
    if (name !== 'demo' && !existsSync(resolve(dataDir, FILES[name]))) {
      console.log(`${name}: ${FILES[name]} not found under ${dataDir} (pass --data DIR); skipped`);
      continue;
    }
    const db = await benchDatabase(`als_grid_${name}`);
    try {
      if (name === 'demo') await loadBenchShop(db.dataSource, createDemoShop({ users: 3000, days: 14, seed: 7 }));
      else await importFile(db.dataSource, name as 'rees46' | 'taobao', resolve(dataDir, FILES[name]));
      const [{ last }] = await db.dataSource.query(`SELECT max(ts) AS last FROM events`);
      const log = await loadTrainingItemEvents(new PostgresTrainingEvents(db.dataSource), { from: null, to: new Date(last.getTime() + 1), excludedUsers: new Set() });
      const split = splitUsers(log, 0.2, weightsByCode(DEFAULT_EVENT_WEIGHTS), 50);
      const prepared = preparePairs(split.before, split.trainedItemCount);
      const rowOf = new Map(prepared.userIds.map((id, row) => [id, row]));
      const cases = split.cases.filter((c) => rowOf.has(c.user));
      console.log(`${name}: ${prepared.pairs.userCount} users, ${prepared.pairs.itemCount} items, ${prepared.pairs.users.length} pairs, ${cases.length} held-out users`);
      for (const options of grid) {
        const full: AlsOptions = { dimensions: 32, iterations: 10, alpha: 200, regularization: 100, conjugateGradientSteps: 3, seed: 42, initScale: 0, ...options };
        full.initScale ||= 0.1 / Math.sqrt(full.dimensions);
        const d = full.dimensions;
        const started = performance.now();
        const factors = await trainImplicitAls(prepared.pairs, full);
        const seconds = (performance.now() - started) / 1000;
        const n = prepared.pairs.itemCount;
        const scores = new Float64Array(n);
        const metrics = evaluateRanking(
          cases,
          (user, excluded) => {
            const row = rowOf.get(user)!;
            for (let i = 0; i < n; i++) {
              let s = 0;
              for (let k = 0; k < d; k++) s += factors.userFactors[row * d + k] * factors.itemFactors[i * d + k];
              scores[i] = s;
            }
            return topK(scores, 20, excluded);
          },
          20,
          n,
        );
        console.log(`${name} ${JSON.stringify(options)}: recall@20 ${metrics.recall.toFixed(4)}, NDCG@20 ${metrics.ndcg.toFixed(4)}, fit ${seconds.toFixed(1)} s`);
      }
    } finally {
      await db.drop();
    }
  }
}
