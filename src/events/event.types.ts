/** The standard behaviour event types; any other valid name is a custom event. */
export const STANDARD_EVENT_TYPES = ['view', 'cart', 'remove_from_cart', 'fav', 'checkout', 'purchase', 'search'] as const;
export type StandardEventType = (typeof STANDARD_EVENT_TYPES)[number];

/** 1–64 characters of letters, digits and `_ . : -`. */
export const EVENT_TYPE_PATTERN = /^[A-Za-z0-9_.:-]{1,64}$/;

/**
 * One behaviour event as every write path (GraphQL ingest, file import, the demo-shop generator)
 * hands it to storage. Ids are the shop's own strings; storage maps them to dense integers.
 */
export interface ShopEvent {
  eventId: string;
  type: string;
  userId: string;
  sessionId: string | null;
  itemId: string | null;
  /** Milliseconds since the Unix epoch. */
  timestamp: number;
  properties: Record<string, unknown> | null;
}

/** Catalog facts about an item, as an import or the generator finds them. */
export interface CatalogItem {
  itemId: string;
  title?: string | null;
  category?: string | null;
  brand?: string | null;
  price?: number | null;
  properties?: Record<string, unknown> | null;
  available?: boolean;
}
