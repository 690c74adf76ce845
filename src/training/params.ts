/**
 * Validation of a model kind's `params` JSON: defaults for what is left out, and one message per
 * problem saying which field is wrong and what a valid value looks like.
 */
export class ParamsError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('; '));
    this.name = 'ParamsError';
  }
}

type FieldSpec =
  | { type: 'int'; min: number; max: number; default: number; description: string }
  | { type: 'number'; min: number; max: number; default: number; description: string }
  | { type: 'boolean'; default: boolean; description: string }
  | { type: 'enum'; values: readonly string[]; default: string; description: string }
  | { type: 'weights'; keys: readonly string[]; min: number; max: number; default: Record<string, number>; description: string };

export type ParamsSpec = Record<string, FieldSpec>;

/**
 * Parameters every kind that learns from shop behaviour takes (spread into its spec). The platform
 * reads them in the runner; the kind only has to use what the run hands it (`excludedUsers`).
 * Anomaly detectors leave them out: they must see everyone to find the anomalies.
 */
export const BEHAVIOUR_TRAINING_PARAMS = {
  excludeAnomalous: {
    type: 'boolean',
    default: true,
    description: 'leave out users the anomaly ensemble flags (score ≥ FUNNELCAST_ANOMALY_THRESHOLD); an ingest-guard mark alone leaves no one out',
  },
} as const satisfies ParamsSpec;

type ValueOf<F extends FieldSpec> = F extends { type: 'int' | 'number' }
  ? number
  : F extends { type: 'boolean' }
    ? boolean
    : F extends { type: 'enum'; values: readonly (infer V)[] }
      ? V
      : Record<string, number>;

export type ParamsOf<S extends ParamsSpec> = { [K in keyof S]: ValueOf<S[K]> };

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Checks raw params against a spec; returns every field filled in, or throws ParamsError listing all problems. */
export function parseParams<S extends ParamsSpec>(kind: string, spec: S, raw: unknown): ParamsOf<S> {
  if (raw === undefined || raw === null) raw = {};
  if (!isPlainObject(raw)) throw new ParamsError([`params must be a JSON object (got ${Array.isArray(raw) ? 'an array' : typeof raw})`]);
  const problems: string[] = [];
  for (const key of Object.keys(raw)) {
    if (!Object.hasOwn(spec, key)) problems.push(`params.${key} is not a ${kind} parameter; known: ${Object.keys(spec).join(', ')}`);
  }
  const result: Record<string, unknown> = {};
  for (const [name, field] of Object.entries(spec)) {
    const value = raw[name];
    if (value === undefined) {
      result[name] = field.type === 'weights' ? { ...field.default } : field.default;
      continue;
    }
    switch (field.type) {
      case 'int':
        if (typeof value !== 'number' || !Number.isInteger(value) || value < field.min || value > field.max) {
          problems.push(`params.${name} must be a whole number from ${field.min} to ${field.max} (got ${JSON.stringify(value)})`);
        } else result[name] = value;
        break;
      case 'number':
        if (typeof value !== 'number' || !Number.isFinite(value) || value < field.min || value > field.max) {
          problems.push(`params.${name} must be a number from ${field.min} to ${field.max} (got ${JSON.stringify(value)})`);
        } else result[name] = value;
        break;
      case 'boolean':
        if (typeof value !== 'boolean') problems.push(`params.${name} must be true or false (got ${JSON.stringify(value)})`);
        else result[name] = value;
        break;
      case 'enum':
        if (typeof value !== 'string' || !field.values.includes(value)) {
          problems.push(`params.${name} must be one of ${field.values.join(', ')} (got ${JSON.stringify(value)})`);
        } else result[name] = value;
        break;
      case 'weights': {
        if (!isPlainObject(value)) {
          problems.push(`params.${name} must be an object such as ${JSON.stringify(field.default)}`);
          break;
        }
        const weights = { ...field.default };
        for (const [key, weight] of Object.entries(value)) {
          if (!field.keys.includes(key)) problems.push(`params.${name}.${key} is not known; use ${field.keys.join(', ')}`);
          else if (typeof weight !== 'number' || !Number.isFinite(weight) || weight < field.min || weight > field.max) {
            problems.push(`params.${name}.${key} must be a number from ${field.min} to ${field.max} (got ${JSON.stringify(weight)})`);
          } else weights[key] = weight;
        }
        if (Object.values(weights).every((weight) => weight === 0)) problems.push(`params.${name} must give at least one event type a weight above 0`);
        result[name] = weights;
        break;
      }
    }
  }
  if (problems.length > 0) throw new ParamsError(problems);
  return result as ParamsOf<S>;
}

/** Same value, same text: object keys sorted at every depth, for idempotency keys. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (isPlainObject(value)) {
    return `{${Object.keys(value)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${canonicalJson(value[key])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}
