/**
 * Funnels on the demo shop against the generator's ground truth. The generator records, per
 * session, whether it converted and which earlier session a return visit completes; a session holds
 * a view followed by a purchase exactly when it converted on the spot or it is such a return visit.
 */
import { createDemoShop } from '../src/sim';
import { loadDemoShop } from '../src/sim/load';
import { startTestApp, TestApp } from './support/app';

const shop = createDemoShop({ users: 3000, days: 7, seed: 5 });
let t: TestApp;

beforeAll(async () => {
  t = await startTestApp('funnel_demo');
  await loadDemoShop(t.app.services.dataSource, shop);
});
afterAll(() => t.stop());

it('counts the sessions that bought exactly as the generator says', async () => {
  let buyingSessions = 0;
  let sessionsWithEvents = 0;
  for (const story of shop.shoppers()) {
    const completedLater = new Set(story.sessions.flatMap((session) => (session.completesSessionId ? [session.completesSessionId] : [])));
    const withEvents = new Set(story.events.map((event) => event.sessionId));
    for (const session of story.sessions) {
      if (withEvents.has(session.sessionId)) sessionsWithEvents++;
      if (session.kind === 'return_visit' || (session.kind === 'browse' && session.converted && !completedLater.has(session.sessionId))) buyingSessions++;
    }
  }
  expect(buyingSessions).toBeGreaterThan(50);

  const result = await t.app.services.funnels.funnel({
    steps: [{ type: 'view' }, { type: 'purchase' }],
    conversionWindowSeconds: 30 * 86_400,
    from: new Date(shop.options.startMs),
    to: new Date(shop.options.endMs + 30 * 86_400_000),
    countBy: 'session',
  });
  expect(result.totalUnits).toBe(sessionsWithEvents);
  expect(result.steps[1].count).toBe(buyingSessions);
});
