import 'reflect-metadata';
import { getIntrospectionQuery, getOperationAST, GraphQLInt, GraphQLNonNull, GraphQLObjectType, GraphQLSchema, parse, specifiedRules, validate } from 'graphql';
import { buildFunnelcastSchema } from '../schema';
import { FIELD_COSTS } from './costs';
import { ingestEventCount, queryCost, queryLimitErrors, QueryLimits } from './limits';

const LIMITS: QueryLimits = { maxDepth: 12, maxComplexity: 2000, maxAliases: 30, maxDirectives: 50, maxTokens: 10_000, maxIngestBatch: 5000 };
const RANGE = 'from: "2026-01-01T00:00:00Z", to: "2026-02-01T00:00:00Z"';
const FUNNEL_INPUT = `{ steps: [{ type: "view" }, { type: "purchase" }], conversionWindowSeconds: 86400, ${RANGE} }`;

let schema: GraphQLSchema;
beforeAll(async () => {
  schema = await buildFunnelcastSchema();
});

/** The codes of the errors the limits give `query` (after graphql's own validation passed). */
function codes(query: string, variables: Record<string, unknown> = {}, limits = LIMITS): string[] {
  const document = parse(query);
  expect(validate(schema, document, specifiedRules)).toEqual([]);
  const operation = getOperationAST(document)!;
  return queryLimitErrors(schema, document, operation, variables, limits).map((error) => String(error.extensions.code));
}

const cost = (query: string, variables: Record<string, unknown> = {}) => queryCost(schema, parse(query), variables, undefined, 10_000);
const aliased = (count: number, field: string) => `{ ${Array.from({ length: count }, (_, n) => `a${n}: ${field}`).join(' ')} }`;

describe('query cost', () => {
  it('names only fields that exist', () => {
    for (const key of Object.keys(FIELD_COSTS)) {
      const [type, field] = key.split('.');
      if (field.startsWith('__')) continue;
      const fields = (schema.getType(type) as { getFields(): Record<string, unknown> }).getFields();
      expect(fields[field]).toBeDefined();
    }
  });

  it('counts every field as 1 plus its selection, and expensive fields by their work', () => {
    expect(cost('{ health { status } }')).toBe(2);
    // funnel 100 + steps 1 + label 1 + count 1
    expect(cost(`{ funnel(input: ${FUNNEL_INPUT}) { steps { label count } } }`)).toBe(103);
    // droppedOff: 100 + (totalCount 1 + edges (1 + node (1 + userId 1)) + pageInfo (1 + hasNextPage 1)) × 1000 / 10
    expect(cost(`{ droppedOff(input: ${FUNNEL_INPUT}, afterStep: 1, first: 1000) { totalCount edges { node { userId } } pageInfo { hasNextPage } } }`)).toBe(100 + 6 * 100);
    // ingestEvents: 10 + 5000 / 10 + accepted 1
    expect(cost('mutation($e: [EventInput!]!) { ingestEvents(events: $e) { accepted } }', { e: Array.from({ length: 5000 }, (_, n) => ({ eventId: `e${n}`, type: 'view', userId: 'u', timestamp: '2026-01-01T00:00:00Z' })) })).toBe(511);
  });

  it('leaves out fields skipped by @skip or @include, literals and variables alike', () => {
    // health 1 + status 1; eventStats 100 + total 1 when included
    expect(cost(`{ health { status } eventStats(${RANGE}) @skip(if: true) { total } }`)).toBe(2);
    const query = `query($on: Boolean!) { health { status } eventStats(${RANGE}) @include(if: $on) { total } }`;
    expect(cost(query, { on: false })).toBe(2);
    expect(cost(query, { on: true })).toBe(103);
  });

  it('leaves out fields whose arguments do not coerce, however many, and counts the rest', () => {
    const toy = new GraphQLSchema({
      query: new GraphQLObjectType({ name: 'Query', fields: { needsN: { type: GraphQLInt, args: { n: { type: new GraphQLNonNull(GraphQLInt) } } }, plain: { type: GraphQLInt } } }),
    });
    // F0 spreads F1 twice, …, F7 spreads F8 twice: F8's field is walked 2^8 = 256 times.
    let query = 'query($n: Int = 1) { ...F0 plain } ';
    for (let n = 0; n < 8; n++) query += `fragment F${n} on Query { ...F${n + 1} ...F${n + 1} } `;
    query += 'fragment F8 on Query { needsN(n: $n) }';
    // 256 × needsN 1 + plain 1
    expect(queryCost(toy, parse(query), { n: 1 }, undefined, 10_000)).toBe(257);
    // An explicit null for a non-null argument fails each of the 256 needsN (more than validate's
    // default of 100 errors); plain still counts.
    expect(queryCost(toy, parse(query), { n: null }, undefined, 10_000)).toBe(1);
  });

  it('refuses 600 aliased funnels or eventStats by aliases, and 21 of them by cost', () => {
    expect(codes(aliased(600, `funnel(input: ${FUNNEL_INPUT}) { totalUnits }`))).toEqual(['QUERY_TOO_MANY_ALIASES']);
    expect(codes(aliased(600, `eventStats(${RANGE}) { total }`))).toEqual(['QUERY_TOO_MANY_ALIASES']);
    const wide = { ...LIMITS, maxAliases: 1000 };
    expect(codes(aliased(600, `eventStats(${RANGE}) { total }`), {}, wide)).toEqual(['QUERY_TOO_COMPLEX']);
    expect(codes(aliased(21, `funnel(input: ${FUNNEL_INPUT}) { totalUnits }`))).toEqual(['QUERY_TOO_COMPLEX']);
    expect(codes(aliased(19, `eventStats(${RANGE}) { total }`))).toEqual([]);
  });

  it('answers variables that do not coerce with their own errors (at most 50 and a note) before the cost', () => {
    const query = `query($v: FunnelInput!) { ${Array.from({ length: 21 }, (_, n) => `a${n}: funnel(input: $v) { totalUnits }`).join(' ')} }`;
    const funnel = { conversionWindowSeconds: 86400, from: '2026-01-01T00:00:00Z', to: '2026-02-01T00:00:00Z' };
    // 21 funnels × (100 + totalUnits 1) = 2121 > 2000
    expect(codes(query, { v: { ...funnel, steps: [{ type: 'view' }, { type: 'purchase' }] } })).toEqual(['QUERY_TOO_COMPLEX']);
    expect(codes(query, { v: { ...funnel, steps: Array.from({ length: 60 }, () => ({})) } })).toEqual(Array(51).fill('BAD_USER_INPUT'));
  });

  it('accepts the documented page maxima with full selections', () => {
    const anomalies = `{ anomalies(${RANGE}, first: 500) { minScore totalCount pageInfo { hasNextPage endCursor } edges { cursor node { userId score flagged worstDay
      firstEventAt lastEventAt contributions { detector score weight contribution modelVersionId } flaggedDays { day score } } } } }`;
    expect(codes(anomalies)).toEqual([]);
    // 50 + (minScore 1 + totalCount 1 + pageInfo 3 + edges (1 + cursor 1 + node (1 + 6 scalars + contributions 6 + flaggedDays 3))) × 500 / 10
    expect(cost(anomalies)).toBe(50 + 23 * 50);
    const droppedOff = `{ droppedOff(input: ${FUNNEL_INPUT}, afterStep: 1, first: 1000) { totalCount edges { cursor node { userId sessionId reachedAt } } pageInfo { hasNextPage endCursor } } }`;
    expect(codes(droppedOff)).toEqual([]);
    // 100 + (totalCount 1 + edges (1 + cursor 1 + node (1 + 3 scalars)) + pageInfo 3) × 1000 / 10
    expect(cost(droppedOff)).toBe(100 + 10 * 100);
  });

  it('accepts the standard introspection query but not 2,000 aliased __schema fields', () => {
    expect(codes(getIntrospectionQuery())).toEqual([]);
    expect(codes(aliased(2000, '__schema { queryType { name } }'))).toEqual(['QUERY_TOO_MANY_ALIASES']);
    expect(codes(aliased(60, '__schema { queryType { name } }'), {}, { ...LIMITS, maxAliases: 1000 })).toEqual(['QUERY_TOO_COMPLEX']);
  });

  it('refuses 27 fragments that each spread the next one twice, without expanding them', () => {
    let query = '{ ...F0 } ';
    for (let n = 0; n < 27; n++) query += `fragment F${n} on Query { ...F${n + 1} ...F${n + 1} } `;
    query += 'fragment F27 on Query { health { status } }';
    expect(codes(query)).toEqual(['QUERY_TOO_COMPLEX']);
  });

  it('counts depth through fragments but leaves __schema out of it', () => {
    expect(codes('{ health { database { ok } } }', {}, { ...LIMITS, maxDepth: 2 })).toEqual(['QUERY_TOO_DEEP']);
    expect(codes('{ ...F } fragment F on Query { health { database { ok } } }', {}, { ...LIMITS, maxDepth: 3 })).toEqual([]);
  });
});

describe('ingest batch over the whole request', () => {
  const event = (n: number) => `{ eventId: "e${n}", type: "view", userId: "u", timestamp: "2026-01-01T00:00:00Z" }`;
  const count = (query: string, variables: Record<string, unknown> = {}) => {
    const document = parse(query);
    return ingestEventCount(document, getOperationAST(document)!, variables);
  };

  it('sums literals, variables and fragments', () => {
    expect(count(`mutation { a: ingestEvents(events: [${event(1)}, ${event(2)}]) { accepted } b: ingestEvents(events: ${event(3)}) { accepted } }`)).toBe(3);
    expect(count('mutation($a: [EventInput!]!, $b: [EventInput!]!) { a: ingestEvents(events: $a) { accepted } b: ingestEvents(events: $b) { accepted } }', { a: [1, 2, 3], b: [4] })).toBe(4);
    expect(count('mutation($a: [EventInput!]!) { ...A ...A } fragment A on Mutation { x: ingestEvents(events: $a) { accepted } }', { a: [1, 2] })).toBe(4);
  });

  it('refuses 20 aliased batches of 5,000 with BATCH_TOO_LARGE', () => {
    const fields = Array.from({ length: 20 }, (_, n) => `b${n}: ingestEvents(events: $e) { accepted }`).join(' ');
    const events = Array.from({ length: 5000 }, (_, n) => ({ eventId: `e${n}`, type: 'view', userId: 'u', timestamp: '2026-01-01T00:00:00Z' }));
    expect(codes(`mutation($e: [EventInput!]!) { ${fields} }`, { e: events })).toEqual(['BATCH_TOO_LARGE']);
    expect(codes('mutation($e: [EventInput!]!) { ingestEvents(events: $e) { accepted } }', { e: events })).toEqual([]);
  });
});
