const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * True for text PostgreSQL's uuid type reads in the canonical 8-4-4-4-12 hex form (any case). Ids
 * from clients are checked with it before they reach a `uuid` column, whose cast would otherwise
 * fail inside the query as an internal error.
 */
export function isUuid(text: string): boolean {
  return UUID.test(text);
}
