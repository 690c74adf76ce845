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

  /**
   * `work`'s result, or FUNNEL_TIMEOUT / CLIENT_CLOSED_REQUEST as soon as the deadline passes or the
   * client goes, whichever comes first. For the main thread's preparation (catching the mirror up,
   * loading a property column, reading a cohort): shared work that goes on for the next query, but
   * the request is answered within its limit.
   */
  race<T>(work: Promise<T>): Promise<T> {
    work.catch(() => undefined); // a failure after the answer went out must not be unhandled
    try {
      this.check();
    } catch (error) {
      return Promise.reject(error);
    }
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    const stop = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(funnelTimeout(this.limitMs)), Math.max(0, this.deadline - Date.now()));
      onAbort = () => reject(clientClosedRequest());
      this.signal?.addEventListener('abort', onAbort, { once: true });
    });
    return Promise.race([work, stop]).finally(() => {
      clearTimeout(timer);
      if (onAbort) this.signal?.removeEventListener('abort', onAbort);
    });
  }
}
