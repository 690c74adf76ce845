/**
 * The worker pool on its own, with real worker threads (the compiled dist/ entry; `npm test` builds
 * first) over a tiny snapshot: owners take turns, a deadline or an abort takes a job out of the
 * queue without touching the worker, and answers match the main thread's, split into parts or not.
 * Stopping split jobs uses a stand-in worker that never answers (test/fixtures/stuck-funnel-worker.js),
 * so nothing depends on how long a computation takes.
 */
import path from 'node:path';
import type { MirrorSnapshot } from './event-mirror';
import { FunnelBudget } from './funnel-budget';
import { planFunnel } from './funnel-definition';
import { FunnelJob, runFunnelJob } from './funnel-jobs';
import { FunnelPool } from './funnel-pool';
import { sharedFloat64, sharedInt32, sharedUint16 } from './shared-memory';

/** Three users: 0 views then buys, 1 only views, 2 views, carts, buys (types: view 0, cart 1, purchase 2). */
function snapshot(): MirrorSnapshot {
  const rows: [user: number, minute: number, type: number][] = [
    [0, 0, 0], [0, 5, 2],
    [1, 1, 0],
    [2, 2, 0], [2, 3, 1], [2, 4, 2],
  ];
  const size = rows.length;
  const times = sharedFloat64(size);
  const users = sharedInt32(size);
  const types = sharedUint16(size);
  const ids = sharedFloat64(size);
  const items = sharedInt32(size).fill(-1);
  rows.forEach(([user, minute, type], row) => {
    users[row] = user;
    times[row] = Date.UTC(2026, 0, 5) * 1000 + minute * 60e6;
    types[row] = type;
    ids[row] = row + 1;
  });
  const userOffsets = sharedInt32(4);
  userOffsets.set([0, 2, 3, 6]);
  const empty = { size: 0, ids: sharedFloat64(0), users: sharedInt32(0), times: sharedFloat64(0), types: sharedUint16(0), items: sharedInt32(0) };
  return {
    version: 1,
    baseVersion: 1,
    eventCount: size,
    userCount: 3,
    base: { size, ids, users, times, types, items, userIds: null, userOffsets, properties: new Map(), sessions: null },
    delta: { ...empty, userIds: sharedInt32(0), userOffsets: sharedInt32(1), properties: new Map(), sessions: null },
    typeCodes: new Map([['view', 0], ['cart', 1], ['purchase', 2]]),
    typeCount: 3,
    itemDictionary: null,
  };
}

const job: FunnelJob = {
  kind: 'report',
  plan: planFunnel({
    steps: [{ type: 'view' }, { type: 'purchase' }],
    conversionWindowSeconds: 3600,
    from: new Date('2026-01-05T00:00:00Z'),
    to: new Date('2026-01-06T00:00:00Z'),
  }),
};
const inputs = { snapshot: snapshot(), cohortUsers: null, sessionLayout: null };

let pool: FunnelPool;

beforeEach(() => {
  pool = new FunnelPool(1);
});

afterEach(async () => {
  await pool.close();
});

it('computes what the main thread computes', async () => {
  const { outcome } = await pool.run(job, inputs, new FunnelBudget(60_000));
  expect(outcome).toEqual(runFunnelJob(job, inputs).outcome);
  expect(outcome).toMatchObject({ kind: 'report', report: { unitCount: 3, steps: [{ count: 3 }, { count: 2 }] } });
});

it('serves owners in turn: one owner’s many jobs hold another’s for at most one job', async () => {
  const finished: string[] = [];
  const submit = (owner: string, name: string) => pool.run(job, inputs, new FunnelBudget(60_000, { owner })).then(() => finished.push(name));
  const all = [1, 2, 3, 4, 5].map((n) => submit('A', `A${n}`));
  all.push(submit('B', 'B1'));
  await Promise.all(all);
  // A1 was running and A2 was next in turn when B1 arrived; then B1, then the rest of A.
  expect(finished).toEqual(['A1', 'A2', 'B1', 'A3', 'A4', 'A5']);
  expect(pool.stats).toMatchObject({ workers: 1, completed: 6, timedOut: 0, abandoned: 0, workersStopped: 0 });
});

describe('split into parts (a tiny split threshold)', () => {
  const STUCK = path.resolve(__dirname, '../../test/fixtures/stuck-funnel-worker.js');
  const trend: FunnelJob = { kind: 'trend', plan: job.plan, periods: [[job.plan.fromMicros, job.plan.toMicros]] };
  let split: FunnelPool;

  afterEach(async () => {
    await split.close();
  });

  /** Resolves once `condition` holds, checking after each turn of the event loop (no clock involved). */
  async function until(condition: () => boolean): Promise<void> {
    while (!condition()) await new Promise((resolve) => setImmediate(resolve));
  }

  it('answers every kind of job as the main thread does, counting a split job once', async () => {
    split = new FunnelPool(2, { splitEvents: 0 });
    const jobs: FunnelJob[] = [
      job,
      trend,
      { kind: 'timeToConvert', plan: job.plan, fromStep: 1, toStep: 2, buckets: 3 },
      { kind: 'droppedOff', plan: job.plan, afterStep: 1, first: 10, cursor: null },
    ];
    for (const each of jobs) {
      const { outcome } = await split.run(each, inputs, new FunnelBudget(60_000));
      expect(outcome).toEqual(runFunnelJob(each, inputs).outcome);
    }
    expect(split.stats).toMatchObject({ workers: 2, completed: 4, split: 4, failed: 0 });
  });

  it('stops every part when the request is aborted, running or queued', async () => {
    split = new FunnelPool(2, { splitEvents: 0, entry: STUCK });
    const controller = new AbortController();
    const running = split.run(job, inputs, new FunnelBudget(60_000, { owner: 'A', signal: controller.signal }));
    const queued = split.run(job, inputs, new FunnelBudget(60_000, { owner: 'A', signal: controller.signal }));
    await until(() => split.stats.busy === 2);
    expect(split.stats.queued).toBe(2);
    controller.abort();
    await expect(running).rejects.toMatchObject({ extensions: { code: 'CLIENT_CLOSED_REQUEST' } });
    await expect(queued).rejects.toMatchObject({ extensions: { code: 'CLIENT_CLOSED_REQUEST' } });
    expect(split.stats).toMatchObject({ busy: 0, queued: 0, completed: 0, abandoned: 2, workersStopped: 2 });
  });

  it('stops every part at the deadline, and counts the job once', async () => {
    split = new FunnelPool(2, { splitEvents: 0, entry: STUCK });
    // Long enough for both parts to have been handed to a worker (starting one is synchronous work), whatever the load.
    await expect(split.run(job, inputs, new FunnelBudget(2000))).rejects.toMatchObject({ extensions: { code: 'FUNNEL_TIMEOUT', limitMs: 2000 } });
    expect(split.stats).toMatchObject({ busy: 0, queued: 0, timedOut: 1, workersStopped: 2 });
  });

  it('stops the other parts when one part fails', async () => {
    split = new FunnelPool(2, { splitEvents: 0, entry: STUCK });
    await expect(split.run(trend, inputs, new FunnelBudget(60_000))).rejects.toThrow('this part failed');
    expect(split.stats).toMatchObject({ busy: 0, queued: 0, failed: 1, completed: 0, workersStopped: 1 });
  });

  it('queues parts as their owner’s jobs: owners still take turns', async () => {
    split = new FunnelPool(2, { splitEvents: 0, entry: STUCK });
    const a1 = new AbortController();
    const b1 = new AbortController();
    const first = split.run(job, inputs, new FunnelBudget(60_000, { owner: 'A', signal: a1.signal }));
    await until(() => split.stats.busy === 2);
    const second = split.run(job, inputs, new FunnelBudget(60_000, { owner: 'A' }));
    const other = split.run(job, inputs, new FunnelBudget(60_000, { owner: 'B', signal: b1.signal }));
    // A's first job holds both workers; when it goes, A's second job and B's job get one each, not A's two parts.
    a1.abort();
    await expect(first).rejects.toMatchObject({ extensions: { code: 'CLIENT_CLOSED_REQUEST' } });
    await until(() => split.stats.busy === 2);
    expect(split.stats.queued).toBe(2);
    const stoppedBefore = split.stats.workersStopped;
    b1.abort();
    await expect(other).rejects.toMatchObject({ extensions: { code: 'CLIENT_CLOSED_REQUEST' } });
    // B had one part running (its worker was stopped) and one queued; A's second job still holds one worker and waits for another.
    expect(split.stats.workersStopped - stoppedBefore).toBe(1);
    await until(() => split.stats.busy === 2);
    expect(split.stats.queued).toBe(0);
    second.catch(() => undefined); // still running on the stuck workers when the pool closes
  });
});

it('takes queued jobs out at their deadline or when their request is aborted, without stopping the worker', async () => {
  const running = pool.run(job, inputs, new FunnelBudget(60_000, { owner: 'A' }));
  const late = pool.run(job, inputs, new FunnelBudget(1, { owner: 'A' }));
  const controller = new AbortController();
  const gone = pool.run(job, inputs, new FunnelBudget(60_000, { owner: 'B', signal: controller.signal }));
  controller.abort();
  await expect(gone).rejects.toMatchObject({ extensions: { code: 'CLIENT_CLOSED_REQUEST' } });
  await expect(late).rejects.toMatchObject({ extensions: { code: 'FUNNEL_TIMEOUT', limitMs: 1 } });
  await expect(running).resolves.toMatchObject({ outcome: { kind: 'report' } });
  expect(pool.stats).toMatchObject({ busy: 0, queued: 0, completed: 1, timedOut: 1, abandoned: 1, workersStopped: 0 });
});
