/** The label of a request whose operation could not be resolved (it did not parse or validate, or never reached GraphQL). */
export const UNKNOWN_OPERATION = 'unknown';
/** The label of an operation without a name (`{ health { … } }`). */
export const ANONYMOUS_OPERATION = 'anonymous';
/** The label of every name seen after the cap was reached. */
export const OTHER_OPERATION = 'other';

/** A GraphQL name (the spec's Name) of at most this many characters is kept as it is. */
const MAX_NAME_LENGTH = 64;
const GRAPHQL_NAME = /^[_A-Za-z][_0-9A-Za-z]*$/;

/**
 * Operation names as metric labels, bounded: clients choose the names, so only the first `max`
 * distinct ones a process sees from requests with a trusted API key (not a public client key:
 * `mayAddOperationLabel`) become labels; later ones are `other`. Other requests may use a name
 * that is already kept, but never take a slot: otherwise anyone who can reach the port could spend
 * all `max` slots on invented names right after a start, and every real operation would count as `other`. Names that are not GraphQL
 * names or are longer than 64 characters are `unknown`.
 */
export class OperationLabels {
  private readonly kept = new Set<string>();

  constructor(readonly max: number) {}

  /**
   * The label for an operation: its name, `anonymous`, `unknown` (null: not resolved) or `other`.
   * `mayAdd`: whether a name not kept yet may take a free slot (true for requests with a trusted key).
   */
  labelOf(operation: { name: string | null } | null, mayAdd = true): string {
    if (operation === null) return UNKNOWN_OPERATION;
    const { name } = operation;
    if (name === null) return ANONYMOUS_OPERATION;
    if (name.length > MAX_NAME_LENGTH || !GRAPHQL_NAME.test(name)) return UNKNOWN_OPERATION;
    if (this.kept.has(name)) return name;
    if (!mayAdd || this.kept.size >= this.max) return OTHER_OPERATION;
    this.kept.add(name);
    return name;
  }
}
