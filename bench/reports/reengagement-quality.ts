import 'reflect-metadata';
import { resolve } from 'node:path';
import type { DataSource } from 'typeorm';
import { intFlag, parseArgs, stringFlag } from '../../src/cli/args';
import { evaluateRanking, popularityRecommender } from '../../src/ml/evaluation';
import { DEFAULT_EVENT_WEIGHTS, ITEM_EVENT_TYPES, loadItemEvents } from '../../src/recommend/item-events';
import { rankReengagement, ReengagementOptions, REENGAGEMENT_HALF_LIFE_MS } from '../../src/recommend/reengagement';
import { distinctPairItems, splitUsers } from '../../src/recommend/user-split';
import { RECENT_EVENTS } from '../../src/recommend/user-state';
import { createDemoShop } from '../../src/sim';
import { benchDatabase, loadBenchShop, forEachRealSample } from '../support';

const K = 20;
const HOUR = 3_600_000;

/** Re-engagement variants, each followed by the popularity baseline to fill K slots. */
const VARIANTS: [string, ReengagementOptions, number][] = [
  ['REENGAGEMENT as served (72 h half-life, last 50 events)', {}, RECENT_EVENTS],
  ['the same over every event before the split', {}, Infinity],
  ['half-life 24 h', { halfLifeMs: 24 * HOUR }, RECENT_EVENTS],
  ['half-life 7 days', { halfLifeMs: 168 * HOUR }, RECENT_EVENTS],
  ['"recently viewed": every type 1, half-life 1 s', { typeWeights: [1, 1, 1, 1, 1], halfLifeMs: 1000 }, RECENT_EVENTS],
  ['"most engaged": no decay', { halfLifeMs: 1e15 }, RECENT_EVENTS],
];

/** Recall/NDCG/MRR@20 of re-engagement variants against the harness's popularity baseline, on the events stored in `dataSource`. */
async function report(name: string, dataSource: DataSource): Promise<void> {
  const log = await loadItemEvents(dataSource, { from: null, to: new Date(8.64e15) });
  const weights = Float32Array.from(ITEM_EVENT_TYPES, (type) => DEFAULT_EVENT_WEIGHTS[type]);
  const split = splitUsers(log, 0.2, weights, RECENT_EVENTS);
  const popularity = popularityRecommender(distinctPairItems(split.before));
  // Each held-out user's events before the split, oldest first (dense item indices).
  const byUser = new Map<number, { items: number[]; types: number[]; times: number[] }>();
  for (let n = 0; n < split.before.users.length; n++) {
    let events = byUser.get(split.before.users[n]);
    if (!events) byUser.set(split.before.users[n], (events = { items: [], types: [], times: [] }));
    events.items.push(split.before.items[n]);
    events.types.push(split.before.types[n]);
    events.times.push(split.before.times[n]);
  }
  const catalogue = split.trainedItemCount;
  const row = (label: string, m: { recall: number; ndcg: number; mrr: number; hitRate: number }) =>
    console.log(`| ${label} | ${m.recall.toFixed(4)} | ${m.ndcg.toFixed(4)} | ${m.mrr.toFixed(4)} | ${m.hitRate.toFixed(4)} |`);
  console.log(`\n### ${name}: ${split.cases.length} held-out users (each user's last 20 % of events held out)\n`);
  console.log('| recommender | recall@20 | NDCG@20 | MRR@20 | hit rate@20 |\n|---|---:|---:|---:|---:|');
  row('popularity baseline (harness)', evaluateRanking(split.cases, (user, excluded) => popularity(user, excluded, K), K, catalogue));
  for (const [label, options, window] of VARIANTS) {
    const metrics = evaluateRanking(
      split.cases,
      (user, excluded) => {
        const events = byUser.get(user)!;
        const from = Math.max(0, events.items.length - window);
        const recent = { items: events.items.slice(from), types: events.types.slice(from), times: events.times.slice(from) };
        const ranked = rankReengagement(recent, { ...options, purchased: excluded, limit: K });
        const list = ranked.items.slice(0, ranked.length);
        const taken = new Set([...excluded, ...list]);
        for (const item of popularity(user, taken, K - list.length)) list.push(item);
        return list;
      },
      K,
      catalogue,
    );
    row(`${label}, then popularity`, metrics);
  }
}

/**
 * `npm run bench reengagement-quality [--users 3000] [--days 14] [--data ../shared/data]`: the re-engagement score
 * (src/recommend/reengagement.ts) as a recommender on its own, filled up with popularity, on the
 * demo shop and the real samples in --data (default ../shared/data from the working directory), with the harness's split and metrics. Needs no
 * training: it reads events only.
 */
export async function run(argv: string[]): Promise<void> {
  const args = parseArgs(argv, { flags: { users: 'string', days: 'string', data: 'string' } });
  const users = intFlag(args, 'users', 3000, 50);
  const days = intFlag(args, 'days', 14, 2);
  const data = resolve(stringFlag(args, 'data') ?? resolve(process.cwd(), '../shared/data'));
  process.env.LOG_LEVEL ??= 'warn';
  console.log(`Default half-life ${REENGAGEMENT_HALF_LIFE_MS / HOUR} h; k = ${K}.`);
  const demo = await benchDatabase('bench_reengagement');
  try {
    await loadBenchShop(demo.dataSource, createDemoShop({ users, days, seed: 7 }));
    await report(`Demo shop (${users} users, ${days} days, seed 7)`, demo.dataSource);
  } finally {
    await demo.drop();
  }
  await forEachRealSample(data, 'bench_reengagement', async ({ file }, dataSource) => report(file, dataSource));
}
