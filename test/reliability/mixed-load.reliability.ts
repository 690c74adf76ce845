/**
 * Sustained mixed load with counted events: several ingest clients send uniquely identified events
 * in batches and retry whatever was not acknowledged (some requests are abandoned mid-flight, some
 * acknowledged batches are sent again, as a client does after a timeout), while analysts run
 * funnels and shoppers ask for recommendations. At the end sent, acknowledged and stored agree:
 * nothing lost, nothing stored twice, and the funnel over the stored events equals the one worked
 * out by hand from what was sent.
 */
import { Rng } from '../../src/ml/random';
import { startTestApp, TestApp } from '../support/app';

const INGEST = 'mutation($events: [EventInput!]!) { ingestEvents(events: $events) { accepted duplicates rejected { index code message } } }';
const FUNNEL = `query($input: FunnelInput!) { funnel(input: $input) { totalUnits steps { count } } }`;
const RECOMMEND = 'query($u: ID!) { recommendations(userId: $u, limit: 5) { items { itemId } } }';

const CLIENTS = 4;
const BATCHES_PER_CLIENT = 20;
const USERS_PER_BATCH = 40;

interface SentEvent {
  eventId: string;
  type: string;
  userId: string;
  sessionId: string;
  itemId: string;
  timestamp: string;
}

/**
 * One batch: USERS_PER_BATCH new users, each views an item; every second user then carts it and
 * every third of those buys it, a minute apart. So the expected funnel is known without the engine.
 */
function batchOf(client: number, batch: number, start: number): { events: SentEvent[]; views: number; carts: number; purchases: number } {
  const events: SentEvent[] = [];
  let carts = 0;
  let purchases = 0;
  for (let u = 0; u < USERS_PER_BATCH; u++) {
    const userId = `load-${client}-${batch}-${u}`;
    const at = (minute: number) => new Date(start + (batch * USERS_PER_BATCH + u) * 1000 + minute * 60_000).toISOString();
    const base = { userId, sessionId: `${userId}-s`, itemId: `sku-${u % 7}` };
    events.push({ ...base, eventId: `${userId}-view`, type: 'view', timestamp: at(0) });
    if (u % 2 === 0) {
      carts++;
      events.push({ ...base, eventId: `${userId}-cart`, type: 'cart', timestamp: at(1) });
      if (u % 3 === 0) {
        purchases++;
        events.push({ ...base, eventId: `${userId}-purchase`, type: 'purchase', timestamp: at(2) });
      }
    }
  }
  return { events, views: USERS_PER_BATCH, carts, purchases };
}

describe('sustained mixed load', () => {
  let t: TestApp;
  let analystKey: string;
  let clientKey: string;

  beforeAll(async () => {
    t = await startTestApp('mixed_load', {
      FUNNELCAST_RATE_LIMIT_PER_KEY: '0',
      FUNNELCAST_RATE_LIMIT_PER_ADDRESS: '0',
    });
    analystKey = await t.createKey('analyst');
    clientKey = await t.createKey('client');
  });
  afterAll(() => t.stop());

  it('stores every acknowledged event exactly once while funnels and recommendations run', async () => {
    const start = Date.now() - 6 * 3600_000;
    const seeded = Rng.stream(11);
    const random = () => seeded.next();
    const sent = new Set<string>();
    const acknowledged = new Set<string>();
    let abandoned = 0;
    let resentAfterAck = 0;
    let expected = { views: 0, carts: 0, purchases: 0 };
    let ingestDone = false;

    /** Sends one batch until a response acknowledges every event in it (accepted or duplicate). */
    async function deliver(events: SentEvent[]): Promise<void> {
      for (let attempt = 0; ; attempt++) {
        if (attempt > 50) throw new Error('a batch was never acknowledged');
        const abandon = random() < 0.2;
        const controller = new AbortController();
        const timer = abandon ? setTimeout(() => controller.abort(), Math.floor(random() * 15)) : undefined;
        try {
          const response = await fetch(t.url, {
            method: 'POST',
            headers: { 'content-type': 'application/json', authorization: `Bearer ${clientKey}` },
            body: JSON.stringify({ query: INGEST, variables: { events } }),
            signal: controller.signal,
          });
          const body = (await response.json()) as { data?: { ingestEvents: { accepted: number; duplicates: number; rejected: unknown[] } } };
          clearTimeout(timer);
          const result = body.data?.ingestEvents;
          if (!result) continue;
          expect(result.rejected).toEqual([]);
          expect(result.accepted + result.duplicates).toBe(events.length);
          for (const event of events) acknowledged.add(event.eventId);
          if (random() < 0.1) {
            // The acknowledgement "got lost": the client sends the same batch once more.
            resentAfterAck++;
            continue;
          }
          return;
        } catch (error) {
          clearTimeout(timer);
          if ((error as Error).name !== 'AbortError') throw error;
          abandoned++;
        }
      }
    }

    // Readers start once the shop has items (recommendations need at least one to list).
    let firstBatchStored!: () => void;
    const shopHasItems = new Promise<void>((resolve) => (firstBatchStored = resolve));
    const ingestClients = Array.from({ length: CLIENTS }, async (_, client) => {
      for (let batch = 0; batch < BATCHES_PER_CLIENT; batch++) {
        const { events, views, carts, purchases } = batchOf(client, batch, start);
        for (const event of events) sent.add(event.eventId);
        await deliver(events);
        firstBatchStored();
        expected = { views: expected.views + views, carts: expected.carts + carts, purchases: expected.purchases + purchases };
      }
    });

    const funnelInput = {
      steps: [{ type: 'view' }, { type: 'cart' }, { type: 'purchase' }],
      conversionWindowSeconds: 3600,
      from: new Date(start - 3600_000).toISOString(),
      to: new Date(Date.now() + 3600_000).toISOString(),
    };
    let funnels = 0;
    let recommendations = 0;
    const readers = [
      (async () => {
        await shopHasItems;
        while (!ingestDone) {
          const response = await t.gql(FUNNEL, { input: funnelInput }, analystKey);
          expect(response.errors).toBeUndefined();
          const [views, carts, purchases] = response.data!.funnel.steps.map((step: { count: number }) => step.count);
          // Counts only grow and keep the funnel's shape while events arrive.
          expect(views).toBeGreaterThanOrEqual(carts);
          expect(carts).toBeGreaterThanOrEqual(purchases);
          funnels++;
        }
      })(),
      (async () => {
        await shopHasItems;
        for (let n = 0; !ingestDone; n++) {
          const response = await t.gql(RECOMMEND, { u: `load-${n % CLIENTS}-0-${n % USERS_PER_BATCH}` }, clientKey);
          expect(response.errors).toBeUndefined();
          expect(response.data!.recommendations.items.length).toBeGreaterThan(0);
          recommendations++;
        }
      })(),
    ];

    await Promise.all(ingestClients).finally(() => {
      ingestDone = true;
      firstBatchStored();
    });
    await Promise.all(readers);

    const [stored] = await t.app.services.dataSource.query(
      `SELECT count(*)::int AS rows, count(DISTINCT event_id)::int AS ids FROM events WHERE event_id LIKE 'load-%'`,
    );
    expect(acknowledged.size).toBe(sent.size);
    expect(stored.ids).toBe(sent.size);
    expect(stored.rows).toBe(sent.size);
    const storedIds = new Set<string>(
      (await t.app.services.dataSource.query(`SELECT event_id FROM events WHERE event_id LIKE 'load-%'`)).map((row: { event_id: string }) => row.event_id),
    );
    for (const id of sent) expect(storedIds.has(id)).toBe(true);

    const final = await t.gql(FUNNEL, { input: funnelInput }, analystKey);
    expect(final.data!.funnel.steps.map((step: { count: number }) => step.count)).toEqual([expected.views, expected.carts, expected.purchases]);

    // The load really was mixed: retries of both kinds happened and readers ran alongside.
    expect(abandoned).toBeGreaterThan(0);
    expect(resentAfterAck).toBeGreaterThan(0);
    expect(funnels).toBeGreaterThan(0);
    expect(recommendations).toBeGreaterThan(0);
    process.stdout.write(
      `mixed load: ${sent.size} events sent, ${acknowledged.size} acknowledged, ${stored.rows} stored; ` +
        `${abandoned} requests abandoned mid-flight and retried, ${resentAfterAck} acknowledged batches re-sent; ` +
        `${funnels} funnels and ${recommendations} recommendation lists served alongside\n`,
    );
  });
});
