import { GraphQLResponse, HeaderMap } from '@apollo/server';
import { getVariableValues, GraphQLError, GraphQLFormattedError, GraphQLSchema, OperationDefinitionNode } from 'graphql';
import { formatError } from './errors';

/**
 * Invalid variable values reported before coercion stops. graphql-js's `execute` stops at the
 * same count; without a bound, a list of 100,001 invalid entries built 100,001 errors, each with
 * a stack trace, for seconds of CPU on the event loop.
 */
export const MAX_VARIABLE_ERRORS = 50;

/** An operation's variables after coercion: the values resolvers would see, or what is wrong with them. */
export type CoercedVariables = { values: Record<string, unknown>; errors?: undefined } | { values?: undefined; errors: GraphQLError[] };

/**
 * Coerces `inputs` (the request's raw JSON variables) against the operation's variable
 * definitions, defaults included. Stops at the (MAX_VARIABLE_ERRORS + 1)th invalid value, so the
 * work on a hostile list is bounded by that count, not by its length. Errors: at most
 * MAX_VARIABLE_ERRORS graphql-js messages (`Variable "$x" got invalid value … at "x.steps[3]"; …`),
 * plus one note when coercion stopped early; all BAD_USER_INPUT.
 */
export function coerceVariables(schema: GraphQLSchema, operation: OperationDefinitionNode, inputs: Record<string, unknown>): CoercedVariables {
  const result = getVariableValues(schema, operation.variableDefinitions ?? [], inputs, { maxErrors: MAX_VARIABLE_ERRORS });
  if (!result.errors) return { values: result.coerced };
  // graphql-js ends the list with an error of its own, without a code, when it stops early.
  const reported = result.errors.slice(0, MAX_VARIABLE_ERRORS).map(
    (error) => new GraphQLError(error.message, { nodes: error.nodes, originalError: error.originalError, extensions: { code: 'BAD_USER_INPUT' } }),
  );
  if (result.errors.length > MAX_VARIABLE_ERRORS) {
    reported.push(
      new GraphQLError(
        `More than ${MAX_VARIABLE_ERRORS} values in the variables are invalid; the first ${MAX_VARIABLE_ERRORS} are listed. Fix them, and any others like them, then send the request again.`,
        { extensions: { code: 'BAD_USER_INPUT', maxErrors: MAX_VARIABLE_ERRORS } },
      ),
    );
  }
  return { errors: reported };
}

interface OperationRequest {
  schema: GraphQLSchema;
  operation: OperationDefinitionNode;
  request: { variables?: Record<string, unknown> };
}

const coercedByRequest = new WeakMap<object, CoercedVariables>();

/**
 * The request's coerced variables (see coerceVariables), computed by the first check that needs
 * them and shared by the others, so our checks coerce each request's variables once. The limits
 * plugin (limits.ts) asks first and refuses the request when they do not coerce, before its cost
 * check, whose library coerces them again without a bound on errors.
 */
export function operationVariables({ schema, operation, request }: OperationRequest): CoercedVariables {
  let coerced = coercedByRequest.get(request);
  if (!coerced) {
    coerced = coerceVariables(schema, operation, request.variables ?? {});
    coercedByRequest.set(request, coerced);
  }
  return coerced;
}

/**
 * A response that ends the request before execution with `errors` (public codes only), formatted
 * by the server's formatError, with HTTP 400 like graphql-js's own variable errors.
 */
export function refusedResponse(errors: GraphQLError[]): GraphQLResponse {
  const formatted = errors.map((error): GraphQLFormattedError => {
    const { http: _http, ...extensions } = error.extensions;
    return formatError({ ...error.toJSON(), extensions }, error);
  });
  return { http: { status: 400, headers: new HeaderMap() }, body: { kind: 'single', singleResult: { errors: formatted } } };
}
