import { FUNNEL_STAGES, NEXT_ACTIONS, stageIndexOf } from './funnel-actions';

/**
 * The first-order Markov baseline of next-step prediction: the visitor's next action depends only
 * on the funnel stage of the event they are at. States are the funnel stages plus `other` (fav,
 * remove_from_cart, search, custom events); outcomes are NEXT_ACTIONS. Add-one (Laplace) smoothing
 * keeps an unseen transition possible.
 */
export const MARKOV_STATES = [...FUNNEL_STAGES, 'other'] as const;
const OTHER = MARKOV_STATES.length - 1;

export function markovStateOf(type: string): number {
  const stage = stageIndexOf(type);
  return stage >= 0 ? stage : OTHER;
}

export interface MarkovModel {
  /** counts[state * NEXT_ACTIONS.length + action]: transitions seen in training. */
  counts: Float64Array;
  smoothing: number;
}

/** Counts transitions from each event's state to the next action (see nextActionsOf). */
export function fitMarkov(states: ArrayLike<number>, nextActions: ArrayLike<number>, smoothing = 1): MarkovModel {
  if (states.length !== nextActions.length) throw new RangeError('states and next actions differ in length');
  const counts = new Float64Array(MARKOV_STATES.length * NEXT_ACTIONS.length);
  for (let i = 0; i < states.length; i++) counts[states[i] * NEXT_ACTIONS.length + nextActions[i]]++;
  return { counts, smoothing };
}

/** P(next action | state), smoothed. */
export function markovProbabilities(model: MarkovModel, state: number): number[] {
  const width = NEXT_ACTIONS.length;
  let total = 0;
  for (let a = 0; a < width; a++) total += model.counts[state * width + a] + model.smoothing;
  return Array.from({ length: width }, (_, a) => (model.counts[state * width + a] + model.smoothing) / total);
}
