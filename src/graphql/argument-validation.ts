import type { ApolloServerPlugin } from '@apollo/server';
import {
  DocumentNode,
  FragmentDefinitionNode,
  getArgumentValues,
  getNamedType,
  getNullableType,
  GraphQLCompositeType,
  GraphQLError,
  GraphQLInputType,
  GraphQLSchema,
  isCompositeType,
  isEnumType,
  isInputObjectType,
  isListType,
  isObjectType,
  isInterfaceType,
  Kind,
  OperationDefinitionNode,
  SelectionSetNode,
} from 'graphql';
import { badInput } from './errors';
import { operationVariables, refusedResponse } from './request-variables';
import { characterProblem, floatProblem, idProblem, instantProblem, MAX_JSON_DEPTH, MAX_LIST_LENGTH, MAX_PRICE, NumberBounds, textProblem } from './input-rules';

/**
 * Bounds of Float arguments and input fields that need more than "finite, not subnormal,
 * |x| ≤ 10^15", by schema coordinate: what a column holds, a share or score in [0, 1], or a
 * sensible least window. `argument-validation.spec.ts` checks each coordinate exists, so a rename
 * cannot drop one.
 */
export const FLOAT_BOUNDS: Record<string, NumberBounds> = {
  'ItemInput.price': { min: 0, max: MAX_PRICE },
  'LiveEventInput.price': { min: 0, max: MAX_PRICE },
  'Query.atRiskUsers.minValue': { min: 0, max: MAX_PRICE },
  'Query.recommendationPerformance.attributionWindowHours': { min: 0.01, max: 24 * 90, unit: 'hours' },
  'FunnelInput.anomalyThreshold': { min: 0, max: 1 },
  'Query.anomalies.minScore': { min: 0, max: 1 },
  'Query.atRiskUsers.maxPropensity': { min: 0, max: 1 },
};

/**
 * Arguments whose records are checked one by one by their service with these same rules, so one
 * bad record is rejected with its index while the others are stored (see event-checks.ts).
 */
export const PER_RECORD_ARGUMENTS = new Set(['Mutation.ingestEvents.events']);

/** String arguments and fields holding ids (besides every `ID`): `id`, `userId`, `itemIds`, … */
const ID_NAME = /^id$|Ids?$/;

class ArgumentProblem extends Error {
  constructor(
    readonly path: string,
    readonly problem: string,
  ) {
    super(`${path} ${problem}`);
  }
}

function problemAt(path: string, problem: string | null): void {
  if (problem !== null) throw new ArgumentProblem(path, problem);
}

function checkJson(value: unknown, path: string, depth: number): void {
  if (typeof value === 'string') return problemAt(path, characterProblem(value));
  if (typeof value === 'number') return problemAt(path, Number.isFinite(value) ? null : 'is not a finite number');
  if (value === null || typeof value !== 'object') return;
  if (depth >= MAX_JSON_DEPTH) throw new ArgumentProblem(path, `is nested more than ${MAX_JSON_DEPTH} levels deep`);
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) checkJson(value[i], `${path}[${i}]`, depth + 1);
    return;
  }
  for (const [key, inner] of Object.entries(value)) {
    const keyProblem = characterProblem(key);
    if (keyProblem) throw new ArgumentProblem(`${path} key ${JSON.stringify(key.slice(0, 40))}`, keyProblem);
    checkJson(inner, `${path}.${key}`, depth + 1);
  }
}

/** Checks one coerced value against its input type; throws an ArgumentProblem naming the path. */
function checkValue(type: GraphQLInputType, value: unknown, path: string, coordinate: string, name: string): void {
  if (value === null || value === undefined) return;
  const nullable = getNullableType(type);
  if (isListType(nullable)) {
    const itemType = nullable.ofType as GraphQLInputType;
    if (!Array.isArray(value)) return checkValue(itemType, value, path, coordinate, name);
    if (value.length > MAX_LIST_LENGTH) throw new ArgumentProblem(path, `has ${value.length} entries; at most ${MAX_LIST_LENGTH} are accepted`);
    for (let i = 0; i < value.length; i++) checkValue(itemType, value[i], `${path}[${i}]`, coordinate, name);
    return;
  }
  if (isInputObjectType(nullable)) {
    const fields = nullable.getFields();
    for (const fieldName of Object.keys(fields)) {
      const record = value as Record<string, unknown>;
      if (record[fieldName] === undefined) continue;
      const field = fields[fieldName];
      checkValue(field.type, record[fieldName], `${path}.${fieldName}`, `${nullable.name}.${fieldName}`, fieldName);
    }
    return;
  }
  if (isEnumType(nullable)) return;
  switch (nullable.name) {
    case 'ID':
      return problemAt(path, typeof value === 'string' ? idProblem(value) : null);
    case 'String':
      return problemAt(path, typeof value !== 'string' ? null : ID_NAME.test(name) ? idProblem(value) : textProblem(value));
    case 'Float':
      return problemAt(path, typeof value === 'number' ? floatProblem(value, FLOAT_BOUNDS[coordinate]) : null);
    case 'DateTime':
      return problemAt(path, value instanceof Date ? instantProblem(value.getTime()) : null);
    case 'JSON':
    case 'JSONObject':
      return checkJson(value, path, 0);
    default:
      return; // Int (graphql-js keeps it to 32 bits), Boolean
  }
}

/**
 * Every field with arguments in the operation, each fragment once (fragments spread many times
 * must not multiply the work), with the type it is selected on.
 */
function* fieldsWithArguments(schema: GraphQLSchema, document: DocumentNode, operation: OperationDefinitionNode) {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const definition of document.definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
  }
  const seenFragments = new Set<string>();
  const root = schema.getRootType(operation.operation);
  if (!root) return;
  const pending: { selectionSet: SelectionSetNode; parent: GraphQLCompositeType }[] = [{ selectionSet: operation.selectionSet, parent: root }];
  while (pending.length > 0) {
    const { selectionSet, parent } = pending.pop()!;
    for (const selection of selectionSet.selections) {
      if (selection.kind === Kind.FIELD) {
        if (!isObjectType(parent) && !isInterfaceType(parent)) continue;
        const field = parent.getFields()[selection.name.value];
        if (!field) continue;
        if (field.args.length > 0) yield { parent, field, node: selection };
        const below = getNamedType(field.type);
        if (selection.selectionSet && isCompositeType(below)) pending.push({ selectionSet: selection.selectionSet, parent: below });
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        const condition = selection.typeCondition ? schema.getType(selection.typeCondition.name.value) : parent;
        if (condition && isCompositeType(condition)) pending.push({ selectionSet: selection.selectionSet, parent: condition });
      } else {
        const name = selection.name.value;
        const fragment = fragments.get(name);
        if (!fragment || seenFragments.has(name)) continue;
        seenFragments.add(name);
        const condition = schema.getType(fragment.typeCondition.name.value);
        if (condition && isCompositeType(condition)) pending.push({ selectionSet: fragment.selectionSet, parent: condition });
      }
    }
  }
}

/**
 * The problem with the first bad argument value of an operation, as a BAD_USER_INPUT error naming
 * the field and the argument path (e.g. `input.steps[2].filters[0].value`), or null. `variables`
 * are the request's coerced variables (request-variables.ts): variables that do not coerce are
 * answered with graphql-js's own errors before this runs.
 */
export function argumentValueError(
  schema: GraphQLSchema,
  document: DocumentNode,
  operation: OperationDefinitionNode,
  variables: Record<string, unknown>,
): GraphQLError | null {
  for (const { parent, field, node } of fieldsWithArguments(schema, document, operation)) {
    const checkedArguments = field.args.filter((a) => !PER_RECORD_ARGUMENTS.has(`${parent.name}.${field.name}.${a.name}`));
    if (checkedArguments.length === 0) continue;
    let args: Record<string, unknown>;
    try {
      args = getArgumentValues({ ...field, args: checkedArguments }, node, variables);
    } catch {
      continue;
    }
    for (const argument of checkedArguments) {
      const coordinate = `${parent.name}.${field.name}.${argument.name}`;
      try {
        checkValue(argument.type, args[argument.name], argument.name, coordinate, argument.name);
      } catch (error) {
        if (!(error instanceof ArgumentProblem)) throw error;
        return badInput(`Argument ${error.path} of ${field.name} ${error.problem}.`, { argument: error.path, field: field.name });
      }
    }
  }
  return null;
}

/**
 * Apollo plugin: checks every argument of the operation against the rules of input-rules.ts
 * before any resolver runs, so no NUL, broken surrogate, non-finite or out-of-range number, or
 * impossible date reaches a service or PostgreSQL. Answers HTTP 400 like graphql-js's own
 * variable errors. It answers in `responseForOperation`, after every plugin's
 * `didResolveOperation` passed, so nothing is checked in a request the limits already refused,
 * and with the variables coerced once for all the checks (after the limits plugin, which answers
 * first when they do not coerce or the cost is over its limit).
 */
export function argumentValidationPlugin(): ApolloServerPlugin {
  return {
    async requestDidStart() {
      return {
        async responseForOperation(requestContext) {
          const { schema, document, operation } = requestContext;
          const { values } = operationVariables(requestContext);
          if (!values) return null;
          const error = argumentValueError(schema, document, operation, values);
          return error ? refusedResponse([error]) : null;
        },
      };
    },
  };
}
