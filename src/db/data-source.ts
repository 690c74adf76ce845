import { DataSource } from 'typeorm';
import type { Pool, PoolClient } from 'pg';
import { migrations } from '../../migrations';
import { logger } from '../logger';
import { entities } from './entities';

/**
 * How long opening a connection, or waiting for a free one in the pool, may take before it fails
 * (then as "database unavailable"). Without it a request waits for as long as the database is away.
 */
export const DATABASE_CONNECT_TIMEOUT_MS = 10_000;

export function createDataSource(url: string, options: { poolSize?: number } = {}): DataSource {
  return new DataSource({
    type: 'postgres',
    url,
    entities,
    migrations,
    synchronize: false,
    migrationsRun: false,
    migrationsTableName: 'migrations',
    connectTimeoutMS: DATABASE_CONNECT_TIMEOUT_MS,
    // An idle pooled connection that the server drops (restart, failover, pg_terminate_backend)
    // reports here; the pool has already discarded it, so there is nothing to do but say so.
    poolErrorHandler: (error: Error) => logger().warn({ err: error }, 'an idle database connection was closed; the pool replaces it'),
    // Keep-alive probes find a connection whose server vanished without closing it (a dead host).
    extra: { max: options.poolSize ?? 10, keepAlive: true },
    logging: false,
  });
}

/** Opens the data source and applies any pending migrations (what the API does at start). */
export async function openDatabase(url: string, options: { poolSize?: number } = {}): Promise<DataSource> {
  const dataSource = createDataSource(url, options);
  await dataSource.initialize();
  await dataSource.runMigrations({ transaction: 'each' });
  return dataSource;
}

/** The pg pool under TypeORM, for COPY streams, which TypeORM does not expose. */
export function pgPool(dataSource: DataSource): Pool {
  return (dataSource.driver as unknown as { master: Pool }).master;
}

/**
 * Checks a client out of the pool for `work` and always returns it. A checked-out client has no
 * listener of the pool's, so a connection that breaks meanwhile (server restart, terminated
 * backend) would emit an unhandled 'error' and end the process; here it is listened to, `work`'s
 * pending query or COPY stream fails with the error instead, and the client is released as broken
 * (`release(error)`), which closes it rather than handing it to the next caller. A client whose
 * work failed for any reason is closed too: it may be mid-COPY or inside an aborted transaction.
 */
export async function withPgClient<T>(dataSource: DataSource, work: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pgPool(dataSource).connect();
  let broken: Error | undefined;
  const onError = (error: Error) => {
    broken ??= error;
  };
  client.on('error', onError);
  try {
    // When the connection breaks after the work finished, the work's result still stands.
    return await work(client);
  } catch (error) {
    broken ??= error instanceof Error ? error : new Error(String(error));
    throw error;
  } finally {
    client.removeListener('error', onError);
    client.release(broken);
  }
}
