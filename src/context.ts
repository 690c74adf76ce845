import type { Principal } from './auth/api-key.service';
import type { RequestObservation } from './http/request-log';
import type { Services } from './services';

/** What every resolver receives: who is calling, and the services that hold the logic. */
export interface Context {
  principal: Principal | null;
  /** Why the Authorization header was not accepted, for a precise UNAUTHENTICATED message. */
  authProblem: string | null;
  services: Services;
  /** Aborted when the HTTP request ends: the client closed it, or its answer was sent (say, early, after an error). */
  signal?: AbortSignal;
  /** The HTTP request's log line and metrics, which an Apollo plugin tells the operation and error codes. */
  observation?: RequestObservation;
}
