import { GraphQLError, GraphQLFormattedError } from 'graphql';
import { unwrapResolverError } from '@apollo/server/errors';
import { DATABASE_UNAVAILABLE_MESSAGE, isDatabaseUnavailable } from '../db/db-errors';
import { logger } from '../logger';

/**
 * Error codes clients may see. Anything else is an internal failure: logged in full, and answered
 * with a generic message so no SQL, stack or file path leaks out.
 */
export const PUBLIC_ERROR_CODES = new Set([
  'BAD_USER_INPUT',
  'BATCH_TOO_LARGE',
  'NOT_FOUND',
  'UNAUTHENTICATED',
  'FORBIDDEN',
  'QUERY_TOO_DEEP',
  'QUERY_TOO_COMPLEX',
  'QUERY_TOO_MANY_ALIASES',
  'QUERY_TOO_MANY_DIRECTIVES',
  'QUERY_TOO_MANY_TOKENS',
  'RATE_LIMITED',
  'PAYLOAD_TOO_LARGE',
  'REQUEST_TIMEOUT',
  'SERVICE_UNAVAILABLE',
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  'BAD_REQUEST',
  'UNSUPPORTED_MEDIA_TYPE',
  'PERSISTED_QUERY_NOT_FOUND',
  'PERSISTED_QUERY_NOT_SUPPORTED',
  'OPERATION_RESOLUTION_FAILURE',
  'FUNNEL_TIMEOUT',
  'CLIENT_CLOSED_REQUEST',
  'PRIVACY_BUDGET_EXHAUSTED',
  'PRIVACY_RESTRICTED',
  'ANALYTICS_UNSUPPORTED',
]);

/** An expected failure whose message tells the client what to fix. */
export class UserFacingError extends GraphQLError {
  constructor(code: string, message: string, extensions: Record<string, unknown> = {}) {
    super(message, { extensions: { code, ...extensions } });
  }
}

export const badInput = (message: string, extensions?: Record<string, unknown>) =>
  new UserFacingError('BAD_USER_INPUT', message, extensions);
export const notFound = (message: string) => new UserFacingError('NOT_FOUND', message);
export const unauthenticated = (message: string) => new UserFacingError('UNAUTHENTICATED', message);
export const forbidden = (message: string) => new UserFacingError('FORBIDDEN', message);

/**
 * ANALYTICS_UNSUPPORTED: `what` (a query or an option) cannot be answered from ClickHouse, which
 * this server answers analyses from (FUNNELCAST_ANALYTICS=clickhouse, docs/analytics-store.md,
 * "Supported so far"). The message says the way out: the in-process engine, or `withoutIt` (how
 * to ask without the option) when there is one. extensions.engine is "clickhouse".
 */
export const analyticsUnsupported = (what: string, withoutIt?: string) =>
  new UserFacingError(
    'ANALYTICS_UNSUPPORTED',
    `${what} cannot be answered from ClickHouse, which this server answers analyses from (FUNNELCAST_ANALYTICS=clickhouse). ` +
      `Use a server with FUNNELCAST_ANALYTICS=inprocess${withoutIt ? `, or ${withoutIt}` : ''} (docs/analytics-store.md).`,
    { engine: 'clickhouse' },
  );

/**
 * Apollo's `formatError`: pass public errors through, answer a database outage as
 * SERVICE_UNAVAILABLE (src/db/db-errors.ts decides what counts), mask and log the rest.
 */
export function formatError(formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError {
  const original = unwrapResolverError(error);
  const code = formatted.extensions?.code;
  // class-validator failures come from type-graphql as BAD_USER_INPUT with the raw validation
  // errors attached; say in one sentence which fields to fix instead of echoing the objects back.
  const validationErrors = formatted.extensions?.validationErrors;
  if (Array.isArray(validationErrors)) {
    return {
      message: describeValidationErrors(validationErrors) ?? formatted.message,
      locations: formatted.locations,
      path: formatted.path,
      extensions: { code: 'BAD_USER_INPUT' },
    };
  }
  if (typeof code === 'string' && PUBLIC_ERROR_CODES.has(code)) {
    const { stacktrace: _stacktrace, ...extensions } = formatted.extensions ?? {};
    return { ...formatted, extensions };
  }
  if (isDatabaseUnavailable(original)) {
    logger().warn({ err: original, path: formatted.path }, 'database unavailable while serving a GraphQL request');
    return { message: DATABASE_UNAVAILABLE_MESSAGE, locations: formatted.locations, path: formatted.path, extensions: { code: 'SERVICE_UNAVAILABLE' } };
  }
  logger().error({ err: original, path: formatted.path }, 'internal error while serving a GraphQL request');
  return {
    message: 'Internal server error; it has been logged.',
    locations: formatted.locations,
    path: formatted.path,
    extensions: { code: 'INTERNAL_SERVER_ERROR' },
  };
}

interface ValidationErrorLike {
  property?: string;
  constraints?: Record<string, string>;
  children?: ValidationErrorLike[];
}

function describeValidationErrors(errors: unknown[] | undefined, prefix = ''): string | undefined {
  if (!Array.isArray(errors) || errors.length === 0) return undefined;
  const parts: string[] = [];
  for (const raw of errors as ValidationErrorLike[]) {
    const field = prefix ? `${prefix}.${raw.property}` : String(raw.property);
    for (const message of Object.values(raw.constraints ?? {})) parts.push(`${field}: ${message}`);
    const nested = describeValidationErrors(raw.children, field);
    if (nested) parts.push(nested);
  }
  return parts.length ? `Invalid input: ${parts.join('; ')}` : undefined;
}
