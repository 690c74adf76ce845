import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ApolloServerPlugin } from '@apollo/server';
import type pino from 'pino';
import type { Principal } from '../auth/api-key.service';
import { PUBLIC_ERROR_CODES } from '../graphql/errors';
import type { FunnelcastMetrics } from '../metrics/metrics';

/** What one HTTP request turned out to be, filled in as it is served, logged and counted when its answer ends. */
export class RequestObservation {
  /** The GraphQL operation once resolved (its name null when it has none); null: it never was. */
  operation: { name: string | null } | null = null;
  /** Error codes of the answer, in order (a refusal before GraphQL has one). */
  errorCodes: string[] = [];
  principal: Principal | null = null;
  /** True for requests to the GraphQL endpoint, which the GraphQL metrics count. */
  graphql = false;

  refused(code: string): void {
    this.errorCodes.push(code);
  }
}

/**
 * Whether a request may turn an operation name not seen yet into a metric label (OperationLabels):
 * only with a trusted key. Client keys ship inside apps, so whoever unpacks an app holds one and could
 * spend every label slot on invented names; their requests count under names trusted keys brought.
 */
export function mayAddOperationLabel(principal: Principal | null): boolean {
  return principal !== null && principal.role !== 'client';
}

/** Paths are logged up to this many characters (a client chooses them, up to Node's 16 KiB of headers). */
export const LOGGED_PATH_LENGTH = 256;

/** The request's path for the log: never the query string; cut to LOGGED_PATH_LENGTH characters with a trailing `…`. */
function loggedPath(url: string | undefined): string {
  const path = new URL(url ?? '/', 'http://localhost').pathname;
  return path.length > LOGGED_PATH_LENGTH ? `${path.slice(0, LOGGED_PATH_LENGTH)}…` : path;
}

const ERROR_CODES = new Set([...PUBLIC_ERROR_CODES, 'INTERNAL_SERVER_ERROR']);

/** An error code as a metric label: the public codes as they are, anything else `OTHER` (codes of ours are a closed set). */
function codeLabel(code: string): string {
  return ERROR_CODES.has(code) ? code : 'OTHER';
}

/**
 * Watches one request until its answer ends (or the client goes), then writes one `info` line
 * and, for GraphQL requests, counts it. The line holds the method, path (never the query string,
 * which may carry variables), status, duration in ms, operation name, outcome, error codes, and
 * the API key's id and role: never the secret, a user id or variables.
 */
export function observeRequest(request: IncomingMessage, response: ServerResponse, log: pino.Logger, metrics: FunnelcastMetrics): RequestObservation {
  const started = performance.now();
  const observation = new RequestObservation();
  response.once('close', () => {
    const seconds = (performance.now() - started) / 1000;
    const status = response.statusCode;
    const [firstCode] = observation.errorCodes;
    // Answers Apollo gives without running plugins (e.g. a wrong content type) still have a status.
    const outcome = firstCode !== undefined ? codeLabel(firstCode) : status >= 400 ? `HTTP_${status}` : 'ok';
    const operation = observation.graphql ? metrics.operations.labelOf(observation.operation, mayAddOperationLabel(observation.principal)) : undefined;
    log.info(
      {
        method: request.method,
        path: loggedPath(request.url),
        status,
        durationMs: Math.round(seconds * 1_000_000) / 1000,
        operation,
        outcome,
        errorCodes: observation.errorCodes.length > 0 ? observation.errorCodes : undefined,
        keyId: observation.principal?.keyId,
        role: observation.principal?.role,
        aborted: response.writableFinished ? undefined : true,
      },
      'request',
    );
    if (!observation.graphql || operation === undefined) return;
    metrics.graphqlRequests.inc({ operation, outcome });
    metrics.graphqlRequestDuration.observe({ operation, outcome: outcome === 'ok' ? 'ok' : 'error' }, seconds);
    for (const code of observation.errorCodes) metrics.graphqlErrors.inc({ code: codeLabel(code) });
    if (observation.errorCodes.length === 0 && outcome !== 'ok') metrics.graphqlErrors.inc({ code: outcome });
  });
  return observation;
}

/**
 * Apollo plugin: tells the request's observation (context.observation) which operation ran and
 * which error codes its answer holds (after formatError, so masked errors count as INTERNAL_SERVER_ERROR).
 */
export function requestObservationPlugin<TContext extends { observation?: RequestObservation }>(): ApolloServerPlugin<TContext> {
  return {
    async requestDidStart({ contextValue }) {
      const observation = contextValue.observation;
      if (!observation) return;
      return {
        async didResolveOperation({ operation }) {
          if (operation) observation.operation = { name: operation.name?.value ?? null };
        },
        async willSendResponse({ response }) {
          const errors = response.body.kind === 'single' ? response.body.singleResult.errors : response.body.initialResult.errors;
          for (const error of errors ?? []) {
            const code = error.extensions?.code;
            observation.errorCodes.push(typeof code === 'string' ? code : 'INTERNAL_SERVER_ERROR');
          }
        },
      };
    },
  };
}
