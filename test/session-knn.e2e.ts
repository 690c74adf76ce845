import { createDemoShop } from '../src/sim';
import { loadDemoShop } from '../src/sim/load';
import { startTestApp, TestApp } from './support/app';
import { sleep, trainAndWait, WorkerProcess } from './support/worker';

const PREFIX = `session-knn-e2e-${process.pid}-${Date.now().toString(36)}`;
const LIST = `listId modelVersionId items { itemId score source modelVersionId }`;
const SESSION = `query($ids: [ID!]!, $asOf: DateTime) { sessionRecommendations(itemIds: $ids, limit: 10, asOf: $asOf) { ${LIST} } }`;
const RECOMMEND = `query($u: ID!, $asOf: DateTime) { recommendations(userId: $u, limit: 10, asOf: $asOf) { ${LIST} } }`;
const MINUTE = 60_000;

interface List {
  listId: string;
  modelVersionId: string | null;
  items: { itemId: string; score: number; source: string; modelVersionId: string | null }[];
}

describe('SESSION_KNN', () => {
  let t: TestApp;
  let worker: WorkerProcess;
  let client: string;
  let version: { id: string; status: string; metrics: any };
  /** Three items one shopper viewed in that order in one visit of the demo shop. */
  let visit: string[];
  const shop = createDemoShop({ users: 500, days: 7, seed: 23 });
  const shopEnd = new Date(shop.options.endMs);

  async function query(text: string, variables: Record<string, unknown>): Promise<List> {
    const result = await t.gql(text, variables, client);
    if (!result.data) throw new Error(JSON.stringify(result.errors));
    return Object.values(result.data)[0] as List;
  }

  beforeAll(async () => {
    t = await startTestApp('session_knn', { FUNNELCAST_QUEUE_PREFIX: PREFIX });
    await loadDemoShop(t.app.services.dataSource, shop);
    worker = new WorkerProcess(t.db.url, PREFIX);
    await worker.ready();
    client = await t.createKey('client');
    const [row] = await t.app.services.dataSource.query(
      `SELECT array_agg(i.external_id ORDER BY e.ts, e.id) AS items FROM events e JOIN items i ON i.id = e.item_id
       WHERE e.type = 'view' GROUP BY e.user_id, e.session_id HAVING count(DISTINCT e.item_id) = 3 AND count(*) = 3 ORDER BY e.user_id, e.session_id LIMIT 1`,
    );
    visit = row.items;
  });

  afterAll(async () => {
    await worker?.stop();
    await t?.stop();
  });

  it('trains in the worker and reports next-item recall and MRR with both baselines, GRU4Rec’s protocol', async () => {
    const job = await trainAndWait(t, { kind: 'SESSION_KNN', params: {}, activate: true, to: shopEnd.toISOString() }, undefined, worker);
    expect(job.state).toBe('COMPLETED');
    version = job.modelVersion!;
    expect(version.status).toBe('ACTIVE');
    const evaluation = version.metrics.evaluation;
    expect(evaluation.k).toBe(20);
    expect(evaluation.heldOutSessions).toBeGreaterThan(50);
    expect(evaluation.predictions).toBeGreaterThan(evaluation.heldOutSessions - 1);
    for (const key of ['model', 'popularityBaseline', 'itemKnnLastItemBaseline']) {
      expect(evaluation[key].recall).toBeGreaterThanOrEqual(0);
      expect(evaluation[key].recall).toBeLessThanOrEqual(1);
      expect(evaluation[key].mrr).toBeLessThanOrEqual(evaluation[key].recall);
    }
    expect(evaluation.model.recall).toBeGreaterThan(evaluation.popularityBaseline.recall);
    expect(version.metrics.training.storedSessions).toBeGreaterThan(100);
  });

  it('serves sessionRecommendations from the active version, and checks asOf', async () => {
    const session = visit.slice(0, 2);
    // The serving cache picks the new version up within a second or so.
    const deadline = Date.now() + 5000;
    let served = await query(SESSION, { ids: session });
    while (!served.items.some((item) => item.source === 'SESSION_KNN') && Date.now() < deadline) {
      await sleep(100);
      served = await query(SESSION, { ids: session });
    }
    const fromKnn = served.items.filter((item) => item.source === 'SESSION_KNN');
    expect(fromKnn.length).toBeGreaterThanOrEqual(3);
    for (const item of fromKnn) expect(item.modelVersionId).toBe(version.id);
    for (const id of session) expect(served.items.map((item) => item.itemId)).not.toContain(id);
    // asOf does not change a list of a named session.
    const past = await query(SESSION, { ids: session, asOf: new Date(shop.options.startMs).toISOString() });
    expect(past.items.map((item) => [item.itemId, item.source])).toEqual(served.items.map((item) => [item.itemId, item.source]));

    const ahead = new Date(Date.now() + 2 * 24 * 60 * MINUTE).toISOString();
    for (const [text, variables] of [
      [SESSION, { ids: session, asOf: ahead }],
      [RECOMMEND, { u: 'anyone', asOf: ahead }],
    ] as const) {
      const refused = await t.gql(text, variables, client);
      expect(refused.errors?.[0].extensions?.code).toBe('BAD_USER_INPUT');
      expect(refused.errors?.[0].message).toMatch(/asOf .* is more than a day in the future; give a past instant, or leave asOf out for now/);
    }
  });

  it('makes a past visit the live session of recommendations(asOf)', async () => {
    // A visitor's visit two days before the shop ended: three views, 10 and 5 minutes apart.
    const visitStart = shopEnd.getTime() - 2 * 24 * 60 * MINUTE;
    const user = `past-visitor-${Date.now()}`;
    const events = visit.map((itemId, n) => ({ eventId: `${user}-${n}`, type: 'view', userId: user, sessionId: `${user}-s`, itemId, timestamp: new Date(visitStart + n * 5 * MINUTE).toISOString() }));
    const ingested = await t.gql(`mutation($events: [EventInput!]!) { ingestEvents(events: $events) { accepted } }`, { events });
    expect(ingested.data).toEqual({ ingestEvents: { accepted: 3 } });
    const lastView = visitStart + 10 * MINUTE;
    const sources = (list: List) => new Set(list.items.map((item) => item.source));

    // Now, the visit is days old: no live session, so no session model.
    expect(sources(await query(RECOMMEND, { u: user }))).not.toContain('SESSION_KNN');
    // Twenty minutes after its last view, the visit is live; thirty-one minutes after, it is over.
    const live = await query(RECOMMEND, { u: user, asOf: new Date(lastView + 20 * MINUTE).toISOString() });
    expect(sources(live)).toContain('SESSION_KNN');
    for (const item of live.items.filter((entry) => entry.source === 'SESSION_KNN')) expect(item.modelVersionId).toBe(version.id);
    expect(sources(await query(RECOMMEND, { u: user, asOf: new Date(lastView + 31 * MINUTE).toISOString() }))).not.toContain('SESSION_KNN');
    // Only SESSION_KNN is active, so the session-kNN items of a list are its ranking of the live
    // session: as of the second view, that of the visit's first two items, as sessionRecommendations
    // ranks them (which leaves the session's own items out; recommendations does not).
    const knnOnly = (list: List, leftOut: string[] = []) => list.items.filter((item) => item.source === 'SESSION_KNN' && !leftOut.includes(item.itemId)).map((item) => item.itemId);
    const asOfSecondView = knnOnly(await query(RECOMMEND, { u: user, asOf: new Date(visitStart + 5 * MINUTE + 1000).toISOString() }), visit.slice(0, 2));
    expect(asOfSecondView.length).toBeGreaterThan(0);
    expect(asOfSecondView).toEqual(knnOnly(await query(SESSION, { ids: visit.slice(0, 2) })).slice(0, asOfSecondView.length));
    const asOfLive = knnOnly(live, visit);
    expect(asOfLive).toEqual(knnOnly(await query(SESSION, { ids: visit })).slice(0, asOfLive.length));
    // Before the visit, the visitor has no events at all: nothing of theirs counts.
    expect(sources(await query(RECOMMEND, { u: user, asOf: new Date(visitStart - MINUTE).toISOString() }))).not.toContain('SESSION_KNN');
  });
});
