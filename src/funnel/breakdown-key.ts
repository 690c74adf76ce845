/**
 * The key of a breakdown group: one string per distinct value, keeping JSON types apart, so that
 * `10` and `"10"`, `true` and `"true"`, JSON `null` and "no value at all" are four groups. A value's
 * key is its JSON text (`"10"` with quotes for the string, `10` for the number); the group of units
 * whose step-1 event has no value is MISSING_GROUP_KEY and the folded rest is OTHER_GROUP_KEY, which
 * no JSON text can equal (JSON text never starts with "("). Keys are plain strings so that partial
 * results computed apart (workers, shards) merge by key.
 */

/** Units whose step-1 event lacks the property (or has no item, or an item without a category). */
export const MISSING_GROUP_KEY = '(missing)';
/** Every group past the breakdown's limit, folded into one. */
export const OTHER_GROUP_KEY = '(other)';

/** The JSON type of a group's value, or what the group stands for when it has none. */
export type BreakdownValueKind = 'string' | 'number' | 'boolean' | 'null' | 'array' | 'object' | 'missing' | 'other' | 'combination';

/** How a group looks to a client: its typed value and a display label. */
export interface BreakdownGroupValue {
  /** The value with its JSON type; null for the missing and other groups (and for JSON null). */
  value: unknown;
  valueKind: BreakdownValueKind;
  /** For display, not unique: a string as itself, other values as JSON text, "(none)" when missing, "other" for the rest. */
  label: string;
}

/** The group key of a value: undefined means no value. Numbers are doubles, so 1 and 1.0 are one group. */
export function groupKeyOf(value: unknown): string {
  return value === undefined ? MISSING_GROUP_KEY : JSON.stringify(value);
}

/** The value, its kind and its label behind a group key made by groupKeyOf (or OTHER_GROUP_KEY). */
export function groupValueOf(key: string): BreakdownGroupValue {
  if (key === MISSING_GROUP_KEY) return { value: null, valueKind: 'missing', label: '(none)' };
  if (key === OTHER_GROUP_KEY) return { value: null, valueKind: 'other', label: 'other' };
  const value: unknown = JSON.parse(key);
  const valueKind: BreakdownValueKind =
    value === null ? 'null' : Array.isArray(value) ? 'array' : (typeof value as 'string' | 'number' | 'boolean' | 'object');
  return { value, valueKind, label: typeof value === 'string' ? value : key };
}

/**
 * The key of a group of several breakdown properties: the JSON array of the parts' keys, in the
 * order the properties were given (`["\\"mobile\\"","(missing)"]`). Unique per combination; never
 * equal to MISSING_GROUP_KEY or OTHER_GROUP_KEY. Within one answer every key has the same number of
 * parts, so it cannot be confused with a one-property key of an array value.
 */
export function combinationKeyOf(partKeys: readonly string[]): string {
  return JSON.stringify(partKeys);
}

/** The parts' keys of a key made by combinationKeyOf. */
export function partKeysOf(key: string): string[] {
  return JSON.parse(key) as string[];
}
