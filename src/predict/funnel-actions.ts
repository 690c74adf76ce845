/**
 * The funnel stages the prediction models speak about, in the funnel engine's order
 * (view → cart → checkout → purchase), plus `exit`: the visitor leaves without another funnel event
 * in the session. Other event types (fav, remove_from_cart, search, custom ones) are context the
 * models read but never a next action.
 */
export const FUNNEL_STAGES = ['view', 'cart', 'checkout', 'purchase'] as const;
export type FunnelStage = (typeof FUNNEL_STAGES)[number];

export const NEXT_ACTIONS = [...FUNNEL_STAGES, 'exit'] as const;
export type NextAction = (typeof NEXT_ACTIONS)[number];
export const EXIT = NEXT_ACTIONS.indexOf('exit');

/** A visit ends after this long without an event (the demo shop and common analytics use 30 minutes). */
export const SESSION_TIMEOUT_MS = 30 * 60 * 1000;

/** Index of the event type in FUNNEL_STAGES, or −1 for a type that is not a funnel stage. */
export function stageIndexOf(type: string): number {
  return (FUNNEL_STAGES as readonly string[]).indexOf(type);
}
