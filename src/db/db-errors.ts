import { QueryRunnerAlreadyReleasedError, QueryRunnerProviderAlreadyReleasedError } from 'typeorm';

/**
 * One answer to "is this failure PostgreSQL being unreachable right now?", so that every caller
 * (GraphQL errors, the HTTP front, the CLI) reports an outage the same way: as a temporary
 * condition worth retrying (SERVICE_UNAVAILABLE, HTTP 503), never as an internal error.
 */

/** Socket-level failures while connecting to or talking with the server (Node's `error.code`). */
const NETWORK_ERROR_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

/**
 * SQLSTATEs of a server that is going away or not ready: 57P01 admin_shutdown (also what
 * pg_terminate_backend sends), 57P02 crash_shutdown, 57P03 cannot_connect_now (starting up or
 * shutting down), 53300 too_many_connections. Class 08 (connection exceptions) is matched by prefix.
 */
const UNAVAILABLE_SQLSTATES = new Set(['57P01', '57P02', '57P03', '53300']);

/**
 * Messages node-postgres and pg-pool raise without a code: a socket closed under a client, a
 * connect or pool checkout that timed out (connectionTimeoutMillis), a client used after its
 * connection broke, a pool used while shutting down.
 */
const UNAVAILABLE_MESSAGES = [
  /^Connection terminated/,
  /^timeout exceeded when trying to connect$/,
  /is not queryable/,
  /^Cannot use a pool after calling end on the pool$/,
];

/**
 * TypeORM's PostgreSQL query runner releases itself when its connection reports an error, so a
 * transaction whose connection was cut fails at its next query or COMMIT with one of these instead
 * of the driver's error (found by terminating backends under `ingestEvents`).
 */
function isReleasedByConnectionLoss(error: object): boolean {
  return error instanceof QueryRunnerAlreadyReleasedError || error instanceof QueryRunnerProviderAlreadyReleasedError;
}

function causesOf(error: object): unknown[] {
  const { driverError, cause, errors } = error as { driverError?: unknown; cause?: unknown; errors?: unknown };
  return [driverError, cause, ...(Array.isArray(errors) ? errors : [])];
}

/**
 * True when `error` (or what it wraps: TypeORM's `driverError`, `cause`, an AggregateError's
 * `errors`) says the database cannot be reached or dropped the connection; false for every other
 * failure, including SQL errors of a healthy server (syntax, constraints, a cancelled statement).
 */
export function isDatabaseUnavailable(error: unknown, depth = 0): boolean {
  if (typeof error !== 'object' || error === null || depth > 4) return false;
  if (isReleasedByConnectionLoss(error)) return true;
  const { code, message } = error as { code?: unknown; message?: unknown };
  if (typeof code === 'string') {
    if (NETWORK_ERROR_CODES.has(code) || UNAVAILABLE_SQLSTATES.has(code) || /^08[0-9A-Z]{3}$/.test(code)) return true;
  }
  if (typeof message === 'string' && UNAVAILABLE_MESSAGES.some((pattern) => pattern.test(message))) return true;
  return causesOf(error).some((inner) => inner !== error && isDatabaseUnavailable(inner, depth + 1));
}

/** What a client is told during an outage; no host, port or driver text. */
export const DATABASE_UNAVAILABLE_MESSAGE = 'The database is unavailable right now; retry in a few seconds.';
