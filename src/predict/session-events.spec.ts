import { NEXT_ACTIONS } from './funnel-actions';
import { nextActionsOf, splitSessions, type PredictionEvent } from './session-events';

const MIN = 60_000;
const event = (type: string, minute: number, sessionId: string | null = null): PredictionEvent => ({
  type,
  timestamp: minute * MIN,
  sessionId,
  category: null,
  price: null,
  device: null,
  channel: null,
});

describe('splitSessions', () => {
  it('groups by session id and cuts sessionless events after 30 quiet minutes', () => {
    const sessions = splitSessions(
      [event('view', 0), event('view', 10), event('view', 12, 'a'), event('cart', 40), event('view', 71), event('cart', 80, 'a')],
      'u7',
    );
    // 0 and 10 are one visit; 40 is exactly 30 minutes after 10 (not more), so it stays; 71 is 31 after 40.
    expect(sessions.map((s) => [s.sessionId, s.events.map((e) => e.timestamp / MIN)])).toEqual([
      ['u7@0', [0, 10, 40]],
      ['a', [12, 80]],
      [`u7@${71 * MIN}`, [71]],
    ]);
  });
});

describe('nextActionsOf', () => {
  it('is the next funnel event of the session, skipping other types, and exit after the last one', () => {
    const next = nextActionsOf([event('view', 0), event('fav', 1), event('cart', 2), event('remove_from_cart', 3), event('view', 4), event('search', 5)]);
    expect(Array.from(next, (a) => NEXT_ACTIONS[a])).toEqual(['cart', 'cart', 'view', 'view', 'exit', 'exit']);
  });
});
