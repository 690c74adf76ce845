import { createScratchDatabase, ScratchDatabase } from '../../src/db/scratch-database';

/** The server the tests create their databases on; CI and developer machines use the local one. */
export const TEST_ADMIN_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export type TestDatabase = ScratchDatabase;

/** A fresh database with every migration applied, for one test file (files run in parallel). */
export function createTestDatabase(label = 'fc'): Promise<TestDatabase> {
  return createScratchDatabase(TEST_ADMIN_URL, label);
}
