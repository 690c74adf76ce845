import { EVENT_TYPE_PATTERN } from './event.types';

export interface EventProblem {
  code: string;
  message: string;
}

export interface EventLimits {
  /** Largest serialised `properties`, in bytes. */
  maxPropertiesBytes: number;
  /** Latest accepted timestamp, ms since epoch. */
  latestTimestamp: number;
}

const MAX_ID_LENGTH = 200;
export const DAY_MS = 24 * 60 * 60 * 1000;

export function defaultEventLimits(maxPropertiesBytes: number, now = Date.now()): EventLimits {
  return { maxPropertiesBytes, latestTimestamp: now + DAY_MS };
}

function checkId(value: unknown, field: string, required: boolean): EventProblem | null {
  if (value === null || value === undefined) {
    return required ? { code: `EMPTY_${field.toUpperCase()}`, message: `${camel(field)} is required` } : null;
  }
  if (typeof value !== 'string' || value.trim().length === 0) {
    return { code: `EMPTY_${field.toUpperCase()}`, message: `${camel(field)} must be a non-empty string${required ? '' : ' or null'}` };
  }
  if (value.length > MAX_ID_LENGTH) {
    return { code: `${field.toUpperCase()}_TOO_LONG`, message: `${camel(field)} is ${value.length} characters; at most ${MAX_ID_LENGTH}` };
  }
  return null;
}

function camel(snake: string): string {
  return snake.replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase());
}

/**
 * The rules every write path applies to one event. Returns the first problem, or null when the
 * event may be stored. `properties` must be a JSON object (or absent).
 */
export function findEventProblem(
  event: { eventId: unknown; type: unknown; userId: unknown; sessionId?: unknown; itemId?: unknown; timestamp: unknown; properties?: unknown },
  limits: EventLimits,
): EventProblem | null {
  const idProblem =
    checkId(event.eventId, 'event_id', true) ??
    checkId(event.userId, 'user_id', true) ??
    checkId(event.sessionId, 'session_id', false) ??
    checkId(event.itemId, 'item_id', false);
  if (idProblem) return idProblem;
  if (typeof event.type !== 'string' || !EVENT_TYPE_PATTERN.test(event.type)) {
    return {
      code: 'BAD_TYPE',
      message: `type ${JSON.stringify(event.type)} must be 1–64 characters of letters, digits and _ . : -`,
    };
  }
  const ts = event.timestamp instanceof Date ? event.timestamp.getTime() : typeof event.timestamp === 'number' ? event.timestamp : NaN;
  if (!Number.isFinite(ts)) return { code: 'BAD_TIMESTAMP', message: 'timestamp is not a valid date-time' };
  if (ts > limits.latestTimestamp) {
    return {
      code: 'FUTURE_TIMESTAMP',
      message: `timestamp ${new Date(ts).toISOString()} is more than a day in the future; send the time the event happened`,
    };
  }
  const properties = event.properties;
  if (properties !== null && properties !== undefined) {
    if (typeof properties !== 'object' || Array.isArray(properties)) {
      return { code: 'BAD_PROPERTIES', message: 'properties must be a JSON object such as {"device":"mobile"}' };
    }
    const size = Buffer.byteLength(JSON.stringify(properties));
    if (size > limits.maxPropertiesBytes) {
      return {
        code: 'PROPERTIES_TOO_LARGE',
        message: `properties take ${size} bytes as JSON; at most ${limits.maxPropertiesBytes}`,
      };
    }
  }
  return null;
}
