import { ApolloServer } from '@apollo/server';
import { GraphQLInputObjectType, GraphQLInt, GraphQLList, GraphQLNonNull, GraphQLObjectType, GraphQLScalarType, GraphQLSchema } from 'graphql';
import { argumentValidationPlugin } from './argument-validation';
import { formatError } from './errors';
import { queryLimitsForApollo, QueryLimits } from './limits';

/**
 * The work the checks before execution do on a hostile list, counted rather than timed: a scalar
 * that counts its parseValue calls stands for every coerced entry, behind the plugins in the order
 * src/server.ts installs them.
 */
const LIMITS: QueryLimits = { maxDepth: 12, maxComplexity: 2000, maxAliases: 30, maxDirectives: 50, maxTokens: 5000, maxIngestBatch: 5000 };

let parsed = 0;
let resolved = 0;
const Counted = new GraphQLScalarType({
  name: 'Counted',
  parseValue(value) {
    parsed++;
    if (value !== 'ok') throw new TypeError('send "ok"');
    return value;
  },
});
const Entry = new GraphQLInputObjectType({ name: 'Entry', fields: { value: { type: new GraphQLNonNull(Counted) } } });
const entries = { type: new GraphQLNonNull(new GraphQLList(new GraphQLNonNull(Entry))) };
const count = (_: unknown, args: Record<string, unknown[]>) => {
  resolved++;
  return Object.values(args)[0].length;
};
const schema = new GraphQLSchema({
  query: new GraphQLObjectType({ name: 'Query', fields: { entries: { type: GraphQLInt, args: { list: entries }, resolve: count } } }),
  // A batch mutation by name (limits.ts BATCH_ARGUMENTS): at most 5000 items in a request.
  mutation: new GraphQLObjectType({ name: 'Mutation', fields: { upsertItems: { type: GraphQLInt, args: { items: entries }, resolve: count } } }),
});

const limits = queryLimitsForApollo(LIMITS);
const server = new ApolloServer({ schema, formatError, plugins: [limits.plugin, argumentValidationPlugin()], validationRules: limits.validationRules });
beforeAll(() => server.start());
afterAll(() => server.stop());
beforeEach(() => {
  parsed = 0;
  resolved = 0;
});

async function send(query: string, variables: Record<string, unknown>) {
  const response = await server.executeOperation({ query, variables });
  if (response.body.kind !== 'single') throw new Error('expected a single result');
  return { status: response.http.status, ...response.body.singleResult };
}

const QUERY = 'query($list: [Entry!]!) { entries(list: $list) }';

describe('the checks before execution on a list of 100,001 entries', () => {
  it('stop at the 51st invalid entry and report 50 of them and a note', async () => {
    const result = await send(QUERY, { list: Array.from({ length: 100_001 }, () => ({ value: 'bad' })) });
    expect(result.status).toBe(400);
    // 50 errors are kept; the 51st invalid entry is where coercion stops. Nothing else coerces
    // the list: the refusal comes before the cost check, whose library would coerce all of it.
    expect(parsed).toBe(51);
    expect(resolved).toBe(0);
    expect(result.errors).toHaveLength(51);
    expect(result.errors!.map((e) => e.extensions?.code)).toEqual(Array(51).fill('BAD_USER_INPUT'));
    expect(result.errors![0].message).toBe('Variable "$list" got invalid value "bad" at "list[0].value"; Expected type "Counted". send "ok"');
    expect(result.errors![49].message).toMatch(/at "list\[49\]\.value"/);
    expect(result.errors![50].message).toBe('More than 50 values in the variables are invalid; the first 50 are listed. Fix them, and any others like them, then send the request again.');
  });

  it('report entries missing a required field the same way', async () => {
    const result = await send(QUERY, { list: Array.from({ length: 100_001 }, () => ({})) });
    expect(result.status).toBe(400);
    expect(result.errors).toHaveLength(51);
    expect(result.errors![0].message).toBe('Variable "$list" got invalid value {} at "list[0]"; Field "value" of required type "Counted!" was not provided.');
    expect(result.errors![50].extensions?.code).toBe('BAD_USER_INPUT');
  });

  it('coerce valid entries once, again in the cost check, then refuse the list for its length', async () => {
    const result = await send(QUERY, { list: Array.from({ length: 100_001 }, () => ({ value: 'ok' })) });
    expect(result.status).toBe(400);
    // request-variables.ts 100,001, graphql-query-complexity 100,001; the argument checks take the coerced values.
    expect(parsed).toBe(2 * 100_001);
    expect(resolved).toBe(0);
    expect(result.errors).toEqual([
      { message: 'Argument list of entries has 100001 entries; at most 100000 are accepted.', extensions: { code: 'BAD_USER_INPUT', argument: 'list', field: 'entries' } },
    ]);
  });

  it('refuse a batch over its limit before coercing any of it', async () => {
    const result = await send('mutation($items: [Entry!]!) { upsertItems(items: $items) }', { items: Array.from({ length: 5001 }, () => ({ value: 'ok' })) });
    expect(result.status).toBe(400);
    expect(result.errors![0].extensions?.code).toBe('BATCH_TOO_LARGE');
    expect(parsed).toBe(0);
  });

  it('run a valid request, coercing its variables here, in the cost check and in graphql-js execute', async () => {
    const result = await send(QUERY, { list: [{ value: 'ok' }, { value: 'ok' }, { value: 'ok' }] });
    expect(result.errors).toBeUndefined();
    expect(result.data).toEqual({ entries: 3 });
    // The cost library and execute take raw variables and coerce them again: 3 entries × 3.
    expect(parsed).toBe(9);
  });
});
