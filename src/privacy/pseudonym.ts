import { createHmac } from 'node:crypto';
import { config } from '../config';

/**
 * The id a user is stored under. With FUNNELCAST_PSEUDONYMIZE_KEY set: HMAC-SHA-256 of the shop's
 * id under that key, as 64 hex digits, so the shop's ids never reach PostgreSQL (nor ClickHouse,
 * model artifacts or logs); without it, the id itself. Every write (ingest, import, feedback) and
 * every read that takes a user id (recommendations, predictions, risk, labels, cohorts, erasure)
 * goes through here, so the same id always finds the same user. Deterministic by design: a keyed
 * hash, not a random token, so no table maps pseudonyms back, and without the key nobody can test
 * a guessed id against the data. Key rotation: docs/privacy.md.
 *
 * `key`: for tests and tools; default the configured one.
 */
export function pseudonymousId(userId: string, key: string | undefined = config().pseudonymizeKey): string {
  if (!key) return userId;
  return createHmac('sha256', key).update(userId, 'utf8').digest('hex');
}

/** `pseudonymousId` of each id, in order. */
export function pseudonymousIds(userIds: readonly string[], key: string | undefined = config().pseudonymizeKey): string[] {
  return key ? userIds.map((id) => pseudonymousId(id, key)) : [...userIds];
}
