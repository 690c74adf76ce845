/**
 * Funnel step definitions (an event type plus property filters) compiled once into plain
 * predicates, and a whole funnel compiled into "which steps does this row match" bitmasks, the
 * input of window-funnel.ts. Compilation validates the definition, so a bad filter fails before any
 * event is read, and matching a row allocates nothing.
 */
import { ownValue } from '../own-property';

export type FilterOperator = 'eq' | 'neq' | 'gt' | 'gte' | 'lt' | 'lte' | 'in' | 'contains' | 'isSet' | 'isNotSet';

export type FilterValue = string | number | boolean;

/** What a filter looks at: a key of the event's properties, the event's item id, or that item's category. */
export type FilterTarget = { on: 'property'; key: string } | { on: 'itemId' } | { on: 'category' };

export type PropertyFilter = FilterTarget & {
  operator: FilterOperator;
  /** eq/neq/gt/gte/lt/lte/contains: one value; in: a list; isSet/isNotSet: none. */
  value?: FilterValue | FilterValue[];
};

export interface StepDefinition {
  eventType: string;
  /** All must hold (AND). */
  filters?: PropertyFilter[];
}

export interface FunnelEventRow {
  type: string;
  props: Record<string, unknown> | null;
  itemId: string | null;
  category: string | null;
}

export type RowPredicate = (row: FunnelEventRow) => boolean;

export class StepFilterError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StepFilterError';
  }
}

type Reader = (row: FunnelEventRow) => unknown;

function readerFor(target: FilterTarget): Reader {
  switch (target.on) {
    case 'itemId':
      return (row) => row.itemId;
    case 'category':
      return (row) => row.category;
    case 'property': {
      const key = target.key;
      if (typeof key !== 'string' || key.length === 0) throw new StepFilterError('A property filter needs a key.');
      // Own keys only: a property named "constructor" must not find Object.prototype's.
      return (row) => ownValue(row.props, key);
    }
    default:
      throw new StepFilterError(`Unknown filter target ${JSON.stringify((target as { on: unknown }).on)}.`);
  }
}

function isScalar(value: unknown): value is FilterValue {
  return typeof value === 'string' || typeof value === 'boolean' || (typeof value === 'number' && Number.isFinite(value));
}

/** Properties arrive from JSON, where prices are sometimes strings; numeric comparisons accept "19.90". */
function asNumber(value: unknown): number {
  if (typeof value === 'number') return value;
  if (typeof value === 'string' && value.trim() !== '') return Number(value);
  return NaN;
}

function describe(filter: PropertyFilter): string {
  return filter.on === 'property' ? `property "${filter.key}"` : filter.on;
}

/** One filter as a predicate. Semantics are in the comments of each case, because they are choices. */
export function compileFilter(filter: PropertyFilter): RowPredicate {
  const read = readerFor(filter);
  const { operator, value } = filter;
  const needScalar = (): FilterValue => {
    if (!isScalar(value)) throw new StepFilterError(`${operator} on ${describe(filter)} needs a string, number or boolean value.`);
    return value;
  };
  switch (operator) {
    case 'eq': {
      // Same JSON type and value: "1" does not equal 1, so a typo'd filter fails loudly in tests, not silently.
      const expected = needScalar();
      return (row) => read(row) === expected;
    }
    case 'neq': {
      // Also true when the value is missing: "device is not mobile" includes events without a device.
      const expected = needScalar();
      return (row) => read(row) !== expected;
    }
    case 'gt':
    case 'gte':
    case 'lt':
    case 'lte': {
      const bound = needScalar();
      if (typeof bound === 'boolean') throw new StepFilterError(`${operator} on ${describe(filter)} needs a number or string.`);
      if (typeof bound === 'number') {
        // Numeric: the actual value may be a number or a numeric string; anything else never matches.
        switch (operator) {
          case 'gt':
            return (row) => asNumber(read(row)) > bound;
          case 'gte':
            return (row) => asNumber(read(row)) >= bound;
          case 'lt':
            return (row) => asNumber(read(row)) < bound;
          default:
            return (row) => asNumber(read(row)) <= bound;
        }
      }
      // A string bound compares strings by code unit, which orders ISO dates and zero-padded codes correctly.
      const compare = (row: FunnelEventRow): number => {
        const actual = read(row);
        if (typeof actual !== 'string') return NaN;
        return actual < bound ? -1 : actual > bound ? 1 : 0;
      };
      switch (operator) {
        case 'gt':
          return (row) => compare(row) > 0;
        case 'gte':
          return (row) => compare(row) >= 0;
        case 'lt':
          return (row) => compare(row) < 0;
        default:
          return (row) => compare(row) <= 0;
      }
    }
    case 'in': {
      if (!Array.isArray(value) || value.length === 0 || !value.every(isScalar)) {
        throw new StepFilterError(`in on ${describe(filter)} needs a non-empty list of strings, numbers or booleans.`);
      }
      const allowed = new Set<unknown>(value);
      return (row) => allowed.has(read(row));
    }
    case 'contains': {
      // Substring of a string value (case-sensitive), or membership in an array value (tags). Typed
      // like eq: a number or boolean is never a substring, so `contains 10` does not match "x10".
      const needle = needScalar();
      return (row) => {
        const actual = read(row);
        if (typeof actual === 'string') return typeof needle === 'string' && actual.includes(needle);
        if (Array.isArray(actual)) return actual.includes(needle);
        return false;
      };
    }
    case 'isSet':
      // Present and not null.
      return (row) => read(row) != null;
    case 'isNotSet':
      return (row) => read(row) == null;
    default:
      throw new StepFilterError(`Unknown filter operator ${JSON.stringify(operator)}.`);
  }
}

export function compileStep(step: StepDefinition): RowPredicate {
  if (typeof step.eventType !== 'string' || step.eventType.length === 0) {
    throw new StepFilterError('A funnel step needs an event type.');
  }
  const eventType = step.eventType;
  const filters = (step.filters ?? []).map(compileFilter);
  if (filters.length === 0) return (row) => row.type === eventType;
  return (row) => {
    if (row.type !== eventType) return false;
    for (let i = 0; i < filters.length; i++) if (!filters[i](row)) return false;
    return true;
  };
}

/**
 * Bit k of the result is set when the row matches definitions[k] (at most 32). Rows are routed by
 * event type first, so a row pays only for the filters of steps with its type.
 */
export function compileStepMask(definitions: readonly StepDefinition[]): (row: FunnelEventRow) => number {
  if (definitions.length > 32) throw new StepFilterError('At most 32 steps fit in a step mask.');
  const byType = new Map<string, { bit: number; matches: RowPredicate }[]>();
  definitions.forEach((definition, k) => {
    const matches = compileStep(definition);
    const candidates = byType.get(definition.eventType) ?? [];
    candidates.push({ bit: (1 << k) >>> 0, matches });
    byType.set(definition.eventType, candidates);
  });
  return (row) => {
    const candidates = byType.get(row.type);
    if (candidates === undefined) return 0;
    let mask = 0;
    for (let i = 0; i < candidates.length; i++) if (candidates[i].matches(row)) mask |= candidates[i].bit;
    return mask >>> 0;
  };
}
