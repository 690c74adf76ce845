import 'reflect-metadata';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Client } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { DataSource } from 'typeorm';
import { copyRows } from '../funnel/copy-rows';
import { createDataSource, pgPool, withPgClient } from './data-source';
import { isDatabaseUnavailable } from './db-errors';

/**
 * withPgClient against the shared test PostgreSQL: the connection under a running COPY is cut
 * (pg_terminate_backend from a second session) after rows have started to flow. Before the fix,
 * the unhandled 'error' of the checked-out client ended the process, and with it this test file.
 */
const URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

let dataSource: DataSource;
let admin: Client;

beforeAll(async () => {
  dataSource = await createDataSource(URL, { poolSize: 2 }).initialize();
  admin = new Client({ connectionString: URL });
  await admin.connect();
});

afterAll(async () => {
  await admin?.end();
  await dataSource?.destroy();
});

const terminate = (pid: number) => admin.query('SELECT pg_terminate_backend($1)', [pid]);
const backendPid = (client: unknown) => (client as { processID: number }).processID;

describe('withPgClient when the connection is cut', () => {
  it('mid COPY TO: the work rejects as "database unavailable", the client is dropped, the pool serves the next caller', async () => {
    let rows = 0;
    let pid = 0;
    const work = withPgClient(dataSource, (client) => {
      pid = backendPid(client);
      // pg_sleep per row keeps the stream flowing long enough to cut it in the middle.
      return copyRows(client, 'SELECT g, pg_sleep(0.002) FROM generate_series(1, 20000) AS g', () => {
        rows++;
        if (rows === 50) void terminate(pid);
      });
    });
    const error = await work.then(
      () => null,
      (failure: unknown) => failure,
    );
    expect(rows).toBeGreaterThanOrEqual(50);
    expect(rows).toBeLessThan(20_000);
    expect(isDatabaseUnavailable(error)).toBe(true);
    const next = await withPgClient(dataSource, async (client) => ({ pid: backendPid(client), one: (await client.query('SELECT 1 AS one')).rows[0].one }));
    expect(next).toEqual({ pid: expect.any(Number), one: 1 });
    expect(next.pid).not.toBe(pid);
    expect(pgPool(dataSource).totalCount).toBeLessThanOrEqual(2);
  });

  it('mid COPY FROM STDIN: the pipeline rejects, nothing is left open', async () => {
    let pid = 0;
    const work = withPgClient(dataSource, async (client) => {
      pid = backendPid(client);
      await client.query('CREATE TEMP TABLE copy_target (n int)');
      async function* lines() {
        for (let n = 0; n < 100_000; n++) {
          if (n === 1000) await terminate(pid);
          if (n % 100 === 0) await new Promise((done) => setTimeout(done, 1));
          yield `${n}\n`;
        }
      }
      await pipeline(Readable.from(lines()), client.query(copyFrom('COPY copy_target (n) FROM STDIN')));
    });
    const error = await work.then(
      () => null,
      (failure: unknown) => failure,
    );
    expect(isDatabaseUnavailable(error)).toBe(true);
    expect(await dataSource.query('SELECT 2 AS two')).toEqual([{ two: 2 }]);
  });

  it('an idle pooled connection that is cut is replaced without an error reaching anyone', async () => {
    const pid = await withPgClient(dataSource, async (client) => backendPid(client));
    await terminate(pid);
    // Give the pool a moment to see the socket close, as it would between two requests.
    await new Promise((done) => setTimeout(done, 100));
    expect(await withPgClient(dataSource, async (client) => (await client.query('SELECT 3 AS three')).rows)).toEqual([{ three: 3 }]);
  });
});
