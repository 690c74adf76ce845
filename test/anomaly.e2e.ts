import { createDemoShop } from '../src/sim';
import { loadDemoShop } from '../src/sim/load';
import { startTestApp, TestApp } from './support/app';
import { FinishedTrainingJob, trainAndWait as queueAndWait, WorkerProcess } from './support/worker';

const PREFIX = `anomaly-e2e-${process.pid}-${Date.now().toString(36)}`;

const TRAIN = `mutation($input: TrainModelInput!) { trainModel(input: $input) { id state } }`;
const RISK = `query($userId: String!) { userRisk(userId: $userId) {
  userId score flagged worstDay flaggedDays { day score findings { text } } scoredDays { day score } contributions { detector score weight contribution modelVersionId }
  findings { feature value median z text } ingestGuard { since peakEventsPerMinute } label { label note } } }`;
const ANOMALIES = `query($from: DateTime!, $to: DateTime!, $minScore: Float, $first: Int, $after: String) {
  anomalies(from: $from, to: $to, minScore: $minScore, first: $first, after: $after) { minScore totalCount pageInfo { hasNextPage endCursor } edges { node { userId score flagged } } } }`;
const LABEL = `mutation($input: LabelUserInput!) { labelUser(input: $input) { userId label note labelledAt } }`;

describe('anomaly detection', () => {
  let t: TestApp;
  let worker: WorkerProcess;
  const shop = createDemoShop({ users: 2000, days: 7, seed: 5, clickFarmShare: 0.015, fakeOrderShare: 0.01 });
  const from = new Date(shop.options.startMs).toISOString();
  const to = new Date(shop.options.endMs).toISOString();
  const labelOf = (userId: string) => shop.groundTruth.label(userId);
  const abnormal: string[] = [];
  const genuine: string[] = [];
  const DAY_MS = 86_400_000;
  const firstMidnight = Math.ceil(shop.options.startMs / DAY_MS) * DAY_MS;
  const dayIso = (k: number) => new Date(firstMidnight + k * DAY_MS).toISOString();
  /** The moonlighter shops like a person on days 1–5 and runs a click farm in the night of day 3. */
  const botDay = dayIso(3).slice(0, 10);

  function moonlighterEvents() {
    const events: Record<string, unknown>[] = [];
    const add = (ms: number, type: string, sessionId: string, item: number) =>
      events.push({ eventId: `moon-${events.length}`, type, userId: 'moonlighter', sessionId, itemId: `i${item}`, timestamp: new Date(ms).toISOString() });
    const humanGaps = [35, 80, 52, 120];
    for (let k = 1; k <= 5; k++) {
      for (const [hour, session] of [[14, 'a'], [19, 'b']] as const) {
        let ms = firstMidnight + k * DAY_MS + hour * 3_600_000 + k * 97_000;
        for (let view = 0; view < 3 + (k % 2); view++) {
          add(ms, 'view', `moon-${k}${session}`, 7 * k + 13 * view + (session === 'b' ? 3 : 0));
          ms += humanGaps[(view + k) % humanGaps.length] * 1000;
        }
        if (session === 'b' && k % 2 === 0) add(ms, 'cart', `moon-${k}${session}`, 7 * k + 3);
      }
    }
    // Day 3, from 02:00: 240 views 1.5 s apart (40 a minute, under the ingest guard's 100), all different items.
    for (let view = 0; view < 240; view++) add(firstMidnight + 3 * DAY_MS + 2 * 3_600_000 + view * 1500, 'view', 'moon-farm', 200 + view);
    return events;
  }

  function trainAndWait(kind: string, params: Record<string, unknown> = {}): Promise<FinishedTrainingJob> {
    return queueAndWait(t, { kind, params, to }, undefined, worker);
  }

  async function flaggedIds(minScore?: number, range = { from, to }): Promise<Set<string>> {
    const ids = new Set<string>();
    let after: string | null = null;
    let more = true;
    while (more) {
      const page: any = await t.gql(ANOMALIES, { ...range, minScore, first: 200, after });
      if (!page.data) throw new Error(JSON.stringify(page.errors));
      for (const { node } of page.data.anomalies.edges) ids.add(node.userId);
      ({ hasNextPage: more, endCursor: after } = page.data.anomalies.pageInfo);
    }
    return ids;
  }

  beforeAll(async () => {
    t = await startTestApp('anomaly', { FUNNELCAST_QUEUE_PREFIX: PREFIX, FUNNELCAST_INGEST_GUARD_EVENTS_PER_MINUTE: '100' });
    await t.app.services.anomalies.guardReady;
    await loadDemoShop(t.app.services.dataSource, shop);
    const moon = moonlighterEvents();
    for (let start = 0; start < moon.length; start += 200) {
      const ingested: any = await t.gql(`mutation($events: [EventInput!]!) { ingestEvents(events: $events) { accepted } }`, { events: moon.slice(start, start + 200) });
      expect(ingested.data.ingestEvents.accepted).toBe(Math.min(200, moon.length - start));
    }
    for (let user = 0; user < shop.options.users; user++) (labelOf(`u${user}`) === 'genuine' ? genuine : abnormal).push(`u${user}`);
    worker = new WorkerProcess(t.db.url, PREFIX);
    await worker.ready();
  });

  afterAll(async () => {
    await worker?.stop();
    await t?.stop();
  });

  it('trains both unsupervised detectors through GraphQL and finds the injected bots', async () => {
    expect(abnormal.length).toBeGreaterThan(30);
    for (const kind of ['ANOMALY_STATISTICAL', 'ANOMALY_ISOLATION_FOREST']) {
      const job = await trainAndWait(kind, kind === 'ANOMALY_ISOLATION_FOREST' ? { trees: 100, sampleSize: 256, seed: 1 } : {});
      expect(job.state).toBe('COMPLETED');
      expect(job.modelVersion!.status).toBe('ACTIVE');
      expect(job.modelVersion!.metrics.evaluation.users).toBe(shop.options.users + 1); // the demo shop and the moonlighter
      expect(job.modelVersion!.metrics.evaluation.userDays).toBeGreaterThan(shop.options.users);
    }
    const flagged = await flaggedIds();
    const found = abnormal.filter((id) => flagged.has(id)).length;
    const falseAlarms = genuine.filter((id) => flagged.has(id)).length;
    expect(found / abnormal.length).toBeGreaterThanOrEqual(0.9);
    expect(falseAlarms / genuine.length).toBeLessThanOrEqual(0.02);
  });

  it('explains a click farm in plain words, with both detectors’ contributions adding up to its score', async () => {
    const bot = abnormal.find((id) => labelOf(id) === 'click_farm')!;
    const risk: any = (await t.gql(RISK, { userId: bot })).data!.userRisk;
    expect(risk.flagged).toBe(true);
    expect(risk.contributions.map((c: any) => c.detector).sort()).toEqual(['ISOLATION_FOREST', 'STATISTICAL']);
    const sum = risk.contributions.reduce((s: number, c: any) => s + c.contribution, 0);
    expect(sum).toBeCloseTo(risk.score, 5);
    expect(risk.findings.length).toBeGreaterThan(0);
    expect(risk.findings[0].z).toBeGreaterThan(3);
    expect(risk.findings.map((f: any) => f.text).join(' | ')).toMatch(/(events within 5 minutes|views per session|views in one session|distinct items).*the median/);
  });

  it('a user who behaves like a bot on one day only is flagged for that day and not the others', async () => {
    const risk: any = (await t.gql(RISK, { userId: 'moonlighter' })).data!.userRisk;
    expect(risk.flagged).toBe(true);
    expect(risk.worstDay).toBe(botDay);
    expect(risk.flaggedDays.map((d: any) => d.day)).toEqual([botDay]);
    // Risk by day: the other days it was active are scored too, below the bot day and oldest first.
    const days = risk.scoredDays.map((d: any) => d.day);
    expect(days).toContain(botDay);
    expect(days.length).toBeGreaterThan(1);
    expect([...days].sort()).toEqual(days);
    for (const day of risk.scoredDays) if (day.day !== botDay) expect(day.score).toBeLessThan(risk.score);
    expect(risk.scoredDays.find((d: any) => d.day === botDay).score).toBe(risk.score);
    expect(risk.findings[0].text).toMatch(new RegExp(`^on ${botDay}, `));
    // Listed for a range holding the bot day, not for the days before or after it.
    expect((await flaggedIds(undefined, { from: dayIso(3), to: dayIso(4) })).has('moonlighter')).toBe(true);
    expect((await flaggedIds(undefined, { from, to: dayIso(3) })).has('moonlighter')).toBe(false);
    expect((await flaggedIds(undefined, { from: dayIso(4), to })).has('moonlighter')).toBe(false);
    // One flagged day is enough to be left out of funnels and training.
    const [{ id }] = await t.app.services.dataSource.query(`SELECT id FROM users WHERE external_id = 'moonlighter'`);
    expect((await t.app.services.anomalies.flaggedUserIds()).has(id)).toBe(true);
  });

  it('pages through anomalies without repeating anyone, and a higher minScore lists fewer users', async () => {
    const ids: string[] = [];
    let after: string | null = null;
    let scores: number[] = [];
    const totals = new Set<number>();
    let more = true;
    while (more) {
      const page: any = (await t.gql(ANOMALIES, { from, to, first: 7, after })).data!.anomalies;
      ids.push(...page.edges.map((e: any) => e.node.userId));
      scores = scores.concat(page.edges.map((e: any) => e.node.score));
      totals.add(page.totalCount);
      ({ hasNextPage: more, endCursor: after } = page.pageInfo);
    }
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.length).toBe((await flaggedIds()).size);
    expect([...totals]).toEqual([ids.length]);
    expect([...scores].sort((a, b) => b - a)).toEqual(scores);
    expect((await flaggedIds(0.9)).size).toBeLessThan(ids.length);
  });

  it('the supervised detector refuses to train without enough labels, then learns from them and follows when they change', async () => {
    const refused = await trainAndWait('ANOMALY_SUPERVISED', { seed: 1 });
    expect(refused.state).toBe('FAILED');
    expect(refused.error).toMatch(/needs at least 20 labelled users.*there are 0 BOT\/FRAUD and 0 GENUINE/);

    const bots = abnormal.slice(0, 15);
    const people = genuine.slice(0, 25);
    for (const id of bots) await t.gql(LABEL, { input: { userId: id, label: labelOf(id) === 'click_farm' ? 'BOT' : 'FRAUD', note: 'reviewed' } });
    for (const id of people) await t.gql(LABEL, { input: { userId: id, label: 'GENUINE' } });
    const honest = await trainAndWait('ANOMALY_SUPERVISED', { seed: 2 });
    expect(honest.state).toBe('COMPLETED');
    expect(honest.modelVersion!.metrics.labelled).toEqual({ positives: 15, negatives: 25 });
    const supervisedScore = async (id: string) =>
      ((await t.gql(RISK, { userId: id })).data as any).userRisk.contributions.find((c: any) => c.detector === 'SUPERVISED').score as number;
    const unlabelledBot = abnormal[20];
    expect(await supervisedScore(unlabelledBot)).toBeGreaterThan(0.5);

    // Asking again with nothing changed is the same job; changed labels are new training data.
    const again = await t.gql<{ trainModel: { id: string } }>(TRAIN, { input: { kind: 'ANOMALY_SUPERVISED', params: { seed: 2 }, to } });
    expect(again.data!.trainModel.id).toBe(honest.id);

    // Swap every label: the same users, now taught the other way round.
    for (const id of bots) await t.gql(LABEL, { input: { userId: id, label: 'GENUINE' } });
    for (const id of people) await t.gql(LABEL, { input: { userId: id, label: 'BOT' } });
    const swapped = await trainAndWait('ANOMALY_SUPERVISED', { seed: 2 });
    expect(swapped.id).not.toBe(honest.id);
    expect(swapped.state).toBe('COMPLETED');
    expect(await supervisedScore(unlabelledBot)).toBeLessThan(0.5);

    const labels: any = (await t.gql(`{ userLabels(label: BOT, first: 100) { totalCount edges { node { userId label } } pageInfo { hasNextPage } } }`)).data!.userLabels;
    expect(labels.edges.map((e: any) => e.node.userId).sort()).toEqual([...people].sort());
    expect(labels.totalCount).toBe(people.length);
    expect(labels.pageInfo.hasNextPage).toBe(false);
  });

  it('flagged users are what the exclusion hook leaves out, and eventStats reports their traffic', async () => {
    const service = t.app.services.anomalies;
    const excluded = await service.flaggedUserIds();
    const listed = await flaggedIds();
    const rows: { external_id: string }[] = await t.app.services.dataSource.query(`SELECT external_id FROM users WHERE id = ANY($1::int[])`, [[...excluded]]);
    expect(new Set(rows.map((r) => r.external_id))).toEqual(listed);

    const stats: any = (await t.gql(`query($from: DateTime!, $to: DateTime!) { eventStats(from: $from, to: $to) { total flagged { users events eventShare threshold } } }`, { from, to })).data!.eventStats;
    // Second computation: the flagged users' events counted directly.
    const [direct] = await t.app.services.dataSource.query(`SELECT count(*)::int AS events FROM events WHERE user_id = ANY($1::int[]) AND ts >= $2 AND ts < $3`, [[...excluded], from, to]);
    expect(stats.flagged.users).toBe(excluded.size);
    expect(stats.flagged.events).toBe(direct.events);
    expect(stats.flagged.eventShare).toBeCloseTo(direct.events / stats.total, 10);
  });

  it('training leaves the flagged users out by default (excludeAnomalous), and keeps them when asked', async () => {
    const excluded = await t.app.services.anomalies.flaggedUserIds();
    expect(excluded.size).toBeGreaterThan(0);
    const usersWithLists = async (versionId: string): Promise<Set<number>> => {
      const rows: { user_id: number }[] = await t.app.services.dataSource.query(`SELECT user_id FROM recommendation_scores WHERE model_version_id = $1`, [versionId]);
      return new Set(rows.map((row) => row.user_id));
    };
    const small = { epochs: 2, dimensions: 8, seed: 5 };
    const withoutThem = await trainAndWait('MATRIX_FACTORIZATION', small);
    expect(withoutThem.state).toBe('COMPLETED');
    expect(withoutThem.modelVersion!.metrics.excludedAnomalousUsers).toBe(excluded.size);
    const trainedOn = await usersWithLists(withoutThem.modelVersion!.id);
    expect([...excluded].filter((user) => trainedOn.has(user))).toEqual([]);

    const withThem = await trainAndWait('MATRIX_FACTORIZATION', { ...small, excludeAnomalous: false });
    expect(withThem.state).toBe('COMPLETED');
    expect(withThem.modelVersion!.metrics.excludedAnomalousUsers).toBe(0);
    // Flagged users who touched items (fake-order accounts buy, click farms view) are in this model.
    const [{ n }] = await t.app.services.dataSource.query(
      `SELECT count(DISTINCT user_id)::int AS n FROM events WHERE item_id IS NOT NULL AND user_id = ANY($1::int[])`,
      [[...excluded]],
    );
    expect([...(await usersWithLists(withThem.modelVersion!.id))].filter((user) => excluded.has(user)).length).toBe(n);
  });

  it('funnels leave the flagged users out with excludeAnomalous, exactly as a cohort of everyone else', async () => {
    const FUNNEL = `query($input: FunnelInput!) { funnel(input: $input) { steps { count } } }`;
    const base = {
      steps: [{ type: 'view' }, { type: 'cart' }, { type: 'purchase' }],
      conversionWindowSeconds: 86_400,
      from,
      to,
    };
    const counts = async (input: Record<string, unknown>): Promise<number[]> => {
      const result: any = await t.gql(FUNNEL, { input: { ...base, ...input } });
      if (!result.data) throw new Error(JSON.stringify(result.errors));
      return result.data.funnel.steps.map((step: { count: number }) => step.count);
    };
    const excluded = await t.app.services.anomalies.flaggedUserIds();
    const rows: { external_id: string }[] = await t.app.services.dataSource.query(
      `SELECT external_id FROM users WHERE NOT (id = ANY($1::int[]))`,
      [[...excluded]],
    );
    const everyone = await counts({});
    const withoutFlagged = await counts({ excludeAnomalous: true });
    // Second path to the same answer: a cohort listing every user who is not flagged.
    expect(withoutFlagged).toEqual(await counts({ cohort: { userIds: rows.map((row) => row.external_id) } }));
    // Fake-order accounts buy without viewing, so they are not in the view step; click farms are.
    expect(withoutFlagged[0]).toBeLessThan(everyone[0]);
    // A threshold above every score flags only the ingest guard's users.
    expect((await counts({ excludeAnomalous: true, anomalyThreshold: 1 }))[0]).toBeGreaterThanOrEqual(withoutFlagged[0]);
    const bad: any = await t.gql(FUNNEL, { input: { ...base, excludeAnomalous: true, anomalyThreshold: 2 } });
    expect(bad.errors[0].extensions.code).toBe('BAD_USER_INPUT');
    expect(bad.errors[0].message).toMatch(/input\.anomalyThreshold of funnel is 2; send a number from 0 to 1/);
  });

  it('the ingest guard marks a user far faster than any human at once, and keeps every event', async () => {
    const base = Date.parse(to) - 3_600_000;
    const burst = Array.from({ length: 150 }, (_, i) => ({ eventId: `fast-${i}`, type: 'view', userId: 'speedy', sessionId: 'x', itemId: `i${i}`, timestamp: new Date(base + i * 300).toISOString() }));
    const calm = Array.from({ length: 30 }, (_, i) => ({ eventId: `calm-${i}`, type: 'view', userId: 'calm', sessionId: 'y', itemId: `i${i}`, timestamp: new Date(base + i * 20_000).toISOString() }));
    const ingest: any = await t.gql(`mutation($events: [EventInput!]!) { ingestEvents(events: $events) { accepted } }`, { events: [...burst, ...calm] });
    expect(ingest.data.ingestEvents.accepted).toBe(180);
    const speedy: any = (await t.gql(RISK, { userId: 'speedy' })).data!.userRisk;
    expect(speedy.flagged).toBe(true);
    expect(speedy.ingestGuard.peakEventsPerMinute).toBe(150); // 150 events 0.3 s apart all lie within 60 s
    expect(speedy.contributions).toEqual([]); // no model has seen this user yet
    const calmRisk: any = (await t.gql(RISK, { userId: 'calm' })).data!.userRisk;
    expect(calmRisk.ingestGuard).toBeNull();
    expect((await flaggedIds()).has('speedy')).toBe(true);
  });

  it('rejects bad input with a code and a message that says what to fix', async () => {
    const code = (r: any) => r.errors?.[0]?.extensions?.code;
    const backwards = await t.gql(ANOMALIES, { from: to, to: from });
    expect(code(backwards)).toBe('BAD_USER_INPUT');
    expect(backwards.errors![0].message).toMatch(/`from` must be earlier than `to`/);
    const score = await t.gql(ANOMALIES, { from, to, minScore: 1.5 });
    expect(score.errors![0].message).toMatch(/minScore of anomalies is 1.5; send a number from 0 to 1/);
    const huge = await t.gql(ANOMALIES, { from, to, minScore: 1e300 });
    expect(huge.errors![0].message).toMatch(/minScore of anomalies is 1e\+300; send a number from 0 to 1/);
    const page = await t.gql(ANOMALIES, { from, to, first: 0 });
    expect(page.errors![0].message).toMatch(/`first` must be a whole number from 1 to 500/);
    const cursor = await t.gql(ANOMALIES, { from, to, after: 'nonsense' });
    expect(code(cursor)).toBe('BAD_USER_INPUT');
    expect(cursor.errors![0].message).toMatch(/`after` is not a cursor this API issued.*Pass the endCursor of the previous page of this same list/);
    const unknown = await t.gql(RISK, { userId: 'nobody' });
    expect(code(unknown)).toBe('NOT_FOUND');
    const labelUnknown = await t.gql(LABEL, { input: { userId: 'nobody', label: 'BOT' } });
    expect(code(labelUnknown)).toBe('NOT_FOUND');
    const badLabel = await t.gql(LABEL, { input: { userId: 'u1', label: 'MAYBE' } });
    expect(code(badLabel)).toBe('BAD_USER_INPUT');
    const params = await t.gql(TRAIN, { input: { kind: 'ANOMALY_ISOLATION_FOREST', params: { trees: 0, depth: 3 } } });
    expect(code(params)).toBe('BAD_USER_INPUT');
    expect(params.errors![0].message).toMatch(/params\.trees must be a whole number from 1 to 1000 \(got 0\)/);
    expect(params.errors![0].message).toMatch(/params\.depth is not a ANOMALY_ISOLATION_FOREST parameter/);
    const analyst = await t.createKey('analyst');
    expect(code(await t.gql(LABEL, { input: { userId: 'u1', label: 'BOT' } }, analyst))).toBe('FORBIDDEN');
  });
});
