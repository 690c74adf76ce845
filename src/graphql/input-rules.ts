/**
 * The rules every string, number and date a client sends must pass, whatever its way in (any
 * GraphQL argument, an ingested event, an imported file). One module, so the API, ingest and
 * import cannot drift apart, and the schema's descriptions quote the same limits.
 */

/**
 * Longest id of a user, item, event or session (and any other id argument), in UTF-16 code units.
 * Unique-index keys above ~2.7 kB fail in PostgreSQL; real ids are far shorter.
 */
export const MAX_ID_LENGTH = 200;

/** Longest free-text argument (names, notes, categories, cron patterns, cursors, …). */
export const MAX_TEXT_LENGTH = 10_000;

/** Earliest and latest instants accepted anywhere: what PostgreSQL timestamptz and JS Date both hold, and events can carry. */
export const FIRST_INSTANT_MS = 0; // 1970-01-01T00:00:00.000Z
export const LAST_INSTANT_MS = 253402300799999; // 9999-12-31T23:59:59.999Z

/** Largest magnitude of a Float argument without bounds of its own. */
export const MAX_FLOAT_MAGNITUDE = 1e15;

/** Largest price: numeric(14,2) holds below 10^12. */
export const MAX_PRICE = 999_999_999_999.99;

/** Longest list argument (a funnel cohort's user ids, the largest documented one); services cap most lists far lower. */
export const MAX_LIST_LENGTH = 100_000;

/** Nesting levels of a JSON argument (properties, params, filter values). */
export const MAX_JSON_DEPTH = 32;

/** Items per `upsertItems` call, and in all of a request's `upsertItems` together (the service and the request limits both check). */
export const MAX_ITEMS_PER_UPSERT = 5000;

/** Entries per `recordRecommendationFeedback` call, and in all of a request's together. */
export const MAX_FEEDBACK_BATCH = 5000;

/** Unpaired UTF-16 surrogates: UTF-8 (PostgreSQL, every byte stream) cannot hold them and writes U+FFFD instead. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * What is wrong with a string's characters, as the end of a sentence ("… contains a NUL
 * character"), or null. NUL is refused by PostgreSQL text and jsonb; lone surrogates would be
 * silently replaced, so two distinct ids would become one.
 */
export function characterProblem(value: string): string | null {
  if (value.includes('\0')) return 'contains a NUL character (U+0000); remove it';
  // Only strings with a surrogate at all need the slower pattern.
  if (/[\uD800-\uDFFF]/.test(value) && LONE_SURROGATE.test(value)) {
    return 'contains an unpaired UTF-16 surrogate (broken text encoding); send well-formed Unicode';
  }
  return null;
}

/** What is wrong with an id (characters and length), or null. Emptiness is the caller's rule. */
export function idProblem(value: string): string | null {
  if (value.length > MAX_ID_LENGTH) return `is ${value.length} characters long; ids are at most ${MAX_ID_LENGTH}`;
  return characterProblem(value);
}

/** What is wrong with a free-text string, or null. */
export function textProblem(value: string): string | null {
  if (value.length > MAX_TEXT_LENGTH) return `is ${value.length} characters long; at most ${MAX_TEXT_LENGTH} are accepted`;
  return characterProblem(value);
}

export interface NumberBounds {
  min: number;
  max: number;
  /** How the bound reads to a client, e.g. "hours". */
  unit?: string;
}

/** What is wrong with a float, or null: finite, no subnormal (PostgreSQL refuses them), within bounds. */
export function floatProblem(value: number, bounds?: NumberBounds): string | null {
  if (!Number.isFinite(value)) return 'is not a finite number';
  const min = bounds?.min ?? -MAX_FLOAT_MAGNITUDE;
  const max = bounds?.max ?? MAX_FLOAT_MAGNITUDE;
  const unit = bounds?.unit ? ` ${bounds.unit}` : '';
  if (value < min || value > max) return `is ${value}; send a number from ${min} to ${max}${unit}`;
  if (value !== 0 && Math.abs(value) < 2.2250738585072014e-308) return `is ${value}, too close to 0 to store; send 0 or a number from ${min} to ${max}${unit}`;
  return null;
}

/** What is wrong with an instant, or null. */
export function instantProblem(ms: number): string | null {
  if (!Number.isFinite(ms) || ms < FIRST_INSTANT_MS || ms > LAST_INSTANT_MS) {
    return 'is not a date-time from 1970-01-01T00:00:00Z to 9999-12-31T23:59:59.999Z';
  }
  return null;
}

/** How schema descriptions state the id rule, so they always quote the limit in force. */
export const ID_RULE = `1–${MAX_ID_LENGTH} characters`;
