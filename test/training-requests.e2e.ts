import { Client } from 'pg';
import { startTestApp, TestApp } from './support/app';
import { sleep, WorkerProcess } from './support/worker';

const PREFIX = `training-requests-${process.pid}-${Date.now().toString(36)}`;
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

const JOB_FIELDS = `id state error modelVersion { id status eventCount metrics }`;
const TRAIN = `mutation($input: TrainModelInput!) { trainModel(input: $input) { ${JOB_FIELDS} } }`;

interface Job {
  id: string;
  state: string;
  error: string | null;
  modelVersion: { id: string; status: string; eventCount: number; metrics: any } | null;
}

interface NewEvent {
  eventId: string;
  type: string;
  userId: string;
  itemId: string;
  at: number;
}

/**
 * The issue's "Training requests": the same trainModel request on a fixed past range must train
 * again once late events land in that range, and still return the existing job while the data
 * is unchanged; and POPULARITY must store the scores of long-stale items (whose decayed popularity
 * lies far below float4's range) instead of failing.
 */
describe('training requests and the data they train on', () => {
  let t: TestApp;
  let worker: WorkerProcess | null = null;

  async function ingest(events: NewEvent[]): Promise<void> {
    const result = await t.gql(`mutation($events: [EventInput!]!) { ingestEvents(events: $events) { __typename } }`, {
      events: events.map(({ at, ...event }) => ({ ...event, timestamp: new Date(at).toISOString() })),
    });
    if (result.errors) throw new Error(JSON.stringify(result.errors));
    const ids = events.map((event) => event.eventId);
    const [{ n }] = await t.app.services.dataSource.query(`SELECT count(*)::int AS n FROM events WHERE event_id = ANY($1)`, [ids]);
    if (n !== ids.length) throw new Error(`only ${n} of ${ids.length} events were stored`);
  }

  async function train(input: Record<string, unknown>): Promise<Job> {
    const result = await t.gql<{ trainModel: Job }>(TRAIN, { input });
    if (!result.data) throw new Error(JSON.stringify(result.errors));
    return result.data.trainModel;
  }

  async function finished(id: string, timeoutMs = 60_000): Promise<Job> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const result = await t.gql<{ trainingJob: Job }>(`query($id: ID!) { trainingJob(id: $id) { ${JOB_FIELDS} } }`, { id });
      const job = result.data!.trainingJob;
      if (['COMPLETED', 'FAILED', 'CANCELLED'].includes(job.state)) return job;
      if (Date.now() > deadline) throw new Error(`job ${id} did not finish: ${JSON.stringify(job)} ${worker?.output ?? ''}`);
      await sleep(100);
    }
  }

  /** The worker starts late, so the first test can watch a job wait; every other test starts it if need be. */
  async function ensureWorker(): Promise<void> {
    if (worker) return;
    worker = new WorkerProcess(t.db.url, PREFIX);
    await worker.ready();
  }

  async function jobCount(): Promise<number> {
    const [{ n }] = await t.app.services.dataSource.query(`SELECT count(*)::int AS n FROM training_jobs`);
    return n;
  }

  beforeAll(async () => {
    t = await startTestApp('trainrequests', { FUNNELCAST_QUEUE_PREFIX: PREFIX });
  });

  afterAll(async () => {
    await worker?.stop();
    await t?.stop();
  });

  // A past week of a small shop: 12 users, each viewing 2 items a day for 7 days (168 item events).
  const weekStart = Date.UTC(2025, 2, 3);
  const range = { from: new Date(weekStart).toISOString(), to: new Date(weekStart + 7 * DAY).toISOString() };
  const pastWeek: NewEvent[] = [];
  for (let day = 0; day < 7; day++) {
    for (let u = 0; u < 12; u++) {
      for (let k = 0; k < 2; k++) {
        pastWeek.push({ eventId: `week-${day}-${u}-${k}`, type: k === 0 ? 'view' : 'cart', userId: `u${u}`, itemId: `i${(u + day + k) % 6}`, at: weekStart + day * DAY + u * HOUR + k * 60_000 });
      }
    }
  }
  const lateEvents = (label: string, count: number): NewEvent[] =>
    Array.from({ length: count }, (_, n) => ({ eventId: `late-${label}-${n}`, type: 'view', userId: `u${n % 12}`, itemId: `i${n % 6}`, at: weekStart + 3 * DAY + n * 60_000 }));
  const popularityRequest = { kind: 'POPULARITY', params: { evaluationK: 5 }, ...range };

  it('a late event while the job waits gives the next identical request its own job', async () => {
    await ingest(pastWeek);
    // No worker yet: the first job stays QUEUED.
    const waiting = await train(popularityRequest);
    expect(waiting.state).toBe('QUEUED');
    expect((await train(popularityRequest)).id).toBe(waiting.id);
    await ingest(lateEvents('while-queued', 1));
    const afterLate = await train(popularityRequest);
    expect(afterLate.id).not.toBe(waiting.id);

    await ensureWorker();
    const [first, second] = [await finished(waiting.id), await finished(afterLate.id)];
    expect([first.state, first.error, second.state, second.error]).toEqual(['COMPLETED', null, 'COMPLETED', null]);
    // Both read the data as it was when the worker ran, which holds the late event: the week's 168 plus 1.
    expect(first.modelVersion!.eventCount).toBe(169);
    expect(second.modelVersion!.eventCount).toBe(169);
  });

  it('trains again after 20 late events land in a fixed past range, and not while the range is unchanged', async () => {
    await ensureWorker();
    const before = await finished((await train(popularityRequest)).id);
    expect(before.state).toBe('COMPLETED');
    expect(before.modelVersion!.eventCount).toBe(169);

    // Events after the range (and a request repeated) change nothing the range holds: the same job.
    await ingest([{ eventId: 'after-range', type: 'view', userId: 'u1', itemId: 'i1', at: weekStart + 8 * DAY }]);
    expect((await train(popularityRequest)).id).toBe(before.id);

    await ingest(lateEvents('twenty', 20));
    const retrained = await train(popularityRequest);
    expect(retrained.id).not.toBe(before.id);
    const done = await finished(retrained.id);
    expect(done.state).toBe('COMPLETED');
    expect(done.modelVersion!.eventCount).toBe(169 + 20);
    expect(done.modelVersion!.id).not.toBe(before.modelVersion!.id);
    // Now the data is unchanged again: the repeat is the new job, COMPLETED, not a third training.
    expect(await train(popularityRequest)).toMatchObject({ id: retrained.id, state: 'COMPLETED' });
  });

  it('two identical requests at once make one job; so do two after the same late event', async () => {
    await ensureWorker();
    const request = { kind: 'POPULARITY', params: { evaluationK: 6 }, ...range };
    for (const label of ['first', 'second']) {
      const jobsBefore = await jobCount();
      const [a, b] = await Promise.all([train(request), train(request)]);
      expect(a.id).toBe(b.id);
      expect(await jobCount()).toBe(jobsBefore + 1);
      expect((await finished(a.id)).state).toBe('COMPLETED');
      if (label === 'first') await ingest(lateEvents('concurrent', 1));
    }
  });

  it('trains again after a late-committing transaction adds an event with an id below the newest in the range', async () => {
    await ensureWorker();
    const slow = new Client({ connectionString: t.db.url });
    await slow.connect();
    let beforeCommit: Job;
    try {
      // A long transaction takes its event id first and commits last, after an event with a higher id
      // in the same range: neither the newest id nor the range's largest id moves when it commits.
      await slow.query('BEGIN');
      const [{ id: slowId }] = (
        await slow.query(
          `INSERT INTO events (event_id, user_id, type, item_id, ts)
           SELECT 'slow-commit', u.id, 'view', i.id, $1 FROM users u, items i WHERE u.external_id = 'u3' AND i.external_id = 'i2' RETURNING id`,
          [new Date(weekStart + 2 * DAY)],
        )
      ).rows;
      await ingest([{ eventId: 'quick-commit', type: 'view', userId: 'u4', itemId: 'i3', at: weekStart + 4 * DAY }]);
      const [{ newest }] = await t.app.services.dataSource.query(`SELECT max(id)::text AS newest FROM events WHERE event_id = 'quick-commit'`);
      expect(BigInt(newest)).toBeGreaterThan(BigInt(slowId));
      beforeCommit = await finished((await train(popularityRequest)).id);
      expect(beforeCommit.state).toBe('COMPLETED');
      await slow.query('COMMIT');
    } finally {
      await slow.end();
    }
    const afterCommit = await finished((await train(popularityRequest)).id);
    expect(afterCommit.id).not.toBe(beforeCommit.id);
    expect(afterCommit.state).toBe('COMPLETED');
    expect(afterCommit.modelVersion!.eventCount).toBe(beforeCommit.modelVersion!.eventCount + 1);
  });

  it('counts a catalogue change as changed data', async () => {
    await ensureWorker();
    const job = await finished((await train(popularityRequest)).id);
    expect((await train(popularityRequest)).id).toBe(job.id);
    const upsert = await t.gql(`mutation { upsertItems(items: [{ id: "i1", category: "shoes" }]) { updated } }`);
    expect(upsert.errors).toBeUndefined();
    const afterCatalogue = await train(popularityRequest);
    expect(afterCatalogue.id).not.toBe(job.id);
    expect((await finished(afterCatalogue.id)).state).toBe('COMPLETED');
  });

  it('POPULARITY stores a long-stale item (decayed far below float4) as 0 instead of failing', async () => {
    await ensureWorker();
    // "stale" was viewed by 5 users 700 days before the last events: at the default 72-hour half-life
    // its popularity is 5 × 2^-(700 × 24 / 72) ≈ 5 × 2^-233 ≈ 7e-71, the "4.6e-70 out of range for type real".
    // Long before the week above, so the range holds none of its events.
    const last = Date.UTC(2024, 5, 1);
    const staleAt = last - 700 * DAY;
    const events: NewEvent[] = [];
    for (let u = 0; u < 5; u++) events.push({ eventId: `stale-${u}`, type: 'view', userId: `s${u}`, itemId: 'stale', at: staleAt + u * 60_000 });
    // The recent days: fresh-a viewed 3 times and carted once, fresh-b viewed twice.
    const recent: [string, string, string, number][] = [
      ['s0', 'fresh-a', 'view', last - 2 * HOUR],
      ['s1', 'fresh-a', 'view', last - 2 * HOUR],
      ['s2', 'fresh-a', 'view', last - HOUR],
      ['s2', 'fresh-a', 'cart', last - HOUR / 2],
      ['s3', 'fresh-b', 'view', last - 3 * HOUR],
      ['s4', 'fresh-b', 'view', last],
    ];
    recent.forEach(([userId, itemId, type, at], n) => events.push({ eventId: `recent-${n}`, type, userId, itemId, at }));
    await ingest(events);
    await t.gql(`mutation { upsertItems(items: [{ id: "stale", category: "hats" }, { id: "fresh-b", category: "hats" }]) { updated } }`);

    const to = new Date(last + HOUR).toISOString();
    // Pinned: by default the kind chooses what to count and the half-life on validation users.
    const job = await finished((await train({ kind: 'POPULARITY', params: { evaluationK: 3, halfLifeHours: 72, count: 'events' }, from: new Date(staleAt - DAY).toISOString(), to })).id);
    expect(job.error).toBeNull();
    expect(job.state).toBe('COMPLETED');

    // Expected by hand: weights view 1, cart 3; every event decays by 2^-(age / 72 h) from the last
    // event (+1 ms); each list is stored relative to its top item (which scores 1).
    const asOf = last + 1;
    const decayed = (weight: number, at: number) => weight * 2 ** (-(asOf - at) / (72 * HOUR));
    const expected: Record<string, number> = {
      'fresh-a': decayed(1, last - 2 * HOUR) * 2 + decayed(1, last - HOUR) + decayed(3, last - HOUR / 2),
      'fresh-b': decayed(1, last - 3 * HOUR) + decayed(1, last),
      stale: 0,
    };
    const lists: { category: string; items: string[]; scores: number[] }[] = await t.app.services.dataSource.query(
      `SELECT p.category, array_agg(i.external_id ORDER BY x.n) AS items, array_agg(x.score::float8 ORDER BY x.n) AS scores
       FROM popularity_scores p
       CROSS JOIN LATERAL unnest(p.item_ids, p.scores) WITH ORDINALITY AS x(item_id, score, n)
       JOIN items i ON i.id = x.item_id
       WHERE p.model_version_id = $1 GROUP BY p.category ORDER BY p.category`,
      [job.modelVersion!.id],
    );
    const shop = lists.find((list) => list.category === '')!;
    const hats = lists.find((list) => list.category === 'hats')!;
    expect(shop.items).toEqual(['fresh-a', 'fresh-b', 'stale']);
    expect(hats.items).toEqual(['fresh-b', 'stale']);
    for (const list of [shop, hats]) {
      const top = expected[list.items[0]];
      list.items.forEach((item, n) => {
        if (expected[item] === 0) expect(list.scores[n]).toBe(0);
        else expect(Math.abs(list.scores[n] - expected[item] / top) / (expected[item] / top)).toBeLessThan(1e-5);
      });
    }
  });
});
