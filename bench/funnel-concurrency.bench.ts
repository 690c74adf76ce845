import { ChildProcess, spawn } from 'node:child_process';
import { availableParallelism, cpus } from 'node:os';
import { resolve } from 'node:path';
import { intFlag, parseArgs } from '../src/cli/args';
import { benchDatabase } from './support';
import { freePort } from './free-port';
import { EVENTS_PER_USER, FROM, loadConcurrencyShop, SMALL_QUERY, TO } from './funnel-concurrency-shop';

/**
 * `npm run bench funnel-concurrency -- [--users 30000] [--aliases 100] [--seconds 20] [--before DIR]`
 *
 * Issue #11's "one analyst's request holds everyone else's", measured over HTTP against the API in
 * its own process: analyst A sends a request of `--aliases` aliased funnels (4 steps, a filter, a
 * breakdown), again as soon as it returns, for `--seconds`; meanwhile one client asks `health` and
 * analyst B asks for a single small funnel, each again as soon as answered. Printed: the latencies
 * of health and of B's funnel (p50 / p99 / max), alone and under A's load, and how long A's
 * requests took. Peers in the same run: funnels on the main thread (FUNNELCAST_FUNNEL_WORKERS=0)
 * and on the worker pool (the default), and with `--before DIR`, the build of an earlier commit in
 * DIR (its `dist/src/main.js`), e.g. the code before funnels moved to workers.
 *
 * Data: `--users` users × 10 small events written by SQL into a scratch database (dropped at the end).
 */
const HEAVY_FIELD = `funnel(input: {
    steps: [{ type: "view" }, { type: "cart", filters: [{ property: "device", op: NEQ, value: "tablet" }] }, { type: "checkout" }, { type: "purchase" }],
    conversionWindowSeconds: 86400, from: "${FROM}", to: "${TO}", breakdown: { property: "device" }
  }) { totalUnits steps { count } breakdown { group totalUnits } }`;
const heavyQuery = (aliases: number) => `{ ${Array.from({ length: aliases }, (_, n) => `f${n}: ${HEAVY_FIELD}`).join('\n')} }`;
const HEALTH_QUERY = '{ health { status } }';

interface Api {
  child: ChildProcess;
  url: string;
  output: () => string;
}

async function startApi(main: string, databaseUrl: string, adminKey: string, env: Record<string, string>): Promise<Api> {
  const port = await freePort();
  let output = '';
  const child = spawn(process.execPath, [main], {
    env: { ...process.env, NODE_ENV: 'production', DATABASE_URL: databaseUrl, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn', FUNNELCAST_BOOTSTRAP_ADMIN_KEY: adminKey,
      // A's load arrives as one request of many aliases: above the deployed alias and cost limits, and fast enough to meet the rate limits.
      FUNNELCAST_MAX_QUERY_ALIASES: '10000', FUNNELCAST_MAX_QUERY_COMPLEXITY: '1000000', FUNNELCAST_MAX_QUERY_TOKENS: '10000000',
      FUNNELCAST_RATE_LIMIT_PER_KEY: '0', FUNNELCAST_RATE_LIMIT_PER_ADDRESS: '0', ...env },
  });
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the API exited: ${output}`);
    try {
      if ((await fetch(`http://127.0.0.1:${port}/healthz`)).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`the API did not answer: ${output}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  return { child, url: `http://127.0.0.1:${port}/graphql`, output: () => output };
}

async function stopApi(api: Api): Promise<void> {
  if (api.child.exitCode !== null) return;
  await new Promise((done) => {
    api.child.once('exit', done);
    api.child.kill('SIGTERM');
  });
}

async function gql(url: string, query: string, key: string | null): Promise<{ data?: any; errors?: { message: string }[] }> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
    body: JSON.stringify({ query }),
  });
  return (await response.json()) as { data?: any; errors?: { message: string }[] };
}

/** Sends `query` again as soon as each answer arrives until `until()`; the latency of each, in ms. */
async function probe(url: string, query: string, key: string | null, until: () => boolean): Promise<{ latencies: number[]; failures: number }> {
  const latencies: number[] = [];
  let failures = 0;
  while (!until()) {
    const started = performance.now();
    const result = await gql(url, query, key);
    latencies.push(performance.now() - started);
    if (result.errors) failures++;
  }
  return { latencies, failures };
}

function summary(values: number[]): string {
  if (values.length === 0) return 'none';
  const sorted = [...values].sort((a, b) => a - b);
  const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)];
  const ms = (v: number) => (v >= 100 ? v.toFixed(0) : v.toFixed(1));
  return `p50 ${ms(at(0.5))} ms, p99 ${ms(at(0.99))} ms, max ${ms(sorted[sorted.length - 1])} ms (n=${values.length})`;
}

interface Peer {
  label: string;
  main: string;
  env: Record<string, string>;
}

async function measurePeer(peer: Peer, databaseUrl: string, options: { aliases: number; seconds: number }): Promise<string[]> {
  const adminKey = `bench-admin-${Date.now()}-${Math.random().toString(36).slice(2)}`;
  const api = await startApi(peer.main, databaseUrl, adminKey, peer.env);
  try {
    const key = async (name: string) => {
      const created = await gql(api.url, `mutation { createApiKey(role: ANALYST, name: "${name}") { secret } }`, adminKey);
      if (!created.data) throw new Error(JSON.stringify(created.errors));
      return created.data.createApiKey.secret as string;
    };
    const analystA = await key('bench analyst A');
    const analystB = await key('bench analyst B');
    // Warm: the mirror and the device column load once per process.
    for (const query of [SMALL_QUERY, heavyQuery(1)]) {
      const warm = await gql(api.url, query, analystB);
      if (warm.errors) throw new Error(`warm-up failed: ${JSON.stringify(warm.errors)}`);
    }
    const idleUntil = Date.now() + 3000;
    const idleHealth = await probe(api.url, HEALTH_QUERY, null, () => Date.now() > idleUntil);
    const idleSmallUntil = Date.now() + 3000;
    const idleSmall = await probe(api.url, SMALL_QUERY, analystB, () => Date.now() > idleSmallUntil);

    // Under load: A's heavy requests back to back, health and B's funnel probing throughout.
    let loading = true;
    const heavyDurations: number[] = [];
    let heavyFailures = 0;
    const heavyLoop = (async () => {
      while (loading) {
        const started = performance.now();
        const result = await gql(api.url, heavyQuery(options.aliases), analystA);
        heavyDurations.push(performance.now() - started);
        if (result.errors) heavyFailures++;
      }
    })();
    const loadUntil = Date.now() + options.seconds * 1000;
    const [health, small] = await Promise.all([
      probe(api.url, HEALTH_QUERY, null, () => Date.now() > loadUntil),
      probe(api.url, SMALL_QUERY, analystB, () => Date.now() > loadUntil),
    ]);
    loading = false;
    await heavyLoop;
    return [
      `${peer.label}`,
      `  health, idle                         ${summary(idleHealth.latencies)}`,
      `  health, under A's load               ${summary(health.latencies)}${health.failures ? `, ${health.failures} failed` : ''}`,
      `  B's single funnel, idle              ${summary(idleSmall.latencies)}`,
      `  B's single funnel, under A's load    ${summary(small.latencies)}${small.failures ? `, ${small.failures} failed` : ''}`,
      `  A's ${options.aliases}-alias request                ${summary(heavyDurations)}${heavyFailures ? `, ${heavyFailures} with errors` : ''}`,
    ];
  } catch (error) {
    throw new Error(`${peer.label}: ${(error as Error).message}\n${api.output()}`);
  } finally {
    await stopApi(api);
  }
}

export async function run(argv: string[]): Promise<void> {
  const args = parseArgs(argv, { flags: { users: 'string', aliases: 'string', seconds: 'string', before: 'string' } });
  const users = intFlag(args, 'users', 30_000, 100);
  const aliases = intFlag(args, 'aliases', 100, 1);
  const seconds = intFlag(args, 'seconds', 20, 1);
  const before = typeof args.flags.before === 'string' ? args.flags.before : null;
  const workers = Math.max(1, availableParallelism() - 1);

  const db = await benchDatabase('fc_bench_funnel_concurrency');
  try {
    await loadConcurrencyShop(db.dataSource, users);
    await db.dataSource.destroy();
    console.log(`${(users * EVENTS_PER_USER).toLocaleString('en-US')} events of ${users.toLocaleString('en-US')} users; A sends ${aliases} aliased funnels per request for ${seconds} s`);
    console.log(`machine: ${cpus().length} × ${cpus()[0]?.model ?? 'CPU'}, Node ${process.version}\n`);

    const here = resolve(__dirname, '../src/main.js');
    const peers: Peer[] = [
      ...(before ? [{ label: `before: ${before}`, main: resolve(before, 'dist/src/main.js'), env: {} }] : []),
      { label: 'funnels on the main thread (FUNNELCAST_FUNNEL_WORKERS=0)', main: here, env: { FUNNELCAST_FUNNEL_WORKERS: '0' } },
      { label: `funnels on the worker pool (${workers} worker${workers === 1 ? '' : 's'}, the default here)`, main: here, env: {} },
    ];
    for (const peer of peers) {
      for (const line of await measurePeer(peer, db.url, { aliases, seconds })) console.log(line);
    }
  } finally {
    await db.drop();
  }
}
