import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Client } from 'pg';
import { ApiProcess } from '../support/api-process';
import type { GraphQLResponse } from '../support/app';
import { freePort } from '../../bench/free-port';
import { PrivatePostgres } from '../support/private-postgres';
import { sleep } from '../support/worker';

/**
 * PostgreSQL faults against the API as a real process (dist/, as `npm start` runs it) on a
 * PostgreSQL server of this file's own: backends cut while work is in flight, a 10 s outage under
 * mixed load, and `kill -9` of the API in the middle of ingest. Expected values come from the
 * seed data written here, never from the API's own answers.
 */

const DIST = resolve(__dirname, '../../dist');
const CLI = join(DIST, 'src/cli/main.js');
const QUEUE_PREFIX = `pg-faults-${process.pid}-${Date.now().toString(36)}`;

const USERS = 40;
const DAY = '2026-03-02';
/** User u views, carts and (u even) buys item sku-(u % 5) on 2026-03-02 in session s-u. */
function seedEvents(): Record<string, unknown>[] {
  const events: Record<string, unknown>[] = [];
  for (let u = 0; u < USERS; u++) {
    const base = { userId: `u${u}`, sessionId: `s-${u}`, itemId: `sku-${u % 5}` };
    const at = (minute: number) => `${DAY}T10:${String(minute).padStart(2, '0')}:00Z`;
    events.push({ ...base, eventId: `seed-${u}-view`, type: 'view', timestamp: at(1) });
    events.push({ ...base, eventId: `seed-${u}-cart`, type: 'cart', timestamp: at(2) });
    if (u % 2 === 0) events.push({ ...base, eventId: `seed-${u}-buy`, type: 'purchase', timestamp: at(3) });
  }
  return events;
}
const EXPECTED_STEPS = [USERS, USERS, USERS / 2];

const INGEST = 'mutation($events: [EventInput!]!) { ingestEvents(events: $events) { accepted duplicates rejected { index code message } } }';
const FUNNEL = 'query($input: FunnelInput!) { funnel(input: $input) { steps { count } } }';
const FUNNEL_INPUT = {
  steps: [{ type: 'view' }, { type: 'cart' }, { type: 'purchase' }],
  conversionWindowSeconds: 3600,
  from: `${DAY}T00:00:00Z`,
  to: '2026-03-03T00:00:00Z',
};
const RECOMMEND = 'query { recommendations(userId: "u1", limit: 3) { items { itemId } } }';
const PREDICT = 'query { predictNextStep(sessionId: "s-1") { likeliest } }';
const HEALTH = '{ health { status database { ok error } } }';

const codesOf = (response: GraphQLResponse): (string | undefined)[] => (response.errors ?? []).map((error) => error.extensions?.code);
const unavailable = (response: GraphQLResponse): boolean => codesOf(response).length > 0 && codesOf(response).every((code) => code === 'SERVICE_UNAVAILABLE');
/** The part of an answer that must be the same before and after a fault: data, or the error codes. */
const outcome = (response: GraphQLResponse): unknown => (response.errors ? { codes: codesOf(response) } : response.data);

/** What an unhandled 'error' event or exception prints; the fixed processes must never print it. */
const CRASH_MARKERS = [/Unhandled 'error' event/, /Emitted 'error' event/, /uncaught exception/i, /unhandled rejection/i];
function expectNoCrashMarkers(output: string): void {
  const lines = output.split('\n');
  expect(CRASH_MARKERS.flatMap((marker) => lines.filter((line) => marker.test(line)))).toEqual([]);
}

let pg: PrivatePostgres;
let databaseUrl: string;
let api: ApiProcess;
let analystKey: string;
let clientKey: string;
/** Predictions need a trusted backend's key (the public client key may not read them). */
let serverKey: string;
let workDir: string;

function startApi(port: number, adminKey?: string): Promise<ApiProcess> {
  const started = new ApiProcess(databaseUrl, port, adminKey, { FUNNELCAST_QUEUE_PREFIX: QUEUE_PREFIX });
  return started.ready().then(() => started);
}

async function createKey(role: string): Promise<string> {
  const result = await api.gql<{ createApiKey: { secret: string } }>('mutation($role: Role!) { createApiKey(role: $role, name: "fault test") { secret } }', { role });
  if (!result.data) throw new Error(JSON.stringify(result.errors));
  return result.data.createApiKey.secret;
}

/**
 * Runs `work` while an ACCESS EXCLUSIVE lock on `events` holds it inside PostgreSQL, waits until a
 * backend of the process under test is queued behind the lock, and then runs the statement
 * from the lock's own session: every other backend of the database is terminated while the work
 * is in flight, deterministically rather than by timing.
 */
async function cutBackendsDuring<T>(work: () => Promise<T>): Promise<{ result: T; cut: number }> {
  const locker = new Client({ connectionString: databaseUrl });
  locker.on('error', () => undefined);
  await locker.connect();
  try {
    await locker.query('BEGIN');
    await locker.query('LOCK TABLE events IN ACCESS EXCLUSIVE MODE');
    let settled: unknown = undefined;
    const running = work();
    running.then(
      (result) => (settled = { result }),
      (error: unknown) => (settled = { error: String(error) }),
    );
    const deadline = Date.now() + 30_000;
    for (;;) {
      // Inside a transaction pg_stat_activity is read once and then cached; ask afresh each time.
      await locker.query('SELECT pg_stat_clear_snapshot()');
      const { rows } = await locker.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND wait_event_type = 'Lock'`,
      );
      if (rows[0].n > 0) break;
      // (A request may answer before its last read reaches the lock: predictNextStep without a model.)
      if (Date.now() > deadline) {
        const activity = await locker.query(`SELECT state, wait_event_type, wait_event, left(query, 80) AS query FROM pg_stat_activity WHERE pid <> pg_backend_pid()`);
        throw new Error(`the work never waited on the lock; it ended with ${JSON.stringify(settled)}; sessions: ${JSON.stringify(activity.rows)}`);
      }
      await sleep(20);
    }
    await locker.query('SELECT pg_stat_clear_snapshot()');
    const { rows } = await locker.query<{ cut: boolean }>(
      'SELECT pg_terminate_backend(pid) AS cut FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()',
    );
    await locker.query('ROLLBACK');
    return { result: await running, cut: rows.filter((row) => row.cut).length };
  } finally {
    await locker.end().catch(() => undefined);
  }
}

/** Runs a command of dist/ as a child process; resolves with its exit code and output. */
function runNode(args: string[], env: Record<string, string> = {}): { done: Promise<{ code: number | null; output: string }> } {
  const child = spawn(process.execPath, args, { env: { ...process.env, LOG_LEVEL: 'warn', DATABASE_URL: databaseUrl, ...env } });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return { done: new Promise((done) => child.once('exit', (code) => done({ code, output }))) };
}

async function storedCount(sql: string, values: unknown[] = []): Promise<number> {
  const [row] = await pg.sql<{ n: number }>('faults', sql, values);
  return Number(row.n);
}

beforeAll(async () => {
  workDir = mkdtempSync(join(tmpdir(), 'funnelcast-pg-faults-'));
  pg = await PrivatePostgres.create();
  databaseUrl = await pg.createDatabase('faults');
  api = await startApi(await freePort());
  analystKey = await createKey('ANALYST');
  clientKey = await createKey('CLIENT');
  serverKey = await createKey('SERVER');
  const seeded = await api.gql(INGEST, { events: seedEvents() }, clientKey);
  expect(seeded.data?.ingestEvents).toEqual({ accepted: seedEvents().length, duplicates: 0, rejected: [] });
}, 120_000);

afterAll(async () => {
  await api?.stop('SIGKILL');
  await pg?.destroy();
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

describe('backends terminated while work is in flight', () => {
  const requests: [string, () => Promise<GraphQLResponse>][] = [
    ['funnel (the event mirror COPY)', () => api.gql(FUNNEL, { input: FUNNEL_INPUT }, analystKey)],
    ['recommendations', () => api.gql(RECOMMEND, {}, clientKey)],
    ['predictNextStep (the session history read)', () => api.gql(PREDICT, {}, serverKey)],
  ];

  it.each(requests)('%s: the API stays up, the request fails as SERVICE_UNAVAILABLE or succeeds, the next one succeeds', async (_name, request) => {
    const before = await request();
    const { result: during, cut } = await cutBackendsDuring(request);
    expect(cut).toBeGreaterThan(0);
    expect(api.alive).toBe(true);
    // predictNextStep without a trained model answers NOT_FOUND while its session read is still
    // in flight, so "as before" (an answer or the same error) is the alternative to an outage error.
    if (!unavailable(during)) expect(outcome(during)).toEqual(outcome(before));
    const after = await request();
    expect(outcome(after)).toEqual(outcome(before));
    expect(api.alive).toBe(true);
    expectNoCrashMarkers(api.output);
  }, 60_000);

  it('the funnel answers are the seed data\'s, before and after a cut', async () => {
    const answer = await api.gql<{ funnel: { steps: { count: number }[] } }>(FUNNEL, { input: FUNNEL_INPUT }, analystKey);
    expect(answer.data!.funnel.steps.map((step) => step.count)).toEqual(EXPECTED_STEPS);
  });

  it('import (the CLI): a cut fails the run with a message, and running it again stores every row once', async () => {
    const file = join(workDir, 'import.ndjson');
    const lines = Array.from({ length: 500 }, (_, n) =>
      JSON.stringify({ eventId: `import-${n}`, type: 'view', userId: `imp-${n % 50}`, sessionId: `imp-s-${n % 50}`, itemId: `sku-${n % 5}`, timestamp: `${DAY}T12:00:00Z` }),
    );
    writeFileSync(file, lines.join('\n') + '\n');
    const { result: cutRun } = await cutBackendsDuring(() => runNode([CLI, 'import', '--format', 'ndjson', file]).done);
    expectNoCrashMarkers(cutRun.output);
    if (cutRun.code !== 0) expect(cutRun.output).toMatch(/funnelcast import failed: .*database/i);
    const again = await runNode([CLI, 'import', '--format', 'ndjson', file]).done;
    expect(again.code).toBe(0);
    expect(await storedCount(`SELECT count(*) AS n FROM events WHERE event_id LIKE 'import-%'`)).toBe(500);
    expect(await storedCount(`SELECT count(DISTINCT event_id) AS n FROM events WHERE event_id LIKE 'import-%'`)).toBe(500);
  }, 60_000);

  // Anomaly feature extraction and the training read run in the worker's sandboxed processor; this
  // small process calls the same functions from dist/, so an unhandled error shows as its exit.
  const READER = `
    require('reflect-metadata');
    const { createDataSource } = require(${JSON.stringify(join(DIST, 'src/db/data-source.js'))});
    const { isDatabaseUnavailable } = require(${JSON.stringify(join(DIST, 'src/db/db-errors.js'))});
    const { extractUserFeatures } = require(${JSON.stringify(join(DIST, 'src/anomaly/feature-extraction.js'))});
    const { loadInteractions } = require(${JSON.stringify(join(DIST, 'src/recommend/interactions.js'))});
    const to = new Date('2026-03-03T00:00:00Z');
    const reads = {
      extraction: async (db) => (await extractUserFeatures(db, { from: null, to })).rows,
      interactions: async (db) => (await loadInteractions(db, { from: null, to, weights: { view: 1, cart: 2, purchase: 3 } }, to)).before.users.length,
    };
    (async () => {
      const db = await createDataSource(process.env.DATABASE_URL, { poolSize: 2 }).initialize();
      const read = reads[process.argv[1]];
      let first;
      try { first = { ok: true, rows: await read(db) }; } catch (error) { first = { ok: false, unavailable: isDatabaseUnavailable(error) }; }
      const second = { ok: true, rows: await read(db) };
      console.log('RESULT ' + JSON.stringify({ first, second }));
      await db.destroy();
    })().catch((error) => { console.error('FAILED', error); process.exit(2); });
  `;

  it.each([
    // One (user, day) row per seed user (all on one day) plus the import test's 50 users.
    ['extraction', USERS + 50],
    // Distinct (user, item) pairs: one per seed user, and one per import user (user n % 50 views sku-(n % 5)).
    ['interactions', USERS + 50],
  ])('anomaly %s read in its own process: a cut rejects the read (no crash), the next read succeeds', async (read, expectedRows) => {
    const { result } = await cutBackendsDuring(() => runNode(['-e', READER, read]).done);
    expectNoCrashMarkers(result.output);
    expect(result.code).toBe(0);
    const { first, second } = JSON.parse(/RESULT (.*)/.exec(result.output)![1]);
    if (!first.ok) expect(first.unavailable).toBe(true);
    expect(second).toEqual({ ok: true, rows: expectedRows });
  }, 60_000);
});

/** How one request of the mixed load ended. */
interface Outcome {
  kind: string;
  sentAt: number;
  answeredAt: number;
  result: 'ok' | 'unavailable' | 'unexpected';
  detail: string;
}

/** Health must say only ok/false and a generic reason: no driver text, host, port or SQLSTATE. */
const GENERIC_REASONS = [null, 'unreachable', 'no answer in time'];
const INTERNAL_TEXT = /ECONN|127\.0\.0\.1|localhost|terminat|postgres|57P0|timeout exceeded|:\d{4,5}\b/i;

describe('a 10 s PostgreSQL outage under mixed load', () => {
  it('requests fail fast with SERVICE_UNAVAILABLE or 503 while it is down; the API serves again by itself', async () => {
    const outcomes: Outcome[] = [];
    let stopLoad = false;
    const record = (kind: string, sentAt: number, result: Outcome['result'], detail: string) =>
      outcomes.push({ kind, sentAt, answeredAt: Date.now(), result, detail });

    /** One kind of request, sent in a loop; `judge` says what the answer means. */
    const loop = async (kind: string, send: () => Promise<{ status: number; body: any }>, judge: (status: number, body: any) => Outcome['result'], pauseMs = 100) => {
      while (!stopLoad) {
        const sentAt = Date.now();
        try {
          const { status, body } = await send();
          const result = judge(status, body);
          record(kind, sentAt, result, `${status} ${JSON.stringify(body).slice(0, 300)}`);
        } catch (error) {
          record(kind, sentAt, 'unexpected', String(error));
        }
        await sleep(pauseMs);
      }
    };
    const post = async (query: string, variables: Record<string, unknown>, key: string | null) => {
      const response = await api.gql(query, variables, key, 30_000);
      return { status: response.status, body: response };
    };
    const graphqlJudge = (status: number, body: GraphQLResponse) => {
      if (status === 200 && !body.errors) return 'ok';
      return (status === 200 || status === 503) && unavailable(body) ? 'unavailable' : 'unexpected';
    };
    const healthJudge = (status: number, body: any) => {
      const database = body.data?.health?.database ?? body.database;
      if (!database || !GENERIC_REASONS.includes(database.error) || INTERNAL_TEXT.test(JSON.stringify(body))) return 'unexpected';
      if (database.ok) return status === 200 ? 'ok' : 'unexpected';
      return status === 200 || status === 503 ? 'unavailable' : 'unexpected';
    };

    // Ingest with retries: each batch is re-sent with the same event ids until it is acknowledged.
    let sent = 0;
    let acknowledged = 0;
    const ingestLoop = async () => {
      for (let batch = 0; !stopLoad; batch++) {
        const events = Array.from({ length: 10 }, (_, n) => ({
          eventId: `outage-${batch}-${n}`,
          type: 'view',
          userId: `outage-u${batch}`,
          itemId: `sku-${n % 5}`,
          timestamp: `${DAY}T13:00:${String(n).padStart(2, '0')}Z`,
        }));
        sent += events.length;
        for (;;) {
          const sentAt = Date.now();
          try {
            const response = await api.gql<{ ingestEvents: { accepted: number; duplicates: number; rejected: unknown[] } }>(INGEST, { events }, clientKey, 30_000);
            const result = graphqlJudge(response.status, response);
            record('ingest', sentAt, result, `${response.status} ${JSON.stringify(response).slice(0, 300)}`);
            if (result === 'ok' && response.data!.ingestEvents.rejected.length === 0) {
              acknowledged += response.data!.ingestEvents.accepted + response.data!.ingestEvents.duplicates;
              break;
            }
          } catch (error) {
            record('ingest', sentAt, 'unexpected', String(error));
          }
          await sleep(200);
        }
        await sleep(100);
      }
    };

    // A key never seen before cannot come from the key cache, so authentication (before GraphQL) reads PostgreSQL.
    const authJudge = (status: number, body: GraphQLResponse) => {
      if (status === 503) return unavailable(body) ? 'unavailable' : 'unexpected';
      // Up: the unknown key is refused (or, once failed authentications are throttled, slowed down).
      return (status === 200 && codesOf(body).includes('UNAUTHENTICATED')) || status === 429 ? 'ok' : 'unexpected';
    };
    const kinds = ['ingest', 'funnel', 'recommendations', 'health', 'healthz', 'authentication'];
    const load = Promise.all([
      ingestLoop(),
      loop('funnel', () => post(FUNNEL, { input: FUNNEL_INPUT }, analystKey), graphqlJudge),
      loop('recommendations', () => post(RECOMMEND, {}, clientKey), graphqlJudge),
      loop('health', () => post(HEALTH, {}, null), healthJudge),
      loop('authentication', () => post(FUNNEL, { input: FUNNEL_INPUT }, `unknown-${randomBytes(8).toString('hex')}`), authJudge, 400),
      loop(
        'healthz',
        async () => {
          const response = await fetch(`${api.url}/healthz`, { signal: AbortSignal.timeout(30_000) });
          return { status: response.status, body: await response.json() };
        },
        healthJudge,
      ),
    ]);
    const okSince = async (since: number, deadlineMs: number) => {
      const deadline = Date.now() + deadlineMs;
      while (!kinds.every((kind) => outcomes.some((o) => o.kind === kind && o.result === 'ok' && o.sentAt >= since))) {
        if (Date.now() > deadline) throw new Error(`not every kind of request succeeded: ${JSON.stringify(outcomes.slice(-10))}`);
        await sleep(50);
      }
    };

    try {
      await okSince(0, 30_000);
      const stoppingAt = Date.now();
      await pg.stop('fast');
      const downAt = Date.now();
      await sleep(10_000);
      await pg.start();
      const upAt = Date.now();
      await okSince(upAt, 60_000);

      const recovery = Object.fromEntries(
        kinds.map((kind) => [kind, Math.min(...outcomes.filter((o) => o.kind === kind && o.result === 'ok' && o.sentAt >= upAt).map((o) => o.answeredAt - upAt))]),
      );
      const during = outcomes.filter((o) => o.sentAt >= downAt && o.answeredAt <= upAt);
      const slowestDuring = Math.max(...during.map((o) => o.answeredAt - o.sentAt));
      const http503 = during.filter((o) => o.detail.startsWith('503 ')).length;
      console.log(
        `PostgreSQL outage: stop took ${downAt - stoppingAt} ms; ${during.length} requests answered while down, ${http503} of them with HTTP 503 ` +
          `(slowest ${slowestDuring} ms); first success after start, ms: ${JSON.stringify(recovery)}`,
      );

      expect(outcomes.filter((o) => o.result === 'unexpected')).toEqual([]);
      // Failing fast: every kind got its outage answer while the database was still down.
      const answeredWhileDown = kinds.filter((kind) => during.some((o) => o.kind === kind && o.result === 'unavailable'));
      expect({ answeredWhileDown, last: answeredWhileDown.length === kinds.length ? [] : outcomes.slice(-12) }).toEqual({ answeredWhileDown: kinds, last: [] });
      expect(api.alive).toBe(true);
    } finally {
      stopLoad = true;
      await load;
    }
    expectNoCrashMarkers(api.output);

    // Nothing acknowledged was lost, nothing stored twice.
    expect(acknowledged).toBe(sent);
    expect(await storedCount(`SELECT count(*) AS n FROM events WHERE event_id LIKE 'outage-%'`)).toBe(sent);
    // The funnel mirror survived its failed catch-ups: it counts what PostgreSQL holds.
    const viewers = await storedCount(`SELECT count(DISTINCT user_id) AS n FROM events WHERE type = 'view' AND ts >= $1 AND ts < $2`, [FUNNEL_INPUT.from, FUNNEL_INPUT.to]);
    const answer = await api.gql<{ funnel: { steps: { count: number }[] } }>(FUNNEL, { input: FUNNEL_INPUT }, analystKey);
    expect(answer.data!.funnel.steps[0].count).toBe(viewers);
  }, 120_000);
});

describe('kill -9 of the API in the middle of ingest', () => {
  it('a client that retries with the same event ids ends with sent = acknowledged = stored', async () => {
    const BATCHES = 30;
    const SIZE = 20;
    const KILL_AT = 10;
    const url = `${api.url}/graphql`;
    let sent = 0;
    let acknowledged = 0;
    let failedAttempts = 0;
    let batchInFlight = -1;

    const client = (async () => {
      for (let batch = 0; batch < BATCHES; batch++) {
        const events = Array.from({ length: SIZE }, (_, n) => ({
          eventId: `kill-${batch}-${n}`,
          type: 'view',
          userId: `kill-u${batch % 7}`,
          timestamp: `${DAY}T14:${String(batch).padStart(2, '0')}:${String(n).padStart(2, '0')}Z`,
        }));
        sent += SIZE;
        for (;;) {
          batchInFlight = batch;
          try {
            const response = await fetch(url, {
              method: 'POST',
              headers: { 'content-type': 'application/json', authorization: `Bearer ${clientKey}` },
              body: JSON.stringify({ query: INGEST, variables: { events } }),
              signal: AbortSignal.timeout(30_000),
            });
            const body = (await response.json()) as GraphQLResponse<{ ingestEvents: { accepted: number; duplicates: number; rejected: unknown[] } }>;
            const result = body.data?.ingestEvents;
            if (response.status === 200 && result && result.rejected.length === 0) {
              acknowledged += result.accepted + result.duplicates;
              break;
            }
          } catch {
            // The API is gone (connection refused or reset): retry the same batch.
          }
          failedAttempts++;
          await sleep(100);
        }
      }
    })();

    while (batchInFlight < KILL_AT) await sleep(5);
    const killedAt = Date.now();
    await api.stop('SIGKILL');
    api = await startApi(api.port, api.adminKey);
    const restartedIn = Date.now() - killedAt;
    await client;
    console.log(`API kill -9 mid-ingest: serving again ${restartedIn} ms after the kill; ${failedAttempts} failed attempts retried`);

    expect(failedAttempts).toBeGreaterThan(0);
    expect(acknowledged).toBe(sent);
    expect(await storedCount(`SELECT count(*) AS n FROM events WHERE event_id LIKE 'kill-%'`)).toBe(BATCHES * SIZE);
    expect(await storedCount(`SELECT count(DISTINCT event_id) AS n FROM events WHERE event_id LIKE 'kill-%'`)).toBe(BATCHES * SIZE);
  }, 120_000);
});
