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
 * `key`: for tests and tools; default the process's (`usePseudonymKey`, else FUNNELCAST_PSEUDONYMIZE_KEY).
 */
export function pseudonymousId(userId: string, key: string | undefined = currentKey()): string {
  if (!key) return userId;
  return createHmac('sha256', key).update(userId, 'utf8').digest('hex');
}

/** `pseudonymousId` of each id, in order. */
export function pseudonymousIds(userIds: readonly string[], key: string | undefined = currentKey()): string[] {
  return key ? userIds.map((id) => pseudonymousId(id, key)) : [...userIds];
}

/** Set by `usePseudonymKey`; null: read the process's configuration. */
let processKey: string | undefined | null = null;

/** The key of the app being started (startApp passes its validated config's), for every later call in this process. */
export function usePseudonymKey(key: string | undefined): void {
  processKey = key;
}

/** The key in force: the app's, else FUNNELCAST_PSEUDONYMIZE_KEY (command-line tools). Unset: ids are stored as sent. */
export function currentKey(): string | undefined {
  return processKey === null ? config().pseudonymizeKey : processKey;
}
