import { startApp, type App } from '../app';
import { loadConfig } from '../config';
import { SHOP_PROFILES, createDemoShop, isShopProfile, startEndingToday } from '../sim';
import { loadDemoShop } from '../sim/load';
import { intFlag, parseArgs, stringFlag, UsageError, type ParsedArgs } from './args';
import { resolveDemoDatabase, type DemoDatabase } from './demo-database';
import { finishedJobLine, followTrainingJobs } from '../training/follow-jobs';
import { loadProgressBar, withProgress } from './progress';

const USAGE = `Usage: funnelcast demo [--users N] [--days D] [--seed S] [--profile P] [--port P] [--check]

Starts the API with a demo shop. The database is DATABASE_URL, else the local PostgreSQL on
127.0.0.1:5432 (database funnelcast_demo), else an embedded PostgreSQL under /tmp. An empty
database gets a generated shop, deterministic for a seed, whose last day ends at the last UTC
midnight (the same shop shifted by whole days each day); a filled one is served as it is.

  --users N   visitors in the generated shop (default 5000)
  --days D    days of history (default 14)
  --seed S    generator seed (default 42)
  --profile P realistic (default: fitted to real shops' statistics, docs/demo-shop.md) or
              classic (the earlier, easier shop: small catalogue, long sessions, more purchases)
  --port P    HTTP port (default PORT or 4000; 0 picks a free one)
  --check     start, run the example queries once, print the answers, and exit; with a
              training worker connected, first train every model and wait for it

With a training worker connected (\`npm run worker\` on the same DATABASE_URL, REDIS_URL and
FUNNELCAST_QUEUE_PREFIX), the demo queues trainAll at start; over unchanged data that returns the
models already trained.`;

const DEMO_KEY_NAMES = { admin: 'demo admin', analyst: 'demo analyst', server: 'demo server', client: 'demo client' } as const;

async function issueDemoKeys(app: App): Promise<Record<keyof typeof DEMO_KEY_NAMES, string>> {
  // Keys of an earlier demo run stop working: only the ones printed now are valid.
  await app.services.dataSource.query(
    `UPDATE api_keys SET revoked_at = now() WHERE revoked_at IS NULL AND name = ANY($1)`,
    [Object.values(DEMO_KEY_NAMES)],
  );
  const keys = {} as Record<keyof typeof DEMO_KEY_NAMES, string>;
  for (const role of Object.keys(DEMO_KEY_NAMES) as (keyof typeof DEMO_KEY_NAMES)[]) {
    keys[role] = (await app.services.apiKeys.create(role, DEMO_KEY_NAMES[role])).secret;
  }
  return keys;
}

/** Real ids of the stored shop for the examples: the user with the latest event, their last session and its items. */
interface ExampleIds {
  userId: string;
  sessionId: string;
  itemIds: string[];
}

async function exampleIds(app: App): Promise<ExampleIds> {
  const [latest] = await app.services.dataSource.query(
    `SELECT u.external_id AS user_id, e.session_id FROM events e JOIN users u ON u.id = e.user_id
     WHERE e.session_id IS NOT NULL AND e.item_id IS NOT NULL ORDER BY e.ts DESC, e.id DESC LIMIT 1`,
  );
  const items: { external_id: string }[] = await app.services.dataSource.query(
    `SELECT i.external_id FROM events e JOIN users u ON u.id = e.user_id JOIN items i ON i.id = e.item_id
     WHERE u.external_id = $1 AND e.session_id = $2 ORDER BY e.ts, e.id`,
    [latest?.user_id ?? 'u1', latest?.session_id ?? ''],
  );
  return { userId: latest?.user_id ?? 'u1', sessionId: latest?.session_id ?? 's1', itemIds: [...new Set(items.map((i) => i.external_id))].slice(-3) };
}

/** The banner's examples: each is printed as a curl command, and `--check` runs every one of them. */
function exampleQueries(from: string, to: string, ids: ExampleIds) {
  const steps = '[{ type: "view" }, { type: "cart" }, { type: "checkout" }, { type: "purchase" }]';
  const funnelInput = (extra = '') => `{ steps: ${steps}, conversionWindowSeconds: 86400, from: "${from}", to: "${to}"${extra} }`;
  const user = JSON.stringify(ids.userId);
  const items = JSON.stringify(ids.itemIds);
  return {
    health: '{ health { status version database { ok } redis { ok error } } }',
    eventStats: `{ eventStats(from: "${from}", to: "${to}") { total distinctUsers distinctSessions byType { type count } } }`,
    item: '{ item(id: "i0") { id title category brand price } }',
    funnel: `{ funnel(input: ${funnelInput()}) { steps { label count conversionFromFirst } } }`,
    breakdown: `{ funnel(input: ${funnelInput(', breakdown: { property: "channel", limit: 5 }')}) { breakdown { key totalUnits steps { count } } } }`,
    sessions: `{ funnel(input: ${funnelInput(', countBy: SESSION')}) { totalUnits steps { count } } }`,
    trend: `{ funnelTrend(input: ${funnelInput()}, interval: DAY) { periodStart entered converted conversionRate } }`,
    droppedOff: `{ droppedOff(input: ${funnelInput()}, afterStep: 2, first: 3) { totalCount edges { node { userId } } pageInfo { hasNextPage endCursor } } }`,
    recommendations: `{ recommendations(userId: ${user}, limit: 5) { items { itemId score source } } }`,
    discovery: `{ recommendations(userId: ${user}, limit: 5, exclude: SEEN) { items { itemId score source } } }`,
    continueShopping: `{ continueShopping(userId: ${user}, limit: 5) { items { itemId score source } } }`,
    similarItems: '{ similarItems(itemId: "i0", limit: 5) { items { itemId score source } } }',
    sessionRecommendations: `{ sessionRecommendations(itemIds: ${items}, limit: 5) { items { itemId score source } } }`,
    trainAll: 'mutation { trainAll { jobs { id kind state waitsFor } skipped { kind reason } } }',
    trainingJobs: '{ trainingJobs(first: 10) { edges { node { kind state progress message error modelVersion { metrics } } } pageInfo { hasNextPage endCursor } } }',
    nextStep: `{ predictNextStep(sessionId: ${JSON.stringify(ids.sessionId)}, userId: ${user}) { likeliest probabilities { action probability } baseline { action probability } } }`,
    propensity: `{ purchasePropensity(userId: ${user}) { propensity horizonHours storedPropensity } }`,
    atRisk: '{ atRiskUsers(stage: CART, maxPropensity: 0.5, first: 5) { totalCount edges { node { userId stage cartValue propensity } } } }',
    anomalies: `{ anomalies(from: "${from}", to: "${to}", first: 5) { totalCount edges { node { userId score flagged } } } }`,
    userRisk: `{ userRisk(userId: ${user}) { score flagged contributions { detector score } } }`,
    // Stamped at the end of the shop's events (not now), so sending it leaves the shop's span, and
    // with it every default training range, as it was.
    ingest: `mutation { ingestEvents(events: [{ eventId: "demo-example-1", type: "view", userId: ${user}, sessionId: "demo-session", itemId: "i0", timestamp: "${to}" }]) { accepted duplicates } }`,
  };
}

type ExampleName = keyof ReturnType<typeof exampleQueries>;
type KeyRole = 'none' | 'admin' | 'analyst' | 'server' | 'client';

/** Which key each example needs, a label for the banner and --check, and whether it needs trained models. */
const EXAMPLES: { name: ExampleName; key: KeyRole; label: string; trained?: true; worker?: true }[] = [
  { name: 'health', key: 'none', label: 'health' },
  { name: 'eventStats', key: 'analyst', label: 'events by type' },
  { name: 'item', key: 'client', label: 'an item of the catalogue' },
  { name: 'funnel', key: 'analyst', label: 'a 4-step funnel' },
  { name: 'breakdown', key: 'analyst', label: 'the funnel broken down by channel' },
  { name: 'sessions', key: 'analyst', label: 'the funnel counting sessions' },
  { name: 'trend', key: 'analyst', label: 'its conversion day by day' },
  { name: 'droppedOff', key: 'analyst', label: 'who reached the cart and went no further' },
  { name: 'recommendations', key: 'client', label: 'recommendations for a user (what they touched lately and recent best sellers until models are trained)' },
  { name: 'discovery', key: 'client', label: 'the same leaving out everything the user touched (exclude: SEEN)' },
  { name: 'continueShopping', key: 'client', label: "the items a user may come back to" },
  { name: 'similarItems', key: 'client', label: 'items like i0' },
  { name: 'sessionRecommendations', key: 'client', label: 'what to show next in a session' },
  { name: 'trainAll', key: 'admin', label: 'train every model, anomaly detectors first (needs `npm run worker`)', worker: true },
  { name: 'trainingJobs', key: 'admin', label: 'training progress and each model against its baseline' },
  { name: 'nextStep', key: 'server', label: "a visit's next step, against the Markov baseline (after training)", trained: true },
  { name: 'propensity', key: 'server', label: "a user's chance to buy within the horizon (after training)", trained: true },
  { name: 'atRisk', key: 'analyst', label: 'users with an open cart and a low purchase propensity (after training)', trained: true },
  { name: 'anomalies', key: 'analyst', label: 'the most anomalous users: bots, click farms, fake orders (after training)', trained: true },
  { name: 'userRisk', key: 'analyst', label: "one user's anomaly score and why (after training)", trained: true },
  { name: 'ingest', key: 'client', label: 'send an event (as a shop client does)' },
];

/**
 * With a worker connected, queues trainAll (idempotent: over unchanged data it returns the jobs that
 * already trained) and, when `wait`, follows the jobs until each has finished, one line per job.
 * Returns whether every job completed (false without waiting); null when no worker is connected or
 * Redis is away.
 */
async function trainEverything(app: App, wait: boolean, say: (line: string) => void): Promise<boolean | null> {
  const workers = await app.services.training.workerCount().catch(() => 0);
  if (workers === 0) return null;
  const { jobs, skipped } = await app.services.training.trainAll();
  say(`Training every model on the worker (${jobs.length} jobs, anomaly detectors first${skipped.length ? `; skipped: ${skipped.map((k) => k.kind).join(', ')}` : ''}).`);
  if (!wait) return false;
  const ended = await followTrainingJobs(
    app.services.training,
    jobs.map((job) => job.id),
    { onFinished: (job) => say(`  ${finishedJobLine(job)}`) },
  );
  return ended.every((job) => job.state === 'COMPLETED');
}

async function post(url: string, key: string | null, query: string): Promise<string> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
    body: JSON.stringify({ query }),
  });
  return JSON.stringify(await response.json());
}

function parseDemoArgs(argv: string[]): ParsedArgs {
  try {
    return parseArgs(argv, { flags: { users: 'string', days: 'string', seed: 'string', profile: 'string', port: 'string', check: 'boolean' } });
  } catch (error) {
    if (error instanceof UsageError) throw new UsageError(`${error.message}\n\n${USAGE}`);
    throw error;
  }
}

export async function run(argv: string[]): Promise<number> {
  const args = parseDemoArgs(argv);
  if (args.flags.help) {
    console.log(USAGE);
    return 0;
  }
  const users = intFlag(args, 'users', 5000, 1);
  const days = intFlag(args, 'days', 14, 1);
  const seed = intFlag(args, 'seed', 42, 0);
  const profile = stringFlag(args, 'profile') ?? 'realistic';
  if (!isShopProfile(profile)) throw new UsageError(`--profile must be one of ${SHOP_PROFILES.join(', ')} (got ${profile})`);
  // Quieter than a server by default, so the banner is not buried in logs: the process-wide logger
  // reads the process-wide configuration, so the default goes into the environment it reads.
  process.env.LOG_LEVEL ??= 'warn';
  const config = loadConfig({ HOST: '127.0.0.1', ...process.env });
  const port = intFlag(args, 'port', config.port, 0);
  const say = (line: string) => console.log(line);

  const database: DemoDatabase = await resolveDemoDatabase(config.databaseUrl, say);
  let app: App | undefined;
  try {
    app = await startApp({ ...config, databaseUrl: database.url }, { port });
    const [{ count }] = await app.services.dataSource.query('SELECT count(*)::int AS count FROM events');
    const shop = createDemoShop({ users, days, seed, profile, start: startEndingToday(days) });
    if (count === 0) {
      say(`Generating and loading a demo shop: ${users} visitors over ${days} days (seed ${seed}, ${profile} profile)…`);
      const { dataSource } = app.services;
      const summary = await withProgress(loadProgressBar(shop), (onProgress) => loadDemoShop(dataSource, shop, onProgress));
      say(`Loaded ${summary.imported.toLocaleString('en-US')} events and ${summary.itemsUpserted.toLocaleString('en-US')} items in ${summary.seconds.toFixed(1)} s.`);
    } else {
      say(`The database already holds ${count.toLocaleString('en-US')} events; serving them as they are.`);
    }
    const [range] = await app.services.dataSource.query('SELECT min(ts) AS first, max(ts) AS last FROM events');
    const from = new Date(range.first ?? shop.options.startMs).toISOString();
    const to = new Date(new Date(range.last ?? Date.now()).getTime() + 1000).toISOString();
    const keys = await issueDemoKeys(app);
    const health = await app.services.health.check();
    const url = app.server.url;
    const queries = exampleQueries(from, to, await exampleIds(app));

    say('');
    say(`Funnelcast demo shop is serving at ${url}`);
    say(`  console:  ${url.replace(/\/graphql$/, '/console')} (sign in with one of the keys below; docs/console.md)`);
    say(`  database: ${database.source}`);
    say(
      health.redis.ok
        ? '  redis:    ok'
        : `  redis:    NOT reachable at ${config.redisUrl} (${health.redis.error}). Everything but training works; start redis-server or set REDIS_URL.`,
    );
    say('');
    say('API keys (send as "Authorization: Bearer <key>"; they replace those of earlier demo runs):');
    say(`  admin:    ${keys.admin}`);
    say(`  analyst:  ${keys.analyst}`);
    say(`  server:   ${keys.server} (a trusted backend: predictions; never ship it in an app)`);
    say(`  client:   ${keys.client} (public, inside apps: ingest and recommendations)`);
    say('');
    say('Operations (docs/operations.md):');
    say(`  queues:   ${new URL(url).origin}/admin/queues (in a browser: any user name, the admin key as password)`);
    const metricsAt = app.server.metricsUrl ?? (config.metricsToken ? `${new URL(url).origin}/metrics (with FUNNELCAST_METRICS_TOKEN)` : 'off');
    say(`  metrics:  ${metricsAt}`);
    say('');
    say('Try:');
    const keyOf = (key: KeyRole): string | null => (key === 'none' ? null : keys[key]);
    for (const { name, key, label } of EXAMPLES) {
      const auth = keyOf(key) ? ` -H 'authorization: Bearer ${keyOf(key)}'` : '';
      say(`  # ${label}`);
      say(`  curl -s ${url} -H 'content-type: application/json'${auth} \\\n    -d '${JSON.stringify({ query: queries[name] })}'`);
    }
    say('');
    const trained = await trainEverything(app, Boolean(args.flags.check), say);
    if (trained === null) {
      say('No training worker is connected, so nothing is trained yet. To train every model, start one beside the server:');
      // The worker must find the same database and the same queue (Redis and prefix) as this server.
      const queueEnv = (['REDIS_URL', 'FUNNELCAST_QUEUE_PREFIX'] as const)
        .filter((name) => process.env[name])
        .map((name) => ` ${name}='${process.env[name]}'`)
        .join('');
      say(`  DATABASE_URL='${database.url}'${queueEnv} npm run worker`);
      say('then run the trainAll example; the examples marked "after training" answer once its jobs have finished.');
    } else if (!args.flags.check) {
      say('Follow it with the trainingJobs example; the examples marked "after training" answer once its jobs have finished.');
    }

    if (args.flags.check) {
      say('');
      // Without a worker the examples that need models are skipped; with one, they run even when a
      // job failed (the kinds that trained answer; the failed job's line above says why), and the
      // exit code says that not everything trained.
      for (const { name, key, trained: needsModels, worker } of EXAMPLES) {
        if ((needsModels || worker) && trained === null) say(`${`${name}:`.padEnd(25)}skipped: needs a training worker (npm run worker)`);
        else say(`${`${name}:`.padEnd(25)}${await post(url, keyOf(key), queries[name])}`);
      }
      return trained === false ? 1 : 0;
    }
    say('');
    say('Press Ctrl+C to stop.');
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
    return 0;
  } finally {
    await app?.stop();
    await database.stop();
  }
}
