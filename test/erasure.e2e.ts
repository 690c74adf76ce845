import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { startApp, App } from '../src/app';
import { loadConfig } from '../src/config';
import { TrainingJob } from '../src/training/training.entities';
import { decodeArtifact, encodeArtifact, tensorNamed } from '../src/ml/artifact';
import { GraphQLResponse, startTestApp, TestApp } from './support/app';
import { tracesOf as tracesOfIn } from './support/traces';
import { sleep } from './support/worker';

/**
 * forgetUser across two API processes on one database: afterwards no table, no stored artifact and
 * no in-memory structure of either process holds the user's id (the shop's id or the dense one),
 * events sent while it runs do not survive it, other users keep everything, and the audit log
 * records the request without the id.
 */

const GONE = 'erase-me-7f3a9c'; // distinctive, so a text search cannot match another value by accident
const KEPT = 'keep-me-2b81d0';
const CLI = resolve(__dirname, '../dist/src/cli/main.js');

const INGEST = 'mutation($events: [EventInput!]!) { ingestEvents(events: $events) { accepted duplicates rejected { index code } } }';
const FORGET = 'mutation($u: ID!) { forgetUser(userId: $u) { id requestedBy userFound removed { table rows } } }';
const FUNNEL = 'query($input: FunnelInput!) { funnel(input: $input) { totalUnits steps { count } } }';
const RECOMMEND = 'query($u: ID!) { recommendations(userId: $u, limit: 3) { items { itemId } } }';
const DAY = '2026-03-02T';

async function gqlAt<T = Record<string, any>>(url: string, query: string, key: string, variables?: Record<string, unknown>): Promise<GraphQLResponse<T>> {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` }, body: JSON.stringify({ query, variables }) });
  return { ...((await response.json()) as GraphQLResponse<T>), status: response.status };
}

/** `count` events for `user` 0.3 s apart from 10:00 (150 of them trip the ingest guard's 120 a minute). */
function events(user: string, count: number, tag: string) {
  return Array.from({ length: count }, (_, n) => ({
    eventId: `${tag}-${user}-${n}`,
    userId: user,
    sessionId: `${user}-session`,
    type: ['view', 'cart', 'purchase'][n % 3],
    itemId: `sku-${n % 4}`,
    timestamp: new Date(Date.parse(`${DAY}10:00:00Z`) + n * 300).toISOString(),
    properties: { email: `${user}@example.com`, device: 'mobile' },
  }));
}

const FUNNEL_INPUT = { steps: [{ type: 'view' }, { type: 'cart' }], conversionWindowSeconds: 3600, from: `${DAY}00:00:00Z`, to: '2026-03-03T00:00:00Z' };

describe('forgetUser', () => {
  let a: TestApp;
  let b: App;
  let client: string;
  let goneId: number;
  let keptId: number;

  beforeAll(async () => {
    const env = { FUNNELCAST_ERASURE_POLL_MS: '100', FUNNELCAST_FUNNEL_WARMUP: 'false', FUNNELCAST_QUEUE_PREFIX: `erasure-${process.pid}` };
    a = await startTestApp('erasure', env);
    const config = loadConfig({ ...process.env, LOG_LEVEL: process.env.LOG_LEVEL ?? 'silent', HOST: '127.0.0.1', FUNNELCAST_METRICS_PORT: 'off', ...env });
    b = await startApp({ ...config, databaseUrl: a.db.url }, { port: 0 });
    client = await a.createKey('client');
    for (const user of [GONE, KEPT]) {
      const stored = await a.gql(INGEST, { events: events(user, 150, 'first') }, client);
      expect(stored.data!.ingestEvents).toMatchObject({ accepted: 150, rejected: [] });
    }
    const db = a.app.services.dataSource;
    [{ id: goneId }, { id: keptId }] = await db.query(`SELECT id FROM users WHERE external_id IN ($1, $2) ORDER BY external_id = $2`, [GONE, KEPT]);
    // Every other table that holds a user: scores of an ACTIVE factor model (its artifact has both users' rows), labels, feedback, a saved cohort.
    const items: { id: number }[] = await db.query(`SELECT id FROM items ORDER BY id`);
    const artifact = encodeArtifact({
      header: { format: 'matrix-factorization-v1', algorithm: 'als', dimensions: 2, userCount: 2, itemCount: items.length },
      tensors: [
        { name: 'userIds', dtype: 'int32', shape: [2], data: Int32Array.from([goneId, keptId]) },
        { name: 'itemIds', dtype: 'int32', shape: [items.length], data: Int32Array.from(items.map((i) => i.id)) },
        { name: 'userFactors', dtype: 'float32', shape: [2, 2], data: Float32Array.from([1, 0, 0, 1]) },
        { name: 'itemFactors', dtype: 'float32', shape: [items.length, 2], data: Float32Array.from(items.flatMap((_, n) => [n, 1])) },
        { name: 'itemBias', dtype: 'float32', shape: [items.length], data: new Float32Array(items.length) },
      ],
    });
    const [{ id: version }] = await db.query(
      `INSERT INTO model_versions (kind, version, status, params, backend, trained_to, artifact) VALUES ('MATRIX_FACTORIZATION', 1, 'ACTIVE', '{}', 'cpu', '2026-03-03', $1) RETURNING id`,
      [artifact],
    );
    for (const user of [goneId, keptId]) {
      await db.query(`INSERT INTO recommendation_scores VALUES ($1, $2, $3, '{1,0.5}')`, [version, user, items.slice(0, 2).map((i) => i.id)]);
      await db.query(`INSERT INTO purchase_propensity_scores VALUES ($1, $2, 0.4, now())`, [version, user]);
      await db.query(`INSERT INTO anomaly_scores (model_version_id, user_id, score, first_event_at, last_event_at, day) VALUES ($1, $2, 0.9, now(), now(), '2026-03-02')`, [version, user]);
    }
    for (const user of [GONE, KEPT]) {
      const labelled = await a.gql('mutation($u: String!) { labelUser(input: { userId: $u, label: BOT, note: "seen in a ticket" }) { label } }', { u: user });
      expect(labelled.errors).toBeUndefined();
      await db.query(`INSERT INTO recommendation_feedback (recommendation_id, type, source, item_id, user_external_id, ts) VALUES ($1, 'click', 'POPULARITY', $2, $3, now())`, [`r-${user}`, items[0].id, user]);
    }
    const saved = await a.gql('mutation($name: String!, $input: FunnelInput!) { saveFunnel(name: $name, input: $input) { id } }', {
      name: 'two users',
      input: { ...FUNNEL_INPUT, cohort: { userIds: [GONE, KEPT] } },
    });
    expect(saved.errors).toBeUndefined();
    expect(await db.query(`SELECT count(*)::int AS n FROM suspect_users`)).toEqual([{ n: 2 }]);
  });

  afterAll(async () => {
    await b?.stop();
    await a?.stop();
  });

  const tracesOf = (external: string, dense: number) => tracesOfIn(a.app.services.dataSource, external, dense);

  /** Users whose rows the process's funnel mirror holds (after catching up). */
  async function mirroredUsers(app: App): Promise<Set<number>> {
    const snapshot = await app.services.funnels.mirror.snapshot({ sessions: true });
    const users = new Set<number>();
    for (const segment of [snapshot.base, snapshot.delta]) for (let row = 0; row < segment.size; row++) users.add(segment.users[row]);
    return users;
  }

  async function servedFactorUsers(app: App): Promise<number[]> {
    const snapshot = await app.services.recommendations.models.current();
    return [...(snapshot.factors?.userRow.keys() ?? [])];
  }

  it('finds the user everywhere before', async () => {
    const traces = await tracesOf(GONE, goneId);
    expect(traces).toEqual(expect.arrayContaining(['events.user_id', 'events.props', 'users.external_id', 'users.id', 'recommendation_scores.user_id', 'purchase_propensity_scores.user_id', 'anomaly_scores.user_id', 'user_labels.user_id', 'suspect_users.user_id', 'recommendation_feedback.user_external_id', 'saved_funnels.definition']));
    // Both processes hold the user in memory: funnel mirror, served factors, a cached list.
    for (const [url, app] of [[a.url, a.app], [b.server.url, b]] as const) {
      const funnel = await gqlAt(url, FUNNEL, a.adminKey, { input: FUNNEL_INPUT });
      expect(funnel.data!.funnel.totalUnits).toBe(2);
      const list = await gqlAt(url, RECOMMEND, client, { u: GONE });
      expect(list.errors).toBeUndefined();
      expect(await mirroredUsers(app)).toContain(goneId);
      expect(await servedFactorUsers(app)).toContain(goneId);
      expect(app.services.recommendations.cache.size).toBe(1);
    }
  });

  it('removes every trace while events for the user keep arriving, and other users keep theirs', async () => {
    const handledOnB = b.services.erasureWatch.handled;
    // Batches for the user in flight before, during and after the erasure.
    const sending = Array.from({ length: 12 }, (_, n) => sleep(n * 15).then(() => a.gql(INGEST, { events: events(GONE, 5, `during-${n}`) }, client)));
    await sleep(60);
    const forgotten = await a.gql(FORGET, { u: GONE });
    expect(forgotten.errors).toBeUndefined();
    const sent = await Promise.all(sending);
    for (const batch of sent) expect(batch.errors).toBeUndefined();
    const record = forgotten.data!.forgetUser;
    expect(record.userFound).toBe(true);
    expect(record.requestedBy).toMatch(/^key [0-9a-f-]{36} \(bootstrap admin\)$/);
    const removed = Object.fromEntries(record.removed.map((r: { table: string; rows: number }) => [r.table, r.rows]));
    // 150 first events plus those of the batches that committed before the erasure took the user's row.
    expect(removed.events).toBeGreaterThanOrEqual(150);
    expect(removed).toMatchObject({ recommendation_scores: 1, purchase_propensity_scores: 1, anomaly_scores: 1, user_labels: 1, suspect_users: 1, model_versions: 1, recommendation_feedback: 1, saved_funnels: 1, users: 1 });

    // Process B hears of it by polling the audit log.
    const deadline = Date.now() + 30_000;
    while (b.services.erasureWatch.handled === handledOnB && Date.now() < deadline) await sleep(20);
    expect(b.services.erasureWatch.handled).toBeGreaterThan(handledOnB);

    // Nothing in any table (however the user's rows came: first events, in-flight batches, a re-created row).
    expect(await tracesOf(GONE, goneId)).toEqual([]);
    // Nor in a stored artifact: the factor model keeps only the other user's row, unchanged.
    const [{ artifact }] = await a.app.services.dataSource.query(`SELECT artifact FROM model_versions WHERE kind = 'MATRIX_FACTORIZATION'`);
    const decoded = decodeArtifact(artifact);
    expect(Array.from(tensorNamed(decoded, 'userIds').data)).toEqual([keptId]);
    expect(Array.from(tensorNamed(decoded, 'userFactors').data)).toEqual([0, 1]);
    // Nor in either process's memory.
    for (const app of [a.app, b]) {
      expect(app.services.recommendations.cache.size).toBe(0);
      expect(await servedFactorUsers(app)).toEqual([keptId]);
      const users = await mirroredUsers(app);
      expect(users.has(goneId)).toBe(false);
      expect(users.has(keptId)).toBe(true);
    }
    const funnel = await gqlAt(b.server.url, FUNNEL, a.adminKey, { input: FUNNEL_INPUT });
    expect(funnel.data!.funnel.totalUnits).toBe(1);
    // The other user keeps everything.
    expect(await tracesOf(KEPT, keptId)).toEqual(expect.arrayContaining(['events.user_id', 'users.external_id', 'recommendation_scores.user_id', 'user_labels.user_id', 'suspect_users.user_id', 'recommendation_feedback.user_external_id', 'saved_funnels.definition']));
    const [{ definition }] = await a.app.services.dataSource.query(`SELECT definition FROM saved_funnels`);
    expect(definition.cohort.userIds).toEqual([KEPT]);
  });

  it('drops events sent for the user afterwards, is idempotent, and keeps an audit log without the id', async () => {
    const late = await a.gql(INGEST, { events: [...events(GONE, 3, 'late'), ...events(KEPT, 1, 'late')] }, client);
    expect(late.data!.ingestEvents).toEqual({ accepted: 1, duplicates: 0, rejected: [0, 1, 2].map((index) => ({ index, code: 'USER_ERASED' })) });
    await a.app.services.dataSource.query(`DELETE FROM events WHERE event_id = $1`, [`late-${KEPT}-0`]);
    const again = await a.gql(FORGET, { u: GONE });
    expect(again.data!.forgetUser.userFound).toBe(false);
    expect(again.data!.forgetUser.removed.every((r: { rows: number }) => r.rows === 0)).toBe(true);
    expect(await tracesOf(GONE, goneId)).toEqual([]);
    const log = await a.gql('{ userErasures { id requestedBy requestedAt finishedAt userFound removed { table rows } } }');
    expect(log.data!.userErasures.map((e: { userFound: boolean }) => e.userFound)).toEqual([false, true]);
    expect(JSON.stringify(log.data)).not.toContain(GONE);
    // Only admins may erase.
    const refused = await a.gql(FORGET, { u: KEPT }, client);
    expect(refused.errors![0].extensions!.code).toBe('FORBIDDEN');
  });

  it('waits for a batch in flight for the user, and deletes what it stored', async () => {
    const RACED = 'raced-user-5c0e44';
    await a.gql(INGEST, { events: events(RACED, 2, 'first') }, client);
    // A batch in flight, held open: it has locked the user's row as ingest does and stored an event.
    const batch = a.app.services.dataSource.createQueryRunner();
    await batch.connect();
    await batch.startTransaction();
    const [{ id }] = await batch.query(`SELECT id FROM users WHERE external_id = $1 FOR KEY SHARE`, [RACED]);
    await batch.query(`INSERT INTO events (event_id, user_id, type, ts) VALUES ('in-flight', $1, 'view', now())`, [id]);
    let finished = false;
    const forgetting = a.gql(FORGET, { u: RACED }).then((result) => {
      finished = true;
      return result;
    });
    // The erasure cannot take the row while the batch holds it (it waits on the lock, not on time).
    const deadline = Date.now() + 30_000;
    for (;;) {
      const [{ waiting }] = await a.app.services.dataSource.query(`SELECT count(*)::int AS waiting FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`);
      if (waiting > 0 || Date.now() > deadline) break;
      await sleep(20);
    }
    expect(finished).toBe(false);
    await batch.commitTransaction();
    await batch.release();
    const result = await forgetting;
    expect(result.data!.forgetUser.removed.find((r: { table: string }) => r.table === 'events').rows).toBe(3);
    expect(await tracesOf(RACED, id)).toEqual([]);
  });

  it('a version trained on data read before an erasure is stored without the user', async () => {
    const TRAINED = 'trained-then-erased-91d2';
    await a.gql(INGEST, { events: events(TRAINED, 2, 'first') }, client);
    const db = a.app.services.dataSource;
    const [{ id: trainedId }] = await db.query(`SELECT id FROM users WHERE external_id = $1`, [TRAINED]);
    const [{ id: jobId }] = await db.query(
      `INSERT INTO training_jobs (request_key, kind, params, data_to, activate, state) VALUES ('erasure-race', 'MATRIX_FACTORIZATION', '{}', now(), false, 'RUNNING') RETURNING id`,
    );
    const job = (await db.getRepository(TrainingJob).findOneBy({ id: jobId }))!;
    const registry = a.app.services.models;
    const versionId = await registry.beginVersion(job, 'cpu');
    // The run has read both users' events; now one of them is erased, then the run stores its version.
    expect((await a.gql(FORGET, { u: TRAINED })).data!.forgetUser.userFound).toBe(true);
    const artifact = encodeArtifact({
      header: { format: 'matrix-factorization-v1', algorithm: 'als', dimensions: 1, userCount: 2, itemCount: 0 },
      tensors: [
        { name: 'userIds', dtype: 'int32', shape: [2], data: Int32Array.from([trainedId, keptId]) },
        { name: 'itemIds', dtype: 'int32', shape: [0], data: new Int32Array(0) },
        { name: 'userFactors', dtype: 'float32', shape: [2, 1], data: Float32Array.from([7, 8]) },
        { name: 'itemFactors', dtype: 'float32', shape: [0, 1], data: new Float32Array(0) },
        { name: 'itemBias', dtype: 'float32', shape: [0], data: new Float32Array(0) },
      ],
    });
    await registry.completeVersion(job, versionId, {
      artifact,
      metrics: {},
      eventCount: 4,
      trainedFrom: null,
      trainedTo: new Date(),
      writeScores: async (pg, version) => (await pg.query(`INSERT INTO recommendation_scores SELECT $1, unnest($2::int[]), '{}', '{}'`, [version, [trainedId, keptId]])).rowCount ?? 0,
    }, 1);
    const [{ artifact: stored }] = await db.query(`SELECT artifact FROM model_versions WHERE id = $1`, [versionId]);
    expect(Array.from(tensorNamed(decodeArtifact(stored), 'userIds').data)).toEqual([keptId]);
    expect(Array.from(tensorNamed(decodeArtifact(stored), 'userFactors').data)).toEqual([8]);
    expect(await db.query(`SELECT user_id FROM recommendation_scores WHERE model_version_id = $1`, [versionId])).toEqual([{ user_id: keptId }]);
    expect(await tracesOf(TRAINED, trainedId)).toEqual([]);
  });

  it('funnelcast forget USER_ID erases from the command line, and the API processes follow', async () => {
    const handledOnB = b.services.erasureWatch.handled;
    const output = await new Promise<{ code: number | null; stdout: string }>((done, fail) => {
      const child = spawn(process.execPath, [CLI, 'forget', KEPT], { env: { ...process.env, DATABASE_URL: a.db.url, LOG_LEVEL: 'silent', FUNNELCAST_ENV_FILE: '' } });
      let stdout = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      child.on('error', fail);
      child.on('exit', (code) => done({ code, stdout }));
    });
    expect(output.code).toBe(0);
    expect(output.stdout).toMatch(/Erased the user in [\d.]+ s/);
    expect(output.stdout).toMatch(/events\s+150/);
    const deadline = Date.now() + 30_000;
    while (b.services.erasureWatch.handled === handledOnB && Date.now() < deadline) await sleep(20);
    expect(await tracesOf(KEPT, keptId)).toEqual([]);
    expect(await mirroredUsers(b)).toEqual(new Set());
    const log = await a.gql('{ userErasures(limit: 1) { requestedBy } }');
    expect(log.data!.userErasures[0].requestedBy).toMatch(/^cli \(/);
  });
});
