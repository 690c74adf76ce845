import {
  DocumentNode,
  FieldNode,
  FragmentDefinitionNode,
  GraphQLError,
  Kind,
  OperationDefinitionNode,
  SelectionSetNode,
  ValueNode,
} from 'graphql';

export interface QueryLimits {
  maxDepth: number;
  maxComplexity: number;
}

/** Arguments that say how many list entries a field returns; they multiply the cost of what is below. */
const PAGE_SIZE_ARGUMENTS = new Set(['first', 'last', 'limit']);
/** Introspection is bounded by the schema itself and tools send deep introspection queries. */
const INTROSPECTION_FIELDS = new Set(['__schema', '__type']);

interface Cost {
  depth: number;
  complexity: number;
}

function pageSize(field: FieldNode, variables: Record<string, unknown>): number {
  for (const argument of field.arguments ?? []) {
    if (!PAGE_SIZE_ARGUMENTS.has(argument.name.value)) continue;
    const value = literalInt(argument.value, variables);
    if (value !== undefined) return Math.max(1, value);
  }
  return 1;
}

function literalInt(node: ValueNode, variables: Record<string, unknown>): number | undefined {
  if (node.kind === Kind.INT) return Number(node.value);
  if (node.kind === Kind.VARIABLE) {
    const value = variables[node.name.value];
    return typeof value === 'number' ? value : undefined;
  }
  return undefined;
}

function measure(
  selectionSet: SelectionSetNode,
  fragments: Record<string, FragmentDefinitionNode>,
  variables: Record<string, unknown>,
  visiting: Set<string>,
): Cost {
  let depth = 0;
  let complexity = 0;
  for (const selection of selectionSet.selections) {
    let inner: Cost;
    if (selection.kind === Kind.FIELD) {
      if (INTROSPECTION_FIELDS.has(selection.name.value)) continue;
      const below = selection.selectionSet
        ? measure(selection.selectionSet, fragments, variables, visiting)
        : { depth: 0, complexity: 0 };
      inner = { depth: below.depth + 1, complexity: 1 + pageSize(selection, variables) * below.complexity };
    } else if (selection.kind === Kind.INLINE_FRAGMENT) {
      inner = measure(selection.selectionSet, fragments, variables, visiting);
    } else {
      const name = selection.name.value;
      const fragment = fragments[name];
      // Cycles are reported by graphql's own NoFragmentCycles rule; just do not loop here.
      if (!fragment || visiting.has(name)) continue;
      visiting.add(name);
      inner = measure(fragment.selectionSet, fragments, variables, visiting);
      visiting.delete(name);
    }
    depth = Math.max(depth, inner.depth);
    complexity += inner.complexity;
  }
  return { depth, complexity };
}

/**
 * Errors for an operation nested deeper than `maxDepth` fields, or whose estimated cost (one per
 * field, multiplied by the page sizes of the lists above it) passes `maxComplexity`. Run after
 * variables are known, since page sizes often come from them.
 */
export function queryLimitErrors(
  document: DocumentNode,
  operation: OperationDefinitionNode,
  variables: Record<string, unknown>,
  limits: QueryLimits,
): GraphQLError[] {
  const fragments: Record<string, FragmentDefinitionNode> = {};
  for (const definition of document.definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments[definition.name.value] = definition;
  }
  const cost = measure(operation.selectionSet, fragments, variables, new Set());
  const errors: GraphQLError[] = [];
  if (cost.depth > limits.maxDepth) {
    errors.push(
      new GraphQLError(`The query is nested ${cost.depth} levels deep; at most ${limits.maxDepth} are allowed. Ask for fewer nested fields.`, {
        extensions: { code: 'QUERY_TOO_DEEP', depth: cost.depth, maxDepth: limits.maxDepth },
      }),
    );
  }
  if (cost.complexity > limits.maxComplexity) {
    errors.push(
      new GraphQLError(`The query's estimated cost is ${cost.complexity}; at most ${limits.maxComplexity} is allowed. Request fewer fields or smaller pages.`, {
        extensions: { code: 'QUERY_TOO_COMPLEX', complexity: cost.complexity, maxComplexity: limits.maxComplexity },
      }),
    );
  }
  return errors;
}
