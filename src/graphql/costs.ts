import {
  DocumentNode,
  FragmentDefinitionNode,
  getArgumentValues,
  getDirectiveValues,
  getNamedType,
  GraphQLCompositeType,
  GraphQLField,
  GraphQLIncludeDirective,
  GraphQLSchema,
  GraphQLSkipDirective,
  InlineFragmentNode,
  isAbstractType,
  isCompositeType,
  isInterfaceType,
  isObjectType,
  Kind,
  OperationDefinitionNode,
  SchemaMetaFieldDef,
  SelectionNode,
  SelectionSetNode,
  TypeMetaFieldDef,
  TypeNameMetaFieldDef,
} from 'graphql';

/**
 * What each field costs, in the units FUNNELCAST_MAX_QUERY_COMPLEXITY (default 2000) is counted in.
 *
 * Every field costs 1 plus what is selected below it (introspection included). The fields below
 * do real work before they return (SQL aggregates, a funnel run, a model forward pass, a batch
 * written), so they add a fixed cost for it; with the default budget one request holds about 19
 * funnels or event statistics, not 600. Paged fields multiply what is selected below them by
 * their page size over PAGE_ENTRIES_PER_SELECTION: ten entries of a page cost what resolving the
 * selection once does, since the entries are plain values already loaded by the field itself.
 * The documented maxima then fit with a full selection: `anomalies(first: 500)` costs
 * 50 + 50 × (its selection) and `droppedOff(first: 1000)` 100 + 100 × (its selection).
 */
export const PAGE_ENTRIES_PER_SELECTION = 10;

type Args = Record<string, unknown>;
type FieldCost = (args: Args, childComplexity: number) => number;

/** The work of the field itself plus what is selected below it, once. */
const work =
  (cost: number): FieldCost =>
  (_args, childComplexity) =>
    cost + childComplexity;

/** `cost` plus the selection below, once per PAGE_ENTRIES_PER_SELECTION entries of the page in `argument`. */
const paged =
  (cost: number, argument: string, fallback: number): FieldCost =>
  (args, childComplexity) =>
    cost + childComplexity * Math.max(1, Math.ceil(entries(args[argument], fallback) / PAGE_ENTRIES_PER_SELECTION));

/** `cost` plus one unit per PAGE_ENTRIES_PER_SELECTION entries of the list in `argument` (events, items). */
const batch =
  (cost: number, argument: string): FieldCost =>
  (args, childComplexity) =>
    cost + Math.ceil(entries(args[argument], 1) / PAGE_ENTRIES_PER_SELECTION) + childComplexity;

function entries(value: unknown, fallback: number): number {
  if (Array.isArray(value)) return value.length;
  if (typeof value === 'number' && Number.isFinite(value) && value > 0) return value;
  return fallback;
}

/** Cost by `Type.field`; fields not listed cost 1 plus their selection. */
export const FIELD_COSTS: Record<string, FieldCost> = {
  // Introspection walks the whole schema: about fifty ordinary fields' worth.
  'Query.__schema': work(50),
  'Query.__type': work(5),

  'Query.eventStats': work(100),
  'Query.funnel': work(100),
  'Query.runSavedFunnel': work(100),
  'Query.timeToConvert': work(100),
  // One funnel per day or week of the range.
  'Query.funnelTrend': work(200),
  'Query.droppedOff': paged(100, 'first', 100),
  // A funnel run plus a pass over every reached unit's events, and the user properties read.
  'Query.funnelDrivers': work(150),

  'Query.anomalies': paged(50, 'first', 50),
  'Query.userRisk': work(20),
  'Query.userLabels': paged(5, 'first', 50),
  'Query.atRiskUsers': paged(50, 'first', 20),

  'Query.recommendations': paged(10, 'limit', 10),
  'Query.similarItems': paged(10, 'limit', 10),
  'Query.sessionRecommendations': paged(10, 'limit', 10),
  'Query.cartComplements': paged(10, 'limit', 10),
  'Query.continueShopping': paged(10, 'limit', 10),
  'Query.recommendationPerformance': work(100),

  'Query.predictNextStep': work(20),
  'Query.purchasePropensity': work(20),
  'Query.sessionPurchasePropensity': work(20),

  'Query.trainingJobs': paged(5, 'first', 20),

  'Mutation.ingestEvents': batch(10, 'events'),
  'Mutation.upsertItems': batch(10, 'items'),
  'Mutation.recordRecommendationFeedback': batch(10, 'feedback'),
  'Mutation.saveFunnel': work(10),
  'Mutation.trainModel': work(50),
  'Mutation.retryTrainingJob': work(20),
  'Mutation.cancelTrainingJob': work(10),
  'Mutation.scheduleTraining': work(20),
  'Mutation.unscheduleTraining': work(10),
  'Mutation.activateModelVersion': work(20),
  'Mutation.retireModelVersion': work(20),
  'Mutation.labelUser': work(10),
  'Mutation.createApiKey': work(10),
  'Mutation.revokeApiKey': work(10),
};

/** What `Type.field` costs with these arguments and `childComplexity` below it: FIELD_COSTS, else 1 plus the selection. */
function fieldCost(typeName: string, fieldName: string, args: Args, childComplexity: number): number {
  const cost = FIELD_COSTS[`${typeName}.${fieldName}`];
  return cost ? cost(args, childComplexity) : 1 + childComplexity;
}

/** Thrown out of the walk when it passes its bound on selections. */
const TOO_MANY_SELECTIONS = Symbol('too many selections');

/**
 * The estimated cost of `operation` (FIELD_COSTS, else 1 per field plus its selection), with the
 * request's already coerced variables (request-variables.ts), so the check coerces nothing again;
 * `undefined` once the walk has looked at `maxSelections` selections, counting a fragment's at each
 * of its spreads (27 fragments each spreading the next twice would be 2^27 otherwise).
 * Fields skipped by `@skip`/`@include` cost nothing; on an abstract type the costliest possible
 * type counts; a field whose arguments do not coerce costs nothing, as it fails before any work.
 */
export function operationCost(
  schema: GraphQLSchema,
  document: DocumentNode,
  operation: OperationDefinitionNode,
  variables: Record<string, unknown>,
  maxSelections: number,
): number | undefined {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const definition of document.definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
  }
  let selections = 0;
  const included = (node: SelectionNode): boolean => {
    if (!node.directives?.length) return true;
    const skip = getDirectiveValues(GraphQLSkipDirective, node, variables);
    const include = getDirectiveValues(GraphQLIncludeDirective, node, variables);
    return skip?.if !== true && include?.if !== false;
  };
  const fieldOf = (parent: GraphQLCompositeType, name: string): GraphQLField<unknown, unknown> | undefined => {
    if (name === SchemaMetaFieldDef.name) return SchemaMetaFieldDef;
    if (name === TypeMetaFieldDef.name) return TypeMetaFieldDef;
    if (name === TypeNameMetaFieldDef.name) return TypeNameMetaFieldDef;
    return isObjectType(parent) || isInterfaceType(parent) ? parent.getFields()[name] : undefined;
  };
  const possibleNames = (type: GraphQLCompositeType) => (isAbstractType(type) ? schema.getPossibleTypes(type).map((t) => t.name) : [type.name]);
  // Cost per possible concrete type of `parent`; the selection costs its costliest type's.
  const selectionCost = (node: { selectionSet?: SelectionSetNode }, parent: GraphQLCompositeType, activeFragments: Set<string>): number => {
    if (!node.selectionSet) return 0;
    const byType = new Map<string, number>();
    const add = (cost: number, typeNames: string[]) => {
      for (const name of typeNames) byType.set(name, (byType.get(name) ?? 0) + cost);
    };
    for (const selection of node.selectionSet.selections) {
      if (++selections >= maxSelections) throw TOO_MANY_SELECTIONS;
      if (!included(selection)) continue;
      if (selection.kind === Kind.FIELD) {
        const field = fieldOf(parent, selection.name.value);
        if (!field) continue; // unknown fields are refused by validation
        let args: Record<string, unknown>;
        try {
          args = getArgumentValues(field, selection, variables);
        } catch {
          continue;
        }
        const below = getNamedType(field.type);
        const childComplexity = isCompositeType(below) ? selectionCost(selection, below, activeFragments) : 0;
        add(fieldCost(parent.name, field.name, args, childComplexity), possibleNames(parent));
      } else {
        const fragmentName = selection.kind === Kind.FRAGMENT_SPREAD ? selection.name.value : undefined;
        const target: FragmentDefinitionNode | InlineFragmentNode | undefined = fragmentName === undefined ? (selection as InlineFragmentNode) : fragments.get(fragmentName);
        // Unknown or cyclic fragments are refused by validation.
        if (!target || (fragmentName !== undefined && activeFragments.has(fragmentName))) continue;
        let type: GraphQLCompositeType = parent;
        const condition = target.typeCondition;
        if (condition) {
          const conditionType = schema.getType(condition.name.value);
          if (!isCompositeType(conditionType)) continue;
          type = conditionType;
        }
        if (fragmentName) activeFragments.add(fragmentName);
        const cost = selectionCost(target, type, activeFragments);
        if (fragmentName) activeFragments.delete(fragmentName);
        add(cost, possibleNames(type));
      }
    }
    return Math.max(0, ...byType.values());
  };
  const root = schema.getRootType(operation.operation);
  if (!root) return 0;
  try {
    return selectionCost(operation, root, new Set());
  } catch (error) {
    if (error === TOO_MANY_SELECTIONS) return undefined;
    throw error;
  }
}
