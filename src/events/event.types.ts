/** The standard behaviour event types; any other valid name is a custom event. */
export const STANDARD_EVENT_TYPES = ['view', 'cart', 'remove_from_cart', 'fav', 'checkout', 'purchase', 'search'] as const;
export type StandardEventType = (typeof STANDARD_EVENT_TYPES)[number];

/**
 * An event type name: 1–64 characters (code points), each a Unicode letter (\p{L}), combining
 * mark (\p{M}: the vowel signs of Devanagari, Thai, … are marks), digit (\p{N}) or one of `_ . : -`.
 * Shops name events in their own language (`浏览`, `加购`, `ansehen`); spaces, punctuation, symbols and
 * emoji stay out so a name reads the same in a URL, a CSV cell or a log line. Names are compared
 * after Unicode NFC normalisation (see normaliseEventType), so `é` typed either way is one type.
 * The same rule holds for ingest, import, funnel steps and predictions; docs/data-model.md quotes it.
 */
export const EVENT_TYPE_PATTERN = /^[\p{L}\p{M}\p{N}_.:-]{1,64}$/u;

/** The rule in words, for error messages and schema descriptions. */
export const EVENT_TYPE_RULE = '1–64 Unicode letters or digits and _ . : - (e.g. view, add_to_cart, 浏览)';

/**
 * The stored form of an event type: NFC, so canonically equal spellings (a precomposed `é` and
 * `e` + U+0301) are one type in storage and in funnels. Non-strings pass through for the checks
 * to refuse.
 */
export function normaliseEventType<T>(type: T): T {
  return (typeof type === 'string' && !isAscii(type) ? type.normalize('NFC') : type) as T;
}

/** Printable ASCII is already NFC; most names are, so they skip normalize(). */
function isAscii(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0x7e) return false;
  return true;
}

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
