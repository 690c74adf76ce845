import { randomBytes } from 'node:crypto';

/** The recommender an item came from; CATALOG is the last resort when no model has anything left. */
export enum Recommender {
  MATRIX_FACTORIZATION = 'MATRIX_FACTORIZATION',
  ITEM_KNN = 'ITEM_KNN',
  SESSION_GRU = 'SESSION_GRU',
  POPULARITY = 'POPULARITY',
  CATALOG = 'CATALOG',
}

const CODES: Record<Recommender, string> = { MATRIX_FACTORIZATION: 'm', ITEM_KNN: 'k', SESSION_GRU: 'g', POPULARITY: 'p', CATALOG: 'c' };
const BY_CODE = new Map(Object.entries(CODES).map(([source, code]) => [code, source as Recommender]));

export interface RecommendationRef {
  source: Recommender;
  /** model_versions.id, null for CATALOG. */
  modelVersionId: number | null;
  /** items.id */
  itemId: number;
  /** The served list it belongs to. */
  listId: string;
}

/** A token naming one served list (8 random bytes, base64url). */
export function newListId(): string {
  return randomBytes(8).toString('base64url');
}

/**
 * Recommendation ids describe themselves ("r1.<source>.<version>.<item>.<list>"), so serving writes
 * nothing per request and feedback still knows the recommender, version and item it is about.
 */
export function encodeRecommendationId(ref: RecommendationRef): string {
  return `r1.${CODES[ref.source]}.${ref.modelVersionId ?? 0}.${ref.itemId}.${ref.listId}`;
}

const PATTERN = /^r1\.([a-z])\.(\d{1,10})\.(\d{1,10})\.([A-Za-z0-9_-]{11})$/;

/** The parts of a recommendation id, or null when it is not one this server issued. */
export function decodeRecommendationId(id: string): RecommendationRef | null {
  const match = PATTERN.exec(id);
  const source = match ? BY_CODE.get(match[1]) : undefined;
  if (!match || !source) return null;
  const version = Number(match[2]);
  return { source, modelVersionId: source === Recommender.CATALOG ? null : version, itemId: Number(match[3]), listId: match[4] };
}
