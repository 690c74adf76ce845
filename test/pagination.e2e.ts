/**
 * Every list of the API is a Relay connection over a keyset order: walking it page by page with a
 * small `first` returns each row exactly once, in the list's order, also when rows are added
 * between two pages. The rows are inserted here with deliberate ties in the leading sort key (and
 * timestamps within one millisecond), and the expected order is worked out from that fixture in
 * this file, not read from the service. Bad cursors are refused through GraphQL with
 * BAD_USER_INPUT and a message that says what to pass.
 */
import { randomUUID } from 'node:crypto';
import { startTestApp, TestApp } from './support/app';

const PAGE_INFO = 'pageInfo { hasNextPage hasPreviousPage startCursor endCursor }';
const INGEST = 'mutation($events: [EventInput!]!) { ingestEvents(events: $events) { accepted rejected { index message } } }';

interface Edge {
  cursor: string;
  node: Record<string, any>;
}
interface Walk {
  nodes: Record<string, any>[];
  /** totalCount of each page read, the empty page past the end included (lists that have one). */
  totals: number[];
}

let t: TestApp;

/** A list's query: `args` declares its variables besides $first and $after, `call` passes them. */
function listQuery(field: string, args: string, call: string, node: string, totalCount: boolean): string {
  return `query($first: Int!, $after: String${args}) { ${field}(first: $first, after: $after${call}) {
    ${totalCount ? 'totalCount' : ''} edges { cursor node { ${node} } } ${PAGE_INFO} } }`;
}

async function page(query: string, field: string, variables: Record<string, unknown>): Promise<{ edges: Edge[]; pageInfo: any; totalCount?: number }> {
  const response = await t.gql(query, variables);
  if (!response.data) throw new Error(JSON.stringify(response.errors));
  return response.data[field];
}

/**
 * Every page of `field` in turn, `first` rows at a time, checking each page's pageInfo against its
 * edges; `between(n)` runs after page n (from 1) is read, before the next one is asked for. Past
 * the last page it asks once more with the last endCursor: an empty page with no next page.
 */
async function walk(query: string, field: string, variables: Record<string, unknown>, first: number, between?: (pagesRead: number) => Promise<void>): Promise<Walk> {
  const result: Walk = { nodes: [], totals: [] };
  let after: string | null = null;
  let pagesRead = 0;
  for (;;) {
    const connection = await page(query, field, { ...variables, first, after });
    const { edges, pageInfo } = connection;
    pagesRead++;
    expect(edges.length).toBeLessThanOrEqual(first);
    expect(pageInfo.startCursor).toBe(edges[0]?.cursor ?? null);
    expect(pageInfo.endCursor).toBe(edges[edges.length - 1]?.cursor ?? null);
    expect(pageInfo.hasPreviousPage).toBe(false);
    result.nodes.push(...edges.map((edge) => edge.node));
    if (connection.totalCount !== undefined) result.totals.push(connection.totalCount);
    if (pageInfo.endCursor !== null) after = pageInfo.endCursor;
    if (!pageInfo.hasNextPage) break;
    expect(edges.length).toBe(first);
    await between?.(pagesRead);
  }
  if (after !== null) {
    const past = await page(query, field, { ...variables, first, after });
    expect(past.edges).toEqual([]);
    expect(past.pageInfo).toEqual({ hasNextPage: false, hasPreviousPage: false, startCursor: null, endCursor: null });
    if (past.totalCount !== undefined) result.totals.push(past.totalCount);
  }
  return result;
}

beforeAll(async () => {
  t = await startTestApp('pagination');
});
afterAll(() => t?.stop());

/** Inserts users that sent no events (labels and scores refer to them) and returns their dense ids by external id. */
async function insertUsers(externalIds: string[]): Promise<Map<string, number>> {
  const rows: { id: number; external_id: string }[] = await t.app.services.dataSource.query(
    `INSERT INTO users (external_id) SELECT unnest($1::text[]) RETURNING id, external_id`,
    [externalIds],
  );
  return new Map(rows.map((row) => [row.external_id, row.id]));
}

const compare = (a: number | string, b: number | string) => (a < b ? -1 : a > b ? 1 : 0);

describe('userLabels', () => {
  const QUERY = listQuery('userLabels', ', $label: UserLabelKind', ', label: $label', 'userId label', true);
  /** Microseconds after 2026-02-01: five labels at the same instant, three within one millisecond, the rest apart. */
  const AT = [5_000_000, 5_000_000, 5_000_000, 5_000_000, 5_000_000, 7_000_100, 7_000_200, 7_000_300, 1, 2, 3_600_000_000, 86_400_000_000, 42, 42, 999_999, 1_000_000];
  const KINDS = ['BOT', 'FRAUD', 'GENUINE'];
  let fixture: { userId: string; user: number; label: string; at: number }[];

  async function insertLabels(labels: { user: number; label: string; at: number }[]): Promise<void> {
    await t.app.services.dataSource.query(
      `INSERT INTO user_labels (user_id, label, labelled_at)
       SELECT u, l, timestamptz '2026-02-01T00:00:00Z' + m * interval '1 microsecond' FROM unnest($1::int[], $2::text[], $3::bigint[]) AS f(u, l, m)`,
      [labels.map((l) => l.user), labels.map((l) => l.label), labels.map((l) => l.at)],
    );
  }

  /** Newest first, then dense user id. */
  const inOrder = (labels: typeof fixture) => [...labels].sort((a, b) => b.at - a.at || a.user - b.user).map((l) => l.userId);

  beforeAll(async () => {
    // Dense ids in the reverse order of the names, so an order by name would show.
    const names = AT.map((_, n) => `label-${String(n).padStart(2, '0')}`);
    const ids = await insertUsers([...names].reverse());
    fixture = AT.map((at, n) => ({ userId: names[n], user: ids.get(names[n])!, label: KINDS[n % 3], at }));
    await insertLabels(fixture);
  });

  it('walks every label once, newest first, whatever the page size', async () => {
    for (const first of [1, 2, 3, 5, 16, 500]) {
      const walked = await walk(QUERY, 'userLabels', {}, first);
      expect(walked.nodes.map((node) => node.userId)).toEqual(inOrder(fixture));
      expect(new Set(walked.totals)).toEqual(new Set([fixture.length]));
    }
    const bots = await walk(QUERY, 'userLabels', { label: 'BOT' }, 2);
    expect(bots.nodes.map((node) => node.userId)).toEqual(inOrder(fixture.filter((l) => l.label === 'BOT')));
    expect(bots.nodes.every((node) => node.label === 'BOT')).toBe(true);
    expect(new Set(bots.totals)).toEqual(new Set([fixture.filter((l) => l.label === 'BOT').length]));
  });

  it('keeps its place when labels are added between pages: newer ones wait for the next walk, older ones come in order', async () => {
    const ids = await insertUsers(['label-new', 'label-old']);
    const newer = { userId: 'label-new', user: ids.get('label-new')!, label: 'BOT', at: 100_000_000_000 };
    const older = { userId: 'label-old', user: ids.get('label-old')!, label: 'FRAUD', at: 0 };
    const walked = await walk(QUERY, 'userLabels', {}, 3, async (pagesRead) => {
      if (pagesRead === 1) await insertLabels([newer, older]);
    });
    expect(walked.nodes.map((node) => node.userId)).toEqual([...inOrder(fixture), 'label-old']);
    expect(walked.totals[0]).toBe(fixture.length);
    expect(walked.totals[walked.totals.length - 1]).toBe(fixture.length + 2);
    await t.app.services.dataSource.query(`DELETE FROM user_labels WHERE user_id = ANY($1::int[])`, [[newer.user, older.user]]);
  });
});

describe('trainingJobs', () => {
  const QUERY = listQuery('trainingJobs', ', $state: TrainingJobState', ', state: $state', 'id state', false);
  /** Microseconds after 2026-01-10: ties, three jobs within one millisecond, and the rest apart. */
  const AT = [3_000_000, 3_000_000, 3_000_000, 3_000_000, 4_000_100, 4_000_200, 4_000_300, 4_000_999, 10, 20, 60_000_000, 60_000_000, 5, 86_400_000_000];
  const STATES = ['COMPLETED', 'FAILED', 'CANCELLED'];
  let fixture: { id: string; state: string; at: number }[];

  async function insertJobs(jobs: { id: string; state: string; at: number }[]): Promise<void> {
    await t.app.services.dataSource.query(
      `INSERT INTO training_jobs (id, request_key, kind, params, data_to, activate, state, created_at)
       SELECT i, 'pagination-' || i, 'POPULARITY', '{}', now(), false, s, timestamptz '2026-01-10T00:00:00Z' + m * interval '1 microsecond'
       FROM unnest($1::uuid[], $2::text[], $3::bigint[]) AS f(i, s, m)`,
      [jobs.map((j) => j.id), jobs.map((j) => j.state), jobs.map((j) => j.at)],
    );
  }

  /** Newest first, then id descending (PostgreSQL orders uuids by their bytes: the lower-case hex text in order). */
  const inOrder = (jobs: typeof fixture) => [...jobs].sort((a, b) => b.at - a.at || compare(b.id, a.id)).map((j) => j.id);

  beforeAll(async () => {
    fixture = AT.map((at, n) => ({ id: randomUUID(), state: STATES[n % 3], at }));
    await insertJobs(fixture);
  });

  it('walks every job once, newest first, also across jobs created within one millisecond', async () => {
    for (const first of [1, 2, 3, 4, 100]) {
      const walked = await walk(QUERY, 'trainingJobs', {}, first);
      expect(walked.nodes.map((node) => node.id)).toEqual(inOrder(fixture));
    }
    const failed = await walk(QUERY, 'trainingJobs', { state: 'FAILED' }, 2);
    expect(failed.nodes.map((node) => node.id)).toEqual(inOrder(fixture.filter((j) => j.state === 'FAILED')));
  });

  it('keeps its place when jobs are queued between pages', async () => {
    const newer = { id: randomUUID(), state: 'COMPLETED', at: 200_000_000_000 };
    const older = { id: randomUUID(), state: 'FAILED', at: 0 };
    const walked = await walk(QUERY, 'trainingJobs', {}, 2, async (pagesRead) => {
      if (pagesRead === 2) await insertJobs([newer, older]);
    });
    expect(walked.nodes.map((node) => node.id)).toEqual([...inOrder(fixture), older.id]);
    await t.app.services.dataSource.query(`DELETE FROM training_jobs WHERE id = ANY($1::uuid[])`, [[newer.id, older.id]]);
  });
});

describe('anomalies', () => {
  const QUERY = listQuery('anomalies', ', $from: DateTime!, $to: DateTime!', ', from: $from, to: $to', 'userId score', true);
  const RANGE = { from: '2025-06-02T00:00:00Z', to: '2025-06-05T00:00:00Z' };
  /**
   * Scores per user and day (the only active detector is STATISTICAL, so a day's ensemble score is
   * its score). Days 06-02 to 06-04 lie in the range, 06-01 and 06-05 outside it. Threshold 0.5.
   */
  const SCORES: Record<string, [string, number][]> = {
    'risk-a': [['2025-06-02', 0.75]],
    'risk-b': [['2025-06-03', 0.75], ['2025-06-04', 0.25]],
    'risk-c': [['2025-06-04', 0.75]],
    'risk-d': [['2025-06-02', 0.875], ['2025-06-03', 0.5]],
    'risk-e': [['2025-06-02', 0.5]],
    'risk-f': [['2025-06-03', 0.5]],
    'risk-g': [['2025-06-01', 0.99], ['2025-06-02', 0.25]], // flagged only outside the range
    'risk-h': [['2025-06-05', 0.99]],
    'risk-i': [['2025-06-04', 0.625], ['2025-06-01', 0.1]],
    'risk-j': [['2025-06-02', 0.375]], // below the threshold
    'risk-k': [['2025-06-03', 0.75]],
    'risk-l': [['2025-06-02', 1]],
  };
  /** Marked by the ingest guard with events in the range: listed whatever their score (0 without one). */
  const GUARDED = { 'risk-m': null, 'risk-n': 0.25 } as Record<string, number | null>;
  let ids: Map<string, number>;
  let versionId: number;

  async function insertScores(scores: Record<string, [string, number][]>): Promise<void> {
    const rows = Object.entries(scores).flatMap(([userId, days]) => days.map(([day, score]) => [ids.get(userId)!, day, score] as const));
    await t.app.services.dataSource.query(
      `INSERT INTO anomaly_scores (model_version_id, user_id, day, score, first_event_at, last_event_at)
       SELECT $1, u, d, s, d::timestamp AT TIME ZONE 'UTC', d::timestamp AT TIME ZONE 'UTC' + interval '1 hour'
       FROM unnest($2::int[], $3::date[], $4::real[]) AS f(u, d, s)`,
      [versionId, rows.map((r) => r[0]), rows.map((r) => r[1]), rows.map((r) => r[2])],
    );
  }

  /** Expected: worst in-range day ≥ 0.5, or guarded; highest score first, then dense user id. */
  function expected(scores: Record<string, [string, number][]>): string[] {
    const inRange = (day: string) => day >= '2025-06-02' && day < '2025-06-05';
    const listed: { userId: string; score: number }[] = [];
    for (const [userId, days] of Object.entries(scores)) {
      const worst = Math.max(...days.filter(([day]) => inRange(day)).map(([, score]) => score));
      if (worst >= 0.5) listed.push({ userId, score: worst });
    }
    for (const [userId, score] of Object.entries(GUARDED)) listed.push({ userId, score: score ?? 0 });
    return listed.sort((a, b) => b.score - a.score || ids.get(a.userId)! - ids.get(b.userId)!).map((l) => l.userId);
  }

  beforeAll(async () => {
    // The guarded users send events in the range (the guard lists only users active in it).
    const ingested = await t.gql(INGEST, {
      events: Object.keys(GUARDED).map((userId, n) => ({ eventId: `guarded-${n}`, type: 'view', userId, timestamp: '2025-06-03T12:00:00Z' })),
    });
    expect(ingested.data!.ingestEvents.accepted).toBe(2);
    ids = new Map([...(await insertUsers(Object.keys(SCORES).concat('risk-late-low', 'risk-late-high')))]);
    const guardedRows: { id: number; external_id: string }[] = await t.app.services.dataSource.query(`SELECT id, external_id FROM users WHERE external_id = ANY($1)`, [Object.keys(GUARDED)]);
    for (const row of guardedRows) ids.set(row.external_id, row.id);
    await t.app.services.dataSource.query(
      `INSERT INTO suspect_users (user_id, since, peak_events_per_minute) SELECT unnest($1::int[]), timestamptz '2025-06-03T12:00:00Z', 500`,
      [guardedRows.map((row) => row.id)],
    );
    [{ id: versionId }] = await t.app.services.dataSource.query(
      `INSERT INTO model_versions (kind, version, status, params, backend, trained_to, activated_at) VALUES ('ANOMALY_STATISTICAL', 1, 'ACTIVE', '{}', 'cpu', now(), now()) RETURNING id`,
    );
    await insertScores(SCORES);
    await insertScores({ 'risk-n': [['2025-06-03', 0.25]] });
  });

  it('walks every flagged user once, highest score first, ties by first seen', async () => {
    for (const first of [1, 2, 3, 14]) {
      const walked = await walk(QUERY, 'anomalies', RANGE, first);
      expect(walked.nodes.map((node) => node.userId)).toEqual(expected(SCORES));
      expect(new Set(walked.totals)).toEqual(new Set([expected(SCORES).length]));
    }
  });

  it('keeps its place when users are scored between pages', async () => {
    const late = { 'risk-late-high': [['2025-06-02', 0.95]], 'risk-late-low': [['2025-06-03', 0.55]] } as Record<string, [string, number][]>;
    const walked = await walk(QUERY, 'anomalies', RANGE, 3, async (pagesRead) => {
      if (pagesRead === 1) await insertScores(late);
    });
    // The 0.95 user ranks before the first page's end: not in this walk. The 0.55 one comes in its place.
    expect(walked.nodes.map((node) => node.userId)).toEqual(expected({ ...SCORES, 'risk-late-low': late['risk-late-low'] }));
    await t.app.services.dataSource.query(`DELETE FROM anomaly_scores WHERE user_id = ANY($1::int[])`, [[ids.get('risk-late-high'), ids.get('risk-late-low')]]);
  });
});

describe('droppedOff', () => {
  const QUERY = listQuery('droppedOff', ', $input: FunnelInput!', ', input: $input, afterStep: 2', 'userId sessionId', true);
  const INPUT = {
    steps: [{ type: 'view' }, { type: 'cart' }, { type: 'purchase' }],
    conversionWindowSeconds: 86_400,
    from: '2025-03-01T00:00:00Z',
    to: '2025-03-03T00:00:00Z',
  };
  const at = (minutes: number) => new Date(Date.parse('2025-03-01T08:00:00Z') + minutes * 60_000).toISOString();
  /** Per user, their sessions and what each did: 'vc' viewed and carted (dropped after step 2), 'vcp' bought, 'v' only viewed. */
  const VISITS: Record<string, Record<string, string>> = {
    'drop-01': { s1: 'vc' },
    'drop-02': { s1: 'vcp' },
    'drop-03': { s2: 'vc', s1: 'vc', s10: 'vc' },
    'drop-04': { s1: 'v' },
    'drop-05': { s9: 'vc', s1: 'vcp' },
    'drop-06': { s1: 'vc' },
    'drop-07': { s1: 'vc' },
    'drop-08': { a: 'vc', b: 'v' },
    'drop-09': { s1: 'vc' },
    'drop-10': { s1: 'vc', s2: 'vc' },
    'drop-11': { s1: 'vc' },
  };
  let eventCount = 0;

  function events(visits: Record<string, Record<string, string>>, minutes = 0) {
    const list: Record<string, unknown>[] = [];
    for (const [userId, sessions] of Object.entries(visits)) {
      for (const [sessionId, steps] of Object.entries(sessions)) {
        [...steps].forEach((step, n) => {
          const type = { v: 'view', c: 'cart', p: 'purchase' }[step]!;
          list.push({ eventId: `drop-event-${eventCount++}`, userId, sessionId, type, timestamp: at(minutes + n) });
        });
      }
    }
    return list;
  }

  async function ingest(visits: Record<string, Record<string, string>>, minutes = 0): Promise<void> {
    const batch = events(visits, minutes);
    const result = await t.gql(INGEST, { events: batch });
    expect(result.data!.ingestEvents).toEqual({ accepted: batch.length, rejected: [] });
  }

  /** Units that viewed and carted but did not buy (a user counts when some session did, as one chain per user), users in the order the database numbered them. */
  async function expected(visits: Record<string, Record<string, string>>, bySession: boolean): Promise<{ userId: string; sessionId: string | null }[]> {
    const rows: { external_id: string }[] = await t.app.services.dataSource.query(`SELECT external_id FROM users WHERE external_id = ANY($1) ORDER BY id`, [Object.keys(visits)]);
    const units: { userId: string; sessionId: string | null }[] = [];
    for (const { external_id: userId } of rows) {
      const sessions = visits[userId];
      if (bySession) {
        for (const sessionId of Object.keys(sessions).sort(compare)) if (sessions[sessionId] === 'vc') units.push({ userId, sessionId });
      } else {
        const all = Object.values(sessions);
        if (all.includes('vc') && !all.includes('vcp')) units.push({ userId, sessionId: null });
      }
    }
    return units;
  }

  beforeAll(async () => {
    // One user at a time, in an order other than their names', so dense ids do not follow the names.
    for (const userId of ['drop-07', 'drop-01', 'drop-11', 'drop-03', 'drop-02', 'drop-10', 'drop-05', 'drop-04', 'drop-09', 'drop-06', 'drop-08']) await ingest({ [userId]: VISITS[userId] });
  });

  it('walks every unit once, users as first seen and then session ids, by user and by session', async () => {
    for (const countBy of ['USER', 'SESSION']) {
      const want = await expected(VISITS, countBy === 'SESSION');
      expect(want.length).toBeGreaterThan(5);
      for (const first of [1, 2, 3, want.length]) {
        const walked = await walk(QUERY, 'droppedOff', { input: { ...INPUT, countBy } }, first);
        expect(walked.nodes).toEqual(want);
        expect(new Set(walked.totals)).toEqual(new Set([want.length]));
      }
    }
  });

  it('keeps its place when events arrive between pages: a new unit comes at the end, one that buys leaves', async () => {
    const want = await expected(VISITS, false);
    const buyer = want[want.length - 2].userId; // not read yet when the events arrive
    const walked = await walk(QUERY, 'droppedOff', { input: INPUT }, 2, async (pagesRead) => {
      if (pagesRead === 1) {
        await ingest({ 'drop-12': { s1: 'vc' } });
        await ingest({ [buyer]: { s1: 'p' } }, 5);
      }
    });
    expect(walked.nodes).toEqual([...want.filter((unit) => unit.userId !== buyer), { userId: 'drop-12', sessionId: null }]);
  });
});

describe('atRiskUsers', () => {
  const QUERY = listQuery('atRiskUsers', ', $asOf: DateTime', ', asOf: $asOf, maxPropensity: 0.2', 'userId cartValue', true);
  /** Per user: the prices of the items they carted in the last hours (none removed or bought), and their stored propensity. */
  const CARTS: Record<string, { prices: number[]; propensity: number }> = {
    'cart-01': { prices: [30], propensity: 0.1 },
    'cart-02': { prices: [10, 20], propensity: 0.1 },
    'cart-03': { prices: [30], propensity: 0.15 },
    'cart-04': { prices: [99.5], propensity: 0.05 },
    'cart-05': { prices: [5], propensity: 0.1 },
    'cart-06': { prices: [15, 15], propensity: 0.19 },
    'cart-07': { prices: [250], propensity: 0.9 }, // likely to buy anyway: not at risk
    'cart-08': { prices: [0.5, 0.25], propensity: 0.1 },
    'cart-09': { prices: [5], propensity: 0.1 },
    'cart-10': { prices: [1000, 1], propensity: 0.01 },
  };
  let ids: Map<string, number>;

  /** Cart value = sum of the prices; highest first, then dense user id; propensity ≤ 0.2 only. */
  function expected(carts: typeof CARTS): string[] {
    const value = (userId: string) => carts[userId].prices.reduce((sum, price) => sum + price, 0);
    return Object.keys(carts)
      .filter((userId) => carts[userId].propensity <= 0.2)
      .sort((a, b) => value(b) - value(a) || ids.get(a)! - ids.get(b)!);
  }

  beforeAll(async () => {
    const now = Date.now();
    let n = 0;
    const events = Object.entries(CARTS).flatMap(([userId, { prices }]) =>
      prices.map((price, item) => ({ eventId: `cart-event-${n++}`, userId, sessionId: 'v1', type: 'cart', itemId: `cart-item-${item}`, properties: { price }, timestamp: new Date(now - 3_600_000 + n * 1000).toISOString() })),
    );
    // In reverse order of the names, so dense ids do not follow them.
    const result = await t.gql(INGEST, { events: events.reverse() });
    expect(result.data!.ingestEvents.accepted).toBe(events.length);
    const rows: { id: number; external_id: string }[] = await t.app.services.dataSource.query(`SELECT id, external_id FROM users WHERE external_id = ANY($1)`, [Object.keys(CARTS)]);
    ids = new Map(rows.map((row) => [row.external_id, row.id]));
    const [{ id: versionId }] = await t.app.services.dataSource.query(
      `INSERT INTO model_versions (kind, version, status, params, backend, trained_to, activated_at) VALUES ('PURCHASE_PROPENSITY', 1, 'ACTIVE', '{}', 'cpu', now(), now()) RETURNING id`,
    );
    await t.app.services.dataSource.query(
      `INSERT INTO purchase_propensity_scores (model_version_id, user_id, propensity, scored_at) SELECT $1, u, p, now() FROM unnest($2::int[], $3::real[]) AS f(u, p)`,
      [versionId, Object.keys(CARTS).map((userId) => ids.get(userId)), Object.values(CARTS).map((cart) => cart.propensity)],
    );
  });

  it('walks every user at risk once, most valuable cart first, ties by first seen', async () => {
    for (const first of [1, 2, 3, 9]) {
      const walked = await walk(QUERY, 'atRiskUsers', {}, first);
      expect(walked.nodes.map((node) => node.userId)).toEqual(expected(CARTS));
      expect(new Set(walked.totals)).toEqual(new Set([expected(CARTS).length]));
    }
  });

  it('reads every page as of the first page’s asOf, so events arriving meanwhile do not reorder the walk', async () => {
    const want = expected(CARTS);
    const walked = await walk(QUERY, 'atRiskUsers', {}, 2, async (pagesRead) => {
      if (pagesRead === 1) {
        // The first page's most valuable cart empties now: read as of now, that user would move to the end and come again.
        const emptied = want[0];
        const result = await t.gql(INGEST, {
          events: CARTS[emptied].prices.map((_, item) => ({ eventId: `cart-removal-${item}`, userId: emptied, sessionId: 'v1', type: 'remove_from_cart', itemId: `cart-item-${item}`, timestamp: new Date().toISOString() })),
        });
        expect(result.data!.ingestEvents.accepted).toBe(CARTS[emptied].prices.length);
      }
    });
    expect(walked.nodes.map((node) => node.userId)).toEqual(want);
    // A fresh walk reads as of now: the emptied cart is worth 0 and comes last.
    const fresh = await walk(QUERY, 'atRiskUsers', {}, 4);
    expect(fresh.nodes.map((node) => node.userId)).toEqual([...want.slice(1), want[0]]);
  });

  it('refuses an asOf other than the one the cursor was read at', async () => {
    const first = await page(QUERY, 'atRiskUsers', { first: 2 });
    const other = await t.gql(QUERY, { first: 2, after: first.pageInfo.endCursor, asOf: '2026-01-01T00:00:00Z' });
    expect(other.errors![0].extensions!.code).toBe('BAD_USER_INPUT');
    expect(other.errors![0].message).toMatch(/^asOf is 2026-01-01T00:00:00.000Z but the cursor's list was read as of .*; pass that asOf or leave asOf out/);
  });
});

describe('bad cursors', () => {
  const LISTS: { field: string; query: string; variables: Record<string, unknown>; max: number }[] = [
    { field: 'userLabels', query: listQuery('userLabels', '', '', 'userId', true), variables: {}, max: 500 },
    { field: 'trainingJobs', query: listQuery('trainingJobs', '', '', 'id', false), variables: {}, max: 100 },
    { field: 'anomalies', query: listQuery('anomalies', ', $from: DateTime!, $to: DateTime!', ', from: $from, to: $to', 'userId', true), variables: { from: '2025-06-02T00:00:00Z', to: '2025-06-05T00:00:00Z' }, max: 500 },
    {
      field: 'droppedOff',
      query: listQuery('droppedOff', ', $input: FunnelInput!', ', input: $input, afterStep: 2', 'userId', true),
      variables: { input: { steps: [{ type: 'view' }, { type: 'cart' }, { type: 'purchase' }], conversionWindowSeconds: 86_400, from: '2025-03-01T00:00:00Z', to: '2025-03-03T00:00:00Z' } },
      max: 1000,
    },
    { field: 'atRiskUsers', query: listQuery('atRiskUsers', '', '', 'userId', true), variables: {}, max: 200 },
  ];

  async function refused(list: (typeof LISTS)[number], extra: Record<string, unknown>): Promise<string> {
    const response = await t.gql(list.query, { first: 1, ...list.variables, ...extra });
    expect(response.data ?? null).toBeNull();
    expect(response.errors![0].extensions!.code).toBe('BAD_USER_INPUT');
    return response.errors![0].message;
  }

  it('refuses garbage, empty, edited and other lists’ cursors on every list, saying what to pass', async () => {
    const cursors = new Map<string, string>();
    for (const list of LISTS) {
      const first = await page(list.query, list.field, { first: 1, ...list.variables });
      expect(first.pageInfo.hasNextPage).toBe(true);
      cursors.set(list.field, first.pageInfo.endCursor);
    }
    const fix = /Pass the endCursor of the previous page of this same list, or leave `after` out to start from the first page\.$/;
    for (const [n, list] of LISTS.entries()) {
      expect(await refused(list, { after: 'garbage' })).toMatch(/^`after` is not a cursor this API issued/);
      expect(await refused(list, { after: '' })).toMatch(/^`after` is empty\. /);
      const own = cursors.get(list.field)!;
      // One character changed in the middle: the check bytes no longer match.
      const middle = Math.floor(own.length / 2);
      const edited = own.slice(0, middle) + (own[middle] === 'A' ? 'B' : 'A') + own.slice(middle + 1);
      expect(await refused(list, { after: edited })).toMatch(fix);
      expect(await refused(list, { after: own.slice(0, -3) })).toMatch(fix);
      const other = LISTS[(n + 1) % LISTS.length].field;
      const message = await refused(list, { after: cursors.get(other) });
      expect(message).toBe(`\`after\` is a cursor of \`${other}\`, not of \`${list.field}\`. Pass the endCursor of the previous page of this same list, or leave \`after\` out to start from the first page.`);
      for (const first of [0, list.max + 1]) expect(await refused(list, { first })).toBe(`\`first\` must be a whole number from 1 to ${list.max} (got ${first}).`);
      // Its own cursor still reads the next page.
      const next = await t.gql(list.query, { first: 1, ...list.variables, after: own });
      expect(next.errors).toBeUndefined();
      expect(next.data![list.field].edges).toHaveLength(1);
    }
  });
});
