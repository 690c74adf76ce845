import { Writable } from 'node:stream';
import pino from 'pino';
import { startTestApp, TestApp } from './support/app';
import { parsePrometheus, PromSample, sampleValue } from './support/prometheus';
import { sleep, WorkerProcess } from './support/worker';

/**
 * Operations end to end: /metrics (Prometheus text, protected by a token on the API port and on
 * its own listener), the one request log line per request, and the admin-only queue dashboard.
 */
const METRICS_TOKEN = 'metrics-token-0123456789abcdef';
const PREFIX = `ops-e2e-${process.pid}-${Date.now().toString(36)}`;

describe('operations: metrics, request log, queue dashboard', () => {
  let t: TestApp;
  let worker: WorkerProcess | undefined;
  let clientKey: string;
  let analystKey: string;
  let serverKey: string;
  const logLines: Record<string, any>[] = [];
  const rawLog: string[] = [];

  beforeAll(async () => {
    const destination = new Writable({
      write(chunk: Buffer, _encoding, done) {
        const text = chunk.toString();
        rawLog.push(text);
        for (const line of text.split('\n')) if (line.trim()) logLines.push(JSON.parse(line));
        done();
      },
    });
    t = await startTestApp('ops', { FUNNELCAST_METRICS_TOKEN: METRICS_TOKEN, FUNNELCAST_METRICS_PORT: '0', FUNNELCAST_QUEUE_PREFIX: PREFIX }, { requestLog: pino({ level: 'info' }, destination) });
    [clientKey, analystKey, serverKey] = await Promise.all([t.createKey('client'), t.createKey('analyst'), t.createKey('server')]);
  });

  afterAll(async () => {
    await worker?.stop();
    await t?.stop();
  });

  const apiOrigin = () => new URL(t.url).origin;

  async function scrape(url = `${apiOrigin()}/metrics`): Promise<PromSample[]> {
    const response = await fetch(url, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/plain');
    return parsePrometheus(await response.text());
  }

  const value = (samples: PromSample[], name: string, labels: Record<string, string> = {}) => sampleValue(samples, name, labels) ?? 0;

  describe('/metrics protection', () => {
    it('on the API port answers 401 without the token or with a wrong one, and Prometheus text with it', async () => {
      const none = await fetch(`${apiOrigin()}/metrics`);
      expect(none.status).toBe(401);
      expect(none.headers.get('www-authenticate')).toMatch(/^Bearer/);
      const wrong = await fetch(`${apiOrigin()}/metrics`, { headers: { authorization: 'Bearer not-the-metrics-token' } });
      expect(wrong.status).toBe(401);
      // An API key, even an admin's, is not the metrics token.
      const adminKey = await fetch(`${apiOrigin()}/metrics`, { headers: { authorization: `Bearer ${t.adminKey}` } });
      expect(adminKey.status).toBe(401);
      const samples = await scrape();
      // Node's default metrics and ours.
      expect(sampleValue(samples, 'process_cpu_user_seconds_total')).toBeGreaterThan(0);
      expect(sampleValue(samples, 'nodejs_heap_size_used_bytes')).toBeGreaterThan(0);
      expect(sampleValue(samples, 'funnelcast_funnel_mirror_events')).toBeDefined();
    });

    it('on its own loopback listener, with the same token', async () => {
      const metricsUrl = t.app.server.metricsUrl!;
      expect(metricsUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
      expect((await fetch(metricsUrl)).status).toBe(401);
      const samples = await scrape(metricsUrl);
      expect(sampleValue(samples, 'nodejs_eventloop_lag_seconds')).toBeDefined();
      // The listener serves nothing else.
      expect((await fetch(metricsUrl.replace('/metrics', '/graphql'))).status).toBe(404);
    });
  });

  it('counts GraphQL requests per operation and outcome, with latency, and errors by code', async () => {
    const before = await scrape();
    const health = await t.gql('query OpsHealth { health { database { ok } } }');
    expect(health.errors).toBeUndefined();
    const refused = await t.gql('query OpsStats($from: DateTime!, $to: DateTime!) { eventStats(from: $from, to: $to) { total } }', { from: '2026-01-01T00:00:00Z', to: '2026-01-02T00:00:00Z' }, serverKey);
    expect(refused.errors?.[0].extensions?.code).toBe('FORBIDDEN');
    const anonymous = await t.gql('{ health { database { ok } } }');
    expect(anonymous.errors).toBeUndefined();
    const unparsable = await t.gql('query Broken {');
    expect(unparsable.errors?.[0].extensions?.code).toBe('GRAPHQL_PARSE_FAILED');
    // Without a key, or with a client key (public: shipped inside apps), a new name takes no label slot
    // (anyone could spend them all): it counts as other, until a request with a trusted key brings the
    // name, after which every request counts under it.
    await t.gql('query OpsPublic { health { database { ok } } }', {}, null);
    await t.gql('query OpsPublic { health { database { ok } } }', {}, clientKey);
    await t.gql('query OpsPublic { health { database { ok } } }', {}, analystKey);
    await t.gql('query OpsPublic { health { database { ok } } }', {}, clientKey);
    const after = await scrape();

    const delta = (name: string, labels: Record<string, string>) => value(after, name, labels) - value(before, name, labels);
    expect(delta('funnelcast_graphql_requests_total', { operation: 'OpsHealth', outcome: 'ok' })).toBe(1);
    expect(delta('funnelcast_graphql_requests_total', { operation: 'OpsStats', outcome: 'FORBIDDEN' })).toBe(1);
    expect(delta('funnelcast_graphql_requests_total', { operation: 'anonymous', outcome: 'ok' })).toBe(1);
    // A document that does not parse has no trustworthy name.
    expect(delta('funnelcast_graphql_requests_total', { operation: 'unknown', outcome: 'GRAPHQL_PARSE_FAILED' })).toBe(1);
    expect(delta('funnelcast_graphql_requests_total', { operation: 'other', outcome: 'ok' })).toBe(2);
    expect(delta('funnelcast_graphql_requests_total', { operation: 'OpsPublic', outcome: 'ok' })).toBe(2);
    expect(delta('funnelcast_graphql_request_duration_seconds_count', { operation: 'OpsHealth', outcome: 'ok' })).toBe(1);
    expect(delta('funnelcast_graphql_request_duration_seconds_count', { operation: 'OpsStats', outcome: 'error' })).toBe(1);
    expect(delta('funnelcast_graphql_request_duration_seconds_bucket', { operation: 'OpsHealth', outcome: 'ok', le: '+Inf' })).toBe(1);
    expect(delta('funnelcast_graphql_errors_total', { code: 'FORBIDDEN' })).toBe(1);
    expect(delta('funnelcast_graphql_errors_total', { code: 'GRAPHQL_PARSE_FAILED' })).toBe(1);
  });

  it('counts ingested events accepted, duplicate and rejected, and the funnel mirror, its lag and funnel latency', async () => {
    const before = await scrape();
    const at = (minutesAgo: number) => new Date(Date.now() - minutesAgo * 60_000).toISOString();
    const ingest = `mutation Ingest($events: [EventInput!]!) { ingestEvents(events: $events) { accepted duplicates rejected { code } } }`;
    const first = await t.gql(ingest, {
      events: [
        { eventId: 'ops-1', type: 'view', userId: 'ops-user-marker', sessionId: 's1', itemId: 'sku-1', timestamp: at(30) },
        { eventId: 'ops-2', type: 'purchase', userId: 'ops-user-marker', sessionId: 's1', itemId: 'sku-1', timestamp: at(20) },
        { eventId: 'ops-3', type: 'not a type!', userId: 'ops-user-marker', timestamp: at(10) },
      ],
    }, clientKey);
    expect(first.data!.ingestEvents).toEqual({ accepted: 2, duplicates: 0, rejected: [{ code: 'INVALID_EVENT_TYPE' }] });
    const again = await t.gql(ingest, { events: [{ eventId: 'ops-1', type: 'view', userId: 'ops-user-marker', timestamp: at(30) }] }, clientKey);
    expect(again.data!.ingestEvents).toEqual({ accepted: 0, duplicates: 1, rejected: [] });
    const afterIngest = await scrape();
    const delta = (after: PromSample[], name: string, labels: Record<string, string> = {}) => value(after, name, labels) - value(before, name, labels);
    expect(delta(afterIngest, 'funnelcast_ingest_events_total', { outcome: 'accepted' })).toBe(2);
    expect(delta(afterIngest, 'funnelcast_ingest_events_total', { outcome: 'duplicate' })).toBe(1);
    expect(delta(afterIngest, 'funnelcast_ingest_events_total', { outcome: 'rejected' })).toBe(1);
    expect(delta(afterIngest, 'funnelcast_ingest_rejected_events_total', { code: 'INVALID_EVENT_TYPE' })).toBe(1);

    const funnel = `query OpsFunnel($input: FunnelInput!) { funnel(input: $input) { steps { count } } }`;
    const input = { steps: [{ type: 'view' }, { type: 'purchase' }], conversionWindowSeconds: 3600, from: at(24 * 60), to: at(-1) };
    const report = await t.gql(funnel, { input }, analystKey);
    expect(report.data!.funnel.steps).toEqual([{ count: 1 }, { count: 1 }]);
    const afterFunnel = await scrape();
    expect(delta(afterFunnel, 'funnelcast_funnel_query_duration_seconds_count', { query: 'report', outcome: 'ok' })).toBe(1);
    expect(delta(afterFunnel, 'funnelcast_funnel_mirror_catch_up_duration_seconds_count')).toBeGreaterThanOrEqual(1);
    // The mirror holds the two stored events and has read everything.
    expect(sampleValue(afterFunnel, 'funnelcast_funnel_mirror_events')).toBe(2);
    expect(sampleValue(afterFunnel, 'funnelcast_funnel_mirror_lag_events')).toBe(0);

    // One more event: committed, not yet read by the mirror, until the next funnel catches it up.
    await t.gql(ingest, { events: [{ eventId: 'ops-4', type: 'view', userId: 'ops-other', timestamp: at(5) }] }, clientKey);
    const lagging = await scrape();
    expect(sampleValue(lagging, 'funnelcast_funnel_mirror_lag_events')).toBe(1);
    expect(sampleValue(lagging, 'funnelcast_funnel_mirror_events')).toBe(2);
    await t.gql(funnel, { input }, analystKey);
    const caughtUp = await scrape();
    expect(sampleValue(caughtUp, 'funnelcast_funnel_mirror_lag_events')).toBe(0);
    expect(sampleValue(caughtUp, 'funnelcast_funnel_mirror_events')).toBe(3);
    expect(value(caughtUp, 'funnelcast_funnel_mirror_caught_up_events_total') - value(before, 'funnelcast_funnel_mirror_caught_up_events_total')).toBe(3);
  });

  it('counts served-list cache misses and hits', async () => {
    const before = await scrape();
    const query = `query OpsRecommend { recommendations(userId: "ops-cache-user", limit: 5) { listId } }`;
    for (let n = 0; n < 2; n++) expect((await t.gql(query, {}, clientKey)).errors).toBeUndefined();
    const after = await scrape();
    const delta = (result: string) => value(after, 'funnelcast_served_list_cache_requests_total', { result }) - value(before, 'funnelcast_served_list_cache_requests_total', { result });
    expect(delta('miss')).toBe(1);
    expect(delta('hit')).toBe(1);
  });

  it('reads the training queue depth from Redis at scrape time', async () => {
    const labels = (state: string) => ({ queue: 'training', state });
    const before = await scrape();
    expect(sampleValue(before, 'funnelcast_queue_jobs', labels('waiting'))).toBe(0);
    expect(sampleValue(before, 'funnelcast_queue_jobs', labels('active'))).toBe(0);
    expect(sampleValue(before, 'funnelcast_queue_jobs', labels('failed'))).toBe(0);
    // No worker runs here, so the job waits.
    const queued = await t.gql(`mutation { trainModel(input: { kind: POPULARITY }) { id } }`);
    expect(queued.errors).toBeUndefined();
    const after = await scrape();
    expect(sampleValue(after, 'funnelcast_queue_jobs', labels('waiting'))).toBe(1);
  });

  it('times training on the worker, which serves its own /metrics', async () => {
    worker = new WorkerProcess(t.db.url, PREFIX, { FUNNELCAST_WORKER_METRICS_PORT: '0', FUNNELCAST_METRICS_TOKEN: METRICS_TOKEN });
    await worker.ready();
    const workerMetrics = /metrics at (http:\/\/127\.0\.0\.1:\d+\/metrics)/.exec(worker.output)![1];
    expect((await fetch(workerMetrics)).status).toBe(401);
    // The job queued above (POPULARITY) runs now; its end, either way, is timed under its kind.
    let state = '';
    for (let polls = 0; polls < 2400 && !['COMPLETED', 'FAILED'].includes(state); polls++) {
      const jobs = await t.gql<{ trainingJobs: { edges: { node: { state: string } }[] } }>('{ trainingJobs(first: 5) { edges { node { state } } } }');
      state = jobs.data!.trainingJobs.edges[0].node.state;
      if (!['COMPLETED', 'FAILED'].includes(state)) await sleep(50);
    }
    const outcome = state === 'COMPLETED' ? 'completed' : 'failed';
    // The worker observes the end on BullMQ's event, which may come a moment after the row changed.
    let timed: number | undefined;
    for (let polls = 0; polls < 200 && timed === undefined; polls++) {
      timed = sampleValue(await scrape(workerMetrics), 'funnelcast_training_duration_seconds_count', { kind: 'POPULARITY', outcome });
      if (timed === undefined) await sleep(50);
    }
    expect(timed).toBe(1);
    const samples = await scrape(workerMetrics);
    expect(sampleValue(samples, 'funnelcast_training_duration_seconds_sum', { kind: 'POPULARITY', outcome })).toBeGreaterThan(0);
    expect(sampleValue(samples, 'process_cpu_user_seconds_total')).toBeGreaterThan(0);
    // The queue is empty again, as the API reads it.
    expect(sampleValue(await scrape(), 'funnelcast_queue_jobs', { queue: 'training', state: 'waiting' })).toBe(0);
  });

  describe('request log', () => {
    it('writes one info line per request with operation, duration, outcome and key id, never the secret, user ids or variables', async () => {
      const keys = await t.gql<{ apiKeys: { id: string; name: string }[] }>('{ apiKeys { id name } }');
      const clientKeyId = keys.data!.apiKeys.find((key) => key.name === 'client key')!.id;
      const marker = 'ops-log-variable-marker';
      const linesBefore = logLines.length;
      const logged = `query OpsLogged($userId: ID!) { recommendations(userId: $userId, limit: 3) { listId } }`;
      // A trusted key brings the name; the client key's request then counts under it.
      expect((await t.gql(logged, { userId: marker }, analystKey)).errors).toBeUndefined();
      const result = await t.gql(logged, { userId: marker }, clientKey);
      expect(result.errors).toBeUndefined();
      await t.gql('query OpsDenied { apiKeys { id } }', {}, clientKey);
      await t.gql('query OpsNoKey { apiKeys { id } }', {}, null);
      // The line is written when the answer ends, which fetch may see first.
      await new Promise((done) => setImmediate(done));
      const lines = logLines.slice(linesBefore).filter((line) => line.msg === 'request');
      // The operation label as in the metrics: a name first seen from a client key or without a key is `other`.
      expect(lines.map((line) => line.operation)).toEqual(['OpsLogged', 'OpsLogged', 'other', 'other']);
      const [, clientLine, denied, noKey] = lines;
      expect(clientLine).toMatchObject({ level: 30, method: 'POST', path: '/graphql', status: 200, outcome: 'ok', keyId: clientKeyId, role: 'client' });
      expect(typeof clientLine.durationMs).toBe('number');
      expect(clientLine.durationMs).toBeGreaterThan(0);
      expect(denied).toMatchObject({ outcome: 'FORBIDDEN', errorCodes: ['FORBIDDEN'], keyId: clientKeyId });
      expect(noKey).toMatchObject({ outcome: 'UNAUTHENTICATED', errorCodes: ['UNAUTHENTICATED'] });
      expect(noKey.keyId).toBeUndefined();
      // Every line so far: no secret, no user id, no variable value.
      const everything = rawLog.join('');
      for (const secret of [t.adminKey, clientKey, analystKey, serverKey, METRICS_TOKEN]) expect(everything).not.toContain(secret);
      expect(everything).not.toContain(marker);
      expect(everything).not.toContain('ops-user-marker');
    });

    it('logs refusals before GraphQL and other paths too', async () => {
      const linesBefore = logLines.length;
      expect((await fetch(`${apiOrigin()}/nowhere`)).status).toBe(404);
      expect((await fetch(`${apiOrigin()}/healthz`)).status).toBe(200);
      // A client chooses the path: a long one is cut, so a line stays small whatever is sent.
      const longPath = `/${'x'.repeat(8000)}`;
      expect((await fetch(`${apiOrigin()}${longPath}`)).status).toBe(404);
      await new Promise((done) => setImmediate(done));
      const lines = logLines.slice(linesBefore).filter((line) => line.msg === 'request');
      expect(lines).toEqual([
        expect.objectContaining({ method: 'GET', path: '/nowhere', status: 404, outcome: 'NOT_FOUND' }),
        expect.objectContaining({ method: 'GET', path: '/healthz', status: 200, outcome: 'ok' }),
        expect.objectContaining({ method: 'GET', path: `${longPath.slice(0, 256)}…`, status: 404, outcome: 'NOT_FOUND' }),
      ]);
    });
  });

  describe('/admin/queues', () => {
    const board = (path = '/admin/queues', authorization?: string) => fetch(`${apiOrigin()}${path}`, { headers: authorization ? { authorization } : {} });
    const basic = (key: string) => `Basic ${Buffer.from(`admin:${key}`).toString('base64')}`;

    it('asks for credentials without a key (401, Basic) and refuses wrong keys (401) and other roles (403)', async () => {
      const none = await board();
      expect(none.status).toBe(401);
      expect(none.headers.get('www-authenticate')).toMatch(/^Basic realm="Funnelcast queues"/);
      expect((await board('/admin/queues', 'Bearer not-a-key-at-all')).status).toBe(401);
      expect((await board('/admin/queues', basic('not-a-key-at-all'))).status).toBe(401);
      for (const key of [clientKey, analystKey]) {
        expect((await board('/admin/queues', `Bearer ${key}`)).status).toBe(403);
        expect((await board('/admin/queues', basic(key))).status).toBe(403);
        expect((await board('/admin/queues/api/queues', `Bearer ${key}`)).status).toBe(403);
      }
    });

    it('serves the dashboard and its API to the admin key, as a bearer token or as the Basic password', async () => {
      const page = await board('/admin/queues', `Bearer ${t.adminKey}`);
      expect(page.status).toBe(200);
      expect(page.headers.get('content-type')).toContain('text/html');
      expect(await page.text()).toContain('Funnelcast queues');
      const viaBasic = await board('/admin/queues', basic(t.adminKey));
      expect(viaBasic.status).toBe(200);
      const api = await board('/admin/queues/api/queues', basic(t.adminKey));
      expect(api.status).toBe(200);
      const body = (await api.json()) as { queues: { name: string; readOnlyMode: boolean }[] };
      expect(body.queues.map((queue) => queue.name)).toEqual(['training']);
      expect(body.queues[0].readOnlyMode).toBe(true);
      // A page asks for at most 100 jobs, whatever the URL says.
      const huge = await board('/admin/queues/api/queues?activeQueue=training&status=latest&page=1&jobsPerPage=100000000', basic(t.adminKey));
      expect(huge.status).toBe(200);
      const paged = (await huge.json()) as { queues: { pagination: { range: { start: number; end: number } } }[] };
      expect(paged.queues[0].pagination.range).toEqual({ start: 0, end: 99 });
    });

    it('is read-only on the server too, may not be framed and does not name its framework', async () => {
      // The admin's own browser sends Basic credentials with any request, a forged one included:
      // bull-board's actions must be refused by the server, not only hidden in its page.
      for (const action of ['pause', 'resume', 'empty', 'clean/failed', 'retry/failed', 'obliterate']) {
        const response = await fetch(`${apiOrigin()}/admin/queues/api/queues/training/${action}`, { method: 'PUT', headers: { authorization: basic(t.adminKey) } });
        expect([action, response.status]).toEqual([action, 405]);
      }
      for (const path of ['/admin/queues', '/admin/queues/api/queues']) {
        const response = await board(path, basic(t.adminKey));
        expect(response.status).toBe(200);
        expect(response.headers.get('content-security-policy')).toBe("frame-ancestors 'none'");
        expect(response.headers.get('x-frame-options')).toBe('DENY');
        expect(response.headers.get('x-content-type-options')).toBe('nosniff');
        expect(response.headers.get('x-powered-by')).toBeNull();
      }
    });
  });
});
