import { spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startTestApp, TestApp } from './support/app';
import { tracesOf } from './support/traces';

/**
 * FUNNELCAST_PSEUDONYMIZE_KEY: ids sent at ingest, in an imported file and with feedback never
 * reach PostgreSQL; each is stored as HMAC-SHA-256 under the key (computed here independently), and
 * every query that takes a user id finds the user by the id the shop knows.
 */
const KEY = 'test-pseudonym-key-0123456789abcdef';
const CLI = resolve(__dirname, '../dist/src/cli/main.js');
const ALICE = 'alice@example.com';
const BOB = 'bob@example.com';
const hmac = (id: string) => createHmac('sha256', KEY).update(id).digest('hex');
const INGEST = 'mutation($e: [EventInput!]!) { ingestEvents(events: $e) { accepted } }';
const FUNNEL_INPUT = { steps: [{ type: 'view' }, { type: 'cart' }], conversionWindowSeconds: 3600, from: '2026-03-02T00:00:00Z', to: '2026-03-03T00:00:00Z' };

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp('pseudonym', { FUNNELCAST_PSEUDONYMIZE_KEY: KEY });
});
afterAll(() => t.stop());

function runCli(args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, DATABASE_URL: t.db.url, FUNNELCAST_PSEUDONYMIZE_KEY: KEY, LOG_LEVEL: 'silent', FUNNELCAST_ENV_FILE: '' } });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', fail);
    child.on('exit', (code) => done({ code, output }));
  });
}

it('stores no raw id from ingest, import or feedback, and answers every query by the raw id', async () => {
  const client = await t.createKey('client');
  const events = ['view', 'cart'].map((type, n) => ({ eventId: `a-${n}`, userId: ALICE, sessionId: 'sa', type, itemId: 'sku-1', timestamp: `2026-03-02T10:0${n}:00Z` }));
  expect((await t.gql(INGEST, { e: events }, client)).data!.ingestEvents.accepted).toBe(2);
  const file = join(mkdtempSync(join(tmpdir(), 'pseudonym-')), 'bob.ndjson');
  writeFileSync(file, [{ eventId: 'b-1', type: 'view', userId: BOB, sessionId: 'sb', itemId: 'sku-2', timestamp: '2026-03-02T11:00:00Z' }].map((e) => JSON.stringify(e)).join('\n') + '\n');
  const imported = await runCli(['import', '--format', 'ndjson', file]);
  expect(imported.code).toBe(0);

  const db = t.app.services.dataSource;
  const users: { external_id: string }[] = await db.query(`SELECT external_id FROM users ORDER BY id`);
  expect(users.map((u) => u.external_id)).toEqual([hmac(ALICE), hmac(BOB)]);

  // Queries take the raw id: recommendations (and feedback on them), risk, labels, a funnel cohort, a saved one.
  const list = await t.gql('query($u: ID!) { recommendations(userId: $u, limit: 2) { items { recommendationId } } }', { u: ALICE }, client);
  expect(list.errors).toBeUndefined();
  const recommendationId = list.data!.recommendations.items[0].recommendationId;
  const feedback = await t.gql('mutation($f: [RecommendationFeedbackInput!]!) { recordRecommendationFeedback(feedback: $f) { accepted } }', { f: [{ recommendationId, userId: ALICE, type: 'CLICK' }] }, client);
  expect(feedback.data!.recordRecommendationFeedback.accepted).toBe(1);
  expect(await db.query(`SELECT user_external_id FROM recommendation_feedback`)).toEqual([{ user_external_id: hmac(ALICE) }]);
  expect((await t.gql('query($u: String!) { userRisk(userId: $u) { score } }', { u: BOB })).errors).toBeUndefined();
  expect((await t.gql('mutation($u: String!) { labelUser(input: { userId: $u, label: GENUINE }) { label } }', { u: ALICE })).errors).toBeUndefined();
  const cohort = { ...FUNNEL_INPUT, cohort: { userIds: [ALICE] } };
  const funnel = await t.gql('query($i: FunnelInput!) { funnel(input: $i) { totalUnits steps { count } } }', { i: cohort });
  expect(funnel.data!.funnel).toEqual({ totalUnits: 1, steps: [{ count: 1 }, { count: 1 }] });
  const saved = await t.gql('mutation($i: FunnelInput!) { saveFunnel(name: "alice", input: $i) { id } }', { i: cohort });
  const rerun = await t.gql('query($id: ID!) { runSavedFunnel(id: $id) { totalUnits } }', { id: saved.data!.saveFunnel.id });
  expect(rerun.errors).toBeUndefined();
  expect(rerun.data!.runSavedFunnel.totalUnits).toBe(1);

  // Not a trace of either raw id anywhere.
  expect(await tracesOf(db, ALICE)).toEqual([]);
  expect(await tracesOf(db, BOB)).toEqual([]);

  // Erasure by the raw id finds the pseudonymous user.
  const forgotten = await t.gql('mutation($u: ID!) { forgetUser(userId: $u) { userFound } }', { u: ALICE });
  expect(forgotten.data!.forgetUser.userFound).toBe(true);
  expect(await tracesOf(db, hmac(ALICE))).toEqual([]);
});
