/**
 * The worker pool on its own, with real worker threads (the compiled dist/ entry; `npm test` builds
 * first) over a tiny snapshot: owners take turns, a deadline or an abort takes a job out of the
 * queue without touching the worker, and answers match the main thread's.
 */
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
