import { fitMarkov, markovProbabilities, markovStateOf, MARKOV_STATES } from './markov';
import { nextActionsOf, type PredictionEvent } from './session-events';

const session = (...types: string[]): PredictionEvent[] =>
  types.map((type, i) => ({ type, timestamp: i * 1000, sessionId: 's', category: null, price: null, device: null, channel: null }));

describe('Markov baseline', () => {
  it('learns the hand-counted transition table with add-one smoothing', () => {
    const a = session('view', 'view', 'cart', 'checkout', 'purchase');
    const b = session('view', 'fav', 'view');
    const states = [...a, ...b].map((e) => markovStateOf(e.type));
    const next = [...nextActionsOf(a), ...nextActionsOf(b)];
    expect(states).toEqual([0, 0, 1, 2, 3, 0, 4, 0]);
    const model = fitMarkov(states, next);
    // From view: next view twice (a0, b0), cart once (a1), exit once (b2) → counts 2,1,0,0,1 + 1 each, over 9.
    expect(markovProbabilities(model, 0)).toEqual([3 / 9, 2 / 9, 1 / 9, 1 / 9, 2 / 9]);
    // From other (the fav): view once → 2,1,1,1,1 over 6.
    expect(markovProbabilities(model, MARKOV_STATES.indexOf('other'))).toEqual([2 / 6, 1 / 6, 1 / 6, 1 / 6, 1 / 6]);
    // From purchase: exit once.
    expect(markovProbabilities(model, 3)).toEqual([1 / 6, 1 / 6, 1 / 6, 1 / 6, 2 / 6]);
  });
});
