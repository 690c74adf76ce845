import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type pino from 'pino';
import { ServerClient } from '../../src/analytics/clickhouse-client';
import { startApp, App } from '../../src/app';
import { loadConfig } from '../../src/config';
import { createTestDatabase, TestDatabase } from './database';

export interface GraphQLResponse<T = Record<string, any>> {
  status: number;
  data?: T;
  errors?: { message: string; extensions?: { code?: string; [key: string]: unknown } }[];
}

export interface TestApp {
  app: App;
  db: TestDatabase;
  url: string;
  adminKey: string;
  /** Send a GraphQL request over HTTP, as a client would. */
  gql<T = Record<string, any>>(query: string, variables?: Record<string, unknown>, key?: string | null): Promise<GraphQLResponse<T>>;
  /** Create a key of the given role through the API. */
  createKey(role: 'admin' | 'analyst' | 'server' | 'client', name?: string): Promise<string>;
  /**
   * Stops the app and starts it again on the same database, with `env` over the first start's
   * settings (an operator's restart with new settings); `app` and `url` are the new process's after.
   */
  restart(env: Record<string, string>): Promise<void>;
  stop(): Promise<void>;
}

/**
 * The analytics engine the test apps answer from: `clickhouse` when FUNNELCAST_TEST_ANALYTICS says
 * so (jest's `clickhouse` project sets it for the files of the ClickHouse pass, jest.config.js),
 * else `inprocess`. Read when asked, after jest's setup files ran.
 */
export function testAnalytics(): 'inprocess' | 'clickhouse' {
  return process.env.FUNNELCAST_TEST_ANALYTICS === 'clickhouse' ? 'clickhouse' : 'inprocess';
}

/**
 * Makes everything the app has stored so far visible to its analytics engine. In-process there is
 * nothing to wait for (the mirror catches up inside every funnel query); on ClickHouse this runs
 * one catch-up of the sync (clickhouse-sync.ts), as every funnel query also does before it reads.
 * For tests that look at ClickHouse's copy, or at what the sync installs, outside a funnel query.
 */
export async function analyticsCaughtUp(t: TestApp): Promise<void> {
  await t.app.services.analytics?.sync.catchUp();
}

/**
 * Where one test app's ClickHouse copy lives in the ClickHouse pass: its own database, on the
 * server at FUNNELCAST_TEST_CLICKHOUSE_URL when that is set (user and password from
 * FUNNELCAST_TEST_CLICKHOUSE_USER / _PASSWORD), else in embedded chdb in a temporary folder. chdb
 * allows one open data folder per process, so the apps a test file runs at the same time share one
 * folder (each in its own database); the folder is removed when the last of them stops.
 */
interface TestClickHouseStore {
  env: Record<string, string>;
  release(): Promise<void>;
}

/** This test file's chdb folder and how many of its apps use it (jest loads this module afresh per file). */
let chdbFolder: { path: string; users: number } | null = null;

function testClickHouseStore(label: string): TestClickHouseStore {
  const database = `t_${label.replace(/[^A-Za-z0-9_]/g, '_')}_${randomBytes(4).toString('hex')}`.slice(0, 63);
  const common = {
    FUNNELCAST_ANALYTICS: 'clickhouse',
    FUNNELCAST_CLICKHOUSE_DATABASE: database,
    // A file may ask for small slices of users (funnel-random.e2e.ts does), so that its answers,
    // checked against the in-process engine, also check the slices' merge; others keep the default.
    ...(process.env.FUNNELCAST_CLICKHOUSE_SLICE_EVENTS ? { FUNNELCAST_CLICKHOUSE_SLICE_EVENTS: process.env.FUNNELCAST_CLICKHOUSE_SLICE_EVENTS } : {}),
  };
  const url = process.env.FUNNELCAST_TEST_CLICKHOUSE_URL;
  if (url) {
    const user = process.env.FUNNELCAST_TEST_CLICKHOUSE_USER ?? 'default';
    const password = process.env.FUNNELCAST_TEST_CLICKHOUSE_PASSWORD ?? '';
    return {
      env: { ...common, FUNNELCAST_CLICKHOUSE_URL: url, FUNNELCAST_CLICKHOUSE_USER: user, FUNNELCAST_CLICKHOUSE_PASSWORD: password },
      async release() {
        const client = new ServerClient({ url, user, password });
        try {
          await client.command(`DROP DATABASE IF EXISTS ${database}`);
        } finally {
          await client.close();
        }
      },
    };
  }
  chdbFolder ??= { path: mkdtempSync(join(tmpdir(), 'funnelcast-test-chdb-')), users: 0 };
  const folder = chdbFolder;
  folder.users += 1;
  let released = false;
  return {
    env: { ...common, FUNNELCAST_CLICKHOUSE_PATH: folder.path },
    async release() {
      if (released) return;
      released = true;
      folder.users -= 1;
      if (folder.users > 0) return;
      if (chdbFolder === folder) chdbFolder = null;
      rmSync(folder.path, { recursive: true, force: true });
    },
  };
}

/**
 * Boots the real server on a random port against a fresh database and the local Redis. In the
 * ClickHouse pass (testAnalytics()), the app answers analyses from ClickHouse unless `env` names
 * FUNNELCAST_ANALYTICS itself.
 */
export async function startTestApp(label: string, env: Record<string, string> = {}, options: { requestLog?: pino.Logger } = {}): Promise<TestApp> {
  const db = await createTestDatabase(label);
  const store = testAnalytics() === 'clickhouse' && env.FUNNELCAST_ANALYTICS === undefined ? testClickHouseStore(label) : null;
  const adminKey = `test-admin-${randomBytes(12).toString('hex')}`;
  const settings = {
    ...process.env,
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'silent',
    HOST: '127.0.0.1',
    FUNNELCAST_BOOTSTRAP_ADMIN_KEY: adminKey,
    // Test files run side by side from one address against one Redis: each app counts its rate limits (and queues) apart.
    FUNNELCAST_QUEUE_PREFIX: `test-${label}-${randomBytes(4).toString('hex')}`,
    // On a busy 2-core machine a healthy PostgreSQL or Redis can take seconds to answer; tests that
    // want "degraded" from a dependency that is down pass their own value.
    FUNNELCAST_HEALTH_TIMEOUT_MS: '60000',
    // Likewise a rate-limit count in Redis: past the timeout this process's own count decides, and
    // a test counting 429s would see two counts. Tests of a hanging Redis pass their own value.
    FUNNELCAST_RATE_LIMIT_REDIS_TIMEOUT_MS: '30000',
    // Test files run side by side: each app gets a metrics listener on a free port (app.server.metricsUrl).
    FUNNELCAST_METRICS_PORT: '0',
    // Test logs are fixed dates (2026-03-…): no test may start failing as the calendar moves on, so
    // ingest takes any past date here; the test of the bound sets its own.
    FUNNELCAST_INGEST_MAX_PAST_DAYS: '36500',
    ...store?.env,
    ...env,
  };
  const config = loadConfig(settings);
  await db.dataSource.destroy(); // the app opens its own pool
  let app: App;
  try {
    app = await startApp({ ...config, databaseUrl: db.url }, { port: 0, requestLog: options.requestLog });
  } catch (error) {
    await store?.release();
    throw error;
  }
  let url = app.server.url;

  async function gql<T>(query: string, variables?: Record<string, unknown>, key: string | null = adminKey): Promise<GraphQLResponse<T>> {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
      body: JSON.stringify({ query, variables }),
    });
    const body = (await response.json()) as GraphQLResponse<T>;
    return { ...body, status: response.status };
  }

  return {
    get app() {
      return app;
    },
    db,
    get url() {
      return url;
    },
    adminKey,
    gql,
    async restart(more) {
      await app.stop();
      app = await startApp({ ...loadConfig({ ...settings, ...more }), databaseUrl: db.url }, { port: 0, requestLog: options.requestLog });
      url = app.server.url;
    },
    async createKey(role, name = `${role} key`) {
      const result = await gql<{ createApiKey: { secret: string } }>(
        'mutation($role: Role!, $name: String!) { createApiKey(role: $role, name: $name) { secret } }',
        { role: role.toUpperCase(), name },
      );
      if (!result.data) throw new Error(`createApiKey failed: ${JSON.stringify(result.errors)}`);
      return result.data.createApiKey.secret;
    },
    async stop() {
      try {
        await app.stop(); // closes the ClickHouse client (chdb's session) with the funnel service
      } finally {
        await store?.release();
      }
      await db.drop();
    },
  };
}
