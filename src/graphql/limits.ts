import type { ApolloServerPlugin } from '@apollo/server';
import { ApolloArmor } from '@escape.tech/graphql-armor';
import {
  DocumentNode,
  FragmentDefinitionNode,
  GraphQLError,
  GraphQLSchema,
  Kind,
  Lexer,
  OperationDefinitionNode,
  SelectionSetNode,
  Source,
  TokenKind,
  validate,
  ValidationContext,
  ValidationRule,
} from 'graphql';
import { createComplexityRule, simpleEstimator } from 'graphql-query-complexity';
import type { Config } from '../config';
import { fieldCostEstimator } from './costs';
import { MAX_FEEDBACK_BATCH, MAX_ITEMS_PER_UPSERT } from './input-rules';
import { coerceVariables, operationVariables, refusedResponse } from './request-variables';

export interface QueryLimits {
  maxDepth: number;
  maxComplexity: number;
  maxAliases: number;
  maxDirectives: number;
  maxTokens: number;
  /** Events summed over every `ingestEvents` field of one request. */
  maxIngestBatch: number;
}

/**
 * The cost walk of graphql-query-complexity expands a fragment each time it is spread; it stops
 * after this many selections, so a small document of fragments spreading each other twice is
 * refused after a bounded amount of work instead of walking 2^27 fields.
 */
const MIN_QUERY_NODES = 10_000;

/** A refused request: HTTP 400 with a code clients may see and a message that says what to change. */
class QueryLimitError extends GraphQLError {
  constructor(code: string, message: string, extensions: Record<string, unknown>) {
    super(message, { extensions: { code, ...extensions, http: { status: 400 } } });
  }
}

function limitError(code: string, message: string, extensions: Record<string, unknown>): GraphQLError {
  return new QueryLimitError(code, message, extensions);
}

/** graphql-armor reports counts only in its message ("…exceeded, found 600."). */
function foundIn(error: GraphQLError): number | undefined {
  const match = /found (\d+)/.exec(error.message);
  return match ? Number(match[1]) : undefined;
}

type RejectCallback = (context: ValidationContext | null, error: GraphQLError) => void;

/** Report our own error, with the count graphql-armor found, into the validation run. */
const reportAs =
  (make: (found: number | undefined) => GraphQLError): RejectCallback =>
  (context, error) =>
    context?.reportError(make(foundIn(error)));

/**
 * graphql-armor's depth, alias and directive rules (fragments are expanded once each and
 * memoised, so they are linear in the document), reporting our codes. Depth leaves `__schema`
 * out so tools' standard introspection query (deeply nested `ofType`) still works; introspection
 * is bounded by aliases and cost instead. Tokens are limited by graphql-js at parse time and cost
 * by graphql-query-complexity once the variables are known, so armor's own versions are off.
 */
function shapeRules(limits: QueryLimits): ValidationRule[] {
  const armor = new ApolloArmor({
    maxDepth: {
      n: limits.maxDepth,
      flattenFragments: true,
      ignoreIntrospection: true,
      propagateOnRejection: false,
      onReject: [
        reportAs((depth) =>
          limitError('QUERY_TOO_DEEP', `The query is nested ${depth ?? 'more than ' + limits.maxDepth} levels deep; at most ${limits.maxDepth} are allowed. Ask for fewer nested fields.`, {
            depth,
            maxDepth: limits.maxDepth,
          }),
        ),
      ],
    },
    maxAliases: {
      n: limits.maxAliases,
      propagateOnRejection: false,
      onReject: [
        reportAs((aliases) =>
          limitError(
            'QUERY_TOO_MANY_ALIASES',
            `The query uses ${aliases ?? 'more than ' + limits.maxAliases} aliases; at most ${limits.maxAliases} are allowed. Send the aliased fields in several requests.`,
            { aliases, maxAliases: limits.maxAliases },
          ),
        ),
      ],
    },
    maxDirectives: {
      n: limits.maxDirectives,
      propagateOnRejection: false,
      onReject: [
        reportAs((directives) =>
          limitError(
            'QUERY_TOO_MANY_DIRECTIVES',
            `The query uses ${directives ?? 'more than ' + limits.maxDirectives} directives; at most ${limits.maxDirectives} are allowed. Remove repeated directives.`,
            { directives, maxDirectives: limits.maxDirectives },
          ),
        ),
      ],
    },
    maxTokens: { enabled: false },
    costLimit: { enabled: false },
    // Introspection is open, so suggestions hide nothing; they help client developers.
    blockFieldSuggestion: { enabled: false },
  });
  return armor.protect().validationRules as ValidationRule[];
}

/**
 * Mutations that take a batch, by field name: the argument holding the batch. Their limits apply to
 * the whole request, summed over aliases and fragments, so aliases cannot multiply a batch.
 */
const BATCH_ARGUMENTS = new Map([
  ['ingestEvents', 'events'],
  ['upsertItems', 'items'],
  ['recordRecommendationFeedback', 'feedback'],
]);

/**
 * Entries in the request's batch mutations together (see BATCH_ARGUMENTS), per field name, from
 * literals and variables. Fragments are summed once each and reused (linear), and each spread
 * counts, so aliases and fragments cannot carry more than one batch's worth between them.
 */
export function batchEntryCounts(document: DocumentNode, operation: OperationDefinitionNode, variables: Record<string, unknown>): Map<string, number> {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const definition of document.definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
  }
  const add = (into: Map<string, number>, from: Map<string, number>) => {
    for (const [field, n] of from) into.set(field, (into.get(field) ?? 0) + n);
  };
  const perFragment = new Map<string, Map<string, number>>();
  const count = (selectionSet: SelectionSetNode): Map<string, number> => {
    const entries = new Map<string, number>();
    for (const selection of selectionSet.selections) {
      if (selection.kind === Kind.FIELD) {
        const argumentName = BATCH_ARGUMENTS.get(selection.name.value);
        const argument = argumentName ? selection.arguments?.find((arg) => arg.name.value === argumentName) : undefined;
        if (argument) {
          let n = 1; // one object literal is a list of one
          if (argument.value.kind === Kind.LIST) n = argument.value.values.length;
          else if (argument.value.kind === Kind.VARIABLE) {
            const value = variables[argument.value.name.value];
            n = Array.isArray(value) ? value.length : value == null ? 0 : 1;
          }
          entries.set(selection.name.value, (entries.get(selection.name.value) ?? 0) + n);
        }
        if (selection.selectionSet) add(entries, count(selection.selectionSet));
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        add(entries, count(selection.selectionSet));
      } else {
        const name = selection.name.value;
        if (!perFragment.has(name)) {
          perFragment.set(name, new Map()); // a cycle (refused by validation) counts nothing
          const fragment = fragments.get(name);
          if (fragment) perFragment.set(name, count(fragment.selectionSet));
        }
        add(entries, perFragment.get(name)!);
      }
    }
    return entries;
  };
  return count(operation.selectionSet);
}

/** Events in the request's `ingestEvents` fields together (see batchEntryCounts). */
export function ingestEventCount(document: DocumentNode, operation: OperationDefinitionNode, variables: Record<string, unknown>): number {
  return batchEntryCounts(document, operation, variables).get('ingestEvents') ?? 0;
}

/**
 * The estimated cost of the operation with these variables (see ./costs), by graphql-query-complexity;
 * `undefined` when the walk passed `maxNodes` selections (fragments counted at every spread).
 * Arguments that fail coercion leave their field out: it fails at execution without doing work
 * (however many such fields there are). The library coerces `variables` itself, with no bound on the errors it builds (one GraphQLError
 * with a stack trace per invalid list entry): pass only variables known to coerce
 * (request-variables.ts), so that coercion costs one pass over them and builds no error.
 */
export function queryCost(
  schema: GraphQLSchema,
  document: DocumentNode,
  variables: Record<string, unknown>,
  operationName: string | undefined,
  maxNodes: number,
): number | undefined {
  let cost = 0;
  const rule = createComplexityRule({
    maximumComplexity: Number.MAX_SAFE_INTEGER,
    estimators: [fieldCostEstimator, simpleEstimator({ defaultComplexity: 1 })],
    variables,
    operationName,
    maxQueryNodes: maxNodes,
    onComplete: (complexity: number) => {
      cost = complexity;
    },
  });
  try {
    // Each field whose arguments fail coercion reports an error; past validate's default of 100
    // the walk would stop before onComplete and the cost read 0. The node bound caps them instead.
    validate(schema, document, [rule], { maxErrors: maxNodes + 1 });
  } catch (error) {
    if (error instanceof GraphQLError && /maximum allowed number of nodes/.test(error.message)) return undefined;
    throw error;
  }
  return cost;
}

/** Whether `source` has more than `limit` lexical tokens (lexes at most limit + 1 of them). */
function tokensPast(source: string, limit: number): boolean {
  const lexer = new Lexer(new Source(source));
  try {
    for (let count = 0; count <= limit; count++) {
      if (lexer.advance().kind === TokenKind.EOF) return false;
    }
    return true;
  } catch {
    return false; // a genuine syntax error
  }
}


/**
 * Errors for a request over the limits, the way the server checks them, in one call: shape
 * (depth, aliases, directives), then the summed batches (on the raw variables), then the variables
 * (at most MAX_VARIABLE_ERRORS graphql-js errors and a note when they do not coerce), then cost.
 */
export function queryLimitErrors(
  schema: GraphQLSchema,
  document: DocumentNode,
  operation: OperationDefinitionNode,
  variables: Record<string, unknown>,
  limits: QueryLimits,
  rules: ValidationRule[] = shapeRules(limits),
): GraphQLError[] {
  const shape = validate(schema, document, rules);
  if (shape.length) return [...shape];
  const batch = batchLimitError(document, operation, variables, limits);
  if (batch) return [batch];
  const { errors } = coerceVariables(schema, operation, variables);
  if (errors) return errors;
  const cost = costLimitError(schema, document, operation, variables, limits);
  return cost ? [cost] : [];
}

/**
 * BATCH_TOO_LARGE when the request's batch mutations together hold more entries than allowed,
 * counted on the raw variables: checked before any coercion, so an oversized batch costs nothing.
 */
function batchLimitError(document: DocumentNode, operation: OperationDefinitionNode, variables: Record<string, unknown>, limits: QueryLimits): GraphQLError | null {
  const batches = batchEntryCounts(document, operation, variables);
  const events = batches.get('ingestEvents') ?? 0;
  if (events > limits.maxIngestBatch) {
    return limitError(
      'BATCH_TOO_LARGE',
      `A request holds at most ${limits.maxIngestBatch} events; this one has ${events} (all its ingestEvents fields together). Split them over several requests and send the parts in order.`,
      { events, maxBatch: limits.maxIngestBatch },
    );
  }
  for (const [field, max, noun] of [
    ['upsertItems', MAX_ITEMS_PER_UPSERT, 'items'],
    ['recordRecommendationFeedback', MAX_FEEDBACK_BATCH, 'feedback entries'],
  ] as const) {
    const entries = batches.get(field) ?? 0;
    if (entries > max) {
      return limitError(
        'BATCH_TOO_LARGE',
        `A request holds at most ${max} ${noun}; this one has ${entries} (all its ${field} fields together). Split them over several requests.`,
        { entries, maxBatch: max },
      );
    }
  }
  return null;
}

/**
 * QUERY_TOO_COMPLEX when the operation's cost with these raw variables is over the limit (or past
 * the walk's bound). Call it only with variables known to coerce (see queryCost).
 */
function costLimitError(
  schema: GraphQLSchema,
  document: DocumentNode,
  operation: OperationDefinitionNode,
  variables: Record<string, unknown>,
  limits: QueryLimits,
): GraphQLError | null {
  const maxNodes = Math.max(MIN_QUERY_NODES, limits.maxComplexity);
  const cost = queryCost(schema, document, variables, operation.name?.value, maxNodes);
  if (cost === undefined) {
    return limitError(
      'QUERY_TOO_COMPLEX',
      `The query selects more than ${maxNodes} fields (a fragment's fields count each time it is spread), so its cost is over ${limits.maxComplexity}. Request fewer fields or spread fewer fragments.`,
      { maxComplexity: limits.maxComplexity },
    );
  }
  if (cost > limits.maxComplexity) {
    return limitError(
      'QUERY_TOO_COMPLEX',
      `The query's estimated cost is ${cost}; at most ${limits.maxComplexity} is allowed. Request fewer fields, fewer expensive fields (funnels, statistics, predictions) or smaller pages, or split it over several requests.`,
      { complexity: cost, maxComplexity: limits.maxComplexity },
    );
  }
  return null;
}

/**
 * What Apollo needs to enforce `limits` on every request, introspection included: graphql-js's
 * token limit while parsing, the shape rules beside graphql's own validation, and a plugin that
 * checks, before anything runs: the summed batches, on the raw variables, before any coercion
 * (`didResolveOperation`); then (`responseForOperation`, once every plugin's `didResolveOperation`
 * passed) the variables, coerced once for every check (request-variables.ts) and refused with at
 * most MAX_VARIABLE_ERRORS errors and a note when they do not coerce; then the cost, whose library
 * coerces them again, so it only ever sees variables that coerce. Install it before the plugins
 * that use the coerced variables (argument-validation.ts). Apollo caches documents only after they
 * passed parsing and validation.
 */
export function queryLimitsForApollo<TContext extends object>(
  limits: QueryLimits,
): { plugin: ApolloServerPlugin<TContext>; validationRules: ValidationRule[]; parseOptions: { maxTokens: number } } {
  const plugin: ApolloServerPlugin<TContext> = {
    async requestDidStart() {
      return {
        async didResolveOperation({ document, operation, request }) {
          if (!operation) return;
          const batch = batchLimitError(document, operation, request.variables ?? {}, limits);
          if (batch) throw batch;
        },
        async responseForOperation(requestContext) {
          const { schema, document, operation, request } = requestContext;
          const { errors } = operationVariables(requestContext);
          if (errors) return refusedResponse(errors);
          const cost = costLimitError(schema, document, operation, request.variables ?? {}, limits);
          return cost ? refusedResponse([cost]) : null;
        },
        async didEncounterErrors({ errors, document, source }) {
          for (const error of errors) {
            // Apollo files our shape errors under GRAPHQL_VALIDATION_FAILED; give them back their own code.
            if (error.originalError instanceof QueryLimitError) error.extensions.code = error.originalError.extensions.code;
          }
          // graphql-js stops parsing past maxTokens with a plain syntax error; say which limit it was.
          const [first] = errors;
          if (document || source === undefined || errors.length !== 1 || first.extensions.code !== 'GRAPHQL_PARSE_FAILED') return;
          if (!tokensPast(source, limits.maxTokens)) return;
          first.message = `The query has more than ${limits.maxTokens} tokens; at most ${limits.maxTokens} are allowed. Pass large inputs as variables, or send smaller queries.`;
          first.extensions.code = 'QUERY_TOO_MANY_TOKENS';
          first.extensions.maxTokens = limits.maxTokens;
        },
      };
    },
  };
  return { plugin, validationRules: shapeRules(limits), parseOptions: { maxTokens: limits.maxTokens } };
}

/** The limits as configured (FUNNELCAST_MAX_QUERY_* and FUNNELCAST_MAX_INGEST_BATCH). */
export function queryLimitsFrom(config: Config): QueryLimits {
  return {
    maxDepth: config.maxQueryDepth,
    maxComplexity: config.maxQueryComplexity,
    maxAliases: config.maxQueryAliases,
    maxDirectives: config.maxQueryDirectives,
    maxTokens: config.maxQueryTokens,
    maxIngestBatch: config.maxIngestBatch,
  };
}
