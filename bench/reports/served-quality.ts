import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { DataSource } from 'typeorm';
import { parseArgs, intFlag, stringFlag, UsageError } from '../../src/cli/args';
import { importFile } from '../../src/events/import/import.service';
import { pairedBootstrap } from '../../src/ml/evaluation';
import { recallAtK, ndcgAtK } from '../../src/ml/metrics';
import { ModelServingSwitches, SERVED_RECOMMENDER_KINDS } from '../../src/recommend/model-serving';
import { RecommendationExclusion, RecommendationService } from '../../src/recommend/recommendation.service';
import { DEFAULT_EVENT_WEIGHTS } from '../../src/recommend/item-events';
import { createDemoShop } from '../../src/sim';
import { MODEL_KINDS, TRAINING_DOMAINS } from '../../src/model-kinds';
import { ModelKind, modelKindDefinition } from '../../src/training/model-kind';
import { TrainingJobs } from '../../src/training/training-jobs';
import { TrainingRunner } from '../../src/training/training-runner';
import { benchDatabase, loadBenchShop } from '../support';

const DATA = resolve(__dirname, '../../../../shared/data');
const K = 20;
/** The recommender kinds trained, in trainAll's order, then the blend that reads them. */
const KINDS = [ModelKind.POPULARITY, ModelKind.ITEM_KNN, ModelKind.MATRIX_FACTORIZATION, ModelKind.RECOMMENDATION_BLEND];

interface HeldOutUser {
  userId: string;
  /** Items touched after the split. */
  touched: Set<string>;
  /** Of those, the ones not touched before it. */
  fresh: Set<string>;
  /** Items touched before the split, most recent first, and their summed event weights. */
  before: string[];
  engagement: Map<string, number>;
  purchased: Set<string>;
}

/**
 * Holds out every item event at or after T = the time of the event at the 80th percentile, and
 * deletes those events, so the database holds exactly what a shop would have had at T; returns
 * the users with events on both sides.
 */
async function holdOut(dataSource: DataSource, holdoutFraction: number): Promise<{ splitAt: Date; users: HeldOutUser[] }> {
  const [{ split }] = await dataSource.query(`SELECT percentile_disc($1::float8) WITHIN GROUP (ORDER BY ts) AS split FROM events WHERE item_id IS NOT NULL`, [1 - holdoutFraction]);
  const rows: { user_id: string; item_id: string; type: string; after: boolean }[] = await dataSource.query(
    `SELECT u.external_id AS user_id, i.external_id AS item_id, e.type, e.ts >= $1 AS after
     FROM events e JOIN users u ON u.id = e.user_id JOIN items i ON i.id = e.item_id
     ORDER BY e.user_id, e.ts DESC, e.id DESC`,
    [split],
  );
  const byUser = new Map<string, HeldOutUser>();
  for (const row of rows) {
    let user = byUser.get(row.user_id);
    if (!user) byUser.set(row.user_id, (user = { userId: row.user_id, touched: new Set(), fresh: new Set(), before: [], engagement: new Map(), purchased: new Set() }));
    if (row.after) user.touched.add(row.item_id);
    else {
      if (!user.engagement.has(row.item_id)) user.before.push(row.item_id);
      user.engagement.set(row.item_id, (user.engagement.get(row.item_id) ?? 0) + (DEFAULT_EVENT_WEIGHTS[row.type as keyof typeof DEFAULT_EVENT_WEIGHTS] ?? 0));
      if (row.type === 'purchase') user.purchased.add(row.item_id);
    }
  }
  const users = [...byUser.values()].filter((user) => user.touched.size > 0 && user.before.length > 0);
  for (const user of users) for (const item of user.touched) if (!user.engagement.has(item)) user.fresh.add(item);
  await dataSource.query(`DELETE FROM events WHERE ts >= $1`, [split]);
  return { splitAt: split, users };
}

async function trainKinds(dataSource: DataSource, to: Date, overrides: Record<string, Record<string, unknown>>): Promise<void> {
  const jobs = new TrainingJobs(dataSource);
  for (const kind of KINDS) {
    const params = modelKindDefinition(MODEL_KINDS, kind).parseParams(overrides[kind] ?? {}) as Record<string, unknown>;
    const { job } = await jobs.insertOrFind({ requestKey: `served-${kind}`, kind, params, from: null, to, activate: true, scheduleId: null });
    try {
      await new TrainingRunner(dataSource, TRAINING_DOMAINS).run(job.id);
      const [row] = await dataSource.query(`SELECT v.status, j.message FROM model_versions v JOIN training_jobs j ON j.id = v.training_job_id WHERE j.id = $1`, [job.id]);
      console.log(`  ${kind}: ${row.status} (${row.message})`);
      if (kind === ModelKind.RECOMMENDATION_BLEND) {
        const [{ metrics }] = await dataSource.query(`SELECT metrics FROM model_versions v JOIN training_jobs j ON j.id = v.training_job_id WHERE j.id = $1`, [job.id]);
        for (const [surface, learned] of Object.entries(metrics.evaluation.surfaces as Record<string, { weights: unknown }>)) console.log(`    ${surface} weights ${JSON.stringify(learned.weights)}`);
      }
    } catch (error) {
      console.log(`  ${kind}: not trained (${(error as Error).message})`);
    }
  }
}

type Lister = (user: HeldOutUser, fresh: boolean) => Promise<string[]> | string[];

/**
 * `npm run bench served-quality [--data demo|rees46|taobao|all] [--holdout 0.2] [--users 3000] [--days 14] [--profile realistic|classic] [--params '{"ITEM_KNN": {…}}']`
 *
 * The check a shop would make through the API: the last 20 % of the events (by time) are held out
 * and removed, every recommender kind and the blend train on the rest with their defaults, and
 * `recommendations` is asked for every user with events on both sides: recall@20 and NDCG@20 on
 * the items they touched after the split, and on the new ones only (asked with `exclude: SEEN`, as a
 * discovery surface would, and everything they touched before passed as excludeItemIds). Beside it, the simple baselines
 * on the same users (recently viewed, most engaged, popularity), each model kind served without
 * the other kinds (switched off with setModelServing; re-engagement, which needs no model, stays), and the ratio of the served list to the best baseline
 * with a 95 % paired bootstrap interval of the difference. `--params` trains a kind with other
 * params than its defaults (by kind name).
 */
export async function run(argv: string[]): Promise<void> {
  const args = parseArgs(argv, { flags: { data: 'string', holdout: 'string', users: 'string', days: 'string', profile: 'string', params: 'string' } });
  const overrides = JSON.parse(stringFlag(args, 'params') ?? '{}') as Record<string, Record<string, unknown>>;
  const data = stringFlag(args, 'data') ?? 'all';
  if (!['demo', 'rees46', 'taobao', 'all'].includes(data)) throw new UsageError('--data must be demo, rees46, taobao or all');
  const holdout = Number(stringFlag(args, 'holdout') ?? 0.2);
  const users = intFlag(args, 'users', 3000, 50);
  const days = intFlag(args, 'days', 14, 2);
  const profile = stringFlag(args, 'profile') ?? 'realistic';
  if (profile !== 'realistic' && profile !== 'classic') throw new UsageError('--profile must be realistic (the demo shop funnelcast demo loads) or classic');
  process.env.LOG_LEVEL ??= 'warn';
  const sets: [string, (dataSource: DataSource) => Promise<string | null>][] = [
    ['demo', async (dataSource) => {
      await loadBenchShop(dataSource, createDemoShop({ users, days, seed: 7, profile }));
      return `demo shop (${profile} profile, ${users} users, ${days} days, seed 7)`;
    }],
    ...(['rees46', 'taobao'] as const).map((format): [string, (dataSource: DataSource) => Promise<string | null>] => [format, async (dataSource) => {
      const file = format === 'rees46' ? 'rees46_2019oct_head.csv' : 'taobao_userbehavior_timeslice.csv';
      const path = resolve(DATA, file);
      if (!existsSync(path)) {
        console.log(`\n${file}: not found under ${DATA}; skipped.`);
        return null;
      }
      const summary = await importFile(dataSource, format, path);
      return `${file} (${summary.imported.toLocaleString('en-US')} events)`;
    }]),
  ];
  for (const [name, load] of sets) {
    if (data !== 'all' && data !== name) continue;
    const db = await benchDatabase(`bench_served_${name}`);
    try {
      const title = await load(db.dataSource);
      if (!title) continue;
      console.log(`\n### ${title}: last ${Math.round(holdout * 100)} % of the events held out\n`);
      const { splitAt, users: heldOut } = await holdOut(db.dataSource, holdout);
      console.log(`split at ${splitAt.toISOString()}; ${heldOut.length} users with events on both sides, ${heldOut.filter((u) => u.fresh.size > 0).length} of them with new items after it`);
      await trainKinds(db.dataSource, splitAt, overrides);
      await report(db.dataSource, heldOut);
    } finally {
      await db.drop();
    }
  }
}

async function report(dataSource: DataSource, users: HeldOutUser[]): Promise<void> {
  const popular: { item_id: string; users: number }[] = await dataSource.query(
    `SELECT i.external_id AS item_id, count(DISTINCT e.user_id)::int AS users FROM events e JOIN items i ON i.id = e.item_id GROUP BY i.external_id ORDER BY users DESC, i.external_id LIMIT 1000`,
  );
  const byPopularity = popular.map((row) => row.item_id);
  const fill = (list: string[], user: HeldOutUser, fresh: boolean) => {
    const out: string[] = [];
    const taken = new Set<string>();
    const blocked = (item: string) => taken.has(item) || user.purchased.has(item) || (fresh && user.engagement.has(item));
    for (const item of [...list, ...byPopularity]) {
      if (out.length >= K) break;
      if (!blocked(item)) out.push(item), taken.add(item);
    }
    return out;
  };
  const switches = new ModelServingSwitches(dataSource);
  const service = new RecommendationService(dataSource, { cacheSize: 0 });
  // Which kinds serve is set by the serving switches before each lister runs.
  const served: Lister = async (user, fresh) => {
    // New items only: what a discovery surface asks for (exclude: SEEN), with every item touched
    // before the split passed too (SEEN covers the last 50 events).
    const list = await service.forUser({ userId: user.userId, limit: K, excludeItemIds: fresh ? user.before : null, exclude: fresh ? RecommendationExclusion.SEEN : null });
    return list.items.map((item) => item.itemId);
  };
  const listers: [string, Lister, ModelKind | null][] = [
    ['served (recommendations)', served, null],
    ...[ModelKind.ITEM_KNN, ModelKind.MATRIX_FACTORIZATION].map((kind): [string, Lister, ModelKind | null] => [`${kind} (other kinds switched off; re-engagement stays)`, served, kind]),
    ['baseline: recently viewed', (user, fresh) => fill(user.before, user, fresh), null],
    ['baseline: most engaged', (user, fresh) => fill([...user.engagement].sort((a, b) => b[1] - a[1]).map(([item]) => item), user, fresh), null],
    ['baseline: popularity', (user, fresh) => fill([], user, fresh), null],
    // Not lists anyone can serve: they know the answer. They bound what re-engagement can add (it
    // can only ever bring back items touched before) and what the models' discovery lists would
    // give on top of a perfect re-engagement ranking.
    ['ceiling: every re-touched item (knows the answer)', (user, fresh) => fill(user.before.filter((item) => user.touched.has(item)), user, fresh), null],
    ['ceiling: every re-touched item, then the served discovery list', async (user, fresh) => {
      const retouched = fresh ? [] : user.before.filter((item) => user.touched.has(item));
      return fill([...retouched, ...(await served(user, true))], user, fresh);
    }, null],
  ];
  for (const fresh of [false, true]) {
    const cases = users.filter((user) => (fresh ? user.fresh.size > 0 : true));
    console.log(`\n${fresh ? 'new items only (everything touched before excluded)' : 'every item touched after the split'}: ${cases.length} users\n`);
    console.log('| list | recall@20 | NDCG@20 |');
    console.log('|---|---:|---:|');
    const perUser = new Map<string, Float64Array>();
    for (const [name, lister, only] of listers) {
      for (const kind of SERVED_RECOMMENDER_KINDS) await switches.set(kind, only === null || kind === only || kind === ModelKind.POPULARITY);
      await service.models.refresh();
      const recall = new Float64Array(cases.length);
      let ndcg = 0;
      for (let n = 0; n < cases.length; n++) {
        const list = await lister(cases[n], fresh);
        const relevant = fresh ? cases[n].fresh : cases[n].touched;
        // The metrics module takes numbers: the list's items become their positions in a shared index.
        const index = new Map<string, number>();
        const id = (item: string) => index.get(item) ?? index.set(item, index.size).get(item)!;
        const ids = list.map(id);
        const relevantIds = new Set([...relevant].map(id));
        recall[n] = recallAtK(ids, relevantIds, K);
        ndcg += ndcgAtK(ids, relevantIds, K);
      }
      perUser.set(name, recall);
      const mean = recall.reduce((a, b) => a + b, 0) / (cases.length || 1);
      console.log(`| ${name} | ${mean.toFixed(4)} | ${(ndcg / (cases.length || 1)).toFixed(4)} |`);
    }
    const baselines = [...perUser].filter(([name]) => name.startsWith('baseline'));
    const ceiling = perUser.get('ceiling: every re-touched item, then the served discovery list')!;
    const mean = (values: Float64Array) => values.reduce((a, b) => a + b, 0) / (values.length || 1);
    const [bestName, best] = baselines.sort((a, b) => mean(b[1]) - mean(a[1]))[0];
    const servedRecall = perUser.get('served (recommendations)')!;
    const d = pairedBootstrap(servedRecall, best);
    console.log(`\nserved / best baseline (${bestName.replace('baseline: ', '')}): ×${(mean(servedRecall) / Math.max(1e-12, mean(best))).toFixed(2)}; difference ${d.difference.toFixed(4)} (95 % CI ${d.low.toFixed(4)} to ${d.high.toFixed(4)})`);
    console.log(`ceiling (every re-touched item, then the served discovery list) / best baseline: ×${(mean(ceiling) / Math.max(1e-12, mean(best))).toFixed(2)}`);
  }
  for (const kind of SERVED_RECOMMENDER_KINDS) await switches.set(kind, true);
}
