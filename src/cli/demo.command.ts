import { startApp, type App } from '../app';
import { loadConfig } from '../config';
import { createDemoShop } from '../sim';
import { loadDemoShop } from '../sim/load';
import { intFlag, parseArgs, UsageError, type ParsedArgs } from './args';
import { resolveDemoDatabase, type DemoDatabase } from './demo-database';
import { loadProgressBar, withProgress } from './progress';

const USAGE = `Usage: funnelcast demo [--users N] [--days D] [--seed S] [--port P] [--check]

Starts the API with a demo shop. The database is DATABASE_URL, else the local PostgreSQL on
127.0.0.1:5432 (database funnelcast_demo), else an embedded PostgreSQL under /tmp. An empty
database gets a generated shop (deterministic for a seed); a filled one is served as it is.

  --users N   visitors in the generated shop (default 5000)
  --days D    days of history (default 14)
  --seed S    generator seed (default 42)
  --port P    HTTP port (default PORT or 4000; 0 picks a free one)
  --check     start, run the example queries once, print the answers, and exit`;

const DEMO_KEY_NAMES = { admin: 'demo admin', analyst: 'demo analyst', client: 'demo client' } as const;

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

/** The banner's examples: each is printed as a curl command, and `--check` runs every one of them. */
function exampleQueries(from: string, to: string) {
  const steps = '[{ type: "view" }, { type: "cart" }, { type: "checkout" }, { type: "purchase" }]';
  const funnelInput = (extra = '') => `{ steps: ${steps}, conversionWindowSeconds: 86400, from: "${from}", to: "${to}"${extra} }`;
  return {
    health: '{ health { status version database { ok } redis { ok error } } }',
    eventStats: `{ eventStats(from: "${from}", to: "${to}") { total distinctUsers distinctSessions byType { type count } } }`,
    item: '{ item(id: "i0") { id title category brand price } }',
    funnel: `{ funnel(input: ${funnelInput()}) { steps { label count conversionFromFirst } } }`,
    breakdown: `{ funnel(input: ${funnelInput(', breakdown: { property: "channel", limit: 5 }')}) { breakdown { key totalUnits steps { count } } } }`,
    sessions: `{ funnel(input: ${funnelInput(', countBy: SESSION')}) { totalUnits steps { count } } }`,
    trend: `{ funnelTrend(input: ${funnelInput()}, interval: DAY) { periodStart entered converted conversionRate } }`,
    droppedOff: `{ droppedOff(input: ${funnelInput()}, afterStep: 2, first: 3) { totalCount nodes { userId } pageInfo { hasNextPage endCursor } } }`,
    recommendations: '{ recommendations(userId: "u1", limit: 5) { items { itemId score source } } }',
    similarItems: '{ similarItems(itemId: "i0", limit: 5) { items { itemId score source } } }',
    train: 'mutation { trainModel(input: { kind: MATRIX_FACTORIZATION }) { id state } }',
  };
}

/** Which key each example needs, and a label for the banner and --check. */
const EXAMPLES: { name: keyof ReturnType<typeof exampleQueries>; key: 'none' | 'analyst' | 'client'; label: string }[] = [
  { name: 'health', key: 'none', label: 'health' },
  { name: 'eventStats', key: 'analyst', label: 'events by type' },
  { name: 'item', key: 'client', label: 'an item of the catalogue' },
  { name: 'funnel', key: 'analyst', label: 'a 4-step funnel' },
  { name: 'breakdown', key: 'analyst', label: 'the funnel broken down by channel' },
  { name: 'sessions', key: 'analyst', label: 'the funnel counting sessions' },
  { name: 'trend', key: 'analyst', label: 'its conversion day by day' },
  { name: 'droppedOff', key: 'analyst', label: 'who reached the cart and went no further' },
  { name: 'recommendations', key: 'client', label: 'recommendations for a user' },
  { name: 'similarItems', key: 'client', label: 'items like i0' },
];

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
    return parseArgs(argv, { flags: { users: 'string', days: 'string', seed: 'string', port: 'string', check: 'boolean' } });
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
    const shop = createDemoShop({ users, days, seed });
    if (count === 0) {
      say(`Generating and loading a demo shop: ${users} visitors over ${days} days (seed ${seed})…`);
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
    const queries = exampleQueries(from, to);

    say('');
    say(`Funnelcast demo shop is serving at ${url}`);
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
    say(`  client:   ${keys.client}`);
    say('');
    say('Try:');
    const keyOf = (key: 'none' | 'analyst' | 'client'): string | null => (key === 'none' ? null : keys[key]);
    for (const { name, key, label } of EXAMPLES) {
      const auth = keyOf(key) ? ` -H 'authorization: Bearer ${keyOf(key)}'` : '';
      say(`  # ${label}`);
      say(`  curl -s ${url} -H 'content-type: application/json'${auth} \\\n    -d '${JSON.stringify({ query: queries[name] })}'`);
    }
    say(`Train a recommender (then run \`npm run worker\` beside the server):`);
    say(`  curl -s ${url} -H 'content-type: application/json' -H 'authorization: Bearer ${keys.admin}' \\\n    -d '${JSON.stringify({ query: queries.train })}'`);

    if (args.flags.check) {
      say('');
      for (const { name, key } of EXAMPLES) say(`${`${name}:`.padEnd(17)}${await post(url, keyOf(key), queries[name])}`);
      return 0;
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
