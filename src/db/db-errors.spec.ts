import 'reflect-metadata';
import { createServer } from 'node:net';
import { Client, Pool, PoolClient } from 'pg';
import { QueryRunnerAlreadyReleasedError, QueryRunnerProviderAlreadyReleasedError } from 'typeorm';
import { createDataSource } from './data-source';
import { isDatabaseUnavailable } from './db-errors';

/**
 * The classifier against errors the real driver raises (the shared test PostgreSQL, a closed port),
 * and against the documented SQLSTATEs and Node codes it must know by shape.
 */
const URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** A port that was free a moment ago: nobody listens on it. */
function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

async function failureOf(work: () => Promise<unknown>): Promise<unknown> {
  try {
    await work();
  } catch (error) {
    return error;
  }
  throw new Error('expected the work to fail');
}

describe('isDatabaseUnavailable', () => {
  it('is true for a refused connection (nobody listens on the port)', async () => {
    const port = await closedPort();
    const client = new Client({ connectionString: `postgres://postgres@127.0.0.1:${port}/test` });
    const error = await failureOf(() => client.connect());
    expect((error as { code?: string }).code).toBe('ECONNREFUSED');
    expect(isDatabaseUnavailable(error)).toBe(true);
  });

  it('is true for what a terminated backend raises: 57P01 on the query, "Connection terminated unexpectedly" on the client', async () => {
    const client = new Client({ connectionString: URL });
    const clientErrors: Error[] = [];
    client.on('error', (error) => clientErrors.push(error));
    await client.connect();
    const error = await failureOf(() => client.query('SELECT pg_terminate_backend(pg_backend_pid())'));
    expect((error as { code?: string }).code).toBe('57P01');
    expect(isDatabaseUnavailable(error)).toBe(true);
    for (let i = 0; i < 100 && clientErrors.length === 0; i++) await new Promise((done) => setTimeout(done, 10));
    expect(clientErrors.map((e) => e.message)).toEqual(['Connection terminated unexpectedly']);
    expect(isDatabaseUnavailable(clientErrors[0])).toBe(true);
    // Using the broken client afterwards fails as unavailable too.
    expect(isDatabaseUnavailable(await failureOf(() => client.query('SELECT 1')))).toBe(true);
  });

  it('is true for a pool checkout that timed out (connectionTimeoutMillis)', async () => {
    const pool = new Pool({ connectionString: URL, max: 1, connectionTimeoutMillis: 50 });
    // Taking the one connection may itself pass 50 ms on a busy machine: try again until it is held.
    let held: PoolClient | null = null;
    for (let attempt = 0; held === null; attempt++) {
      try {
        held = await pool.connect();
      } catch (error) {
        if (attempt >= 200) throw error;
      }
    }
    try {
      const error = await failureOf(() => pool.connect());
      expect(isDatabaseUnavailable(error)).toBe(true);
    } finally {
      held.release();
      await pool.end();
    }
  });

  it("looks inside TypeORM's QueryFailedError (driverError)", async () => {
    const dataSource = await createDataSource(URL, { poolSize: 1 }).initialize();
    try {
      const error = await failureOf(() => dataSource.query('SELECT pg_terminate_backend(pg_backend_pid())'));
      expect((error as Error).constructor.name).toBe('QueryFailedError');
      expect(isDatabaseUnavailable(error)).toBe(true);
      // The pool drops the connection once its socket closes (a query sent in between fails as
      // unavailable too); a later query gets a fresh connection.
      let answer: unknown;
      for (let attempt = 0; attempt < 50 && answer === undefined; attempt++) {
        answer = await dataSource.query('SELECT 1 AS one').catch((retry: unknown) => {
          expect(isDatabaseUnavailable(retry)).toBe(true);
          return new Promise((done) => setTimeout(() => done(undefined), 20));
        });
      }
      expect(answer).toEqual([{ one: 1 }]);
    } finally {
      await dataSource.destroy();
    }
  });

  it("is true for TypeORM's released query runner when a transaction's connection was cut", async () => {
    const dataSource = await createDataSource(URL, { poolSize: 2 }).initialize();
    const admin = new Client({ connectionString: URL });
    await admin.connect();
    try {
      const error = await failureOf(() =>
        dataSource.transaction(async (manager) => {
          const [{ pid }] = await manager.query('SELECT pg_backend_pid() AS pid');
          await admin.query('SELECT pg_terminate_backend($1)', [pid]);
          // Wait until the runner has heard of the closed socket, as ingest's next statement would.
          for (let attempt = 0; attempt < 100 && !manager.queryRunner!.isReleased; attempt++) await new Promise((done) => setTimeout(done, 20));
          await manager.query('SELECT 1');
        }),
      );
      expect(['QueryRunnerAlreadyReleasedError', 'QueryRunnerProviderAlreadyReleasedError']).toContain((error as Error).constructor.name);
      expect(isDatabaseUnavailable(error)).toBe(true);
    } finally {
      await admin.end();
      await dataSource.destroy();
    }
  });

  it('is true for the released-runner errors by type, wherever they are wrapped', () => {
    expect(isDatabaseUnavailable(new QueryRunnerAlreadyReleasedError())).toBe(true);
    expect(isDatabaseUnavailable(new QueryRunnerProviderAlreadyReleasedError())).toBe(true);
    expect(isDatabaseUnavailable(new Error('commit failed', { cause: new QueryRunnerAlreadyReleasedError() }))).toBe(true);
  });

  it('is false for the errors of a healthy server: bad SQL, a constraint, a cancelled statement', async () => {
    const client = new Client({ connectionString: URL });
    await client.connect();
    try {
      const syntax = await failureOf(() => client.query('SELEC 1'));
      expect((syntax as { code?: string }).code).toBe('42601');
      expect(isDatabaseUnavailable(syntax)).toBe(false);
      const constraint = await failureOf(() => client.query('SELECT 1 / 0'));
      expect((constraint as { code?: string }).code).toBe('22012');
      expect(isDatabaseUnavailable(constraint)).toBe(false);
      await client.query("SET statement_timeout = '10ms'");
      const cancelled = await failureOf(() => client.query('SELECT pg_sleep(1)'));
      expect((cancelled as { code?: string }).code).toBe('57014');
      expect(isDatabaseUnavailable(cancelled)).toBe(false);
    } finally {
      await client.end();
    }
  });

  it.each([
    ['08006 connection_failure', true, { code: '08006' }],
    ['08001 sqlclient_unable_to_establish_sqlconnection', true, { code: '08001' }],
    ['57P02 crash_shutdown', true, { code: '57P02' }],
    ['57P03 cannot_connect_now (starting up)', true, { code: '57P03', message: 'the database system is starting up' }],
    ['53300 too_many_connections', true, { code: '53300' }],
    ['ECONNRESET', true, Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' })],
    ['an AggregateError of refused addresses (localhost as ::1 and 127.0.0.1)', true, new AggregateError([Object.assign(new Error('x'), { code: 'ECONNREFUSED' })], '')],
    ['a cause chain', true, new Error('outer', { cause: { code: '57P01' } })],
    ['23505 unique_violation', false, { code: '23505' }],
    ['a plain Error', false, new Error('something else')],
    ['a string', false, 'Connection terminated'],
    ['null', false, null],
  ] as [string, boolean, unknown][])('%s → %s', (_name, expected, error) => {
    expect(isDatabaseUnavailable(error)).toBe(expected);
  });
});
