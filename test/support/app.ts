import { randomBytes } from 'node:crypto';
import type pino from 'pino';
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
  stop(): Promise<void>;
}

/** Boots the real server on a random port against a fresh database and the local Redis. */
export async function startTestApp(label: string, env: Record<string, string> = {}, options: { requestLog?: pino.Logger } = {}): Promise<TestApp> {
  const db = await createTestDatabase(label);
  const adminKey = `test-admin-${randomBytes(12).toString('hex')}`;
  const config = loadConfig({
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
    ...env,
  });
  await db.dataSource.destroy(); // the app opens its own pool
  const app = await startApp({ ...config, databaseUrl: db.url }, { port: 0, requestLog: options.requestLog });
  const url = app.server.url;

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
    app,
    db,
    url,
    adminKey,
    gql,
    async createKey(role, name = `${role} key`) {
      const result = await gql<{ createApiKey: { secret: string } }>(
        'mutation($role: Role!, $name: String!) { createApiKey(role: $role, name: $name) { secret } }',
        { role: role.toUpperCase(), name },
      );
      if (!result.data) throw new Error(`createApiKey failed: ${JSON.stringify(result.errors)}`);
      return result.data.createApiKey.secret;
    },
    async stop() {
      await app.stop();
      await db.drop();
    },
  };
}
