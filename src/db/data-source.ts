import { DataSource } from 'typeorm';
import type { Pool, PoolClient } from 'pg';
import { migrations } from '../../migrations';
import { entities } from './entities';

export function createDataSource(url: string, options: { poolSize?: number } = {}): DataSource {
  return new DataSource({
    type: 'postgres',
    url,
    entities,
    migrations,
    synchronize: false,
    migrationsRun: false,
    migrationsTableName: 'migrations',
    extra: { max: options.poolSize ?? 10 },
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

export async function withPgClient<T>(dataSource: DataSource, work: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pgPool(dataSource).connect();
  try {
    return await work(client);
  } finally {
    client.release();
  }
}
