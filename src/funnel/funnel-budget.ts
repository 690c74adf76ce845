/**
 * The limits one funnel field runs under: a deadline (FUNNELCAST_FUNNEL_TIMEOUT_MS from when the
 * field started, time spent queued included), the request's AbortSignal (aborted when the client
 * goes away), and the owner whose turn it is in the worker pool's round-robin.
 */
import { UserFacingError } from '../graphql/errors';

export interface FunnelCallOptions {
  /** Aborted when the HTTP request ends (src/server.ts): the client went away, or the answer went out without this field. */
  signal?: AbortSignal;
  /** Who is asking (an API key id): the pool serves owners in turn, so one owner's many funnels do not hold up another's. */
  owner?: string;
}

/** FUNNEL_TIMEOUT: the funnel ran past its limit and its computation was stopped. */
export function funnelTimeout(limitMs: number): UserFacingError {
  const limit = limitMs >= 1000 ? `${Math.round(limitMs / 100) / 10} s` : `${limitMs} ms`;
  return new UserFacingError(
    'FUNNEL_TIMEOUT',
    `The funnel ran past its ${limit} limit and was stopped. Narrow the date range, use fewer steps, filters, ` +
      'breakdown groups or aliased funnels per request, or ask the operator to raise FUNNELCAST_FUNNEL_TIMEOUT_MS.',
    { limitMs },
  );
}

/** CLIENT_CLOSED_REQUEST: the client went away, so the funnel was stopped; nobody reads this answer. */
export function clientClosedRequest(): UserFacingError {
  return new UserFacingError('CLIENT_CLOSED_REQUEST', 'The client closed the request, so the funnel was stopped.');
}

export class FunnelBudget {
  readonly deadline: number;
  readonly owner: string;
  readonly signal: AbortSignal | undefined;

  constructor(
    readonly limitMs: number,
    options: FunnelCallOptions = {},
  ) {
    this.deadline = Date.now() + limitMs;
    this.owner = options.owner ?? 'anonymous';
    this.signal = options.signal;
  }

  /** Throws FUNNEL_TIMEOUT past the deadline, CLIENT_CLOSED_REQUEST once the client has gone. */
  check(): void {
    if (this.signal?.aborted) throw clientClosedRequest();
    if (Date.now() >= this.deadline) throw funnelTimeout(this.limitMs);
  }
}
