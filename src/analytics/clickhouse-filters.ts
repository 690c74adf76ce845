/**
 * Funnel step filters (step-filter.ts) as ClickHouse boolean expressions over a row of `events`
 * (`type`, `props`), true exactly when `compileStep`'s predicate is true for the same event, so
 * that `levelPushdownOf` (clickhouse-funnels.ts) can hand filtered steps to `windowFunnel`.
 * Checked row by row against `compileFilter` on random properties (clickhouse-filters.clickhouse.spec.ts).
 *
 * What the SQL reads: `props`, the properties object's JSON text as PostgreSQL's jsonb prints it
 * ('' when none). The ingest refuses anything but an object (event-checks.ts), so `props` is an
 * object or ''; jsonb keeps one value per key (the last, as JSON.parse does), never prints an
 * exponent, NUL or a lone surrogate. Those facts are premises here.
 *
 * Where exactness cannot be had, the functions return null (not compilable) and the caller keeps
 * the per-unit path, which evaluates step-filter.ts itself:
 * - itemId and category: the row holds PostgreSQL's items.id, while filters name the shop's id and
 *   the catalog's current category, both only in PostgreSQL.
 * - strings (keys, values, bounds) with a NUL or a lone surrogate: no stored text holds either, and
 *   a lone surrogate has no UTF-8 form to compare with (Node would write U+FFFD).
 * - string bounds of gt/gte/lt/lte with a character at or above U+D800: JavaScript orders UTF-16
 *   code units, ClickHouse UTF-8 bytes (code points). The two orders differ only where a supplementary
 *   character (a surrogate pair, D800–DBFF first) meets one in U+E000–U+FFFF at the first difference;
 *   with every bound character below U+D800 the first difference always has a bound character below
 *   both, so the orders agree.
 * - numeric bounds of magnitude 2^63 or more: see `stringNumberSql` (long hexadecimal strings).
 */
import { compileFilter, compileStep, type FilterValue, type PropertyFilter, type StepDefinition } from '../funnel/step-filter';
import { sqlString } from './clickhouse-client';

/**
 * `props` as ClickHouse's JSON functions can read it. ClickHouse's JSON parser (simdjson) refuses a
 * whole document with an integer outside the 64-bit range (JSON.stringify writes 1e21 as 1e+21;
 * jsonb prints 1000000000000000000000), so every JSON function would see no keys at all. Such a
 * document has a run of 20 digits somewhere; in those alone, `e0` is appended to every number outside
 * strings (jsonb numbers end at the last digit), which parses as the same double JSON.parse gives.
 */
const READABLE_PROPS = `if(match(props, '[0-9]{20}'), arrayStringConcat(arrayMap(token -> if(startsWith(token, '"'), token, replaceRegexpAll(token, ${sqlString('([0-9])([^0-9.]|$)')}, ${sqlString('\\1e0\\2')})), extractAll(props, ${sqlString('"(?:[^"\\\\]|\\\\.)*"|[^"]+')}))), props)`;

/** The characters String.prototype.trim and Number() strip: WhiteSpace and LineTerminator (the spec checks the whole BMP). */
const JS_SPACE = '[\\t\\n\\v\\f\\r \\x{00A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}\\x{FEFF}]';

/** JavaScript's StrDecimalLiteral: sign, Infinity, digits with an optional point and exponent ("1.", ".5", "+1", "1e3"). */
const DECIMAL_STRING = '^[+-]?(?:Infinity|(?:[0-9]+\\.?[0-9]*|\\.[0-9]+)(?:[eE][+-]?[0-9]+)?)$';

/** 0x / 0o / 0b integer strings (unsigned in JavaScript), captured without prefix and leading zeros; and how many digits fit a UInt64. */
const RADIX_STRINGS: { name: string; base: number; pattern: string; digits: string; exactDigits: number }[] = [
  { name: 'hex', base: 16, pattern: '^0[xX]0*([0-9a-fA-F]+)$', digits: '0123456789abcdef', exactDigits: 16 },
  { name: 'octal', base: 8, pattern: '^0[oO]0*([0-7]+)$', digits: '01234567', exactDigits: 21 },
  { name: 'binary', base: 2, pattern: '^0[bB]0*([01]+)$', digits: '01', exactDigits: 64 },
];

/** Numeric bounds below this in magnitude: a radix string too long for a UInt64 is at least 2^63, so above every such bound. */
const BOUND_LIMIT = 2 ** 63;

/**
 * `let name = value in body` for SQL: ClickHouse has no such form inside an expression, and
 * repeating a long value would repeat its text (the query has a size limit) and maybe its work.
 */
function bind(names: string[], values: string[], body: string): string {
  return `arrayMap((${names.join(', ')}) -> ${body}, ${values.map((value) => `[${value}]`).join(', ')})[1]`;
}

/**
 * `asNumber` (step-filter.ts) of the String SQL `text`, as Float64 SQL: JavaScript's Number() when
 * the trimmed string is not empty, NaN otherwise (ClickHouse compares NaN false, like JavaScript).
 * - Decimal strings are parsed by `toFloat64OrZero` once the regex has admitted exactly what
 *   Number() admits (not "inf", "nan", "1_0", "1,5"). ClickHouse 26.7 rounds these correctly, as V8
 *   does (the spec checks long digit strings and exact halfway cases), and overflows to ±inf and
 *   underflows to 0 alike.
 * - 0x/0o/0b strings: the digits are folded into a UInt64 when they fit (a UInt64 → Float64
 *   conversion rounds to nearest, ties to even, as Number() does); longer ones are at least 2^63 and
 *   are taken as +inf, which compares like their value against every bound below 2^63 (`filterSql`
 *   refuses larger bounds).
 */
function stringNumberSql(text: string): string {
  const trimmed = `replaceRegexpAll(${text}, ${sqlString(`^${JS_SPACE}+|${JS_SPACE}+$`)}, '')`;
  const radixCases = RADIX_STRINGS.map(({ name, base, digits, exactDigits }) => {
    const folded = `arrayFold((acc, digit) -> acc * ${base} + toUInt64(position('${digits}', lower(digit)) - 1), splitByString('', ${name}), toUInt64(0))`;
    return `${name} != '', if(length(${name}) <= ${exactDigits}, toFloat64(${folded}), inf)`;
  });
  const body = `multiIf(match(number_text, ${sqlString(DECIMAL_STRING)}), toFloat64OrZero(number_text), ${radixCases.join(', ')}, nan)`;
  const radixBody = bind(
    RADIX_STRINGS.map(({ name }) => name),
    RADIX_STRINGS.map(({ pattern }) => `extract(number_text, ${sqlString(pattern)})`),
    body,
  );
  return bind(['number_text'], [trimmed], radixBody);
}

/**
 * How to read one JSON value in SQL, by its path in the properties (`props, 'key'`, or with an
 * array index after it). Always through the path, never through the value's own text
 * (JSONExtractRaw): ClickHouse writes 1e21 back as 1000000000000000000000, which it cannot parse.
 */
function jsonValueSql(path: string): { type: string; string: string; float: string; bool: string } {
  return { type: `JSONType(${path})`, string: `JSONExtractString(${path})`, float: `JSONExtractFloat(${path})`, bool: `JSONExtractBool(${path})` };
}

const NUMBER_TYPES = `('Int64', 'UInt64', 'Double')`;

/** Text stored by jsonb can hold neither; a lone surrogate would also reach ClickHouse as U+FFFD. */
function storable(text: string): boolean {
  return !text.includes('\u0000') && !/\p{Surrogate}/u.test(text);
}

/**
 * A JavaScript number as an exact Float64 SQL value: safe integers as written (ClickHouse compares
 * integers with floats exactly); anything else by its bits, so no decimal parsing can round it.
 */
function float64Sql(value: number): string {
  if (Number.isSafeInteger(value)) return String(value);
  const bits = new BigUint64Array(Float64Array.of(value).buffer)[0];
  return `reinterpretAsFloat64(toUInt64(${bits}))`;
}

/**
 * `value === expected` for the JSON value at `path` (eq's typing: "1" ≠ 1, true ≠ 1, 1 = 1.0; objects
 * and arrays equal no scalar); null for an unstorable string.
 */
function equalsSql(path: string, expected: FilterValue): string | null {
  const value = jsonValueSql(path);
  if (typeof expected === 'string') return storable(expected) ? `(${value.type} = 'String' AND ${value.string} = ${sqlString(expected)})` : null;
  if (typeof expected === 'boolean') return `(${value.type} = 'Bool' AND ${value.bool} = ${expected ? 1 : 0})`;
  return `(${value.type} IN ${NUMBER_TYPES} AND ${value.float} = ${float64Sql(expected)})`;
}

const COMPARISON_SQL = { gt: '>', gte: '>=', lt: '<', lte: '<=' } as const;

/**
 * `filter` as a ClickHouse boolean over the row's `props`, true exactly when `compileFilter(filter)`
 * is; null when it cannot be made exact (the file's header lists when). Throws StepFilterError for a
 * filter compileFilter refuses, as planning does. JSONType is 'Null' both for a missing key and for
 * JSON null, which are what `== null` tests.
 */
export function filterSql(filter: PropertyFilter): string | null {
  compileFilter(filter);
  if (filter.on !== 'property' || !storable(filter.key)) return null;
  const condition = propertyConditionSql(filter, `filter_props, ${sqlString(filter.key)}`);
  return condition === null ? null : bind(['filter_props'], [READABLE_PROPS], condition);
}

/** The filter's test of the property at `path`; null when not exact. */
function propertyConditionSql(filter: PropertyFilter, path: string): string | null {
  const value = jsonValueSql(path);
  switch (filter.operator) {
    case 'eq':
      return equalsSql(path, filter.value as FilterValue);
    case 'neq': {
      // Also true when the key is missing or holds another type, as `!==` is.
      const equals = equalsSql(path, filter.value as FilterValue);
      return equals === null ? null : `NOT ${equals}`;
    }
    case 'in': {
      const equalities = [...new Set(filter.value as FilterValue[])].map((expected) => equalsSql(path, expected));
      return equalities.includes(null) ? null : `(${equalities.join(' OR ')})`;
    }
    case 'gt':
    case 'gte':
    case 'lt':
    case 'lte': {
      const operator = COMPARISON_SQL[filter.operator];
      const bound = filter.value as number | string;
      if (typeof bound === 'number') {
        if (Math.abs(bound) >= BOUND_LIMIT) return null;
        const limit = float64Sql(bound);
        return `multiIf(${value.type} IN ${NUMBER_TYPES}, ${value.float} ${operator} ${limit}, ${value.type} = 'String', ${stringNumberSql(value.string)} ${operator} ${limit}, 0)`;
      }
      if (!storable(bound) || /[\uD800-\uFFFF]/.test(bound)) return null;
      return `(${value.type} = 'String' AND ${value.string} ${operator} ${sqlString(bound)})`;
    }
    case 'contains': {
      // A substring of a string (UTF-8 and UTF-16 agree on substrings of well-formed text), or an
      // element of an array equal to the needle as eq compares.
      const needle = filter.value as FilterValue;
      const member = equalsSql(`${path}, toInt64(element)`, needle);
      if (member === null) return null;
      const inArray = `(${value.type} = 'Array' AND arrayExists(element -> ${member}, range(1, JSONLength(${path}) + 1)))`;
      return typeof needle === 'string' ? `((${value.type} = 'String' AND position(${value.string}, ${sqlString(needle)}) > 0) OR ${inArray})` : inArray;
    }
    case 'isSet':
      return `${value.type} != 'Null'`;
    case 'isNotSet':
      return `${value.type} = 'Null'`;
  }
}

/**
 * The step as a ClickHouse boolean over the row (`type = … AND` every filter), true exactly when
 * `compileStep(step)` is; null when a filter does not compile (see `filterSql`) or the event type
 * cannot be written exactly. Throws StepFilterError where compileStep does.
 */
export function stepConditionSql(step: StepDefinition): string | null {
  compileStep(step);
  if (!storable(step.eventType)) return null;
  const type = `type = ${sqlString(step.eventType)}`;
  const filters = (step.filters ?? []).map(filterSql);
  if (filters.includes(null)) return null;
  return filters.length === 0 ? type : `(${type} AND ${filters.join(' AND ')})`;
}
