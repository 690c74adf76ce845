import { GraphQLSchema, isInputObjectType, isObjectType, Kind, OperationDefinitionNode, parse } from 'graphql';
import { buildFunnelcastSchema } from '../schema';
import { argumentValueError, FLOAT_BOUNDS, PER_RECORD_ARGUMENTS } from './argument-validation';
import { characterProblem, floatProblem, idProblem, instantProblem } from './input-rules';
import { coerceVariables } from './request-variables';

/** The schema type of a coordinate `Type.field` or `Type.field.argument`, or undefined when it does not exist. */
function coordinateType(schema: GraphQLSchema, coordinate: string): string | undefined {
  const [typeName, fieldName, argumentName] = coordinate.split('.');
  const type = schema.getType(typeName);
  if (argumentName !== undefined) {
    if (!isObjectType(type)) return undefined;
    return type.getFields()[fieldName]?.args.find((a) => a.name === argumentName)?.type.toString();
  }
  if (!isInputObjectType(type)) return undefined;
  return type.getFields()[fieldName]?.type.toString();
}

describe('argument validation', () => {
  let schema: GraphQLSchema;
  beforeAll(async () => {
    schema = await buildFunnelcastSchema();
  });

  const check = (query: string, variables: Record<string, unknown> = {}) => {
    const document = parse(query);
    const operation = document.definitions.find((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION)!;
    // The server checks arguments with the variables it coerced once (request-variables.ts).
    const coerced = coerceVariables(schema, operation, variables);
    expect(coerced.errors).toBeUndefined();
    return argumentValueError(schema, document, operation, coerced.values!);
  };

  it('names only coordinates that exist, with the type the rule is for', () => {
    for (const coordinate of Object.keys(FLOAT_BOUNDS)) expect([coordinate, coordinateType(schema, coordinate)?.replace('!', '')]).toEqual([coordinate, 'Float']);
    for (const coordinate of PER_RECORD_ARGUMENTS) expect(coordinateType(schema, coordinate)).toBeDefined();
  });

  it('finds bad values in variables, literals, aliases and fragments, naming the path', () => {
    expect(check('query($u: ID!) { recommendations(userId: $u) { listId } }', { u: 'ok' })).toBeNull();
    const viaVariable = check('query($u: ID!) { recommendations(userId: $u) { listId } }', { u: 'a\u0000' });
    expect(viaVariable?.extensions).toEqual({ code: 'BAD_USER_INPUT', argument: 'userId', field: 'recommendations' });
    const viaFragment = check('query { ...F } fragment F on Query { second: item(id: "x\\u0000") { id } }');
    expect(viaFragment?.extensions.argument).toBe('id');
    const nested = check('query($f: FunnelInput!) { funnel(input: $f) { totalUnits } }', {
      f: { from: '2026-01-01T00:00:00Z', to: '2026-01-02T00:00:00Z', conversionWindowSeconds: 60, steps: [{ type: 'a' }, { type: 'b' }, { type: 'c', filters: [{ property: 'p', op: 'IN', value: ['ok', { deep: ['\ud800'] }] }] }] },
    });
    expect(nested?.extensions.argument).toBe('input.steps[2].filters[0].value[1].deep[0]');
    expect(nested?.message).toMatch(/^Argument input\.steps\[2\]\.filters\[0\]\.value\[1\]\.deep\[0\] of funnel contains an unpaired UTF-16 surrogate/);
  });

  it('leaves per-record arguments to their service', () => {
    expect(check('mutation($e: [EventInput!]!) { ingestEvents(events: $e) { accepted } }', { e: [{ eventId: '\u0000', type: 'view', userId: 'u', timestamp: '2026-01-01T00:00:00Z' }] })).toBeNull();
  });

  it('walks each fragment once, however often it is spread', () => {
    // 30 fragments each spreading the next twice: 2^30 paths if walked naively.
    const fragments = Array.from({ length: 30 }, (_, n) => `fragment F${n} on Query { ${n === 29 ? 'item(id: "\\u0000") { id }' : `...F${n + 1} ...F${n + 1}`} }`).join('\n');
    expect(check(`query { ...F0 } ${fragments}`)?.extensions.argument).toBe('id');
  });

  it('refuses lists of more than 100,000 entries', () => {
    const funnel = (userIds: string[]) => ({ from: '2026-01-01T00:00:00Z', to: '2026-01-02T00:00:00Z', conversionWindowSeconds: 60, steps: [{ type: 'a' }, { type: 'b' }], cohort: { userIds } });
    const query = 'query($f: FunnelInput!) { funnel(input: $f) { totalUnits } }';
    expect(check(query, { f: funnel(Array.from({ length: 100_000 }, (_, n) => `u${n}`)) })).toBeNull();
    expect(check(query, { f: funnel(Array.from({ length: 100_001 }, (_, n) => `u${n}`)) })?.message).toBe('Argument input.cohort.userIds of funnel has 100001 entries; at most 100000 are accepted.');
  });

  it('refuses JSON nested deeper than 32 levels', () => {
    let value: unknown = 1;
    for (let i = 0; i < 40; i++) value = { a: value };
    expect(check('mutation($p: JSONObject) { scheduleTraining(kind: POPULARITY, cron: "0 3 * * *", params: $p) { id } }', { p: value })?.message).toMatch(/nested more than 32 levels/);
  });
});

describe('input rules', () => {
  it('tell NUL and unpaired surrogates from well-formed text', () => {
    expect(characterProblem('plain 🛒 text')).toBeNull();
    expect(characterProblem('a\u0000')).toMatch(/NUL/);
    for (const broken of ['\ud800', 'x\udbffy', '\udc00', 'a\ude00', '🛒\ud83d']) expect(characterProblem(broken)).toMatch(/surrogate/);
  });

  it('keep ids to 200 characters and floats finite, normal and in bounds', () => {
    expect(idProblem('i'.repeat(200))).toBeNull();
    expect(idProblem('i'.repeat(201))).toMatch(/at most 200/);
    expect(floatProblem(-0)).toBeNull();
    expect(floatProblem(5e-324)).toMatch(/too close to 0/);
    expect(floatProblem(Infinity)).toMatch(/finite/);
    expect(floatProblem(1e300)).toMatch(/from -1000000000000000 to 1000000000000000/);
    expect(floatProblem(0.5, { min: 0, max: 1 })).toBeNull();
    expect(floatProblem(1.5, { min: 0, max: 1 })).toMatch(/from 0 to 1/);
  });

  it('keep instants between 1970 and 9999', () => {
    expect(instantProblem(Date.parse('1970-01-01T00:00:00Z'))).toBeNull();
    expect(instantProblem(Date.parse('9999-12-31T23:59:59.999Z'))).toBeNull();
    expect(instantProblem(Date.parse('1969-12-31T23:59:59.999Z'))).not.toBeNull();
    expect(instantProblem(Date.parse('0000-01-01T00:00:00Z'))).not.toBeNull();
    expect(instantProblem(Date.parse('+010000-01-01T00:00:00Z'))).not.toBeNull();
  });
});
