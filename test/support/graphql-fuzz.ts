import {
  getNamedType,
  getNullableType,
  GraphQLField,
  GraphQLInputType,
  GraphQLNamedInputType,
  GraphQLSchema,
  isCompositeType,
  isEnumType,
  isInputObjectType,
  isListType,
  isNonNullType,
} from 'graphql';
import { Rng } from '../../src/ml/random';

/**
 * A schema-driven generator of hostile GraphQL requests: for every argument of every query and
 * mutation (and every field inside input objects, down to a few levels), requests where that one
 * value is hostile (NUL, lone surrogates, huge strings, 1e300, 5e-324, impossible dates, wrong
 * enums, empty or huge lists, deep JSON, missing requireds, …) and every other argument is a
 * plausible valid value. Deterministic for a seed.
 */
export interface FuzzCase {
  operation: 'query' | 'mutation';
  field: string;
  /** Where the hostile value sits, e.g. `input.steps[0].filters[0].value`. */
  path: string;
  /** What was sent there, in words, for failure reports. */
  label: string;
  query: string;
  variables: Record<string, unknown>;
}

export interface FuzzOptions {
  seed: number;
  /** Hostile values tried per (field, path); the core ones of each type always are. */
  valuesPerPath: number;
  /** How deep into input objects paths go. */
  maxDepth: number;
}

/** A seeded uniform generator in [0, 1) (the project's mulberry32), so a failing case can be re-run. */
export function seededRandom(seed: number): () => number {
  const random = Rng.stream(seed);
  return () => random.next();
}

interface Hostile {
  label: string;
  value: unknown;
  /** Core values are always sent; the rest are sampled. */
  core?: boolean;
  /** Sent inline in the query text instead of as a variable (e.g. 1e400, which JSON cannot carry). */
  literal?: string;
}

const deepJson = (levels: number): unknown => {
  let value: unknown = 'bottom';
  for (let i = 0; i < levels; i++) value = { nested: value };
  return value;
};

const STRING_VALUES: Hostile[] = [
  { label: 'NUL', value: 'a\u0000b', core: true },
  { label: 'only NUL', value: '\u0000' },
  { label: 'lone high surrogate', value: 'user-\ud800', core: true },
  { label: 'lone low surrogate', value: '\udc00x', core: true },
  { label: '201 characters', value: 'x'.repeat(201), core: true },
  { label: '100,000 characters', value: 'y'.repeat(100_000), core: true },
  { label: 'empty', value: '' },
  { label: 'blank', value: '   ' },
  { label: 'SQL quote', value: "x' OR '1'='1" },
  { label: 'format and path', value: '%s%n../../etc/passwd' },
  { label: 'emoji pair', value: '🛒💥' },
  { label: 'number-like', value: '99999999999999999999' },
  { label: 'negative number-like', value: '-1' },
  { label: 'JSON-like', value: '{"a":1}' },
  { label: 'a number instead', value: 12345 },
];

const ID_EXTRA: Hostile[] = [
  { label: 'int overflow', value: '2147483648', core: true },
  { label: 'bigint overflow', value: '9223372036854775808' },
  { label: 'exponent', value: '1e3' },
  { label: 'not a uuid', value: '00000000-0000-0000-0000-00000000000g' },
  { label: 'zero', value: '0' },
];

const INT_VALUES: Hostile[] = [
  { label: '-1', value: -1, core: true },
  { label: '0', value: 0, core: true },
  { label: 'int32 max', value: 2147483647, core: true },
  { label: 'int32 min', value: -2147483648, core: true },
  { label: 'int32 max + 1', value: 2147483648 },
  { label: 'fraction', value: 1.5 },
  { label: 'string', value: '7' },
  { label: 'literal 1e400', value: undefined, literal: '1e400' },
  { label: 'literal 99999999999', value: undefined, literal: '99999999999' },
];

const FLOAT_VALUES: Hostile[] = [
  { label: '1e300', value: 1e300, core: true },
  { label: '-1e300', value: -1e300 },
  { label: '5e-324', value: 5e-324, core: true },
  { label: '-5e-324', value: -5e-324 },
  { label: '-0', value: -0, core: true },
  { label: 'max double', value: Number.MAX_VALUE },
  { label: '1e15 + 1', value: 1e15 + 1 },
  { label: '-1', value: -1 },
  { label: 'NaN as string', value: 'NaN' },
  { label: 'Infinity as string', value: 'Infinity' },
  { label: 'literal 1e400', value: undefined, literal: '1e400', core: true },
  { label: 'literal -1e400', value: undefined, literal: '-1e400' },
];

const DATE_VALUES: Hostile[] = [
  { label: 'year 0000', value: '0000-01-01T00:00:00Z', core: true },
  { label: 'year 275760', value: '+275760-09-13T00:00:00.000Z', core: true },
  { label: 'year 275760 plain', value: '275760-09-13T00:00:00Z' },
  { label: 'before 1970', value: '1969-12-31T23:59:59Z', core: true },
  { label: 'year 9999', value: '9999-12-31T23:59:59Z' },
  { label: 'year 1000', value: '1000-01-01T00:00:00Z' },
  { label: 'month 13', value: '2026-13-45T00:00:00Z' },
  { label: 'empty', value: '' },
  { label: 'epoch number', value: 0 },
  { label: 'min JS date number', value: -8640000000000000 },
  { label: 'NUL', value: '2026-01-01T00:00:00Z\u0000' },
];

/** What an event's timestamp may also be sent as: numbers (epoch ms, seconds, nonsense) and other JSON. */
const EVENT_TIMESTAMP_EXTRA: Hostile[] = [
  { label: 'epoch seconds', value: 1767225600, core: true },
  { label: 'fractional ms', value: 1767225600000.5 },
  { label: 'space for T', value: '2026-01-01 00:00:00Z', core: true },
  { label: 'object', value: { at: 1 } },
  { label: 'literal 1e400', value: undefined, literal: '1e400' },
];

const JSON_VALUES: Hostile[] = [
  { label: 'NUL value', value: { note: 'a\u0000b' }, core: true },
  { label: 'NUL key', value: { 'k\u0000': 1 }, core: true },
  { label: 'lone surrogate', value: { note: 'x\ud800' }, core: true },
  { label: 'lone surrogate key', value: { '\udc00': 1 } },
  { label: '1000 levels deep', value: deepJson(1000), core: true },
  { label: 'huge number', value: { n: 1e300 } },
  { label: '20,000-item array', value: { list: Array.from({ length: 20_000 }, (_, i) => i) } },
  { label: 'array', value: [1, 'two', null] },
  { label: 'string', value: 'just text' },
  { label: 'number', value: 5e-324 },
  { label: 'literal 1e400', value: undefined, literal: '{ n: 1e400 }' },
];

const BOOLEAN_VALUES: Hostile[] = [
  { label: 'string', value: 'true' },
  { label: 'number', value: 1 },
];

const LIST_VALUES = (item: unknown): Hostile[] => [
  { label: 'empty list', value: [], core: true },
  { label: '5,001 entries', value: Array.from({ length: 5001 }, () => item), core: true },
  { label: 'list with null', value: [item, null] },
  { label: '100,001 entries', value: Array.from({ length: 100_001 }, () => item) },
];

function enumValues(type: GraphQLNamedInputType): Hostile[] {
  const first = isEnumType(type) ? type.getValues()[0].name : 'X';
  return [
    { label: 'unknown enum', value: 'NOT_A_VALUE', core: true },
    { label: 'lower case', value: first.toLowerCase() },
    { label: 'empty', value: '' },
    { label: 'NUL', value: `${first}\u0000` },
  ];
}

function leafValues(type: GraphQLNamedInputType, name: string): Hostile[] {
  if (isEnumType(type)) return enumValues(type);
  switch (type.name) {
    case 'String':
      return STRING_VALUES;
    case 'ID':
      return [...STRING_VALUES, ...ID_EXTRA];
    case 'Int':
      return INT_VALUES;
    case 'Float':
      return FLOAT_VALUES;
    case 'Boolean':
      return BOOLEAN_VALUES;
    case 'DateTime':
      return DATE_VALUES;
    case 'EventTimestamp':
      return [...DATE_VALUES, ...EVENT_TIMESTAMP_EXTRA];
    case 'JSON':
    case 'JSONObject':
      return JSON_VALUES;
    default:
      throw new Error(`no hostile values for scalar ${type.name} (${name})`);
  }
}

/**
 * Nullable in the schema only so that one bad record is rejected alone (ingestEvents checks each
 * event itself), yet required by the service: a valid record carries them.
 */
const REQUIRED_BY_SERVICE: Record<string, string[]> = { EventInput: ['eventId', 'type', 'userId', 'timestamp'] };

/** A plausible valid value for a type, so the hostile one is what the server has to deal with. */
export function validValue(type: GraphQLInputType, name: string): unknown {
  const nullable = getNullableType(type);
  if (isListType(nullable)) {
    const item = validValue(nullable.ofType, name);
    return name === 'steps' ? [item, { ...(item as object), type: 'cart' }] : [item];
  }
  if (isInputObjectType(nullable)) {
    const value: Record<string, unknown> = {};
    for (const field of Object.values(nullable.getFields())) {
      const required = (isNonNullType(field.type) && field.defaultValue === undefined) || REQUIRED_BY_SERVICE[nullable.name]?.includes(field.name);
      if (required) value[field.name] = validValue(field.type, field.name);
    }
    return value;
  }
  if (isEnumType(nullable)) return nullable.getValues()[0].name;
  switch (nullable.name) {
    case 'String':
      return ({ cron: '0 3 * * *', type: 'view', property: 'device', name: 'fuzz' } as Record<string, string>)[name] ?? 'fuzz';
    case 'ID':
      return 'fuzz-id';
    case 'Int':
      return ({ toStep: 2, fromStep: 1, afterStep: 1, conversionWindowSeconds: 3600, withinDays: 7 } as Record<string, number>)[name] ?? 3;
    case 'Float':
      return ({ attributionWindowHours: 24, minValue: 0 } as Record<string, number>)[name] ?? 0.5;
    case 'Boolean':
      return false;
    case 'DateTime':
      return name === 'to' || name === 'asOf' ? '2026-02-01T00:00:00.000Z' : '2026-01-01T00:00:00.000Z';
    case 'EventTimestamp':
      return '2026-01-01T00:00:00.000Z';
    case 'JSON':
      return 'mobile';
    case 'JSONObject':
      return {};
    default:
      throw new Error(`no valid value for scalar ${nullable.name}`);
  }
}

interface Target {
  /** Path below the argument, as steps: a field name or a list index. */
  steps: (string | number)[];
  type: GraphQLInputType;
  name: string;
}

/** Every place inside an argument's type a hostile value can go, to `maxDepth` input-object levels. */
function targets(type: GraphQLInputType, name: string, depth: number, maxDepth: number, steps: (string | number)[] = []): Target[] {
  const here: Target = { steps, type, name };
  const nullable = getNullableType(type);
  if (isListType(nullable)) return [here, ...targets(nullable.ofType, name, depth, maxDepth, [...steps, 0])];
  if (isInputObjectType(nullable)) {
    const found = [here];
    if (depth >= maxDepth) return found;
    for (const field of Object.values(nullable.getFields())) found.push(...targets(field.type, field.name, depth + 1, maxDepth, [...steps, field.name]));
    return found;
  }
  return [here];
}

function hostileAt(target: Target): Hostile[] {
  const nullable = getNullableType(target.type);
  const values: Hostile[] = [];
  if (isNonNullType(target.type)) values.push({ label: 'null for a required value', value: null, core: true });
  if (isListType(nullable)) return [...values, ...LIST_VALUES(validValue(nullable.ofType, target.name))];
  if (isInputObjectType(nullable)) {
    return [
      ...values,
      { label: 'empty object', value: {}, core: true },
      { label: 'unknown field', value: { ...(validValue(nullable, target.name) as object), notAField: 1 } },
      { label: 'a string instead', value: 'object?' },
    ];
  }
  return [...values, ...leafValues(getNamedType(target.type) as GraphQLNamedInputType, target.name)];
}

/** Puts `value` at `steps` inside a copy of `base`, creating list entries and objects on the way. */
function placed(base: unknown, steps: (string | number)[], value: unknown): unknown {
  if (steps.length === 0) return value;
  const [step, ...rest] = steps;
  if (typeof step === 'number') {
    const list = Array.isArray(base) && base.length > 0 ? [...base] : [{}];
    list[step] = placed(list[step], rest, value);
    return list;
  }
  const record = base && typeof base === 'object' && !Array.isArray(base) ? { ...(base as Record<string, unknown>) } : {};
  record[step] = placed(record[step], rest, value);
  return record;
}

function pathText(argument: string, steps: (string | number)[]): string {
  return steps.reduce<string>((text, step) => (typeof step === 'number' ? `${text}[${step}]` : `${text}.${step}`), argument);
}

function selection(field: GraphQLField<unknown, unknown>): string {
  return isCompositeType(getNamedType(field.type)) ? ' { __typename }' : '';
}

function request(
  operation: 'query' | 'mutation',
  field: GraphQLField<unknown, unknown>,
  values: Map<string, unknown>,
  literals: Map<string, string>,
  omitted: Set<string>,
): { query: string; variables: Record<string, unknown> } {
  const definitions: string[] = [];
  const args: string[] = [];
  const variables: Record<string, unknown> = {};
  for (const argument of field.args) {
    if (omitted.has(argument.name)) continue;
    const literal = literals.get(argument.name);
    if (literal !== undefined) {
      args.push(`${argument.name}: ${literal}`);
      continue;
    }
    definitions.push(`$${argument.name}: ${String(argument.type)}`);
    args.push(`${argument.name}: $${argument.name}`);
    const value = values.get(argument.name);
    if (value !== undefined) variables[argument.name] = value;
  }
  const head = definitions.length ? `(${definitions.join(', ')})` : '';
  const call = args.length ? `(${args.join(', ')})` : '';
  return { query: `${operation} Fuzz${head} { ${field.name}${call}${selection(field)} }`, variables };
}

function baseline(field: GraphQLField<unknown, unknown>): Map<string, unknown> {
  const values = new Map<string, unknown>();
  for (const argument of field.args) {
    if (isNonNullType(argument.type) && argument.defaultValue === undefined) values.set(argument.name, validValue(argument.type, argument.name));
  }
  return values;
}

/** Every fuzz case for the schema's queries and mutations. */
export function fuzzCases(schema: GraphQLSchema, options: FuzzOptions): FuzzCase[] {
  const random = seededRandom(options.seed);
  const cases: FuzzCase[] = [];
  for (const operation of ['query', 'mutation'] as const) {
    const root = operation === 'query' ? schema.getQueryType() : schema.getMutationType();
    if (!root) continue;
    for (const field of Object.values(root.getFields())) {
      const valid = baseline(field);
      for (const argument of field.args) {
        if (isNonNullType(argument.type) && argument.defaultValue === undefined) {
          const { query, variables } = request(operation, field, valid, new Map(), new Set([argument.name]));
          cases.push({ operation, field: field.name, path: argument.name, label: 'required argument left out', query, variables });
        }
        for (const target of targets(argument.type, argument.name, 0, options.maxDepth)) {
          const all = hostileAt(target);
          const core = all.filter((value) => value.core);
          const rest = all.filter((value) => !value.core);
          const sampled: Hostile[] = [...core];
          while (sampled.length < options.valuesPerPath && rest.length > 0) sampled.push(rest.splice(Math.floor(random() * rest.length), 1)[0]);
          for (const hostile of sampled) {
            if (hostile.literal !== undefined && target.steps.length > 0) continue; // literals only replace a whole argument
            const literal = hostile.literal;
            const values = new Map(valid);
            const base = valid.get(argument.name) ?? validValue(argument.type, argument.name);
            if (literal === undefined) values.set(argument.name, placed(base, target.steps, hostile.value));
            const literals = new Map(literal === undefined ? [] : [[argument.name, literal]]);
            const { query, variables } = request(operation, field, values, literals, new Set());
            cases.push({ operation, field: field.name, path: pathText(argument.name, target.steps), label: hostile.label, query, variables });
          }
        }
      }
    }
  }
  return cases;
}
