import type { DataSource } from 'typeorm';
import { config } from '../config';
import { openDatabase } from '../db/data-source';

/** The database a CLI command works on: DATABASE_URL, with a clear message when it is missing. */
export function requireDatabaseUrl(): string {
  const url = config().databaseUrl;
  if (!url) {
    throw new Error('DATABASE_URL is not set. Example: DATABASE_URL=postgres://postgres@127.0.0.1:5432/funnelcast');
  }
  return url;
}

export async function withDatabase<T>(work: (dataSource: DataSource) => Promise<T>): Promise<T> {
  const dataSource = await openDatabase(requireDatabaseUrl(), { poolSize: 4 });
  try {
    return await work(dataSource);
  } finally {
    await dataSource.destroy();
  }
}
