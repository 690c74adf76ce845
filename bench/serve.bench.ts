import { ChildProcess, spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { intFlag, parseArgs } from '../src/cli/args';
import { EventService } from '../src/events/event.service';
import { DEFAULT_CACHE_SIZE, RecommendationService } from '../src/recommend/recommendation.service';
import { createDemoShop } from '../src/sim';
import { TrainingJobs } from '../src/training/training-jobs';
import { TrainingRunner } from '../src/training/training-runner';
import { MODEL_KINDS, TRAINING_DOMAINS } from '../src/model-kinds';
import { modelKindDefinition } from '../src/training/model-kind';
import { benchDatabase, loadBenchShop } from './support';
import { freePort } from './free-port';

// autocannon ships no types; this is the part we use.
interface AutocannonResult {
  requests: { average: number; total: number };
  latency: { p50: number; p99: number; average: number };
  errors: number;
  non2xx: number;
  duration: number;
}
type Autocannon = (options: Record<string, unknown>) => Promise<AutocannonResult>;
// eslint-disable-next-line @typescript-eslint/no-require-imports
const autocannon: Autocannon = require('autocannon');

async function waitForHealth(url: string, child: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`server exited: ${output()}`);
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`server did not answer: ${output()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

interface RunningServer {
  child: ChildProcess;
  url: string;
  adminKey: string;
}

/** The API in its own process, as deployed (NODE_ENV=production also turns off graphql-js's development-only checks). */
async function startServer(databaseUrl: string, env: Record<string, string>): Promise<RunningServer> {
  const port = await freePort();
  const adminKey = `bench-admin-${Date.now()}`;
  let output = '';
  const child = spawn(process.execPath, [resolve(__dirname, '../src/main.js')], {
    // One key from one address at thousands of requests a second is the load itself here, not abuse:
    // the rate limits (1,000 a second per key and per address by default) are off.
    env: {
      ...process.env,
      NODE_ENV: 'production',
      DATABASE_URL: databaseUrl,
      PORT: String(port),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      FUNNELCAST_BOOTSTRAP_ADMIN_KEY: adminKey,
      FUNNELCAST_RATE_LIMIT_PER_KEY: '0',
      FUNNELCAST_RATE_LIMIT_PER_ADDRESS: '0',
      ...env,
    },
  });
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  await waitForHealth(`http://127.0.0.1:${port}/healthz`, child, () => output);
  return { child, url: `http://127.0.0.1:${port}/graphql`, adminKey };
}

async function stopServer(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  await new Promise((done) => {
    child.once('exit', done);
    child.kill('SIGTERM');
  });
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

/**
 * Warm-up, then alternating rounds of `health` and `recommendations` for users drawn across the
 * shop (a fixed pseudo-random walk over all of them); prints each round and returns the summary.
 */
async function measure(url: string, adminKey: string, userIds: string[], options: { connections: number; seconds: number; rounds: number }): Promise<string> {
  const { connections, seconds, rounds } = options;
  const headers = { 'content-type': 'application/json', authorization: `Bearer ${adminKey}` };
  const recommendQuery = 'query($u: ID!) { recommendations(userId: $u, limit: 10) { listId items { itemId score source modelVersionId recommendationId } } }';
  const body = (u: string) => JSON.stringify({ query: recommendQuery, variables: { u } });
  // A sanity check that the served lists are full and come from the models.
  const sample = (await (await fetch(url, { method: 'POST', headers, body: body(userIds[1]) })).json()) as { data: { recommendations: { items: { source: string }[] } } };
  console.log(`sample list: ${sample.data.recommendations.items.length} items from ${[...new Set(sample.data.recommendations.items.map((i) => i.source))].join(', ')}`);

  const load = async (name: string, loadOptions: Record<string, unknown>) => {
    const result = await autocannon({ url, connections, duration: seconds, method: 'POST', headers, ...loadOptions });
    console.log(
      `${name.padEnd(16)} ${Math.round(result.requests.average).toLocaleString('en-US').padStart(7)} req/s  p50 ${result.latency.p50} ms  p99 ${result.latency.p99} ms  ` +
        `(${result.requests.total.toLocaleString('en-US')} requests, ${result.errors} errors, ${result.non2xx} non-2xx)`,
    );
    return result;
  };
  const healthLoad = { body: JSON.stringify({ query: '{ health { status } }' }) };
  let next = 0;
  const recommendationsLoad = {
    requests: [{ setupRequest: (request: Record<string, unknown>) => ({ ...request, body: body(userIds[(next = (next * 7919 + 104729) % userIds.length)]) }) }],
  };
  // Warm-up (JIT, pool connections, caches), then alternating rounds: on a shared machine the load
  // of other processes drifts, and alternating puts both queries under the same drift.
  await autocannon({ url, connections, duration: 3, method: 'POST', headers, ...healthLoad });
  await autocannon({ url, connections, duration: 3, method: 'POST', headers, ...recommendationsLoad });
  console.log(`load: ${connections} connections, ${rounds} alternating rounds of ${seconds} s each, on loopback; the server in its own process`);
  const ratios: number[] = [];
  const p99s: number[] = [];
  let requests = 0;
  for (let round = 1; round <= rounds; round++) {
    const health = await load(`health ${round}`, healthLoad);
    const recommendations = await load(`recommend ${round}`, recommendationsLoad);
    ratios.push(recommendations.requests.average / health.requests.average);
    p99s.push(recommendations.latency.p99);
    requests += recommendations.requests.total;
  }
  const line =
    `recommendations reach ${(100 * median(ratios)).toFixed(0)}% of the health query's throughput (median of ${rounds} rounds: ${ratios.map((r) => `${(100 * r).toFixed(0)}%`).join(', ')}); ` +
    `p99 median ${median(p99s)} ms; each of the ${userIds.length.toLocaleString('en-US')} users asked ${(requests / rounds / userIds.length).toFixed(1)} times per round`;
  console.log(`ratio: ${line}`);
  return line;
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

/**
 * `npm run bench serve [--users 3000] [--days 14] [--seconds 10] [--connections 16] [--rounds 3] [--fold-in 300] [--cache-size N] [--keep]`
 *
 * A demo shop with every recommender trained and active, the API in its own process, and
 * autocannon on loopback: the public `health` query and `recommendations` for random known users
 * (limit 10, with each item's recommender and id), same connections and duration, alternating; first
 * as deployed (the served-list cache on), then with the cache off so that every request is scored
 * (`--cache-size N` measures only that setting). Then fold-in: a brand-new visitor's third view followed by their recommendations, timed in
 * process on the service. `--keep` leaves the trained database in place and prints its URL (to profile
 * a server against it by hand).
 */
export async function run(argv: string[]): Promise<void> {
  const args = parseArgs(argv, { flags: { users: 'string', days: 'string', seconds: 'string', connections: 'string', rounds: 'string', 'fold-in': 'string', 'cache-size': 'string', keep: 'boolean' } });
  const users = intFlag(args, 'users', 3000, 50);
  const days = intFlag(args, 'days', 14, 2);
  const seconds = intFlag(args, 'seconds', 10, 1);
  const connections = intFlag(args, 'connections', 16, 1);
  const rounds = intFlag(args, 'rounds', 3, 1);
  const foldIns = intFlag(args, 'fold-in', 300, 10);
  const keep = args.flags.keep === true;
  // Default: as deployed, then with the cache off; --cache-size N measures that size only.
  const cacheSizes: (number | null)[] = args.flags['cache-size'] === undefined ? [null, 0] : [intFlag(args, 'cache-size', DEFAULT_CACHE_SIZE, 0)];
  process.env.LOG_LEVEL ??= 'warn';

  const db = await benchDatabase('bench_serve');
  let server: RunningServer | null = null;
  try {
    const shop = createDemoShop({ users, days, seed: 7 });
    await loadBenchShop(db.dataSource, shop);
    const shopEnd = new Date(shop.options.endMs);
    const jobs = new TrainingJobs(db.dataSource);
    const kinds: [string, Record<string, unknown>][] = [
      ['POPULARITY', {}],
      ['ITEM_KNN', {}],
      ['MATRIX_FACTORIZATION', {}],
      ['SESSION_GRU', { epochs: 3, units: 32, embeddingSize: 16, maxLength: 5, refit: false }],
    ];
    for (const [kind, raw] of kinds) {
      const params = modelKindDefinition(MODEL_KINDS, kind).parseParams(raw);
      const { job } = await jobs.insertOrFind({ requestKey: `bench-${kind}`, kind, params: params as Record<string, unknown>, from: null, to: shopEnd, activate: true, scheduleId: null });
      const started = performance.now();
      await new TrainingRunner(db.dataSource, TRAINING_DOMAINS).run(job.id);
      console.log(`trained ${kind} in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    }

    const userIds: string[] = (await db.dataSource.query(`SELECT external_id FROM users ORDER BY id`)).map((r: { external_id: string }) => r.external_id);
    const summaries: string[] = [];
    for (const cacheSize of cacheSizes) {
      const label = cacheSize === null ? `as deployed (served-list cache of ${DEFAULT_CACHE_SIZE.toLocaleString('en-US')})` : cacheSize === 0 ? 'cache off: every request scored' : `served-list cache of ${cacheSize.toLocaleString('en-US')}`;
      console.log(`\n== ${label}`);
      const env: Record<string, string> = cacheSize === null ? {} : { FUNNELCAST_RECOMMENDATION_CACHE_SIZE: String(cacheSize) };
      server = await startServer(db.url, env);
      summaries.push(`${label}: ${await measure(server.url, server.adminKey, userIds, { connections, seconds, rounds })}`);
      await stopServer(server.child);
      server = null;
    }
    console.log(`\n${summaries.join('\n')}`);

    // Fold-in: a new visitor's third view, then their list (the service, in this process).
    const service = new RecommendationService(db.dataSource);
    await service.models.refresh();
    const events = new EventService(db.dataSource, { maxBatch: 5000, maxPropertiesBytes: 16384 });
    const items: string[] = (await db.dataSource.query(`SELECT external_id FROM items ORDER BY id`)).map((r: { external_id: string }) => r.external_id);
    const timings: number[] = [];
    const now = Date.now();
    for (let visitor = 0; visitor < foldIns; visitor++) {
      const userId = `bench-new-${visitor}`;
      await events.ingest(
        [0, 1, 2].map((n) => ({ eventId: `${userId}-${n}`, type: 'view', userId, sessionId: `${userId}-s`, itemId: items[(visitor * 31 + n * 7) % items.length], timestamp: now - (3 - n) * 1000 })),
      );
      const started = performance.now();
      const list = await service.forUser({ userId, limit: 10 });
      timings.push(performance.now() - started);
      if (list.items.length !== 10) throw new Error(`fold-in list for ${userId} has ${list.items.length} items`);
    }
    timings.sort((a, b) => a - b);
    console.log(`\nfold-in for a brand-new visitor after 3 views (${foldIns} visitors): p50 ${percentile(timings, 50).toFixed(2)} ms, p99 ${percentile(timings, 99).toFixed(2)} ms (one indexed query for their events + in-memory scoring)`);
  } finally {
    if (server) await stopServer(server.child);
    if (keep) {
      await db.dataSource.destroy();
      console.log(`\nkept the database: DATABASE_URL=${db.url}`);
    } else {
      await db.drop();
    }
  }
}
